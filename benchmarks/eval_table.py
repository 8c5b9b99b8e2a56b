"""Every eval suite on one split, constrained in each mode it runs in and unconstrained in
parallel mode, printed as the Markdown table of docs/results.md.

    .venv/bin/python benchmarks/eval_table.py --limit 20 --baseline-limit 10   # a sample of the dev half
    .venv/bin/python benchmarks/eval_table.py --modes parallel --decodings constrained   # a part of it

On a CPU, the quickest way through the whole dev half is two or more of these processes side by
side, each on its own `--suites` (or its own `--shard` of one configuration) and with
`OMP_NUM_THREADS=1`. On 2 cores, two such processes each ran the first 5 BFCL-simple items in
29 s, where one process with 2 threads took 39 s.
`--concurrency` (items at once in one process, their model calls batched) suits a GPU; on CPU
its batches wait for their longest plan. The latency column is the mean over items that ran one
at a time in their process, and says how many.

Reports go to benchmarks/out/evals/; rerunning resumes from them, so an interrupted table
costs only what was left.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agentrt.batch import complete_records
from agentrt.cli import parse_shard
from agentrt.evals.runner import evaluate, totals
from agentrt.evals.suites import SUITES, suite
from agentrt.llm import load_llm

OUT = Path(__file__).resolve().parent / "out" / "evals"
EXTRA = ("last_number", "f1", "recall@2", "recall@5", "recall@10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--limit", type=int, help="first N items of each suite's split")
    parser.add_argument("--baseline-limit", type=int,
                        help="first N items for the unconstrained baseline, whose plans often run to the "
                             "token limit and take several times longer (default: --limit)")
    parser.add_argument("--suites", nargs="+", default=list(SUITES), choices=list(SUITES))
    parser.add_argument("--modes", nargs="+", default=["parallel", "sequential"], choices=["parallel", "sequential"],
                        help="modes to run, where a suite has them (the baseline runs in parallel mode only)")
    parser.add_argument("--decodings", nargs="+", default=["constrained", "unconstrained"],
                        choices=["constrained", "unconstrained"])
    parser.add_argument("--concurrency", type=int, default=1, help="items run at once (default: 1)")
    parser.add_argument("--shard", type=parse_shard, default=(1, 1), metavar="K/N",
                        help="only every N-th item from the K-th, as for agentrt eval: N processes with shards "
                             "1/N to N/N share one configuration's work; a run without --shard then prints it")
    parser.add_argument("--from-records", action="store_true",
                        help="run nothing: print the rows of the records already made (up to --limit each)")
    args = parser.parse_args()
    llm = None if args.from_records else load_llm()
    print("| suite | mode | decoding | items | accuracy | valid output | mean latency (s) [items alone] | other |")
    print("|---|---|---|---|---|---|---|---|")
    # every constrained configuration before any baseline: the baseline takes several times longer
    runs = []
    if "constrained" in args.decodings:
        runs += [(name, mode, True) for name in args.suites for mode in suite(name).modes if mode in args.modes]
    if "unconstrained" in args.decodings and "parallel" in args.modes:
        runs += [(name, "parallel", False) for name in args.suites]
    for name, mode, constrained in runs:
        decoding = "constrained" if constrained else "unconstrained"
        limit = args.limit if constrained else args.baseline_limit or args.limit
        # one records file per configuration whatever the limit: a larger limit resumes a smaller one
        out = OUT / f"{name}-{args.split}-{mode}-{decoding}.json"
        if args.from_records:
            records = complete_records(f"{out}.records.jsonl")[1:][:limit]  # the first line is the settings
            if not records:
                continue
            items, scores = len(records), totals(records)
        else:
            report = evaluate(name, split=args.split, limit=limit, model=llm, mode=mode,
                              constrained=constrained, concurrency=args.concurrency, shard=args.shard, out=out)
            items, scores = report["items"], report["totals"]
        other = ", ".join(f"{key} {scores[key]:.2f}" for key in EXTRA if key in scores)
        print(f"| {name} | {mode} | {decoding} | {items} | {scores['accuracy']:.2f} | "
              f"{scores['valid_rate']:.2f} | {scores['mean_latency_s']:.1f} [{scores['latency_items']}] | "
              f"{other} |", flush=True)


if __name__ == "__main__":
    main()
