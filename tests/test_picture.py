"""The one fold of a run's records into its picture, which every view of a run draws from."""

from __future__ import annotations

from agentrt import Agent, RetryTool, tool
from agentrt.picture import RunPicture
from agentrt.testing import ScriptedLLM
from agentrt.trace import TraceRecorder

from .conftest import answer, plan


@tool
def lookup(city: str) -> int:
    """Population of a city."""
    if city == "Atlantis":
        raise RetryTool("no such city")
    return {"Oslo": 709_000, "Bergen": 291_000}[city]


def agent(*replies) -> Agent:
    return Agent(model=ScriptedLLM(replies), tools=[lookup], store=":memory:")


def test_the_picture_of_a_finished_run_agrees_with_its_result():
    result = agent(plan(("lookup", {"city": "Atlantis"})),
                   plan(("lookup", {"city": "Oslo"}), ("lookup", {"city": "Bergen"}), first=2),
                   answer("Oslo is bigger")).run("Which is bigger, Oslo or Bergen?")
    picture = RunPicture.from_records(result.trace)
    assert (picture.run_id, picture.instruction, picture.phase()) == (result.run_id, result.instruction, "done")
    assert {i: s.state for i, s in picture.steps.items()} == {1: "error", 2: "ok", 3: "ok"}
    assert {i: s.round for i, s in picture.steps.items()} == {1: 0, 2: 1, 3: 1}
    assert picture.steps[1].result["error"]["kind"] == "retry"
    assert "lookup asks to retry" in picture.replans[1]["reason"]
    assert [c["purpose"] for c in picture.model_calls] == ["plan", "plan", "answer"]
    assert picture.totals() == {"duration_s": result.duration_s, "prompt_tokens": result.prompt_tokens,
                                "completion_tokens": result.completion_tokens, "replans": 1}
    assert sorted(picture.graph().nodes) == [1, 2, 3]


def test_the_phase_follows_the_run_event_by_event():
    recorder, picture, phases = TraceRecorder(), RunPicture(), []
    for event in agent(plan(("lookup", {"city": "Oslo"})), answer("709000")).stream("Population of Oslo?"):
        picture.update(recorder(event))
        if not phases or phases[-1] != picture.phase():
            phases.append(picture.phase())
    assert phases[0] == "planning" and phases[-1] == "done"
    assert "reading the results" in phases


def test_a_trace_cut_short_pictures_a_running_step_and_no_answer():
    result = agent(plan(("lookup", {"city": "Oslo"})), answer("709000")).run("Population of Oslo?")
    cut = next(i for i, r in enumerate(result.trace) if r["kind"] == "step_started") + 1
    picture = RunPicture.from_records(result.trace[:cut])
    assert picture.answer is None and picture.steps[1].state == "running"
    assert picture.totals()["duration_s"] == picture.last_t
