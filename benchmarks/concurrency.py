"""64 agents at once on one shared model backend (the embedded default model), wave after wave: every
run must finish (no deadlock), and memory must not grow from one wave to the next.

    .venv/bin/python benchmarks/concurrency.py              # 64 agents, 3 waves
    .venv/bin/python benchmarks/concurrency.py --agents 8 --waves 2     # small; one wave cannot judge memory

Prints per wave: runs finished, wall time, the model's steps by how many rows each decoded, and the process's resident
memory after the wave beside its memory after the model loaded.

Targets (docs/durability.md), claimed: every run of every wave finishes, and resident memory
after the last wave is <= 1.1x its level after the first (flat from wave to wave). Exits 1 if one misses.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
import time
from pathlib import Path

import psutil

from agentrt import Agent
from agentrt.llm import load_llm
from agentrt.store import RunStore
from targets import Targets

MEMORY_GROWTH_TARGET = 1.1  # RSS after the last wave / after the first
QUESTIONS = [
    "What is {a} * {b} + {c}?",
    "Add {a} and {b}, then multiply by {c}.",
    "Why is the sky blue? Answer in one sentence.",
    "What is {a} minus {b}?",
]


def instruction(i: int) -> str:
    return QUESTIONS[i % len(QUESTIONS)].format(a=11 + i, b=3 + i % 7, c=2 + i % 5)


async def wave(agents: list[Agent], timeout_s: float) -> tuple[int, int, float]:
    """Every agent runs one instruction at once; (finished, failed, seconds)."""
    start = time.perf_counter()
    outcomes = await asyncio.wait_for(
        asyncio.gather(*(agent.arun(instruction(i)) for i, agent in enumerate(agents)), return_exceptions=True),
        timeout_s,
    )
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    for problem in failed[:3]:
        print(f"  failed: {type(problem).__name__}: {problem}")
    return len(outcomes) - len(failed), len(failed), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=64)
    parser.add_argument("--waves", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a wave may take before it counts as stuck")
    args = parser.parse_args()
    process = psutil.Process()
    llm = load_llm()
    loaded = process.memory_info().rss
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs.sqlite")
        agents = [Agent(model=llm, store=store) for _ in range(args.agents)]
        print(f"{args.agents} agents, one model ({llm.name}), one run store; resident memory after load "
              f"{loaded / 2**20:.0f} MiB")
        print("| wave | finished | failed | wall (s) | runs/min | model steps (rows×count) | RSS after (MiB) "
              "| vs after load |")
        print("|---|---|---|---|---|---|---|---|")
        finished_runs, rss_after = 0, []
        for number in range(1, args.waves + 1):
            before = collections.Counter(llm.batches.batch_sizes)
            finished, failed, seconds = asyncio.run(wave(agents, args.timeout))
            sizes = collections.Counter(llm.batches.batch_sizes) - before
            rss = process.memory_info().rss
            finished_runs += finished
            rss_after.append(rss)
            histogram = ", ".join(f"{size}×{count}" for size, count in sorted(sizes.items()))
            print(f"| {number} | {finished} | {failed} | {seconds:.0f} | {60 * finished / seconds:.1f} | "
                  f"{histogram} | {rss / 2**20:.0f} | {rss / loaded:.2f}× |", flush=True)
        stored = collections.Counter(run.status for run in store.runs(limit=10 * args.agents * args.waves))
        print(f"run store: {dict(stored)}")
    targets = Targets("concurrency")
    total = args.agents * args.waves
    targets.check(f"runs finished, of {total}", finished_runs, f"== {total}")
    if len(rss_after) > 1:
        targets.check(f"resident memory after wave {len(rss_after)} / after wave 1", rss_after[-1] / rss_after[0],
                      f"<= {MEMORY_GROWTH_TARGET}", unit="x")
    else:
        targets.skip("resident memory after the last wave / after wave 1", f"<= {MEMORY_GROWTH_TARGET}",
                     "one wave only: run --waves 2 or more", claimed=False)
    targets.exit()


if __name__ == "__main__":
    main()
