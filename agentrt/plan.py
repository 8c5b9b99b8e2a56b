"""Plan DAG: validates and orders steps, resolves `$N` references. Does not call models or tools.

The plan graph is a networkx DiGraph owned here (graph.py keeps a graph of facts, viewer.py lays
plans out). Edges run from a step to the steps that depend on it.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import networkx as nx

from .errors import PlanError
from .registry import MAX_NESTING, argument_path
from .schema import PlanSpec, StepSpec

REFERENCE = re.compile(r"\$([0-9]+)")
_WHOLE_REFERENCE = re.compile(r"^\$([0-9]+)$")


def references(value: Any) -> set[int]:
    """Step ids referenced as `$N` anywhere inside `value` (strings, lists, dicts). A PlanError
    says where for nesting deeper than MAX_NESTING or a number too long to be a step id."""
    return _references(value, ())


def resolve(value: Any, results: dict[int, Any]) -> Any:
    """Replace `$N` by step N's result: typed when the string is exactly `$N`, else as text.
    A PlanError says which reference and where when step N has no result, or no text."""
    return _resolve(value, results, ())


def _references(value: Any, path: tuple[Any, ...]) -> set[int]:
    if isinstance(value, str):
        return {_step_id(digits, path) for digits in REFERENCE.findall(value)}
    return set().union(*(_references(child, at) for child, at in _children(value, path)))


def _resolve(value: Any, results: dict[int, Any], path: tuple[Any, ...]) -> Any:
    if isinstance(value, str):
        whole = _WHOLE_REFERENCE.match(value)
        if whole:
            return _result(whole.group(1), results, path)
        return REFERENCE.sub(lambda m: _as_text(_result(m.group(1), results, path), m.group(1), path), value)
    children = _children(value, path)
    if isinstance(value, dict):
        return {at[-1]: _resolve(child, results, at) for child, at in children}
    if isinstance(value, list):
        return [_resolve(child, results, at) for child, at in children]
    return value


def _children(value: Any, path: tuple[Any, ...]) -> list[tuple[Any, tuple[Any, ...]]]:
    """A dict's values or a list's items, each with its path; none for anything else."""
    if not isinstance(value, (dict, list)):
        return []
    if len(path) >= MAX_NESTING:
        raise PlanError(f"Arguments nest deeper than {MAX_NESTING} levels, in {argument_path(path)}; flatten them")
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return [(child, (*path, key)) for key, child in items]


def _step_id(digits: str, path: tuple[Any, ...]) -> int:
    try:
        return int(digits)
    except ValueError:  # longer than sys.get_int_max_str_digits()
        raise PlanError(
            f"${digits[:8]}… in {argument_path(path)} has {len(digits)} digits: no step has such an id"
        ) from None


def _result(digits: str, results: dict[int, Any], path: tuple[Any, ...]) -> Any:
    step_id = _step_id(digits, path)
    if step_id not in results:
        raise PlanError(f"${step_id} in {argument_path(path)} refers to step {step_id}, which has no result")
    return results[step_id]


def _as_text(value: Any, digits: str, path: tuple[Any, ...]) -> str:
    try:
        return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    except (ValueError, RecursionError) as exc:  # an int too long to print, a result nested too deep
        raise PlanError(
            f"${digits} in {argument_path(path)}: step {digits}'s result cannot be written as text ({exc})"
        ) from None


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
            order = self._add(spec.steps, tool_names)
        except PlanError:
            self.graph.remove_nodes_from([n for n in set(new) if n not in self._order])
            raise
        self._order.extend(order)
        return self

    def _add(self, steps: list[StepSpec], tool_names: Collection[str] | None) -> list[int]:
        """Put `steps` in the graph, checked; their ids in the order they may run."""
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
        # subtle: earlier steps never depend on new ones, so a cycle can only lie among the new;
        # a graph of those alone is checked and ordered far faster than a subgraph view
        added = nx.DiGraph()
        added.add_nodes_from(step.id for step in steps)
        added.add_edges_from((parent, step.id) for step in steps for parent in step.depends_on if parent in added)
        try:
            order = list(nx.lexicographical_topological_sort(added))
        except nx.NetworkXUnfeasible:
            cycle = " -> ".join(str(edge[0]) for edge in nx.find_cycle(added))
            raise PlanError(f"Steps form a cycle ({cycle}); a step cannot wait on its own result") from None
        for step in steps:
            try:
                used = references(step.args)
            except PlanError as exc:
                raise PlanError(f"Step {step.id}: {exc}") from None
            ancestors = nx.ancestors(self.graph, step.id) if used else set()
            for ref in sorted(used):
                if ref not in ancestors:
                    raise PlanError(
                        f"Step {step.id} uses ${ref}, but step {ref} is "
                        + ("not in the plan" if ref not in self.graph else "not one of its dependencies")
                        + f"; add {ref} to step {step.id}'s depends_on or drop the reference"
                    )
        return order

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
