"""Do the default model's plans and tool calls always parse and validate? And what does the
constraint cost? Runs every instruction in benchmarks/instructions.txt (written for this
benchmark, none from a benchmark's test half) through the agent, then through the same planner
prompt without the constraint, and prints both side by side.

    .venv/bin/python benchmarks/plan_validity.py [--limit N] [--model ID] [--out FILE.json]

Targets (benchmarks/README.md), all claimed: every plan parses and validates, every tool call's
arguments validate, and constrained decoding runs at >= 0.85 of unconstrained. Exits 1 if one misses.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pydantic import ValidationError

from agentrt import Agent, AgentrtError, Plan
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.schema import THINK_TOOL
from targets import Targets

HERE = Path(__file__).parent
CONSTRAINT_TARGET = 0.85  # constrained / unconstrained tok/s: the constraint costs no more than noise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--model")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "plan_validity.json")
    args = parser.parse_args()
    start = time.perf_counter()
    instructions = (HERE / "instructions.txt").read_text().splitlines()[: args.limit]
    llm = TransformersLLM(args.model)
    agent = Agent(model=llm)
    tool_names = [*agent.tools.names(), THINK_TOOL]
    rows = []
    for n, instruction in enumerate(instructions, 1):
        row = {"instruction": instruction}
        try:
            result = agent.run(instruction)
            Plan.from_spec(result.plan, tool_names=tool_names)
            row.update(plan_valid=True, answer=result.answer, plan=result.plan.model_dump())
            calls = [s for s in result.plan.steps if s.tool != THINK_TOOL]
            row["tool_calls"] = len(calls)
            row["tool_calls_valid"] = sum(_args_valid(agent, s.tool, s.args) for s in calls)
            plan_call = result.model_calls[0]
            row.update(constrained_tokens=plan_call.completion_tokens, constrained_s=plan_call.duration_s)
        except AgentrtError as exc:
            row.update(plan_valid=False, error=str(exc), tool_calls=0, tool_calls_valid=0)
        # Same prompt, no constraint, and the same token budget the constrained plan used, so the
        # two timings cover the same prefill and the same number of decoded tokens.
        budget = row.get("constrained_tokens") or 64
        free_request = agent.planner.request(instruction).model_copy(
            update={"json_schema": None, "max_new_tokens": budget})
        free = llm.generate([free_request])[0]
        row.update(unconstrained_tokens=free.completion_tokens, unconstrained_s=free.duration_s,
                   unconstrained_parses=_parses(free.text, tool_names))
        rows.append(row)
        print(f"[{n}/{len(instructions)}] valid={row['plan_valid']} "
              f"calls={row['tool_calls_valid']}/{row['tool_calls']} free-parses={row['unconstrained_parses']} "
              f":: {instruction[:60]}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    targets = Targets("plan_validity")
    _report(rows, llm, targets)
    print(f"({time.perf_counter() - start:.0f} s)")
    targets.exit()


def _args_valid(agent: Agent, tool: str, args: dict) -> bool:
    """Arguments valid for the tool, where a `$N` reference stands for a value of the right type."""
    schema_types = {n: p.get("type") for n, p in agent.tools.get(tool).json_schema()["properties"].items()}
    placeholders = {"number": 1.0, "integer": 1, "boolean": True}
    concrete = {k: placeholders.get(schema_types.get(k), v) if _is_reference(v) else v for k, v in args.items()}
    try:
        agent.tools.get(tool).validate(concrete)
        return True
    except ValidationError:
        return False


def _is_reference(value: object) -> bool:
    """A `$N` reference to an earlier step's result: "$2" -> True, "$x" and 2 -> False."""
    return isinstance(value, str) and value.startswith("$") and value[1:].isdigit()


def _parses(text: str, tool_names: list[str]) -> bool:
    from agentrt.planner import parse_plan

    try:
        Plan.from_spec(parse_plan(text), tool_names=tool_names)
        return True
    except AgentrtError:
        return False


def _report(rows: list[dict], llm: TransformersLLM, targets: Targets) -> None:
    total = len(rows)
    valid = [r for r in rows if r["plan_valid"]]
    calls = sum(r["tool_calls"] for r in rows)
    calls_ok = sum(r["tool_calls_valid"] for r in rows)
    u_tps = sum(r["unconstrained_tokens"] for r in rows) / sum(r["unconstrained_s"] for r in rows)
    print(f"\nmodel: {llm.name} on {llm.device}; constraint library: llguidance")
    print(f"unconstrained plans that parse:      {sum(r['unconstrained_parses'] for r in rows)}/{total} (no target)")
    targets.check(f"plans that parse and validate, of {total}", len(valid), f"== {total}")
    targets.check(f"tool calls whose arguments validate, of {calls}", calls_ok, f"== {calls}")
    if valid:
        c_tps = sum(r["constrained_tokens"] for r in valid) / sum(r["constrained_s"] for r in valid)
        print(f"decode tok/s constrained {c_tps:.1f}, unconstrained {u_tps:.1f}")
        targets.check("constrained / unconstrained tok/s", c_tps / u_tps, f">= {CONSTRAINT_TARGET}")
    else:
        targets.skip("constrained / unconstrained tok/s", f">= {CONSTRAINT_TARGET}", "no valid plan to time")


if __name__ == "__main__":
    main()
