"""Agents as tools (`Agent.as_tool`): a planner delegates a sub-task to another agent, whose run
nests in the step's result, the trace, the viewer, the OpenTelemetry export and the usage."""

import asyncio

import pytest

from agentrt import Agent, tool
from agentrt.testing import ScriptedLLM
from agentrt.viewer import render_html

from .conftest import plan


@tool
def population(city: str) -> int:
    """Population of a city."""
    return {"Oslo": 709_000, "Bergen": 291_000}[city]


def research_pair(llm: ScriptedLLM) -> tuple[Agent, Agent]:
    """A researcher with the population tool, and a main agent that can only delegate to it."""
    researcher = Agent(model=llm, tools=[population], store=":memory:")
    main = Agent(model=llm, tools=[researcher.as_tool("research", "Look up facts about cities")], store=":memory:")
    return main, researcher


def test_a_planner_delegates_to_another_agent_whose_run_nests_in_the_step():
    llm = ScriptedLLM([
        plan(("research", {"task": "population of Oslo"}), ("final_answer", {"answer": "Oslo: $1"})),
        plan(("population", {"city": "Oslo"}), ("final_answer", {"answer": "$1 people"})),
    ])
    main, _ = research_pair(llm)
    result = main.run("How many people live in Oslo?")
    assert result.answer == "Oslo: 709000 people"
    step = result.steps[0]
    assert step.observation == "709000 people" and step.subrun is not None
    assert step.subrun.instruction == "population of Oslo" and step.subrun.steps[0].value == 709_000
    assert "Look up facts about cities" in llm.prompts()[0] and "population(city" in llm.prompts()[1]
    # one model for both: its calls and the sub-run's count in the usage
    assert result.usage.model.calls == 2 and result.usage.by_purpose["plan"].calls == 2
    [finished] = [r for r in result.trace if r["kind"] == "step_finished" and r["result"]["tool"] == "research"]
    nested = finished["result"]["subrun"]["trace"]
    assert [r["kind"] for r in nested][0] == "run_started" and nested[-1]["kind"] == "answer"
    html = render_html(result.trace)
    assert "population of Oslo" in html and "Delegated to" in html


def test_the_sub_run_exports_as_spans_under_the_delegating_step():
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agentrt.otel import export_trace

    llm = ScriptedLLM([
        plan(("research", {"task": "population of Oslo"}), ("final_answer", {"answer": "$1"})),
        plan(("population", {"city": "Oslo"}), ("final_answer", {"answer": "$1"})),
    ])
    main, _ = research_pair(llm)
    result = main.run("How many people live in Oslo?")
    exporter, provider = InMemorySpanExporter(), TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    export_trace(result.trace, tracer_provider=provider)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    step, sub = spans["execute_tool research"], spans["invoke_agent research"]
    assert sub.parent.span_id == step.context.span_id
    assert spans["execute_tool population"].parent.span_id == sub.context.span_id
    assert spans["chat scripted"].attributes["gen_ai.request.model"] == "scripted"


def test_approvals_and_budgets_pass_through_to_the_sub_run():
    asked = []

    @tool
    def pay(amount: int) -> str:
        """Pay an amount."""
        return f"paid {amount}"

    llm = ScriptedLLM([
        plan(("shop", {"task": "pay 5"}), ("final_answer", {"answer": "$1"})),
        plan(("pay", {"amount": 5}), ("final_answer", {"answer": "$1"})),
    ])
    shopper = Agent(model=llm, tools=[pay], store=":memory:", tool_policies={"pay": {"permission": "ask"}})
    main = Agent(model=llm, tools=[shopper.as_tool("shop", "Buy things")], store=":memory:",
                 approve=lambda request: asked.append(request.step.tool) or True, max_tokens=100_000)
    result = main.run("Pay 5")
    assert asked == ["pay"] and result.answer == "paid 5"  # the caller's approver decided the sub-run's call
    sub = result.steps[0].subrun
    assert sub is not None
    used = result.usage.model.prompt_tokens + result.usage.model.completion_tokens
    assert used > sub.usage.model.prompt_tokens > 0  # the sub-run's tokens count in the caller's


def test_an_agent_that_delegates_to_itself_or_nests_too_deep_fails_that_step_with_a_clear_error():
    llm = ScriptedLLM([plan(("me", {"task": "again"})), {"action": "answer", "answer": "gave up"}])
    agent = Agent(model=llm, store=":memory:", max_replans=0)
    myself = agent.as_tool("me", "Ask myself")
    agent.tools.register(myself)
    agent.plannable.register(myself)
    result = agent.run("Loop forever")
    assert result.steps[0].subrun is None and result.answer == "gave up"
    assert "agent tool me would run its agent inside its own run" in result.steps[0].observation

    leaf = Agent(model=ScriptedLLM(), tools=[population], store=":memory:")
    middle = Agent(model=ScriptedLLM([plan(("leaf", {"task": "x"}))]), store=":memory:",
                   tools=[leaf.as_tool("leaf", "Facts", max_depth=1)], max_replans=0)
    top_llm = ScriptedLLM([plan(("middle", {"task": "x"}), ("final_answer", {"answer": "$1"}))])
    top = Agent(model=top_llm, tools=[middle.as_tool("middle", "Ask")], store=":memory:")
    middle.llm.enqueue({"action": "answer", "answer": "could not"})
    nested = top.run("x").steps[0].subrun
    assert nested is not None and "would nest runs 3 deep, past its max_depth=1" in nested.steps[0].observation


def test_cancelling_the_calling_run_cancels_the_sub_run():
    started = asyncio.Event()

    @tool
    async def slow(city: str) -> str:
        """Slow facts."""
        started.set()
        await asyncio.Event().wait()
        return "never"

    llm = ScriptedLLM([plan(("research", {"task": "slow"})), plan(("slow", {"city": "Oslo"}))])
    researcher = Agent(model=llm, tools=[slow], store=":memory:")
    main = Agent(model=llm, tools=[researcher.as_tool("research", "Facts")], store=":memory:")

    async def cancel_it() -> None:
        task = asyncio.create_task(main.arun("x"))
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_it())
    [sub] = [r for r in researcher.store.runs() if r.instruction == "slow"]
    assert sub.status == "failed" and "CancelledError" in sub.error  # the sub-run stopped with its caller
