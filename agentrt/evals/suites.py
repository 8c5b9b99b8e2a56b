"""The benchmark suites: where each one's items come from, the agent that answers them, and how
an answer is scored (by the rules in `scoring`, which follow the benchmarks' authors).

Every data file is split by position: its first half is *dev*, its second half *test*
(`../shared/benchdata/README.md`). Nothing here looks inside the test half except to run it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal

from ..agent import Agent, Mode
from ..config import AgentConfig
from ..errors import ConfigError
from ..jsonl import read_records
from ..llm import LLM
from ..plugins import installed_tools
from ..registry import Tool
from ..schema import FINAL_ANSWER_TOOL, THINK_TOOL, RunResult, ToolPolicy
from . import scoring


def eval_config(mode: Mode, constrained: bool) -> AgentConfig:
    """The settings every suite's agent starts from: the run's mode and constraint, and no run
    store, so items leave nothing behind."""
    return AgentConfig(mode=mode, constrained=constrained, store=":memory:")


def only_final_answer() -> dict[str, ToolPolicy]:
    """Tool policies that hide the installed tools (the calculator...) from the planner, as in
    BFCL: an item's tools are all it may call; only final_answer stays, to answer with."""
    # subtle: policies, not dicts: model_copy(update=...) does not validate, and a dict where the
    # configuration holds a ToolPolicy makes pydantic warn on the terminal when it is dumped
    return {t.name: ToolPolicy(permission="deny") for t in installed_tools().tools if t.name != FINAL_ANSWER_TOOL}
"""Eval items are not kept in the user's run store: the report's records file is what resumes an eval."""

Split = Literal["dev", "test"]
BFCL_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")


DATA_VARIABLE = "AGENTRT_BENCHDATA"
"""Where the benchmark files are (`agentrt eval --data DIR` sets it)."""


def data_file(*candidates: str) -> Path:
    """The first of `candidates` (paths inside the data folder) that exists. The folder is
    `AGENTRT_BENCHDATA`, else `../shared/benchdata` beside the working directory's checkout."""
    configured = os.environ.get(DATA_VARIABLE)
    root = Path(configured) if configured else Path.cwd().parent / "shared" / "benchdata"
    for candidate in candidates:
        if (root / candidate).is_file():
            return root / candidate
    raise ConfigError(
        f"Missing benchmark file {' or '.join(str(root / c) for c in candidates)}; point "
        f"`agentrt eval --data DIR` (or {DATA_VARIABLE}) at the folder that holds it"
    )


def half(items: list[Any], split: Split) -> list[Any]:
    """The dev (first) or test (second) half of a file's items, by position."""
    middle = (len(items) + 1) // 2
    return items[:middle] if split == "dev" else items[middle:]


@dataclass
class Item:
    """One question of a suite, with what scoring needs to know about it."""

    id: str
    question: str
    reference: Any
    extra: dict[str, Any] = field(default_factory=dict)


class Suite:
    """A benchmark: its items, an agent for an item, and a score for the agent's result."""

    name: str
    modes: tuple[Mode, ...] = ("parallel",)

    def items(self, split: Split) -> list[Item]:
        raise NotImplementedError

    def agent(self, item: Item, llm: LLM, config: AgentConfig) -> Agent:
        """The agent that answers `item`: `config` (the run's mode and constraint, no run store)
        with what the suite adds, on `llm`."""
        raise NotImplementedError

    def score(self, item: Item, result: RunResult) -> dict[str, Any]:
        """At least `correct`; other scores are averaged into the report's totals too."""
        raise NotImplementedError

    def score_unusable(self, item: Item) -> dict[str, Any]:
        """The score of an item whose output could not be used (no valid plan): wrong, mostly."""
        return {"correct": False}


def tool_calls(result: RunResult, skip: tuple[str, ...] = (THINK_TOOL, FINAL_ANSWER_TOOL)) -> list[dict[str, Any]]:
    """The run's tool calls as `{name: arguments}`, in plan order."""
    return [{step.tool: step.resolved_args or step.args} for step in result.steps if step.tool not in skip]


