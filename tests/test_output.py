"""Typed answers: `run(..., output_type=T)` gives `result.output` as a validated `T`, written
under T's JSON schema; on a backend that does not enforce it, a reply that does not validate is
fed back once, then refused with the raw text."""

from __future__ import annotations

import dataclasses
import enum
import json
import subprocess
import sys
from typing import Literal

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from agentrt import Agent, ConfigError, JsonSchema, OutputValidationError, tool
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


WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
                  "required": ["city", "celsius"]}


def test_an_output_type_given_as_json_schema_is_checked_against_it_and_fed_back_once():
    result, llm = run(JsonSchema(WEATHER_SCHEMA), ['{"city": "Paris"}', '{"city": "Paris", "celsius": 18}'])
    assert result.output == {"city": "Paris", "celsius": 18}
    assert "the value: 'celsius' is a required property" in llm.prompts()[-1]
    assert llm.history[-1].json_schema["properties"]["city"]["maxLength"] == 200  # bounded like any type's
    with pytest.raises(ConfigError, match="The weather schema is not valid JSON schema: 'objekt' is not valid"):
        JsonSchema({"type": "objekt"}, name="weather")


def test_agentrt_run_output_schema_refuses_a_bad_file_before_loading_a_model(tmp_path):
    bad = tmp_path / "bad.json"
    for text, message in (("{not json", "not JSON"), ('["a list"]', "a JSON schema is an object, not list"),
                          ('{"type": "objekt"}', "is not valid JSON schema")):
        bad.write_text(text)
        out = subprocess.run([sys.executable, "-m", "agentrt.cli", "run", "hi", "--output-schema", str(bad)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and message in out.stderr, out.stderr


@pytest.mark.model
def test_agentrt_run_output_schema_prints_only_the_answer_as_json_that_validates(tmp_path):
    schema, tools = tmp_path / "weather.json", tmp_path / "tools.py"
    schema.write_text(json.dumps(WEATHER_SCHEMA))
    tools.write_text('from agentrt import tool\n\n\n@tool\ndef get_weather(city: str) -> str:\n'
                     '    """The weather in a city."""\n    return f"18 degrees and sunny in {city}"\n')
    out = subprocess.run([sys.executable, "-m", "agentrt.cli", "run", "What is the weather in Paris?", "--tools",
                          str(tools), "--output-schema", str(schema), "--store", ":memory:"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    value = json.loads(out.stdout)  # the whole of stdout
    assert isinstance(value["city"], str) and isinstance(value["celsius"], (int, float))


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
