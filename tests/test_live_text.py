"""Live text (`TextDelta`): think steps and the answer reach a streaming caller as the model
writes them, and never the trace or the store."""

import pytest

from agentrt import Agent, TextDelta, tool
from agentrt.joiner import AnswerText
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan


@tool
def lookup(city: str) -> int:
    """Population of a city."""
    return {"Oslo": 709_000}[city]


def stream(agent: Agent, instruction: str) -> tuple[list, object]:
    events = list(agent.stream(instruction))
    return [e for e in events if isinstance(e, TextDelta)], events[-1].result


def test_the_joiners_answer_streams_as_written_and_stays_out_of_the_trace():
    llm = ScriptedLLM([plan(("lookup", {"city": "Oslo"})), answer('Oslo has 709,000 people, "a lot".')])
    deltas, result = stream(Agent(model=llm, tools=[lookup], store=":memory:"), "How many live in Oslo?")
    said = [d for d in deltas if d.source == "answer"]
    assert len(said) > 1 and "".join(d.text for d in said) == result.answer == 'Oslo has 709,000 people, "a lot".'
    assert all(d.step_id is None for d in said)
    assert not any(r["kind"] == "text_delta" for r in result.trace)


def test_a_think_step_streams_and_so_does_the_answer_that_is_its_text():
    llm = ScriptedLLM([plan(("think", {"question": "Why is the sky blue?"}), ("final_answer", {"answer": "$1"})),
                       "Because air scatters blue light more than red light."])
    deltas, result = stream(Agent(model=llm, store=":memory:"), "Why is the sky blue?")
    think = [d for d in deltas if d.source == "think"]
    assert len(think) > 1 and {d.step_id for d in think} == {1}
    assert "".join(d.text for d in think) == result.steps[0].observation
    assert "".join(d.text for d in deltas if d.source == "answer") == result.answer  # once, not twice


def test_an_answer_that_quotes_a_think_step_streams_from_its_opening_words():
    llm = ScriptedLLM([plan(("think", {"question": "Why?"}), ("final_answer", {"answer": "In short: $1!"})),
                       "  because air scatters blue light  "])
    deltas, result = stream(Agent(model=llm, store=":memory:"), "Why is the sky blue?")
    said = [d.text for d in deltas if d.source == "answer"]
    assert said[0].startswith("In short: because") and "".join(said) == result.answer == (
        "In short: because air scatters blue light!")


def test_an_answer_written_in_the_plan_is_streamed_whole_once_and_a_plain_run_streams_nothing():
    llm = ScriptedLLM([plan(("lookup", {"city": "Oslo"}), ("final_answer", {"answer": "$1 people"}))])
    deltas, result = stream(Agent(model=llm, tools=[lookup], store=":memory:"), "Oslo?")
    assert [(d.source, d.text) for d in deltas] == [("answer", "709000 people")]
    llm = ScriptedLLM([plan(("think", {"question": "q"}), ("final_answer", {"answer": "$1"})), "because"])
    Agent(model=llm, store=":memory:").run("Why?")
    assert llm.batch_sizes == [1, 1]  # nothing streamed: generate, not generate_streaming, for the think step


def test_the_answer_text_is_decoded_as_far_as_it_is_written():
    pieces: list[str] = []
    follow = AnswerText(pieces.append)
    raw = '{"action": "answer", "answer": "18\\u00b0C in \\"Paris\\" \\\\ today"}'
    for start in range(0, len(raw), 2):
        follow(raw[start:start + 2])
    assert "".join(pieces) == '18°C in "Paris" \\ today'
    replan: list[str] = []
    follow = AnswerText(replan.append)
    follow('{"action": "replan", "reason": "the answer is missing"}')
    assert replan == []


@pytest.mark.model
def test_on_the_default_model_the_answer_is_shown_once_as_it_is_written():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "agentrt.cli", "run", "Why is the sky blue?", "--store", ":memory:"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    answers = [line for line in out.stdout.splitlines() if line.startswith("Answer: ")]
    assert len(answers) == 1 and len(answers[0]) > len("Answer: ") + 10, out.stdout
