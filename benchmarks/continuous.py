"""Continuous batching against whole batches and against one run at a time: 64 concurrent agent
runs on the embedded default model, runs per minute.

    .venv/bin/python benchmarks/continuous.py                  # 64 runs a mode, 16 one at a time
    .venv/bin/python benchmarks/continuous.py --runs 16 --serial-runs 4     # small

Three ways to serve the same runs with one loaded model (instructions as in concurrency.py):
- continuous: `TransformersLLM`'s default; a request joins the decoding batch at its next token, a
  finished one leaves at once;
- whole batches: `continuous=False`, as before continuous batching: what arrives while a batch
  decodes waits for the whole batch to end;
- one at a time: the runs one after another (`--serial-runs` of them; runs per minute scale).

Targets, claimed: continuous serves >= 1.5x the runs a minute of whole batches, and >= 1.8x one at a
time; every run finishes.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from agentrt import Agent
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.store import RunStore
from concurrency import instruction
from targets import Targets

OVER_WHOLE_BATCHES = 1.5
OVER_ONE_AT_A_TIME = 1.8


async def concurrently(agents: list[Agent]) -> tuple[int, float]:
    """(runs finished, seconds) with every agent running its instruction at once."""
    start = time.perf_counter()
    outcomes = await asyncio.gather(*(agent.arun(instruction(i)) for i, agent in enumerate(agents)),
                                    return_exceptions=True)
    for problem in [o for o in outcomes if isinstance(o, BaseException)][:3]:
        print(f"  failed: {type(problem).__name__}: {problem}")
    return sum(not isinstance(o, BaseException) for o in outcomes), time.perf_counter() - start


def one_at_a_time(agents: list[Agent]) -> tuple[int, float]:
    start = time.perf_counter()
    finished = sum(1 for i, agent in enumerate(agents) if agent.run(instruction(i)).answer is not None)
    return finished, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=64, help="concurrent runs, per batching mode")
    parser.add_argument("--serial-runs", type=int, default=16, help="runs one after another")
    args = parser.parse_args()
    loaded = TransformersLLM()
    backends = {
        "continuous": loaded,
        "whole batches": TransformersLLM.from_model(loaded.model, loaded.tokenizer, name=loaded.name, continuous=False),
    }
    print(f"{loaded.name} ({loaded.quantize}), max_batch {loaded.batches.max_batch}")
    print("| mode | runs | finished | wall (s) | runs/min | model steps by rows (top 3) |")
    print("|---|---|---|---|---|---|")
    per_minute, finished_runs = {}, 0
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs.sqlite")
        modes = [*backends, "one at a time"]
        for mode in modes:
            llm = backends.get(mode, loaded)
            runs = args.serial_runs if mode == "one at a time" else args.runs
            agents = [Agent(model=llm, store=store) for _ in range(runs)]
            before = llm.batches.batch_sizes.copy()
            finished, seconds = one_at_a_time(agents) if mode == "one at a time" else asyncio.run(concurrently(agents))
            steps = (llm.batches.batch_sizes - before).most_common(3)
            per_minute[mode] = 60 * finished / seconds
            finished_runs += finished
            print(f"| {mode} | {runs} | {finished} | {seconds:.0f} | {per_minute[mode]:.1f} | "
                  f"{', '.join(f'{rows} rows ×{count}' for rows, count in steps)} |", flush=True)
    targets = Targets("continuous")
    targets.check("runs finished", finished_runs, f"== {2 * args.runs + args.serial_runs}")
    targets.check("continuous / whole batches, runs a minute", per_minute["continuous"] / per_minute["whole batches"],
                  f">= {OVER_WHOLE_BATCHES}", unit="x")
    targets.check("continuous / one at a time, runs a minute", per_minute["continuous"] / per_minute["one at a time"],
                  f">= {OVER_ONE_AT_A_TIME}", unit="x")
    targets.exit()


if __name__ == "__main__":
    main()