class BFCL(Suite):
    """One BFCL v4 category: each entry's functions become tools, and the plan's calls are scored
    by BFCL's AST rules. The tools do nothing; only the calls the model plans matter."""

    def __init__(self, category: str) -> None:
        self.category = category
        self.name = f"bfcl-{category.replace('_', '-')}"

    def items(self, split: Split) -> list[Item]:
        # our benchdata layout (bfcl/...), or the authors' own bfcl_eval/data folder
        name = f"BFCL_v4_{self.category}.json"
        entries_file = data_file(f"bfcl/{name}", name)
        entries = read_records(entries_file)
        answers = {}
        if self.category != "irrelevance":  # the one category whose answer is no call at all
            answers_file = entries_file.parent / "possible_answer" / name
            if not answers_file.is_file():
                raise ConfigError(f"Missing benchmark file {answers_file}: BFCL keeps the expected calls there")
            answers = {a["id"]: a["ground_truth"] for a in read_records(answers_file)}
        return [
            Item(id=e["id"], question=_bfcl_question(e), reference=answers.get(e["id"], []),
                 extra={"functions": e["function"]})
            for e in half(entries, split)
        ]

    def agent(self, item: Item, llm: LLM, config: AgentConfig) -> Agent:
        tools = [bfcl_tool(f) for f in item.extra["functions"]]
        config = config.model_copy(update={"max_replans": 0, "tool_policies": only_final_answer()})
        return Agent.from_config(config, llm=llm, tools=tools)

    def score(self, item: Item, result: RunResult) -> dict[str, Any]:
        # the tools' `_` names score as BFCL's dotted ones: the checker accepts either
        correct, reason = scoring.bfcl_check(self.category, tool_calls(result), item.extra["functions"], item.reference)
        return {"correct": correct, "reason": reason}

    def score_unusable(self, item: Item) -> dict[str, Any]:
        # BFCL's rule: an output that does not decode to calls makes no call, which is right only
        # when no function should be called
        correct = self.category == "irrelevance"
        return {"correct": correct, "reason": "" if correct else "the output did not decode to calls"}


def _bfcl_question(entry: dict[str, Any]) -> str:
    return "\n".join(m["content"] for turn in entry["question"] for m in turn if m["role"] == "user")


def bfcl_tool(function: dict[str, Any]) -> Tool:
    """A BFCL function as a tool: its name with `.` as `_` (tool names are identifiers, and BFCL
    accepts either), its parameters in JSON schema; calling it only acknowledges the call."""
    name = function["name"].replace(".", "_")
    return Tool(lambda **arguments: "done", name=name, description=function.get("description") or name,
                parameters=bfcl_json_schema(function["parameters"]), source="bfcl")


_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array"}


