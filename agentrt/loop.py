"""The run loop as steps with typed transitions: `PlanRound -> Join -> (PlanRound | End)`.

Each step reads and writes the `Run` and returns the next one; `drive` follows them to `End`. A
new run starts at `PlanRound`; a resumed run that had planned starts at `Execute`, which runs
what is left of the stored plan and then joins. The workers every run shares (planner, executor,
joiner) come in one `Crew`. Nothing here touches the store directly: the `Run` records itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from .errors import AgentrtError, ModelOutputError, PlanError, TokenBudgetSpent
from .events import PlanMade, Replanning
from .executor import Executor
from .joiner import Joiner
from .planner import Planner
from .run import Run
from .schema import THINK_TOOL, ModelCall, PlanSpec, StepResult, StepSpec, StopReason

Mode = Literal["parallel", "sequential"]


@dataclass(frozen=True)
class Crew:
    """What every run of one agent shares: who plans, who acts, who answers, and how."""

    planner: Planner
    executor: Executor
    joiner: Joiner
    mode: Mode

    def tool_names(self) -> list[str]:
        """What a plan step may call."""
        return [*self.planner.registry.names(), THINK_TOOL]


@dataclass(frozen=True)
class End:
    """The run is over: its answer, what stopped it, and the error that did, if one did."""

    answer: str
    stopped_by: StopReason
    error: str | None = None


@dataclass(frozen=True)
class PlanRound:
    """Plan the next steps, each starting as soon as the planner has written it and its parents
    are done. Returns early, with the planner cancelled, at the run's time limit."""

    async def next(self, run: Run, crew: Crew) -> Join | End:
        new_steps = 1 if crew.mode == "sequential" else run.budget.steps_left()
        arrivals: asyncio.Queue[StepSpec | None] = asyncio.Queue()
        planning = asyncio.create_task(crew.planner.plan(
            run.instruction, run.passages, run.history(), new_steps,
            on_steps=lambda steps: _accept(run, crew, steps, arrivals),
            experiences=run.experiences if run.rounds == 0 else (), earlier=run.earlier))
        planning.add_done_callback(lambda task: _planned(run, task, arrivals))
        try:
            await crew.executor.run(run, arrivals)
        finally:
            if not planning.done():  # the time limit (or the caller) cut the round short
                planning.cancel()  # which stops the plan's generation
        failure = planning.exception() if planning.done() and not planning.cancelled() else None
        if failure is None:
            return Join()
        if run.rounds == 0:  # no usable first plan: nothing to answer from
            raise _run_error(failure) if isinstance(failure, PlanError) else failure
        if isinstance(failure, (PlanError, ModelOutputError)):
            return End(_best_effort(run.history()), "replan_failed", str(failure))
        raise failure


@dataclass(frozen=True)
class Execute:
    """Run the plan's unfinished steps: where a resumed run picks up its last round."""

    async def next(self, run: Run, crew: Crew) -> Join:
        await crew.executor.run(run)
        return Join()


