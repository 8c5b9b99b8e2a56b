"""Fan-out: N independent tool calls, in parallel mode against sequential (ReAct-style) mode,
measured side by side in one run.

1. Scripted model with a fixed latency per call, tools that sleep L = 200 ms each, N = 2, 4, 8, 16:
   wall time / critical-path ideal (model latency + L), and sequential / parallel time spent in
   the fan-out (the tool steps themselves, without model calls).
2. Orchestration overhead: zero-latency scripted model and no-op tools, microseconds per step,
   in both modes (and next to smolagents and LangGraph when benchmarks/.venv-others exists:
   `make bench-others` builds it).
3. The real default model on CPU: the same kind of fan-out, parallel against sequential.

Parts 1 and 2 keep runs in memory (`store=":memory:"`), as the other frameworks run without
persistence; part 2 also times the default durable run store (SQLite, synchronous=FULL), which
writes every step to disk. Part 3 runs with a durable store in a temporary directory.

Targets (benchmarks/README.md): fan-out seq/par >= 0.9 * N, claimed; wall/ideal <= 1.1, and agentrt
10x below smolagents and LangGraph per step, not met, so not claimed. Exits 1 if a claimed one misses.

    .venv/bin/python benchmarks/fanout.py [--skip-real-model]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from agentrt import Agent, tool
from agentrt.events import StepFinished, StepStarted
from agentrt.testing import ScriptedLLM
from targets import Targets

HERE = Path(__file__).parent
SLEEP_S = 0.2
MODEL_LATENCY_S = 0.05
# parallel wall time / (one model call + one tool latency): met on 2026-11-23's CPU (1.04-1.06),
# missed on 2026-11-30's slower one (1.10-1.16: per-step overhead, issue [3/7]), so not claimed
WALL_TARGET = 1.1
FANOUT_TARGET = 0.9  # times N: sequential / parallel time in the tool steps
ROUNDS = 3  # part 2: agentrt parallel and the other frameworks measured alternately, against drift
OVERHEAD_TARGET = 10  # the other frameworks' µs per step / ours: not met, not claimed


@tool
def wait(seconds: float) -> str:
    """Sleep for a while (stands in for a slow API call)."""
    time.sleep(seconds)
    return "done"


@tool
def noop(x: int) -> int:
    """Return the number unchanged."""
    return x


class FanoutModel:
    """A scripted model that plans `n` calls of one tool and then final_answer, for any number of
    runs: all steps at once when asked for a whole plan, one per request in sequential mode.
    It answers each call whole after a fixed latency; `streaming=True` hands the plan over in
    pieces instead, so steps can start while it is being written."""

    name = "fan-out script"

    def __init__(self, n: int, tool_name: str, args: dict, latency_s: float, streaming: bool = False) -> None:
        self.script = ScriptedLLM(latency_s=latency_s)
        self.n, self.tool_name, self.args = n, tool_name, args
        if streaming:
            self.generate_streaming = self._generate_streaming

    def generate(self, requests):
        for request in requests:
            self.script.enqueue(self._plan(request))
        return self.script.generate(requests)

    def _generate_streaming(self, request, on_text):
        self.script.enqueue(self._plan(request))
        return self.script.generate_streaming(request, on_text)

    def _plan(self, request) -> dict:
        positions = list(request.json_schema["$defs"].values())  # one step schema per plan position
        first = positions[0]["anyOf"][0]["properties"]["id"]["const"]
        ids = range(first, min(first + len(positions), self.n + 2))
        return {"steps": [self._step(i) for i in ids]}

    def _step(self, step_id: int) -> dict:
        if step_id <= self.n:
            return {"id": step_id, "tool": self.tool_name, "args": self.args}
        return {"id": step_id, "tool": "final_answer", "args": {"answer": "all done"}}


def fanout_agent(mode: str, n: int, latency: float, tool_name: str, args: dict, streaming: bool = False,
                 store: str | Path = ":memory:") -> Agent:
    model = FanoutModel(n, tool_name, args, latency, streaming)
    return Agent(model=model, tools=[wait, noop], mode=mode, max_steps=n + 1, store=store)


def timed_run(agent: Agent) -> tuple[float, list]:
    """Wall time of one run, and its events with the time each arrived."""
    start = time.perf_counter()
    events = [(time.perf_counter(), e) for e in agent.stream("fan out")]
    return time.perf_counter() - start, events


def fanout_seconds(events: list) -> float:
    """Time the tool steps took: the span of the parallel ones, or the sum of sequential ones."""
    starts = {e.step.id: t for t, e in events if isinstance(e, StepStarted) and e.step.tool == "wait"}
    ends = {e.result.id: t for t, e in events if isinstance(e, StepFinished) and e.result.tool == "wait"}
    intervals = sorted((starts[i], ends[i]) for i in starts)
    merged: list[list[float]] = []
    for begin, end in intervals:  # union of busy intervals: overlap counted once
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return sum(end - begin for begin, end in merged)


def fanout_table(targets: Targets) -> None:
    print(f"1. Fan-out, scripted model ({MODEL_LATENCY_S * 1000:.0f} ms per call), "
          f"tools sleeping {SLEEP_S * 1000:.0f} ms")
    print(f"    N   parallel s   ideal s   wall/ideal   sequential s   fan-out seq/par      (targets: wall/ideal "
          f"<= {WALL_TARGET}, seq/par >= {FANOUT_TARGET}*N)")
    ideal = MODEL_LATENCY_S + SLEEP_S
    rows = []
    for n in (2, 4, 8, 16):
        parallel, par_events = timed_run(fanout_agent("parallel", n, MODEL_LATENCY_S, "wait", {"seconds": SLEEP_S}))
        sequential, seq_events = timed_run(fanout_agent("sequential", n, MODEL_LATENCY_S, "wait", {"seconds": SLEEP_S}))
        ratio = fanout_seconds(seq_events) / fanout_seconds(par_events)
        rows.append((n, parallel / ideal, ratio))
        print(f"  {n:3d}   {parallel:10.3f}   {ideal:7.3f}   {parallel / ideal:10.2f}   {sequential:12.3f}"
              f"   {ratio:15.2f}")
    for n, wall, ratio in rows:
        targets.check(f"N={n:<2} wall / ideal", wall, f"<= {WALL_TARGET}", claimed=False)
        targets.check(f"N={n:<2} fan-out seq / par", ratio, f">= {FANOUT_TARGET * n:.1f}")


def overhead_us(mode: str, steps: int = 20, runs: int = 20, streaming: bool = False,
                store: str | Path = ":memory:") -> float:
    """Median µs per step of a warm agent (built once, as the other frameworks' agents are)."""
    agent = fanout_agent(mode, steps, 0.0, "noop", {"x": 1}, streaming, store)
    for _ in range(2):
        agent.run("fan out")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        agent.run("fan out")
        times.append(time.perf_counter() - start)
    return statistics.median(times) / (steps + 1) * 1e6


def overhead_table(targets: Targets) -> None:
    print(f"\n2. Orchestration overhead, zero-latency scripted model, no-op tools (median of 20 runs of 20 steps; "
          f"agentrt parallel and the others alternated {ROUNDS} times, median of the rounds)")
    rounds = [(overhead_us("parallel"), other_frameworks()) for _ in range(ROUNDS)]
    ours = {"parallel": statistics.median(us for us, _ in rounds), "sequential": overhead_us("sequential")}
    for mode, us in ours.items():
        print(f"  {'agentrt ' + mode:<20} {us:9.0f} us/step")
    print(f"  {'(parallel, plan streamed in pieces)':<20} {overhead_us('parallel', streaming=True):9.0f} us/step")
    with tempfile.TemporaryDirectory() as tmp:
        durable = overhead_us("parallel", store=Path(tmp) / "runs.sqlite")
    print(f"  {'(parallel, durable run store: the default)':<20} {durable:9.0f} us/step (no target)")
    for name in ("smolagents", "langgraph"):
        entries = [others.get(name, {}) for _, others in rounds]
        measured = [e["us_per_step"] for e in entries if e.get("us_per_step") is not None]
        us = statistics.median(measured) if len(measured) == ROUNDS else None
        if us is not None:
            print(f"  {name + ' ' + entries[0]['version']:<20} {us:9.0f} us/step")
        for mode, our_us in ours.items():
            check = f"{name} / agentrt {mode}, per step"
            if us is None:
                why = next((e["error"] for e in entries if "error" in e),
                           "benchmarks/.venv-others is missing: `make bench-others` builds it")
                targets.skip(check, f">= {OVERHEAD_TARGET}", why, claimed=False)
            else:
                targets.check(check, us / our_us, f">= {OVERHEAD_TARGET}", claimed=False, unit="x", fmt=".1f")


def other_frameworks() -> dict[str, dict]:
    """smolagents' and LangGraph's µs per step, by overhead_others.py in their own virtualenv; {}
    (each then reported as not measured) when that virtualenv is missing."""
    python = HERE / ".venv-others" / "bin" / "python"
    if not python.exists():
        return {}
    out = subprocess.run([str(python), str(HERE / "overhead_others.py")], capture_output=True, text=True)
    if out.returncode != 0:
        error = f"overhead_others.py failed: {(out.stderr.strip().splitlines() or ['no output'])[-1]}"
        return {"smolagents": {"error": error}, "langgraph": {"error": error}}
    return json.loads(out.stdout.strip().splitlines()[-1])


def real_model_table() -> None:
    from agentrt.llm.transformers_llm import TransformersLLM

    llm = TransformersLLM()
    instruction = "Compute 12*7, 15*3 and 9*9 with the calculator, then give all three results."
    print("\n3. Real default model on CPU:", repr(instruction))
    for mode in ("parallel", "sequential"):
        with tempfile.TemporaryDirectory() as tmp:
            agent = Agent(model=llm, mode=mode, store=Path(tmp) / "runs.sqlite")
            start = time.perf_counter()
            result = agent.run(instruction)
            wall = time.perf_counter() - start
        tokens = result.completion_tokens
        print(f"  {mode:<10} {wall:6.1f} s  {len(result.model_calls)} model calls, {tokens} generated tokens, "
              f"{len(result.steps)} steps, answer {result.answer!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-real-model", action="store_true")
    args = parser.parse_args()
    targets = Targets("fanout")
    fanout_table(targets)
    overhead_table(targets)
    if not args.skip_real_model:
        real_model_table()
    targets.exit()


if __name__ == "__main__":
    main()
