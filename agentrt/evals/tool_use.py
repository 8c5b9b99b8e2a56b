"""The tool-use suite (`agentrt eval tool-use`): does the agent pick the user's tools, and fill
their arguments, for the everyday things users ask?

Its items (`data/tool_use.jsonl`) are instructions in users' own wording, each offered some of
the tools of `tool_use_tools` (three to six, plausible distractors among them) or all of them, with
the calls that answer it: one call, calls of several tools, one tool called several times
(fan-out), calls that take an earlier call's result (dependent), or none at all (chit-chat, general
knowledge, or a request the tools come near but cannot do). Like every data file, its first half
by position is dev and its second half test.

Scoring follows BFCL's AST checker (`scoring`), on each step's resolved arguments (a `$N`
reference replaced by step N's result), so a dependent call is right when it receives what the
call it depends on returned. Scores per item: `correct` (every expected call made, and no other,
each with every argument right, in any order), and then either `right_tool` (the tools called are
the expected ones, as many times each) and `args_right` (= `correct`) for items that need tools, or
`no_tool` (no tool called) for items that need none. `summary` averages each over the items that
have it.

A line of the data file: `{"id", "instruction", "tools": [names] or "all", "kind": "single" |
"multi" | "fanout" | "dependent" | "none", "expected": [{tool: {parameter: [acceptable values]}}]}`,
BFCL's possible-answer form: "" among the values lets the parameter be left out. Two additions,
for text no list could hold: `"<any>"` accepts any value, and `"~word word"` any text that contains
each word (case aside).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from ..agent import Agent
from ..config import AgentConfig
from ..jsonl import read_records
from ..llm import LLM
from ..registry import Tool
from ..schema import FINAL_ANSWER_TOOL, THINK_TOOL, RunResult, ToolPolicy
from . import scoring
from .suites import Item, Split, Suite, half, only_final_answer
from .tool_use_tools import TOOLS

DATA_FILE = Path(__file__).parent / "data" / "tool_use.jsonl"
KINDS = ("single", "multi", "fanout", "dependent", "none")
ANY = "<any>"
"""An acceptable value that accepts any value of the parameter's type."""
CONTAINS = "~"
"""`"~w1 w2"` accepts text that contains each word (case aside)."""


class ToolUse(Suite):
    """Everyday instructions over the user's own tools, scored by BFCL's rules (module docstring)."""

    name = "tool-use"
    modes = ("parallel", "sequential")

    def __init__(self, path: Path = DATA_FILE) -> None:
        self.path = path

    def items(self, split: Split) -> list[Item]:
        return self.items_from(half(read_records(self.path), split))

    @staticmethod
    def items_from(rows: list[dict[str, Any]]) -> list[Item]:
        """Items from lines of the data file."""
        return [
            Item(id=row["id"], question=row["instruction"], reference=row["expected"],
                 extra={"kind": row["kind"], "tools": item_tools(row),
                        "tool_set": "all" if row["tools"] == "all" else "some"})
            for row in rows
        ]

    @cached_property
    def hidden(self) -> dict[str, ToolPolicy]:
        """`only_final_answer()`, looked up once for the whole suite."""
        return only_final_answer()

    def agent(self, item: Item, llm: LLM, config: AgentConfig) -> Agent:
        return Agent.from_config(config.model_copy(update={"tool_policies": self.hidden}), llm=llm,
                                 tools=[TOOLS[name] for name in item.extra["tools"]])

    def score(self, item: Item, result: RunResult) -> dict[str, Any]:
        return score_calls(item.extra["kind"], planned_calls(result), item.reference) | {
            "kind": item.extra["kind"], "tool_set": item.extra["tool_set"]}

    def score_unusable(self, item: Item) -> dict[str, Any]:
        # no usable plan is no answer either: wrong for every kind, a none item's included (BFCL
        # counts an undecodable reply as "no call", but its replies are prose; ours is a plan cut off)
        kind = item.extra["kind"]
        scores: dict[str, Any] = {"no_tool": False} if kind == "none" else {"right_tool": False, "args_right": False}
        return {"correct": False, **scores, "reason": "no usable plan", "kind": kind,
                "tool_set": item.extra["tool_set"]}


def item_tools(row: dict[str, Any]) -> list[str]:
    """The names of the tools an item offers, in the suite's order."""
    return list(TOOLS) if row["tools"] == "all" else [name for name in TOOLS if name in row["tools"]]


def planned_calls(result: RunResult) -> list[dict[str, dict[str, Any]]]:
    """The run's tool calls as `{name: arguments}`, in plan order: for each argument the plan gave,
    its resolved value (`$N` replaced by step N's result, checked and typed by the tool's schema)
    as JSON data; the defaults that checking fills in are not arguments given, and a null counts
    as left out."""
    calls = []
    for step in result.steps:
        if step.tool in (THINK_TOOL, FINAL_ANSWER_TOOL):
            continue
        resolved = step.resolved_args if isinstance(step.resolved_args, dict) else {}
        given = {name: _plain(resolved.get(name, value)) for name, value in step.args.items()}
        calls.append({step.tool: {name: value for name, value in given.items() if value is not None}})
    return calls


