"""Why eval items failed, counted from the per-item records that `eval_table.py` (or
`agentrt eval --out`) wrote, and each unconstrained baseline beside the constrained run on the
same items: the figures behind "What it shows" in docs/results.md.

    .venv/bin/python benchmarks/eval_breakdown.py [RECORDS_DIR]   # default: benchmarks/out/evals
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
from pathlib import Path

from agentrt.batch import complete_records

OUT = Path(__file__).resolve().parent / "out" / "evals"


def failure(record: dict) -> str:
    """One failed BFCL item's kind of failure, from its score's reason."""
    if not record["valid"]:
        return "no valid plan" + (" (token limit)" if "did not finish" in (record.get("error") or "") else "")
    counts = re.match(r"expected (\d+) call\(s\), got (\d+)", record["reason"])
    if counts is None:
        return "wrong function or arguments" if record["calls"] else "no call"
    expected, got = map(int, counts.groups())
    calls = record["calls"]
    if got == 0:
        return "no call"
    if got > 1 and all(call == calls[0] for call in calls):
        return "one call repeated"
    return "too few calls" if got < expected else "too many calls"


def tool_calls(record: dict) -> int:
    """How many tools an item called, `think` steps (reasoning, not tools) left out."""
    return sum(1 for call in record["calls"] if "think" not in call)


def alone_pairs(first: list[dict], second: list[dict]) -> list[tuple[dict, dict]]:
    """The items in both lists of records that ran one at a time in both, as (first, second)
    pairs: the latency of an item run several at once measures throughput, not the item."""
    alone = {r["id"]: r for r in first if r.get("concurrency", 1) == 1}
    return [(alone[r["id"]], r) for r in second if r["id"] in alone and r.get("concurrency", 1) == 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records_dir", nargs="?", type=Path, default=OUT)
    args = parser.parse_args()
    reports = {}
    for path in sorted(args.records_dir.glob("*.records.jsonl")):
        header, *records = complete_records(path)
        if not records:
            continue
        settings = header["settings"]
        reports[settings["suite"], settings["mode"], settings["constrained"]] = records
        decoding = "constrained" if settings["constrained"] else "unconstrained"
        valid = [r for r in records if r["valid"]]  # an output that is no plan keeps no token count
        tokens = f"{statistics.mean(r['completion_tokens'] for r in valid):.0f}" if valid else "-"
        print(f"{settings['suite']} {settings['mode']} {decoding}: {len(records)} items, "
              f"{sum(r['correct'] for r in records)} right, {len(valid)} valid, "
              f"{tokens} generated tokens per valid item")
        if settings["suite"].startswith("bfcl") and settings["suite"] != "bfcl-irrelevance":
            kinds = collections.Counter(failure(r) for r in records if not r["correct"])
            print("  failures: " + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()))
        tools = collections.Counter(step["tool"] for r in valid for step in r["plan"])
        if tools:
            print("  planned steps: " + ", ".join(f"{tool} {n}" for tool, n in tools.most_common(6)))
    for (name, mode, constrained), sequential in reports.items():
        if mode != "sequential" or (name, "parallel", constrained) not in reports:
            continue
        same = alone_pairs(reports[name, "parallel", constrained], sequential)
        ratio = statistics.mean(s["latency_s"] for _, s in same) / statistics.mean(p["latency_s"] for p, _ in same)
        print(f"{name}, the {len(same)} items run in both modes: sequential latency {ratio:.2f}x parallel; "
              f"generated tokens {statistics.mean(p['completion_tokens'] for p, _ in same):.0f} parallel, "
              f"{statistics.mean(s['completion_tokens'] for _, s in same):.0f} sequential; tool calls "
              f"{sum(map(tool_calls, (p for p, _ in same)))} parallel, "
              f"{sum(map(tool_calls, (s for _, s in same)))} sequential")
    for (name, mode, constrained), baseline in reports.items():
        if constrained or (name, mode, True) not in reports:
            continue
        pairs = alone_pairs(reports[name, mode, True], baseline)
        if not pairs:
            continue
        summaries = [
            f"{decoding} {sum(r['correct'] for r in side)} right, {sum(r['valid'] for r in side)} valid, "
            f"{statistics.mean(r['latency_s'] for r in side):.1f} s, "
            f"{statistics.mean(r['completion_tokens'] for r in side):.0f} generated tokens"
            for decoding, side in zip(("constrained", "unconstrained"), zip(*pairs, strict=True), strict=True)
        ]
        print(f"{name} {mode}, the {len(pairs)} items run alone with and without the constraint: "
              + "; ".join(summaries))


if __name__ == "__main__":
    main()
