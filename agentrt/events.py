"""Typed events of a run, in the order they happen: what `Agent.stream` yields."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from .schema import ModelCall, RunResult, StepResult, StepSpec


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunStarted(_Event):
    """A run began, or a stored one resumed; `run_id` is what `Agent.resume` takes."""

    kind: Literal["run_started"] = "run_started"
    run_id: str
    instruction: str
    resumed: bool = False


class PlanMade(_Event):
    """The planner emitted steps; `round` 0 is the first plan, later rounds are replans."""

    kind: Literal["plan"] = "plan"
    round: int
    steps: list[StepSpec]


class ModelCalled(_Event):
    """The planner or the joiner got its answer from the model: the prompt as rendered, the
    passages retrieved for it, the output, tokens and time. (A `think` step's call is on its
    `StepFinished` result.)"""

    kind: Literal["model_call"] = "model_call"
    call: ModelCall


class StepStarted(_Event):
    """A step's parents are done and it has started."""

    kind: Literal["step_started"] = "step_started"
    step: StepSpec


class StepFinished(_Event):
    """A step has finished, successfully or not; `result` is its record."""

    kind: Literal["step_finished"] = "step_finished"
    result: StepResult


class ApprovalRequested(_Event):
    """A step calls a tool whose policy is `ask`: the run waits until `approve()` or `deny()`."""

    kind: Literal["approval_requested"] = "approval_requested"
    step: StepSpec
    arguments: dict[str, Any]
    _decision: asyncio.Future[tuple[bool, str]] | None = PrivateAttr(default=None)

    @classmethod
    def waiting(cls, step: StepSpec, arguments: dict[str, Any]) -> ApprovalRequested:
        """A request the running event loop can wait on (`decision()`)."""
        request = cls(step=step, arguments=arguments)
        request._decision = asyncio.get_running_loop().create_future()
        return request

    def approve(self) -> None:
        """Let the call go ahead."""
        self._decide(True, "")

    def deny(self, reason: str = "a person denied it") -> None:
        """Refuse the call; `reason` becomes the step's observation, for the planner to see."""
        self._decide(False, reason)

    def _decide(self, allowed: bool, reason: str) -> None:
        # callable from any thread: the run's event loop owns the future
        decision = self._decision
        if decision is None:
            raise RuntimeError("this request is a record of a past run; nothing waits for its decision")

        def settle() -> None:
            if not decision.done():  # the first decision stands; a wait already given up takes none
                decision.set_result((allowed, reason))

        decision.get_loop().call_soon_threadsafe(settle)

    async def decision(self) -> tuple[bool, str]:
        """(allowed, reason), once someone has decided."""
        if self._decision is None:
            raise RuntimeError("this request is a record of a past run; nothing waits for its decision")
        return await self._decision


class Replanning(_Event):
    """The joiner asked for more steps, or a budget question arose; `reason` says which."""

    kind: Literal["replan"] = "replan"
    round: int
    reason: str


class TextDelta(_Event):
    """More of a text as the model writes it: a `think` step's reasoning (`step_id` names the
    step) or the run's answer (`step_id` None). Streamed only, not kept in the trace or the
    store: the whole text is in the step's result or the answer."""

    kind: Literal["text_delta"] = "text_delta"
    source: Literal["think", "answer"]
    step_id: int | None = None
    text: str


class Answered(_Event):
    """The run is over; `result` is what `Agent.run` returns."""

    kind: Literal["answer"] = "answer"
    result: RunResult


Event = (RunStarted | PlanMade | ModelCalled | StepStarted | ApprovalRequested | StepFinished | Replanning
         | TextDelta | Answered)
