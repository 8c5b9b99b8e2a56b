"""Run: one run's state and what it reports to, in one object. Does not decide anything.

Everything that changes while a run goes lives here (the plan, the step results, the model calls,
the budget, the rounds), beside where the run reports (its journal in the store, its trace, the
caller's listener) and who decides `ask` tools. `Agent` holds only what every run shares, so one
agent runs many runs at once; the loop's steps (`loop.py`) and the executor read and write a `Run`.
A resumed run is a `Run` built from what the store saved (`Run.from_saved`), nothing more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal

from .budget import Budget
from .conversation import Conversation, Turn
from .events import Event, ModelCalled, StepFinished, TextDelta
from .llm import OnText
from .memory import Experience
from .output import TypedOutput
from .plan import Plan, references
from .schema import FINAL_ANSWER_TOOL, ModelCall, Passage, PlanSpec, RunResult, StepResult, StepSpec, StopReason
from .store import RunJournal, SavedRun
from .trace import TraceRecorder
from .usage import Price, usage_of

Emit = Callable[[Event], None]
Approver = Callable[[StepSpec, dict[str, Any]], Awaitable[tuple[bool, str]]]
"""Asks whoever decides for a tool whose policy is `ask`: (allowed, reason if not)."""


def nobody(event: Event) -> None:
    """The listener of a run no one streams."""


CURRENT_RUN: ContextVar[Run | None] = ContextVar("agentrt_current_run", default=None)
"""The run whose code is running: a tool that is another agent (`Agent.as_tool`) starts its
sub-run under it, inheriting its approver and what is left of its budget."""


class _Quoted:
    """A think step's text as the answer that quotes it shows it, piece by piece: the answer's
    opening words first, nothing before the step's first word, and whitespace only once a word
    follows it (the step's result, which the answer quotes, is its text stripped)."""

    def __init__(self, opening: str) -> None:
        self.held = opening
        self.begun = False

    def __call__(self, piece: str) -> str:
        if not self.begun:
            piece = piece.lstrip()
            if not piece:
                return ""
            self.begun = True
        text = self.held + piece
        shown = text.rstrip()
        self.held = text[len(shown):]
        return shown


@dataclass
class Run:
    """One run: its instruction, plan, results, model calls and budget, and where it reports.

    `results` holds every finished step by id; `emit` writes an event to the store and the trace,
    then hands it to `listener` (the caller's stream, or nothing)."""

    id: str
    instruction: str
    budget: Budget
    journal: RunJournal
    approve: Approver
    listener: Emit = nobody
    plan: Plan = field(default_factory=Plan)
    results: dict[int, StepResult] = field(default_factory=dict)
    model_calls: list[ModelCall] = field(default_factory=list)
    rounds: int = 0
    """Planning rounds finished (round 0 is the first plan)."""
    passages: list[Passage] = field(default_factory=list)
    """Retrieved for the instruction, shown to the planner."""
    experiences: Sequence[Experience] = ()
    """Similar earlier runs, shown to the first round's planner."""
    trace: TraceRecorder = field(default_factory=TraceRecorder)
    resumed: bool = False
    """Whether the run continues one the store saved."""
    typed: TypedOutput | None = None
    """Writes the answer as the caller's `output_type`, if one was asked for."""
    answer_said: str = ""
    """The answer's text the listener has been handed so far (`say`)."""
    conversation: Conversation | None = None
    """The conversation the run is a turn of, which it joins when it ends, if any."""
    earlier: Sequence[Turn] = ()
    """The conversation's earlier turns that the run's prompts show (`Conversation.shown`)."""

    @classmethod
    def from_saved(cls, saved: SavedRun, journal: RunJournal, budget: Budget, approve: Approver,
                   tool_names: Sequence[str], conversation: Conversation | None = None) -> Run:
        """The run `saved` stopped as: its plan (whose steps call `tool_names`), finished steps,
        model calls and budget used so far, and the turns before it, if it is one of `conversation`."""
        budget.steps_used, budget.replans_used = len(saved.done), saved.replans_used
        budget.tokens_used = sum(c.prompt_tokens + c.completion_tokens for c in saved.calls)
        budget.started -= saved.elapsed_s
        run = cls(saved.id, saved.instruction, budget, journal, approve, results=saved.done,
                  model_calls=saved.calls, rounds=saved.rounds, resumed=True, conversation=conversation,
                  earlier=conversation.shown() if conversation else ())
        if saved.steps:
            run.plan.extend(PlanSpec(steps=saved.steps), tool_names)
        return run

    def emit(self, event: Event) -> Future[None] | None:
        """Record `event` in the store and the trace, then tell the listener. Returns the store's
        write of it (see `RunJournal`), if the event changes the store."""
        written = self.journal.record(event)
        self.trace(event)
        self.listener(event)
        return written

    def text_stream(self, source: Literal["think", "answer"], step_id: int | None = None) -> OnText | None:
        """Where a model call writing a think step's text or the answer hands it, piece by
        piece, from any thread: to the listener as `TextDelta` events. A think step that the
        plan's answer quotes (`"answer": "... $N ..."`, no other step in it) streams the answer
        too, from the text before `$N`. None when no one streams the run, so its calls need not
        stream."""
        if self.listener is nobody:
            return None
        loop = asyncio.get_running_loop()
        opening = self._answer_opening(step_id) if step_id is not None else None
        quoted = _Quoted(opening) if opening is not None else None

        def hand_on(piece: str) -> None:
            deltas = [TextDelta(source=source, step_id=step_id, text=piece)]
            shown = quoted(piece) if quoted is not None else ""
            if shown:
                deltas.append(TextDelta(source="answer", text=shown))
            for delta in deltas:
                loop.call_soon_threadsafe(self.say, delta)

        return hand_on

    def _answer_opening(self, step_id: int) -> str | None:
        """The text before `$step_id` in the plan's answer, if the answer quotes that step and
        no other."""
        for step in self.plan.order():
            answer = step.args.get("answer")
            if step.tool == FINAL_ANSWER_TOOL and isinstance(answer, str) and references(answer) == {step_id}:
                return answer.split(f"${step_id}", 1)[0]
        return None

    def say(self, delta: TextDelta) -> None:
        """Hand `delta` to the listener (text is streamed only: the store and the trace keep the
        whole of it, in the step's result or the answer)."""
        if delta.source == "answer":
            self.answer_said += delta.text
        self.listener(delta)

    def say_answer(self, answer: str) -> None:
        """The run ends with `answer`: stream what of it the listener has not seen (all of it,
        unless the joiner's reply streamed it as written)."""
        if self.listener is not nobody:
            said = self.answer_said.strip()  # a step's result is its text stripped
            rest = answer[len(said):] if answer.startswith(said) else f"\n{answer}"
            if rest:
                self.say(TextDelta(source="answer", text=rest))

    def called(self, call: ModelCall) -> None:
        """The planner or the joiner made `call`: keep it among the run's model calls."""
        self.model_calls.append(call)
        self.emit(ModelCalled(call=call))

    def finished(self, result: StepResult) -> None:
        """A step finished: keep its result (and a reasoning step's model call) and tell everyone."""
        self.results[result.id] = result
        if result.model_call is not None:
            self.model_calls.append(result.model_call)
        self.emit(StepFinished(result=result))

    def history(self) -> list[StepResult]:
        """The finished steps in plan order."""
        return [self.results[i] for i in sorted(self.results)]

    def result(self, answer: str, stopped_by: StopReason, error: str | None = None, output: Any = None,
               prices: Mapping[str, Price] | None = None) -> RunResult:
        """The run's outcome as `Agent.run` returns it (its trace is added when the run ends), its
        usage priced by `prices`, if given."""
        return RunResult(
            instruction=self.instruction,
            answer=answer,
            plan=self.plan.spec(),
            run_id=self.id,
            steps=self.history(),
            model_calls=self.model_calls,
            replans=self.budget.replans_used,
            stopped_by=stopped_by,
            error=error,
            duration_s=self.elapsed_s(),
            output=output,
            usage=usage_of(self.model_calls, self.history(), prices or {}),
        )

    def elapsed_s(self) -> float:
        return time.perf_counter() - self.budget.started
