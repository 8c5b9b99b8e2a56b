"""Orchestration overhead per agent step (µs) of smolagents' ToolCallingAgent and LangGraph's
prebuilt ReAct agent, each driven by a zero-latency scripted fake model and a no-op tool, so that
only the framework's own per-step cost is timed. A run is K model turns that each call
`noop(x=i)` once, then one final-answer turn; we report median(run time) / (K + 1).

Runs in its own virtualenv, set up with:

    make bench-others    # python3 -m venv benchmarks/.venv-others, then pip install smolagents langgraph langchain-core

    benchmarks/.venv-others/bin/python benchmarks/overhead_others.py [--steps 20] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from importlib.metadata import version
from typing import Any

WARMUP_RUNS = 2


def noop(x: int) -> int:
    """Return its argument unchanged.

    Args:
        x: Any integer.
    """
    return x


def time_runs(run_once: Callable[[], Any], runs: int) -> float:
    """Median wall time of `runs` calls, in seconds, after a few untimed warm-up calls."""
    for _ in range(WARMUP_RUNS):
        run_once()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_smolagents(steps: int, runs: int) -> dict[str, Any]:
    from smolagents import LogLevel, Model, ToolCallingAgent, tool
    from smolagents.models import ChatMessage, ChatMessageToolCall, ChatMessageToolCallFunction, MessageRole

    class ScriptedModel(Model):
        """Calls `noop` on `steps` turns, then `final_answer`, and starts over (one run = one cycle)."""

        def __init__(self) -> None:
            super().__init__(model_id="scripted")
            self.turn = 0

        def generate(self, messages: list[ChatMessage], *args: Any, **kwargs: Any) -> ChatMessage:
            # No message conversion or tool-schema work: a real provider wrapper's cost is not
            # the framework's, and the LangGraph fake skips it too.
            i, self.turn = self.turn, (self.turn + 1) % (steps + 1)
            name, arguments = ("noop", {"x": i}) if i < steps else ("final_answer", {"answer": "done"})
            call = ChatMessageToolCall(
                function=ChatMessageToolCallFunction(name=name, arguments=arguments), id=f"call_{i}", type="function"
            )
            return ChatMessage(role=MessageRole.ASSISTANT, content="", tool_calls=[call])

    agent = ToolCallingAgent(
        tools=[tool(noop)],
        model=ScriptedModel(),
        max_steps=steps + 1,
        verbosity_level=LogLevel.OFF,  # no Rich console output
        planning_interval=None,
    )

    def run_once() -> None:
        assert agent.run("Call noop repeatedly.") == "done"

    return {"us_per_step": round(time_runs(run_once, runs) / (steps + 1) * 1e6, 1), "version": version("smolagents")}


def bench_langgraph(steps: int, runs: int) -> dict[str, Any]:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from langgraph.prebuilt import create_react_agent

    class ScriptedChatModel(BaseChatModel):
        """Calls `noop` on `steps` turns, then answers without tool calls, and starts over."""

        turn: int = 0

        @property
        def _llm_type(self) -> str:
            return "scripted"

        def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
            # Same shape as real chat models: a RunnableBinding carrying OpenAI-style schemas,
            # so each turn pays the binding layer a real model would.
            return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

        def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
            i, self.turn = self.turn, (self.turn + 1) % (steps + 1)
            if i < steps:
                message = AIMessage(content="", tool_calls=[{"name": "noop", "args": {"x": i}, "id": f"call_{i}"}])
            else:
                message = AIMessage(content="done")
            return ChatResult(generations=[ChatGeneration(message=message)])

    with warnings.catch_warnings():
        # create_react_agent is deprecated in favour of langchain.agents.create_agent, which lives
        # in another package; the prebuilt agent is what we mean to measure.
        warnings.simplefilter("ignore")
        agent = create_react_agent(ScriptedChatModel(), [noop])  # no checkpointer: no persistence I/O
    # Each step is two supersteps (model, tools); the default limit of 25 would stop a long run.
    config = {"recursion_limit": 2 * (steps + 1) + 5}

    def run_once() -> None:
        result = agent.invoke({"messages": [("user", "Call noop repeatedly.")]}, config)
        assert result["messages"][-1].content == "done"

    return {"us_per_step": round(time_runs(run_once, runs) / (steps + 1) * 1e6, 1), "version": version("langgraph")}


def guarded(bench: Callable[[int, int], dict[str, Any]], steps: int, runs: int) -> dict[str, Any]:
    """One framework failing must not hide the other's result."""
    try:
        return bench(steps, runs)
    except Exception as e:  # noqa: BLE001
        return {"error": f"{type(e).__name__}: {e}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="tool-call steps per run (K)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per framework")
    args = parser.parse_args()
    result = {
        "smolagents": guarded(bench_smolagents, args.steps, args.runs),
        "langgraph": guarded(bench_langgraph, args.steps, args.runs),
        "steps_per_run": args.steps,
        "runs": args.runs,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