def bfcl_json_schema(node: Any) -> Any:
    """BFCL's parameter schema in JSON schema: `dict` is `object`, `float` is `number`, `tuple`
    is `array`, and `any` is no type at all."""
    if isinstance(node, list):
        return [bfcl_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            if value != "any":
                converted[key] = _BFCL_TYPES.get(value, value)
        elif key == "properties":
            converted[key] = {name: bfcl_json_schema(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties"):
            converted[key] = bfcl_json_schema(value)
        else:
            converted[key] = value
    return converted


class GSM8K(Suite):
    """Grade-school word problems with the calculator; the authors' `####` exact-match rule, and
    the looser last-number rule beside it."""

    name = "gsm8k"
    modes = ("parallel", "sequential")

    def items(self, split: Split) -> list[Item]:
        rows = read_records(data_file("gsm8k/test.jsonl"))
        indexed = list(enumerate(rows))
        return [Item(id=f"gsm8k_{i}", question=r["question"], reference=scoring.gsm8k_reference(r["answer"]))
                for i, r in half(indexed, split)]

    def agent(self, item: Item, llm: LLM, config: AgentConfig) -> Agent:
        return Agent.from_config(config, llm=llm)

    def score(self, item: Item, result: RunResult) -> dict[str, Any]:
        # the agent's answer is the completion's final line; the authors' rule reads it after ####
        exact = scoring.gsm8k_exact(f"#### {result.answer.strip()}", item.reference)
        return {"correct": exact, "last_number": scoring.gsm8k_last_number(result.answer, item.reference)}

    def score_unusable(self, item: Item) -> dict[str, Any]:
        return {"correct": False, "last_number": False}


class HotpotQA(Suite):
    """Multi-hop questions answered from a knowledge base of the pooled paragraphs; answer EM/F1,
    and retrieval recall@k of the gold paragraphs, which does not depend on the language model."""

    name = "hotpotqa"
    modes = ("parallel", "sequential")
    recall_at = (2, 5, 10)

    def items(self, split: Split) -> list[Item]:
        rows = read_records(data_file("hotpotqa/hotpot_dev_distractor_sample500.jsonl"))
        return [Item(id=r["id"], question=r["question"], reference=r["answer"],
                     extra={"gold_titles": sorted(set(r["supporting_facts"]["title"]))})
                for r in half(rows, split)]

    @cached_property
    def knowledge(self) -> Any:
        from .corpus import hotpot_knowledge_base

        return hotpot_knowledge_base(data_file("hotpotqa/corpus_paragraphs.jsonl"))

    def agent(self, item: Item, llm: LLM, config: AgentConfig) -> Agent:
        return Agent.from_config(config, llm=llm, knowledge=self.knowledge)

    def score(self, item: Item, result: RunResult) -> dict[str, Any]:
        return {"correct": scoring.hotpot_em(result.answer, item.reference) == 1.0,
                "f1": scoring.hotpot_f1(result.answer, item.reference), **self.recall(item)}

    def score_unusable(self, item: Item) -> dict[str, Any]:
        return {"correct": False, "f1": 0.0, **self.recall(item)}  # retrieval did not need the model's output

    def recall(self, item: Item) -> dict[str, float]:
        """Recall@k of the gold paragraphs among those retrieved for the question."""
        titles = [p.title for p in self.knowledge.search(item.question, max(self.recall_at))]
        return {f"recall@{k}": scoring.recall_at_k(titles, item.extra["gold_titles"], k) for k in self.recall_at}


class HotpotComparison(Suite):
    """LLMCompiler's HotpotQA-comparison questions whose paragraphs are in the local sample, with a
    `search(entity)` tool that looks a title up in that corpus (the authors' tool looked it up on
    Wikipedia and returned the first paragraph). Scored by the authors' rule; run in both modes
    to compare latency."""

    name = "hotpotqa-comparison"
    modes = ("parallel", "sequential")

    def items(self, split: Split) -> list[Item]:
        local = {r["id"] for r in read_records(data_file("hotpotqa/hotpot_dev_distractor_sample500.jsonl"))}
        questions = json.loads(data_file("llmcompiler/hotpotqa_comparison.json").read_text(encoding="utf-8"))
        return [Item(id=q["id"], question=q["question"], reference=q["answer"])
                for q in half(questions, split) if q["id"] in local]

    @cached_property
    def search_tool(self) -> Tool:
        from .corpus import title_search_tool

        return title_search_tool(data_file("hotpotqa/corpus_paragraphs.jsonl"))

    def agent(self, item: Item, llm: LLM, config: AgentConfig) -> Agent:
        return Agent.from_config(config, llm=llm, tools=[self.search_tool])

    def score(self, item: Item, result: RunResult) -> dict[str, Any]:
        return {"correct": scoring.llmcompiler_correct(result.answer, item.reference)}


def _tool_use() -> Suite:
    from .tool_use import ToolUse  # it builds on this module

    return ToolUse()


SUITES: dict[str, Callable[[], Suite]] = {
    **{f"bfcl-{c.replace('_', '-')}": partial(BFCL, c) for c in BFCL_CATEGORIES},
    "gsm8k": GSM8K,
    "hotpotqa": HotpotQA,
    "hotpotqa-comparison": HotpotComparison,
    "tool-use": _tool_use,
}


def suite(name: str) -> Suite:
    """The suite called `name`; see `SUITES`."""
    if name not in SUITES:
        raise ConfigError(f"No suite {name!r}; choose from {', '.join(SUITES)}")
    return SUITES[name]()
