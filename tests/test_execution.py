"""Parallel execution, partial replanning, budgets and events, with the scripted model."""

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from agentrt import Agent, tool
from agentrt.events import Answered, PlanMade, Replanning, StepFinished, StepStarted
from agentrt.schema import ToolPolicy
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan, replan

calls: dict[str, int] = {}


@tool
def nap(seconds: float) -> str:
    """Sleep, then say so."""
    time.sleep(seconds)
    return f"slept {seconds}"


@tool
async def async_nap(seconds: float) -> str:
    """Sleep without a thread."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@tool
def lookup(city: str) -> int:
    """Population of a city."""
    calls[city] = calls.get(city, 0) + 1
    return {"Oslo": 709_000, "Bergen": 291_000}[city]


def test_independent_tool_steps_run_at_the_same_time():
    naps = [("nap", {"seconds": 0.3})] * 3 + [("async_nap", {"seconds": 0.3})] * 3
    llm = ScriptedLLM([plan(*naps, ("final_answer", {"answer": "$1 $6"}))])
    result = Agent(model=llm, tools=[nap, async_nap]).run("nap six times")
    assert result.answer == "slept 0.3 slept 0.3"
    assert result.duration_s < 0.9  # six 0.3 s naps one after another would take 1.8 s


def test_sibling_think_steps_go_to_the_model_as_one_batch():
    llm = ScriptedLLM([
        plan(("think", {"question": "a?"}), ("think", {"question": "b?"}), ("think", {"question": "c?"}),
             ("final_answer", {"answer": "$1/$2/$3"})),
        "A", "B", "C",
    ])
    result = Agent(model=llm).run("three questions")
    assert result.answer == "A/B/C"
    assert llm.batch_sizes == [1, 3]


def test_partial_replanning_keeps_finished_results_and_adds_only_new_steps():
    calls.clear()
    llm = ScriptedLLM([
        plan(("lookup", {"city": "Oslo"}), ("lookup", {"city": "Atlantis"})),
        replan("Atlantis failed; try Bergen"),
        plan(("lookup", {"city": "Bergen"}), ("final_answer", {"answer": "$1 and $3"}), first=3),
    ])
    result = Agent(model=llm, tools=[lookup], max_replans=1).run("Populations of Oslo and Atlantis?")
    assert result.answer == "709000 and 291000"
    assert calls == {"Oslo": 1, "Atlantis": 1, "Bergen": 1}  # Oslo was not looked up again
    assert [s.id for s in result.plan.steps] == [1, 2, 3, 4]
    assert result.plan.steps[3].depends_on == [1, 3]
    assert result.steps[1].status == "error" and result.replans == 1
    replan_prompt = llm.prompts()[2]
    assert '1. lookup({"city": "Oslo"}) -> 709000' in replan_prompt and "numbered from 3" in replan_prompt
    positions = llm.history[2].json_schema["$defs"]
    assert list(positions)[0] == "step3" and positions["step3"]["anyOf"][0]["properties"]["id"] == {"const": 3}


def test_when_replans_are_spent_the_joiner_can_only_answer():
    llm = ScriptedLLM([plan(("lookup", {"city": "Atlantis"})), answer("unknown")])
    result = Agent(model=llm, tools=[lookup], max_replans=0).run("Population of Atlantis?")
    assert result.stopped_by == "max_replans" and result.answer == "unknown"
    assert "anyOf" not in llm.history[-1].json_schema  # no replan option offered


def test_an_unusable_replan_ends_the_run_with_the_best_answer_and_the_reason():
    llm = ScriptedLLM([plan(("lookup", {"city": "Oslo"})), replan(), plan(("weather", {}), first=2)])
    result = Agent(model=llm, tools=[lookup]).run("Population of Oslo?")
    assert result.stopped_by == "replan_failed"
    assert "unknown tool 'weather'" in result.error
    assert result.answer == "709000"
    assert [c.purpose for c in result.model_calls] == ["plan", "answer", "plan"]  # the unusable one too


def test_a_hanging_tool_times_out_and_the_run_goes_on():
    @tool(timeout_s=0.2)
    def hang(x: int) -> int:
        """Never returns in time."""
        threading.Event().wait(30)
        return x

    llm = ScriptedLLM([plan(("hang", {"x": 1}), ("calculator", {"expression": "1+1"})), answer("2")])
    start = time.perf_counter()
    result = Agent(model=llm, tools=[hang], max_replans=0).run("hang")
    assert time.perf_counter() - start < 5
    assert result.steps[0].observation == "Error: hang timed out after 0.2 s"
    assert (result.steps[0].error.kind, result.steps[0].error.retryable) == ("timeout", True)
    assert result.steps[1].value == 2 and result.answer == "2"


def test_failed_calls_are_retried_by_policy_and_never_for_non_idempotent_tools():
    attempts = {"flaky": 0, "pay": 0}

    @tool(retries=2, idempotent=True)
    def flaky() -> str:
        """Fails once."""
        attempts["flaky"] += 1
        if attempts["flaky"] == 1:
            raise ConnectionError("try again")
        return "ok"

    @tool(retries=2, idempotent=False)
    def pay() -> str:
        """Must not run twice."""
        attempts["pay"] += 1
        raise ConnectionError("lost")

    llm = ScriptedLLM([plan(("flaky", {}), ("pay", {})), answer("done")])
    result = Agent(model=llm, tools=[flaky, pay], max_replans=0).run("go")
    assert result.steps[0].value == "ok" and attempts == {"flaky": 2, "pay": 1}
    assert result.steps[1].observation == "Error: pay failed: ConnectionError: lost"
    assert (result.steps[1].error.exception, result.steps[1].error.retryable) == ("ConnectionError", True)


def test_agent_tool_policies_override_what_a_tool_declares():
    llm = ScriptedLLM([plan(("nap", {"seconds": 1.0})), answer("late")])
    result = Agent(model=llm, tools=[nap], max_replans=0,
                   tool_policies={"nap": ToolPolicy(timeout_s=0.1)}).run("nap")
    assert "timed out after 0.1 s" in result.steps[0].observation


def test_the_time_limit_ends_a_run_gracefully_with_the_best_answer_so_far():
    llm = ScriptedLLM([plan(("calculator", {"expression": "6*7"}), ("nap", {"seconds": 5}),
                            ("final_answer", {"answer": "$2"}))])
    start = time.perf_counter()
    result = Agent(model=llm, tools=[nap], time_limit_s=0.5).run("slow")
    assert time.perf_counter() - start < 2
    assert result.stopped_by == "time_limit" and result.answer == "42"
    assert "cut off" in result.steps[1].observation and result.steps[1].error.kind == "cut_off"


def test_a_tool_result_is_recorded_as_json_data_where_it_can_be_else_as_text():
    class Opaque:
        def __str__(self) -> str:
            return "an opaque thing"

    @tool
    def make_set() -> set:
        """Returns a set."""
        return {1}

    @tool
    def make_opaque() -> Opaque:
        """Returns an object JSON cannot hold."""
        return Opaque()

    @tool
    def count_up() -> Iterator[int]:
        """Yields 0, 1, 2."""
        yield from range(3)

    llm = ScriptedLLM([plan(("make_set", {}), ("make_opaque", {}), ("count_up", {}),
                            ("final_answer", {"answer": "$1"}))])
    result = Agent(model=llm, tools=[make_set, make_opaque, count_up]).run("set")
    assert result.steps[0].value == [1] and result.steps[1].value == "an opaque thing" and result.model_dump_json()
    assert result.steps[2].value == [0, 1, 2] and result.steps[2].observation == "[0, 1, 2]"  # read once, kept whole


def test_sequential_mode_asks_for_one_step_at_a_time():
    llm = ScriptedLLM([
        plan(("calculator", {"expression": "6*7"})),
        plan(("final_answer", {"answer": "It is $1"}), first=2),
    ])
    result = Agent(model=llm, mode="sequential").run("6 times 7?")
    assert result.answer == "It is 42" and result.stopped_by == "final_answer"
    lengths = [[len(p["prefixItems"]) for p in r.json_schema["properties"]["steps"]["anyOf"]] for r in llm.history]
    assert lengths == [[1], [1]]  # one step at a time
    assert "6*7" in llm.prompts()[1]  # the second decision sees the first step's result


def test_stream_yields_typed_events_with_each_step_started_before_it_finishes():
    llm = ScriptedLLM([plan(("calculator", {"expression": "1+1"}), ("final_answer", {"answer": "$1"}))])
    events = list(Agent(model=llm).stream("1+1?"))
    kinds = [e.kind for e in events]
    assert sorted(kinds) == sorted(["run_started", "plan", "model_call", "step_started", "step_finished",
                                    "step_started", "step_finished", "text_delta", "answer"])
    assert kinds[-2:] == ["text_delta", "answer"] and events[-2].text == "2"  # the answer, then the end
    assert kinds[0] == "run_started" and events[0].run_id == events[-1].result.run_id
    steps = [e for e in events if isinstance(e, (StepStarted, StepFinished))]
    assert [type(e) for e in steps] == [StepStarted, StepFinished, StepStarted, StepFinished]
    assert steps[1].result.value == 2 and isinstance(next(e for e in events if e.kind == "plan"), PlanMade)
    assert isinstance(events[-1], Answered) and events[-1].result.answer == "2"


def test_astream_reports_replans():
    async def collect():
        llm = ScriptedLLM([plan(("lookup", {"city": "Atlantis"})), replan("missing"),
                           plan(("final_answer", {"answer": "none"}), first=2)])
        return [e async for e in Agent(model=llm, tools=[lookup]).astream("Atlantis?")]

    events = asyncio.run(collect())
    replans = [e for e in events if isinstance(e, Replanning)]
    assert len(replans) == 1 and replans[0].reason == "missing" and replans[0].round == 1


def test_arun_works_inside_a_running_event_loop():
    async def main():
        llm = ScriptedLLM([plan(("final_answer", {"answer": "inside"}))])
        return await Agent(model=llm).arun("hi")

    assert asyncio.run(main()).answer == "inside"


@pytest.mark.parametrize("bad", [{"max_steps": 0}, {"max_replans": -1}, {"mode": "turbo"}, {"top_k": -1}])
def test_bad_agent_settings_are_refused_before_anything_loads(bad):
    from agentrt import ConfigError

    with pytest.raises(ConfigError):
        Agent(model=ScriptedLLM(), **bad)


def test_steps_start_while_the_plan_is_still_being_written():
    llm = ScriptedLLM([plan(("nap", {"seconds": 0.01}), ("calculator", {"expression": "2*3"}),
                            ("think", {"question": "ok?"}), ("final_answer", {"answer": "$2 $3"}))], latency_s=0.5)
    llm.enqueue("fine")
    events = list(Agent(model=llm, tools=[nap]).stream("go"))
    kinds = [(e.kind, getattr(getattr(e, "result", None), "id", None)) for e in events]
    assert kinds.index(("step_finished", 1)) < kinds.index(("plan", None))
    # the reasoning step waited for the plan to end (the model was busy writing it)
    think_started = next(i for i, e in enumerate(events) if isinstance(e, StepStarted) and e.step.tool == "think")
    assert think_started > kinds.index(("plan", None))
    assert events[-1].result.answer == "6 fine"


def test_a_streamed_step_that_breaks_the_plan_ends_the_round_with_a_plan_error():
    from agentrt import ModelOutputError

    llm = ScriptedLLM([{"steps": [{"id": 1, "tool": "calculator", "args": {"expression": "$1"}}]}])
    with pytest.raises(ModelOutputError, match="cycle"):
        Agent(model=llm).run("self reference")


def test_leaving_a_stream_early_cancels_the_run_and_its_running_tool():
    started, cancelled = threading.Event(), threading.Event()

    @tool
    async def forever() -> str:
        """Never finishes."""
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    async def leave_once_the_tool_runs() -> None:
        llm = ScriptedLLM([plan(("forever", {}), ("final_answer", {"answer": "$1"}))])
        async for event in Agent(model=llm, tools=[forever], store=":memory:").astream("go"):
            if isinstance(event, StepStarted):
                while not started.is_set():  # the tool starts once the store holds that it did
                    await asyncio.sleep(0.01)
                break

    start = time.perf_counter()
    asyncio.run(leave_once_the_tool_runs())
    assert cancelled.wait(1) and time.perf_counter() - start < 5


def test_an_unusable_join_decision_ends_the_run_with_the_best_answer_and_the_reason():
    llm = ScriptedLLM([plan(("calculator", {"expression": "6*7"})), "not json"])
    result = Agent(model=llm).run("6*7?")
    assert result.stopped_by == "join_failed" and result.answer == "42"
    assert "not a decision" in result.error
    assert result.model_calls[-1].output == "not json" and result.completion_tokens > 0


def test_an_answer_fed_by_a_failed_step_through_another_step_is_not_taken():
    llm = ScriptedLLM([
        plan(("lookup", {"city": "Atlantis"}), ("think", {"question": "about $1"}), ("final_answer", {"answer": "$2"})),
        "It is an error.",
        answer("unknown"),
    ])
    result = Agent(model=llm, tools=[lookup]).run("Atlantis?")
    assert result.answer == "unknown" and result.stopped_by == "joiner"


def test_any_object_with_a_batched_generate_can_be_the_model():
    class Minimal:
        def __init__(self):
            self.inner = ScriptedLLM([plan(("final_answer", {"answer": "hi"}))])

        def generate(self, requests):
            return self.inner.generate(requests)

    assert Agent(model=Minimal()).run("hi").answer == "hi"
    from agentrt import ConfigError

    with pytest.raises(ConfigError, match="batched"):
        Agent(model=42)


def test_a_result_too_big_to_print_is_recorded_by_its_type_and_the_run_goes_on():
    from agentrt import tool

    @tool
    def huge() -> int:
        """A number with 5001 digits, more than Python will print."""
        return 10**5000

    llm = ScriptedLLM([plan(("huge", {}), ("calculator", {"expression": "1 + $1"}), ("final_answer", {"answer": "$1"})),
                       answer("too big")])
    result = Agent(model=llm, tools=[huge], max_replans=0, store=":memory:").run("a huge number")
    assert result.steps[0].value == "<int that cannot be written as text>"
    assert result.steps[1].status == "error" and result.answer


def test_a_tool_with_a_pydantic_model_parameter_runs_and_its_arguments_are_kept_as_data():
    class Box(BaseModel):
        width: int

    @tool
    def measure(box: Box) -> int:
        """Measure a box.

        Args:
            box: the box
        """
        return box.width

    llm = ScriptedLLM([plan(("measure", {"box": {"width": 3}}), ("final_answer", {"answer": "$1"}))])
    result = Agent(model=llm, tools=[measure], store=":memory:").run("measure it")
    assert result.answer == "3" and result.steps[0].resolved_args == {"box": {"width": 3}}


class CutShort(ScriptedLLM):
    """Answers as scripted, but as if each reply to a prompt holding `cut` ran into its token limit."""

    def __init__(self, replies, cut: str) -> None:
        super().__init__(replies)
        self.cut = cut

    def generate(self, requests):
        generations = super().generate(requests)
        cut = self.cut in requests[0].messages[-1].content
        return [g.model_copy(update={"truncated": True}) if cut else g for g in generations]


def test_a_joiner_reply_cut_off_at_its_token_limit_ends_the_run_naming_the_setting_to_raise():
    llm = CutShort([plan(("calculator", {"expression": "6*7"})), '{"action": "answer", "answer": "4'],
                   cut="Results of the steps taken")
    result = Agent(model=llm, store=":memory:").run("What is 6*7?")
    assert result.stopped_by == "join_failed" and "raise agent.joiner.max_new_tokens" in result.error
    assert "did not finish" in result.error and result.answer == "42"


def test_a_first_plan_cut_off_at_its_token_limit_is_a_model_output_error_carrying_the_call():
    from agentrt import ModelOutputError

    llm = CutShort([plan(("calculator", {"expression": "6*7"}))], cut="Write a JSON plan")
    with pytest.raises(ModelOutputError, match="The plan did not finish .* raise agent.planner.max_new_tokens") as err:
        Agent(model=llm, store=":memory:").run("What is 6*7?")
    assert err.value.model_call.purpose == "plan" and err.value.model_call.output
