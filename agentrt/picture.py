"""The picture of a run: its trace records folded, one at a time, into what each step and model
call did and when. The one fold behind every view of a run: the live terminal view and the plain
printer (`live.py`), the HTML viewer (`viewer.py`) and the OpenTelemetry export (`otel.py`).

It reads trace records (`trace.py`), not events, so a run in progress, a finished run's
`RunResult.trace` and a trace file cut short by a kill are pictured alike. Does not draw.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import networkx as nx

from .errors import PlanError
from .plan import references

Record = dict[str, Any]
State = Literal["waiting", "running", "ok", "error"]


@dataclass
class StepPicture:
    """One step as the trace tells it: planned in `round`, maybe started, maybe finished. Times
    are seconds since the run started; `result` is the step's `StepResult` record."""

    id: int
    tool: str
    args: dict[str, Any]
    depends_on: list[int]
    round: int = 0
    started_t: float | None = None
    finished_t: float | None = None
    result: Record | None = None
    approval: dict[str, Any] | None = None
    """The arguments a person was asked to approve, if the tool's policy asked, and when."""
    approval_t: float | None = None

    @property
    def state(self) -> State:
        """ok or error once finished; running if it started and has no result yet."""
        if self.result is not None:
            return self.result["status"]
        return "running" if self.started_t is not None else "waiting"

    def began_t(self) -> float | None:
        """When it started: its `step_started` record's time, else its end less its duration (a
        trace may lack the start); None if it never started."""
        if self.started_t is not None or self.result is None or self.finished_t is None:
            return self.started_t
        return max(0.0, self.finished_t - self.result["duration_s"])

    def parents(self) -> set[int]:
        """The steps it waits for: its `depends_on` and the `$N` its arguments name."""
        try:
            return set(self.depends_on) | references(self.args)
        except PlanError:  # an argument too odd to scan; depends_on still holds
            return set(self.depends_on)


@dataclass
class RunPicture:
    """What the records so far say about one run; a run still going, or a trace cut short, has no
    `answer` yet."""

    instruction: str = ""
    run_id: str = ""
    resumed: bool = False
    steps: dict[int, StepPicture] = field(default_factory=dict)
    model_calls: list[Record] = field(default_factory=list)
    """The planner's and joiner's calls, each with its `t` and the planning `round` it belongs to."""
    plans: dict[int, Record] = field(default_factory=dict)
    """Each planning round's `plan` record, by round."""
    replans: dict[int, Record] = field(default_factory=dict)
    """Each replan's `replan` record (its reason), by the round it starts."""
    answer: Record | None = None
    round: int = 0
    """The planning round under way (or last)."""
    last_t: float = 0.0

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> RunPicture:
        """Fold the records, in order, into one picture of the run."""
        picture = cls()
        for record in records:
            picture.update(record)
        return picture

    def update(self, record: Record) -> None:
        """Fold in the next record."""
        kind = record["kind"]
        self.last_t = max(self.last_t, record["t"])
        if kind == "run_started":
            self.instruction, self.run_id, self.resumed = record["instruction"], record["run_id"], record["resumed"]
        elif kind == "plan":
            self.round = record["round"]
            self.plans[self.round] = record
            for spec in record["steps"]:
                self.step(spec).round = self.round
        elif kind == "model_call":
            self.model_calls.append({**record["call"], "t": record["t"], "round": self.round})
        elif kind == "step_started":
            self.step(record["step"]).started_t = record["t"]
        elif kind == "approval_requested":
            step = self.step(record["step"])
            step.approval, step.approval_t = record["arguments"], record["t"]
        elif kind == "step_finished":
            step = self.step(record["result"])
            step.result, step.finished_t = record["result"], record["t"]
        elif kind == "replan":  # the replan's planner call comes next, before its plan record
            self.round = record["round"]
            self.replans[self.round] = record
        elif kind == "answer":
            self.answer = record

    def step(self, spec: Record) -> StepPicture:
        """The picture of the step `spec` (a step or its result) describes, made on first sight:
        steps start while their plan streams in, before its `plan` record, so a step's round is
        the one being planned then."""
        if spec["id"] not in self.steps:
            self.steps[spec["id"]] = StepPicture(spec["id"], spec["tool"], spec["args"], spec.get("depends_on", []),
                                                 self.round)
        return self.steps[spec["id"]]

    def phase(self) -> str:
        """What the run is doing now, in words: planning, running steps, waiting for an approval,
        reading the results, or done."""
        if self.answer is not None:
            return "done"
        asking = [s.id for s in self.steps.values() if s.approval is not None and s.result is None]
        if asking:
            return f"waiting for approval of step {asking[0]}"
        if self.round not in self.plans:
            return "planning" if self.round == 0 else f"replanning (round {self.round})"
        if any(s.result is None for s in self.steps.values()):
            return "running steps"
        return "reading the results"

    def graph(self) -> nx.DiGraph:
        """Steps as nodes, data flow as edges from a step to the steps that use it."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.steps)
        graph.add_edges_from((parent, step.id) for step in self.steps.values()
                             for parent in step.parents() if parent in self.steps)
        return graph

    def totals(self) -> dict[str, Any]:
        """Duration and tokens: the answer record's, or summed from the trace when it was cut short."""
        if self.answer is not None:
            return {key: self.answer[key] for key in ("duration_s", "prompt_tokens", "completion_tokens", "replans")}
        calls = self.model_calls + [s.result["model_call"] for s in self.steps.values()
                                    if s.result is not None and s.result.get("model_call")]
        return {"duration_s": self.last_t, "prompt_tokens": sum(c["prompt_tokens"] for c in calls),
                "completion_tokens": sum(c["completion_tokens"] for c in calls),
                "replans": max((s.round for s in self.steps.values()), default=0)}
