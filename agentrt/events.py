"""Typed events of a run, in the order they happen: what `Agent.stream` yields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from .schema import RunResult, StepResult, StepSpec


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanMade(_Event):
    """The planner emitted steps; `round` 0 is the first plan, later rounds are replans."""

    kind: Literal["plan"] = "plan"
    round: int
    steps: list[StepSpec]


class StepStarted(_Event):
    """A step's parents are done and it has started."""

    kind: Literal["step_started"] = "step_started"
    step: StepSpec


class StepFinished(_Event):
    """A step has finished, successfully or not; `result` is its record."""

    kind: Literal["step_finished"] = "step_finished"
    result: StepResult


class Replanning(_Event):
    """The joiner asked for more steps, or a budget question arose; `reason` says which."""

    kind: Literal["replan"] = "replan"
    round: int
    reason: str


class Answered(_Event):
    """The run is over; `result` is what `Agent.run` returns."""

    kind: Literal["answer"] = "answer"
    result: RunResult


Event = PlanMade | StepStarted | StepFinished | Replanning | Answered