def _plain(value: Any) -> Any:
    """JSON data (enums as their values), with nulls inside objects left out."""
    data = json.loads(json.dumps(value, default=str))
    return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


def score_calls(kind: str, calls: list[dict[str, dict[str, Any]]], expected: list[dict[str, Any]]) -> dict[str, Any]:
    """An item's scores for the calls made: see the module docstring."""
    names = Counter(next(iter(call)) for call in calls)
    if kind == "none":
        made = not calls
        return {"correct": made, "no_tool": made, "reason": "" if made else f"called {dict(names)}"}
    wanted = Counter(next(iter(call)) for call in expected)
    right_tool = names == wanted
    if right_tool:
        correct, reason = match_calls(calls, expected)
    else:
        correct, reason = False, f"called {dict(names) or 'no tool'}, expected {dict(wanted)}"
    return {"correct": correct, "right_tool": right_tool, "args_right": correct, "reason": reason}


def match_calls(calls: list[dict[str, dict[str, Any]]], expected: list[dict[str, Any]]) -> tuple[bool, str]:
    """BFCL's rule (`scoring.match_in_any_order`): as many calls as expected, each expected call
    matched by the first unmatched call that passes BFCL's single-call check; with the `ANY` and
    `CONTAINS` values decided against that call first."""
    if len(calls) != len(expected):
        return False, f"expected {len(expected)} call(s), got {len(calls)}"

    def answer_for(made: dict[str, Any], answer: dict[str, list[Any]]) -> dict[str, list[Any]]:
        given = next(iter(made.values()), None) if len(made) == 1 else None
        return _decide_patterns(answer, given if isinstance(given, dict) else {})

    functions = [bfcl_function(TOOLS[name]) for name in {next(iter(call)) for call in expected}]
    return scoring.match_in_any_order(calls, functions, expected, answer_for)


def _decide_patterns(answer: dict[str, list[Any]], arguments: dict[str, Any]) -> dict[str, list[Any]]:
    """`answer` with each `ANY` or `CONTAINS` value replaced by the call's own value where that
    value fits it, and dropped where it does not."""
    decided = {}
    for param, acceptable in answer.items():
        patterns = [a for a in acceptable if a == ANY or (isinstance(a, str) and a.startswith(CONTAINS))]
        literal = [a for a in acceptable if a not in patterns]
        if param in arguments and any(_fits(arguments[param], p) for p in patterns):
            literal.append(arguments[param])
        decided[param] = literal
    return decided


def _fits(value: Any, pattern: str) -> bool:
    if pattern == ANY:
        return True
    return isinstance(value, str) and all(word in value.lower() for word in pattern[1:].lower().split())


@cache
def bfcl_function(t: Tool) -> dict[str, Any]:
    """A tool's parameters as a BFCL function doc, for BFCL's checker: JSON schema types in BFCL's
    names (`number` is `float`, `object` is `dict`), an optional parameter by its non-null type."""
    schema = t.inlined_schema()
    return {"name": t.name, "parameters": {
        "type": "dict",
        "properties": {name: _bfcl_type(prop) for name, prop in schema.get("properties", {}).items()},
        "required": schema.get("required", []),
    }}


_BFCL_TYPE_NAMES = {"number": "float", "object": "dict"}


def _bfcl_type(prop: dict[str, Any]) -> dict[str, Any]:
    options = [option for option in prop.get("anyOf", [prop]) if option.get("type") != "null"]
    chosen = options[0] if options else {}
    kind = chosen.get("type", "string" if "enum" in chosen else "any")
    converted: dict[str, Any] = {"type": _BFCL_TYPE_NAMES.get(kind, kind)}
    if kind == "array" and "items" in chosen:
        converted["items"] = _bfcl_type(chosen["items"])
    return converted


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The suite's totals from its records: each score averaged over the items that have it
    (`no_tool` over the none items, `right_tool` and `args_right` over the others), mean seconds
    per item, and accuracy by kind and by tool set."""
    if not records:
        return {}

    def mean(key: str, rows: list[dict[str, Any]]) -> float | None:
        values = [float(r[key]) for r in rows if isinstance(r.get(key), (bool, int, float))]
        return statistics.mean(values) if values else None

    return {
        "items": len(records),
        **{key: mean(key, records) for key in ("correct", "right_tool", "args_right", "no_tool")},
        "seconds_per_item": mean("latency_s", records),
        "valid_rate": mean("valid", records),
        "by_kind": {kind: mean("correct", [r for r in records if r.get("kind") == kind]) for kind in KINDS},
        "by_tool_set": {s: mean("correct", [r for r in records if r.get("tool_set") == s]) for s in ("some", "all")},
    }