@dataclass(frozen=True)
class Join:
    """After a round: answer, or go round again. The joiner decides, within the budget, except
    where a tool asked for a correction (`RetryTool`): then the planner tries again, if it may."""

    async def next(self, run: Run, crew: Crew) -> PlanRound | End:
        end = await self._decide(run, crew)
        if end is None:
            run.rounds += 1
            run.journal.progress(rounds=run.rounds, replans_used=run.budget.replans_used, elapsed_s=run.elapsed_s())
            return PlanRound()
        return end

    @staticmethod
    async def _decide(run: Run, crew: Crew) -> End | None:
        results, budget = run.history(), run.budget
        final = crew.joiner.final_answer(results)
        if final is not None:
            return End(final, "final_answer")
        if budget.out_of_time():
            return End(_best_effort(results), "time_limit")
        if crew.mode == "sequential" and budget.steps_left():
            return None  # sequential: the next step is the model's next decision
        can_replan = budget.replans_left() > 0 and budget.steps_left() > 0
        corrections = _corrections(results)
        if corrections and can_replan:  # RetryTool: the planner tries again, the correction in view
            budget.replans_used += 1
            run.emit(Replanning(round=run.rounds + 1, reason="; ".join(r.observation for r in corrections)))
            return None
        try:
            decision = await asyncio.wait_for(
                crew.joiner.decide(run.instruction, results, can_replan=can_replan, earlier=run.earlier,
                                   on_answer=run.text_stream("answer")),
                budget.time_left())
        except TimeoutError:  # the joiner's generation stopped with its task
            return End(_best_effort(results), "time_limit")
        except ModelOutputError as exc:
            if exc.model_call is not None:
                run.called(exc.model_call)
            return End(_best_effort(results), "join_failed", str(exc))
        assert decision.call is not None  # decide() always records its model call
        run.called(decision.call)
        if decision.action == "answer":
            return End(decision.answer, "joiner" if can_replan else _spent(run))
        budget.replans_used += 1
        run.emit(Replanning(round=run.rounds + 1, reason=decision.reason))
        return None


Node = PlanRound | Execute | Join


async def drive(run: Run, crew: Crew) -> End:
    """Follow the run's steps from where it stands to its end."""
    # subtle: a resumed run with a plan joins even when all its steps had finished: the run may
    # have stopped between its last step and the joiner
    node: Node | End = Execute() if len(run.plan) else PlanRound()
    while not isinstance(node, End):
        try:
            node = await node.next(run, crew)
        except TokenBudgetSpent as exc:  # refused before it was made: answer with what there is
            return End(_best_effort(run.history()), "max_tokens", str(exc))
    return node


def _accept(run: Run, crew: Crew, steps: list[StepSpec], arrivals: asyncio.Queue[StepSpec | None]) -> None:
    """Steps the planner has written: into the plan (a PlanError here ends the round), the store
    and the executor's queue."""
    run.plan.extend(PlanSpec(steps=steps), crew.tool_names())
    run.journal.planned(run.rounds, steps)
    for step in steps:
        arrivals.put_nowait(step)


def _planned(run: Run, task: asyncio.Task[tuple[PlanSpec, list[ModelCall]]],
             arrivals: asyncio.Queue[StepSpec | None]) -> None:
    """The planner is done: tell the executor no more steps come, and record what it cost."""
    arrivals.put_nowait(None)
    if task.cancelled():
        return
    failure = task.exception()
    if failure is None:
        spec, made = task.result()
        for call in made:
            run.called(call)
        run.emit(PlanMade(round=run.rounds, steps=spec.steps))
    elif isinstance(failure, AgentrtError) and failure.model_call is not None:
        run.called(failure.model_call)  # an unusable plan still cost its tokens


def _corrections(results: list[StepResult]) -> list[StepResult]:
    """Steps whose tool asked for a correction (`RetryTool`) that no later call of the same tool
    has made good."""
    return [r for r in results if r.error is not None and r.error.kind == "retry"
            and not any(later.id > r.id and later.tool == r.tool and later.status == "ok" for later in results)]


def _run_error(exc: PlanError) -> ModelOutputError:
    """A plan the model wrote that cannot run (an unknown tool, a cycle) as what it is: the run's
    failure, with the model's output, not bad input from the caller, which `PlanError` means."""
    call = exc.model_call
    error = ModelOutputError(f"The model's plan cannot run: {exc}", call.output if call else "")
    error.model_call = call
    return error


def _spent(run: Run) -> StopReason:
    """Which budget left the joiner no choice but to answer."""
    return "max_steps" if run.budget.steps_left() == 0 else "max_replans"


def _best_effort(results: list[StepResult]) -> str:
    """When the model cannot be asked (no time, or its output was unusable): the last successful
    observation, if any."""
    ok = [r.observation for r in sorted(results, key=lambda r: r.id) if r.status == "ok"]
    return ok[-1] if ok else "No answer: no step succeeded before the run had to stop."
