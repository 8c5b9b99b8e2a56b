"""Does the default model use the user's tools? The tool-use suite's dev items, side by side: the
default agent (which chooses tools, `tool_choice.py`) and `Agent(choose_tools=False)`, whose
planner picks among all tools itself (the default until 2026-12-07), same items, same model, one run.

    .venv/bin/python benchmarks/tool_use.py                 # every 3rd dev item (56), ~50 min on 2 cores
    .venv/bin/python benchmarks/tool_use.py --every 1       # all 166 dev items

Targets (issue [2/7], for the test half; the dev figures show the way): right tool >= 90%, all
arguments right >= 75%, no-tool instructions answered without a tool >= 85%; seconds per item at
most 1.5x the free planner's. None is met yet, so none is claimed (benchmarks/README.md).
Finished items are kept in benchmarks/out/tool_use-*.json.records.jsonl, so a cut run resumes
(delete them to measure afresh).
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from agentrt import Agent
from agentrt.evals import tool_use
from agentrt.evals.runner import evaluate
from targets import Targets

OUT = Path(__file__).parent / "out"
CONFIGS = {"plan_freely": {"choose_tools": False}, "default": {}}


def measure(name: str, options: dict[str, bool], every: int, concurrency: int) -> dict[str, float]:
    tool_use.Agent = functools.partial(Agent, **options)  # the suite builds its agents with this name
    report = evaluate("tool-use", split="dev", concurrency=concurrency, shard=(1, every),
                      out=OUT / f"tool_use-{name}-every{every}.json")
    return tool_use.summary(report["records"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--every", type=int, default=3, help="run every N-th dev item (default 3)")
    parser.add_argument("--concurrency", type=int, default=4, help="items at once (default 4)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    figures = {name: measure(name, options, args.every, args.concurrency) for name, options in CONFIGS.items()}
    items = figures["plan_freely"]["items"]
    print(f"\ntool-use dev, every {args.every}th item ({items} items), concurrency {args.concurrency}")
    print(f"  {'agent':14} {'right tool':>10} {'args right':>10} {'no tool':>8} {'s / item':>9}")
    for name, s in figures.items():
        scores = f"{s['right_tool']:10.2f} {s['args_right']:10.2f} {s['no_tool']:8.2f}"
        print(f"  {name:14} {scores} {s['seconds_per_item']:9.1f}")
    default = figures["default"]
    cost = default["seconds_per_item"] / figures["plan_freely"]["seconds_per_item"]
    targets = Targets("tool_use")
    targets.check("default: right tool", default["right_tool"], ">= 0.9", claimed=False)
    targets.check("default: all arguments right", default["args_right"], ">= 0.75", claimed=False)
    targets.check("default: no tool when none is needed", default["no_tool"], ">= 0.85", claimed=False)
    targets.check("default / plan_freely, seconds per item", cost, "<= 1.5", claimed=False, unit="x")
    targets.exit()


if __name__ == "__main__":
    main()
