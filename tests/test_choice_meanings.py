"""A choice a request means in other words (`choice_meanings.py`), with the real sentence encoder:
meant where the words say it, left alone where they only touch its topic."""

from typing import Literal

import pytest

from agentrt import tool
from agentrt.arguments import ArgumentWriter
from agentrt.choice_meanings import ChoiceMeanings
from agentrt.embeddings import default_embedder
from agentrt.prompts import PromptLibrary
from agentrt.registry import ToolRegistry
from agentrt.schema import StepSpec
from agentrt.testing import ScriptedLLM


@pytest.fixture(scope="module")
def meanings():
    return ChoiceMeanings(default_embedder())


def words(text):
    return text.lower().replace("'", "").split()


def test_a_run_of_words_means_the_choice_it_says_in_other_words(meanings):
    assert meanings.meant(words("show the latest first"), ["relevance", "newest", "price"]) == ["newest"]
    assert meanings.meant(words("directions to the museum by bike"), ["driving", "walking", "cycling"]) == ["cycling"]
    assert meanings.meant(words("make it warmer in here"), ["heat", "cool", "auto"]) == ["heat"]


def test_words_near_a_choices_topic_mean_none_and_taken_words_are_not_read(meanings):
    assert meanings.meant(words("set the bedroom thermostat to 20"), ["heat", "cool", "auto"]) == []
    reasons = ["changed_mind", "too_slow", "ordered_by_mistake", "other"]
    assert meanings.meant(words("cancel my sneakers order"), reasons, taken={"cancel", "order"}) == []
    assert meanings.meant(words("it took ages, too slow"), ["yes"]) == []  # nothing to choose between


def test_the_writer_settles_a_meant_choice_and_leaves_an_unmeant_optional_one_out(meanings):
    @tool
    def cancel_order(order_id: str,
                     reason: Literal["changed_mind", "too_slow", "ordered_by_mistake", "other"] = "other") -> str:
        """Cancel an order.

        Args:
            order_id: the order's id, e.g. ORD-58213
            reason: why the user cancels
        """
        return "cancelled"

    writer = ArgumentWriter(ScriptedLLM(), ToolRegistry([cancel_order]), PromptLibrary(), meanings=meanings)
    step = StepSpec(id=1, tool="cancel_order", args={"order_id": "ORD-1"})
    slow = writer.request("cancel ORD-58377, it's taking too long", step).json_schema["properties"]
    assert slow["reason"] == {"enum": ["too_slow"]}
    plain = writer.request("cancel my order ORD-58377", step).json_schema["properties"]
    assert "reason" not in plain  # the default stands
