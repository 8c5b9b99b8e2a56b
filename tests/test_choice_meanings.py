"""A choice a request means in other words (`choice_meanings.py`), with the real sentence encoder:
meant where the words say it, left alone where they only touch its topic."""

from typing import Literal

import pytest

from agentrt import tool
from agentrt.arguments import _NEGATIONS, ArgumentWriter, _words
from agentrt.choice_meanings import ChoiceMeanings
from agentrt.embeddings import default_embedder
from agentrt.prompts import PromptLibrary
from agentrt.registry import ToolRegistry
from agentrt.schema import StepSpec
from agentrt.testing import ScriptedLLM


@pytest.fixture(scope="module")
def meanings():
    return ChoiceMeanings(default_embedder())


def test_a_run_of_words_means_the_choice_it_says_in_other_words(meanings):
    assert meanings.meant(_words("show the latest first"), ["relevance", "newest", "price"]) == ["newest"]
    assert meanings.meant(_words("directions to the museum by bike"), ["driving", "walking", "cycling"]) == ["cycling"]
    assert meanings.meant(_words("make it warmer in here"), ["heat", "cool", "auto"]) == ["heat"]


def test_a_negated_run_means_only_a_choice_that_is_negated_too(meanings):
    reasons = ["changed_mind", "too_slow", "damaged", "doesnt_fit", "other"]
    assert meanings.meant(_words("it's taking too long"), reasons, negations=_NEGATIONS) == ["too_slow"]
    assert meanings.meant(_words("it isn't taking too long, I just changed plans"), reasons[1:],
                          negations=_NEGATIONS) == []
    assert meanings.meant(_words("the jacket doesn't fit"), reasons, negations=_NEGATIONS) == ["doesnt_fit"]


def test_words_near_a_choices_topic_mean_none_and_taken_words_are_not_read(meanings):
    assert meanings.meant(_words("set the bedroom thermostat to 20"), ["heat", "cool", "auto"]) == []
    reasons = ["changed_mind", "too_slow", "ordered_by_mistake", "other"]
    assert meanings.meant(_words("cancel my sneakers order"), reasons, taken={"cancel", "order"}) == []
    assert meanings.meant(_words("it took ages, too slow"), ["yes"]) == []  # nothing to choose between


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
