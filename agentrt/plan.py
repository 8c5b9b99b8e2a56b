"""Plan DAG: validates and orders steps, resolves `$N` references. Does not call models or tools.

The one module that imports networkx. Edges run from a step to the steps that depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import networkx as nx

from .errors import PlanError
from .schema import PlanSpec, StepSpec

REFERENCE = re.compile(r"\$(\d+)")
_WHOLE_REFERENCE = re.compile(r"^\$(\d+)$")


def references(value: Any) -> set[int]:
    """Step ids referenced as `$N` anywhere inside `value` (strings, lists, dicts)."""
    if isinstance(value, str):
        return {int(n) for n in REFERENCE.findall(value)}
    if isinstance(value, dict):
        return set().union(*(references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(references(v) for v in value))
    return set()


def resolve(value: Any, results: dict[int, Any]) -> Any:
    """Replace `$N` by step N's result: typed when the string is exactly `$N`, else as text."""
    if isinstance(value, str):
        whole = _WHOLE_REFERENCE.match(value)
        if whole:
            return results[int(whole.group(1))]
        return REFERENCE.sub(lambda m: _as_text(results[int(m.group(1))]), value)
    if isinstance(value, dict):
        return {k: resolve(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, results) for v in value]
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


class Plan:
    """A validated plan: steps as nodes of a DAG, each node carrying its `StepSpec` as `spec`."""

    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph

    @classmethod
    def from_spec(cls, spec: PlanSpec, tool_names: Collection[str] | None = None) -> Plan:
        """Build and validate the graph; `tool_names`, when given, are the tools steps may call."""
        graph = nx.DiGraph()
        for step in spec.steps:
            if step.id in graph:
                raise PlanError(f"Step {step.id} appears twice; give every step a unique id")
            if tool_names is not None and step.tool not in tool_names:
                raise PlanError(
                    f"Step {step.id} calls unknown tool {step.tool!r}; "
                    f"available: {', '.join(sorted(tool_names))}"
                )
            graph.add_node(step.id, spec=step)
        for step in spec.steps:
            for parent in step.depends_on:
                if parent not in graph:
                    raise PlanError(
                        f"Step {step.id} depends on step {parent}, which is not in the plan; "
                        f"remove it from depends_on or add step {parent}"
                    )
                graph.add_edge(parent, step.id)
        if not nx.is_directed_acyclic_graph(graph):
            cycle = " -> ".join(str(edge[0]) for edge in nx.find_cycle(graph))
            raise PlanError(f"Steps form a cycle ({cycle}); a step cannot wait on its own result")
        for step in spec.steps:
            ancestors = nx.ancestors(graph, step.id)
            for ref in sorted(references(step.args)):
                if ref not in ancestors:
                    raise PlanError(
                        f"Step {step.id} uses ${ref}, but step {ref} is "
                        + ("not in the plan" if ref not in graph else "not one of its dependencies")
                        + f"; add {ref} to step {step.id}'s depends_on or drop the reference"
                    )
        return cls(graph)

    def extend(self, spec: PlanSpec, tool_names: Collection[str] | None = None) -> Plan:
        """The plan with `spec`'s steps added after the existing ones, validated as a whole;
        existing steps and their ids stay as they are (partial replanning)."""
        current = [self.step(n) for n in sorted(self.graph.nodes)]
        return Plan.from_spec(PlanSpec(steps=current + spec.steps), tool_names)

    def spec(self) -> PlanSpec:
        return PlanSpec(steps=[self.step(n) for n in sorted(self.graph.nodes)])

    def step(self, step_id: int) -> StepSpec:
        return self.graph.nodes[step_id]["spec"]

    def order(self) -> list[StepSpec]:
        """Every step, parents before children, ties broken by id."""
        return [self.step(n) for n in nx.lexicographical_topological_sort(self.graph)]

    def parents(self, step_id: int) -> list[int]:
        return sorted(self.graph.predecessors(step_id))

    def __len__(self) -> int:
        return self.graph.number_of_nodes()
