"""Does experience memory help the default model? Each suite's first N dev items, run in order
without memory and with it (each item's planner shown the plans of earlier items that went well),
side by side in one run. Reports go to benchmarks/out/evals/ (resumable).

    .venv/bin/python benchmarks/memory_eval.py --limit 60 --suites bfcl-simple-python gsm8k
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agentrt.evals.runner import evaluate
from agentrt.evals.suites import SUITES
from agentrt.llm import load_llm
from agentrt.memory import ExperienceMemory

OUT = Path(__file__).resolve().parent / "out" / "evals"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=60, help="first N dev items of each suite")
    parser.add_argument("--suites", nargs="+", default=["bfcl-simple-python", "gsm8k"], choices=list(SUITES))
    args = parser.parse_args()
    llm = load_llm()
    print("| suite | dev items | memory | accuracy | valid output | mean latency (s) | plans remembered |")
    print("|---|---|---|---|---|---|---|")
    for name in args.suites:
        for memory in (False, True):
            out = OUT / f"{name}-dev-parallel-constrained-memory{'on' if memory else 'off'}-{args.limit}.json"
            report = evaluate(name, split="dev", limit=args.limit, model=llm, memory=memory, out=out)
            totals = report["totals"]
            kept = len(ExperienceMemory(f"{out}.memory.sqlite")) if memory else "-"
            print(f"| {name} | {report['items']} | {'on' if memory else 'off'} | {totals['accuracy']:.3f} | "
                  f"{totals['valid_rate']:.2f} | {totals['mean_latency_s']:.1f} | {kept} |", flush=True)


if __name__ == "__main__":
    main()
