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

    def __init__(self) -> None:
        self.graph = nx.DiGraph()
        self._order: list[int] = []

    @classmethod
    def from_spec(cls, spec: PlanSpec, tool_names: Collection[str] | None = None) -> Plan:
        """Build and validate the graph; `tool_names`, when given, are the tools steps may call."""
        return cls().extend(spec, tool_names)

    def extend(self, spec: PlanSpec, tool_names: Collection[str] | None = None) -> Plan:
        """Add `spec`'s steps after the existing ones, which stay as they are (partial
        replanning). Only the new steps are validated; on a `PlanError` the plan is unchanged."""
        new = [step.id for step in spec.steps]
        try:
            self._add(spec.steps, tool_names)
        except PlanError:
            self.graph.remove_nodes_from([n for n in set(new) if n not in self._order])
            raise
        added = self.graph.subgraph(new)
        self._order.extend(nx.lexicographical_topological_sort(added))
        return self

    def _add(self, steps: list[StepSpec], tool_names: Collection[str] | None) -> None:
        for step in steps:
            if step.id in self.graph:
                raise PlanError(f"Step {step.id} appears twice; give every step a unique id")
            if tool_names is not None and step.tool not in tool_names:
                raise PlanError(
                    f"Step {step.id} calls unknown tool {step.tool!r}; "
                    f"available: {', '.join(sorted(tool_names))}"
                )
            self.graph.add_node(step.id, spec=step)
        for step in steps:
            for parent in step.depends_on:
                if parent not in self.graph:
                    raise PlanError(
                        f"Step {step.id} depends on step {parent}, which is not in the plan; "
                        f"remove it from depends_on or add step {parent}"
                    )
                self.graph.add_edge(parent, step.id)
        # subtle: earlier steps never depend on new ones, so a cycle can only lie among the new
        added = self.graph.subgraph(step.id for step in steps)
        if not nx.is_directed_acyclic_graph(added):
            cycle = " -> ".join(str(edge[0]) for edge in nx.find_cycle(added))
            raise PlanError(f"Steps form a cycle ({cycle}); a step cannot wait on its own result")
        for step in steps:
            ancestors = nx.ancestors(self.graph, step.id)
            for ref in sorted(references(step.args)):
                if ref not in ancestors:
                    raise PlanError(
                        f"Step {step.id} uses ${ref}, but step {ref} is "
                        + ("not in the plan" if ref not in self.graph else "not one of its dependencies")
                        + f"; add {ref} to step {step.id}'s depends_on or drop the reference"
                    )

    def spec(self) -> PlanSpec:
        """Every step, by id, as plain data."""
        return PlanSpec(steps=[self.step(n) for n in sorted(self.graph.nodes)])

    def step(self, step_id: int) -> StepSpec:
        """The step with id `step_id`."""
        return self.graph.nodes[step_id]["spec"]

    def order(self) -> list[StepSpec]:
        """Every step, parents before children; within a planning round, ties broken by id."""
        return [self.step(n) for n in self._order]

    def parents(self, step_id: int) -> list[int]:
        """Ids of the steps `step_id` waits for, ascending."""
        return sorted(self.graph.predecessors(step_id))

    def __len__(self) -> int:
        return self.graph.number_of_nodes()
