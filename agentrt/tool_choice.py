"""What the planner is shown of the tools for one instruction: the tools that fit it, each with its
parameters spelled out, and a worked example of calling each one, made from its own schema.

Why: a 135M model copies what it is shown. Shown only a calculator and a `think` example, it
answers "What is the weather in Paris?" with a `think` step even when a weather tool is
registered; shown a call of that tool, it writes one. But asked to pick among the tools it is
shown, it picks badly (the right one for 23% of the tool-use suite's dev items), while
sentence-embedding similarity between the instruction and each tool's name, description and
parameters (the encoder the knowledge base uses) ranks a wanted tool first for 90% of them. So
the embedding decides: when the best fit reaches `min_fit`, the planner is shown the `top_k` that
fit best, each with a worked example, the best fit last, and the plan must start by calling the
best fit; the model decides what else to call, and how. When no tool reaches `min_fit`, none is
shown, so a question no tool answers is not forced into one. Showing `top_k` tools, not all,
also keeps the prompt and the constraint the same size with 500 tools as with 5.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .embeddings import Embedder
from .plan_schema import inline_refs
from .registry import Tool

# the value after "e.g." in a parameter's description: quoted, or up to the next space or comma
_EXAMPLE = re.compile(r"""e\.g\.,?\s*("[^"]+"|'[^']+'|[^\s,;)]+)""")


@dataclass
class Choice:
    """The tools that fit one instruction, best fit last; empty when none fits well enough."""

    tools: list[Tool]


class ToolChooser:
    """Ranks a fixed set of tools against instructions; the tools' texts are embedded once."""

    def __init__(self, tools: Sequence[Tool], embedder: Embedder, *, top_k: int = 4, min_fit: float = 0.33) -> None:
        self.tools = list(tools)
        self.embedder = embedder
        self.top_k = top_k
        self.min_fit = min_fit
        self._vectors = embedder.embed([tool_text(t) for t in self.tools]) if self.tools else None

    def choose(self, instruction: str) -> Choice:
        """The `top_k` tools that fit `instruction` best, in rising order of fit, or none when
        even the best fits less than `min_fit`."""
        if self._vectors is None:
            return Choice([])
        [query] = self.embedder.embed([instruction])
        fit = self._vectors @ query
        best = np.argsort(fit)[::-1][: self.top_k]
        if fit[best[0]] < self.min_fit:
            return Choice([])
        return Choice([self.tools[i] for i in best[::-1]])


def tool_text(tool: Tool) -> str:
    """What a tool is matched on: its name in words, its description and its parameters'."""
    properties = tool.json_schema().get("properties", {})
    params = "; ".join(f"{name.replace('_', ' ')}: {prop.get('description', '')}" for name, prop in properties.items())
    return f"{tool.name.replace('_', ' ')}. {tool.description} {params}"


def signature(tool: Tool) -> str:
    """The parameters as the planner shows them: `name: type`, a choice as `"a"|"b"`, and
    `= default` or `= optional` for a parameter that may be left out."""
    schema = _schema(tool)
    required = set(schema.get("required", []))
    shown = []
    for name, prop in schema.get("properties", {}).items():
        text = f"{name}: {_type_text(prop)}"
        if name not in required:
            text += f" = {json.dumps(prop['default'])}" if prop.get("default") is not None else " = optional"
        shown.append(text)
    return ", ".join(shown)


def _schema(tool: Tool) -> dict[str, Any]:
    return inline_refs(tool.json_schema(), tool.name)


def _type_text(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "|".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "anyOf" in prop:
        return "|".join(_type_text(p) for p in prop["anyOf"] if p.get("type") != "null")
    if prop.get("type") == "array":
        return f"list of {_type_text(prop.get('items', {}))}"
    if prop.get("type") == "object" and "properties" in prop:
        return "{" + ", ".join(f"{k}: {_type_text(v)}" for k, v in prop["properties"].items()) + "}"
    return str(prop.get("type", "any"))


def example_arguments(tool: Tool) -> dict[str, Any]:
    """Arguments for a worked example of `tool`: each required parameter's example from its
    description ("e.g. Paris"), else its first choice, else a plain value of its type."""
    schema = _schema(tool)
    properties = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    # subtle: the n-th parameter takes the n-th choice, so "from" and "to" get different currencies
    return {name: _example_value(name, properties[name], n) for n, name in enumerate(required)}


def example_task(tool: Tool, arguments: dict[str, Any]) -> str:
    """A request the example answers: the tool's description with the example's values."""
    summary = tool.description.split(". ")[0].split("; ")[0].rstrip(".")
    values = ", ".join(str(v) for v in arguments.values() if not isinstance(v, (dict, list)))
    return f"{summary}: {values}" if values else summary


def _example_value(name: str, prop: dict[str, Any], position: int = 0) -> Any:
    if "anyOf" in prop:
        options = [p for p in prop["anyOf"] if p.get("type") != "null"]
        described = {**options[0], "description": prop.get("description", "")} if options else {}
        return _example_value(name, described, position) if options else None
    if "enum" in prop:
        return prop["enum"][position % len(prop["enum"])]
    if "const" in prop:
        return prop["const"]
    kind = prop.get("type")
    if kind == "object":
        inner = prop.get("properties", {})
        return {k: _example_value(k, inner[k]) for k in prop.get("required", []) if k in inner}
    if kind == "array":
        return [_example_value(name, prop.get("items", {}))]
    found = _EXAMPLE.search(prop.get("description", ""))
    text = found.group(1).strip().strip("\"'") if found else None
    try:
        if kind == "integer":
            return int(float(text)) if text else 2
        if kind == "number":
            return float(text) if text else 2.5
    except ValueError:
        return 2 if kind == "integer" else 2.5
    if kind == "boolean":
        return True
    return text or name.replace("_", " ")
