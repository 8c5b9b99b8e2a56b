"""Typed answers: `run(..., output_type=T)` gives `result.output` as a validated `T`, written
under T's JSON schema; on a backend that does not enforce it, a reply that does not validate is
fed back once, then refused with the raw text."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Literal

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from agentrt import Agent, ConfigError, OutputValidationError, tool
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan


class Weather(BaseModel):
    city: str
    celsius: int


@dataclasses.dataclass
class Sum:
    total: float
    terms: list[float]


class Mood(TypedDict):
    word: str
    happy: bool


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"18 degrees and sunny in {city}"


def run(output_type, written, instruction="Weather in Paris?"):
    llm = ScriptedLLM([plan(("get_weather", {"city": "Paris"})), answer("18 degrees and sunny"), *written])
    return Agent(model=llm, tools=[get_weather], store=":memory:").run(instruction, output_type=output_type), llm


@pytest.mark.parametrize(("output_type", "written", "expected"), [
    (Weather, {"city": "Paris", "celsius": 18}, Weather(city="Paris", celsius=18)),
    (Sum, {"total": 3.5, "terms": [1, 2.5]}, Sum(total=3.5, terms=[1.0, 2.5])),
    (Mood, {"word": "sunny", "happy": True}, {"word": "sunny", "happy": True}),
    (Literal["yes", "no"], "yes", "yes"),
    (Colour, "blue", Colour.BLUE),
    (list[int], [18, 19], [18, 19]),
    (int, 18, 18),
    (bool, True, True),
    (str, "Sunny, 18 degrees", "Sunny, 18 degrees"),
])
def test_the_answer_comes_back_as_the_type_asked_for(output_type, written, expected):
    result, llm = run(output_type, [json.dumps(written)])
    assert result.output == expected and type(result.output) is type(expected)
    assert result.answer == "18 degrees and sunny"  # the text answer stays
    request = llm.history[-1]
    assert request.json_schema is not None and "18 degrees and sunny" in request.messages[-1].content
    assert [c.purpose for c in result.model_calls] == ["plan", "answer", "output"]
    assert result.trace[-2]["kind"] == "model_call" and result.trace[-2]["call"]["purpose"] == "output"


def test_a_reply_that_does_not_validate_is_fed_back_once():
    result, llm = run(Weather, ['{"city": "Paris", "celsius": "warm"}', '{"city": "Paris", "celsius": 18}'])
    assert result.output == Weather(city="Paris", celsius=18)
    assert "not a valid Weather" in llm.history[-1].messages[-1].content and '"warm"' in llm.prompts()[-1]


def test_a_second_reply_that_does_not_validate_is_an_error_with_the_raw_text():
    with pytest.raises(OutputValidationError, match="not a valid Weather") as caught:
        run(Weather, ['{"city": "Paris"}', '{"city": "Paris", "celsius": "warm"}'])
    assert caught.value.raw_text == '{"city": "Paris", "celsius": "warm"}'
    assert caught.value.model_call.purpose == "output"


def test_a_type_without_a_json_schema_is_refused_before_the_run():
    class Opaque:
        pass

    with pytest.raises(ConfigError, match="output_type=.*Opaque.* has no JSON schema"):
        Agent(model=ScriptedLLM(), store=":memory:").run("hi", output_type=Opaque)


@pytest.mark.model
@pytest.mark.parametrize(("instruction", "output_type", "check"), [
    ("What is 17 times 23?", int, lambda value: isinstance(value, int)),
    ("What is the weather in Paris?", Weather, lambda value: isinstance(value.celsius, int) and value.city),
    ("Is 17 times 23 more than 300?", Literal["yes", "no"], lambda value: value in ("yes", "no")),
    ("List the first three even numbers.", list[int], lambda value: all(isinstance(v, int) for v in value)),
    ("Name a primary colour.", Colour, lambda value: isinstance(value, Colour)),
])
def test_the_default_model_always_writes_a_valid_instance(default_llm, instruction, output_type, check):
    agent = Agent(model=default_llm, tools=[get_weather], store=":memory:")
    result = agent.run(instruction, output_type=output_type)
    assert check(result.output), result.output
    assert sum(c.purpose == "output" for c in result.model_calls) == 1  # valid at the first try: constrained


def test_numbers_are_decoded_within_bounds_so_a_small_model_cannot_run_on_digits():
    result, llm = run(int, ["18"])
    assert llm.history[-1].json_schema == {"type": "integer", "minimum": -10**15, "maximum": 10**15}
