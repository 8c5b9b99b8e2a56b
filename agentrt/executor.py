"""Executor: runs every ready step of a plan at once and records each one.

A step is ready when all its parents have finished (a failed parent counts as finished, so its
children run and see the failure). Ready tool steps run concurrently: async tools on the event
loop, sync tools on a bounded pool of daemon threads (`threads.py`). Ready `think` steps go to
the model together, as one batched `generate` call. Every failure (bad arguments, an exception,
a timeout, `RetryTool`) becomes the step's observation; nothing here raises for a tool's sake.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from pydantic_core import to_jsonable_python

from .context import STEP_ID
from .errors import InvalidArguments, PlanError, RetryTool
from .events import StepStarted
from .llm import LLM, ask, prompt_request
from .plan import resolve
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry
from .run import Run
from .schema import THINK_TOOL, Passage, RunResult, StepError, StepErrorKind, StepResult, StepSpec, ToolPolicy
from .threads import MODEL_THREADS, off_loop

Retriever = Callable[[str], list[Passage]]


class Executor:
    """Runs plans against one tool registry and one model."""

    def __init__(
        self,
        llm: LLM,
        registry: ToolRegistry,
        prompts: PromptLibrary,
        *,
        retrieve: Retriever | None = None,
        think_max_new_tokens: int = 96,
        default_policy: ToolPolicy | None = None,
        policies: dict[str, ToolPolicy] | None = None,
    ) -> None:
        self.llm = llm
        self.registry = registry
        self.prompts = prompts
        self.retrieve = retrieve
        self.think_max_new_tokens = think_max_new_tokens
        self.default_policy = default_policy or ToolPolicy()
        self.policies = policies or {}

    def policy_for(self, tool: Tool) -> ToolPolicy:
        """The agent's override for this tool, else what the tool declares, else the default."""
        if tool.name in self.policies:
            return self.policies[tool.name]
        return ToolPolicy(
            permission=self.default_policy.permission,
            timeout_s=tool.timeout_s if tool.timeout_s is not None else self.default_policy.timeout_s,
            retries=tool.retries if tool.retries is not None else self.default_policy.retries,
        )

    async def run(self, run: Run, arrivals: asyncio.Queue[StepSpec | None] | None = None) -> None:
        """Run the plan's steps that have not finished, recording each result in `run` as it
        lands. A tool whose policy is `ask` waits for `run.approve`.

        With `arrivals`, steps also come in while running (a plan still being written), up to a
        None that says the plan is complete. Returns when every runnable step has finished, the
        step budget is spent, or the run's deadline passes (steps still running are then recorded
        as cut off).
        """
        pending = [s for s in run.plan.order() if s.id not in run.results]
        running: dict[asyncio.Future[Any], list[StepSpec]] = {}
        # subtle: each future reports itself here as it finishes, so a wake-up costs the same
        # however many steps are running (asyncio.wait would hook and unhook every one of them)
        landed: list[asyncio.Future[Any]] = []
        woken = asyncio.Event()

        def land(future: asyncio.Future[Any]) -> None:
            landed.append(future)
            woken.set()

        def next_arrival() -> asyncio.Future[StepSpec | None] | None:
            if arrivals is None:
                return None
            future = asyncio.ensure_future(arrivals.get())
            future.add_done_callback(land)
            return future

        arrival = next_arrival()
        try:
            while True:
                for task in self._launch(run, pending, running, writing=arrival is not None):
                    task.add_done_callback(land)
                if not running and arrival is None:
                    return
                if not landed:
                    woken.clear()
                    try:
                        async with asyncio.timeout(run.budget.time_left()):
                            await woken.wait()
                    except TimeoutError:  # the deadline passed with steps still running
                        for launched in running.values():  # recorded as failed; the cleanup below cancels them
                            for step in launched:
                                run.finished(failed_result(step, "cut_off", "cut off: the run's time limit passed"))
                        return
                for future in landed:
                    if future is arrival:
                        written = arrival.result()
                        arrival = None if written is None else next_arrival()
                        if written is not None:
                            pending.append(written)
                    else:
                        for result in future.result():
                            run.finished(result)
                        del running[future]
                landed.clear()
        finally:  # on return, cancellation or an unexpected error alike, leave nothing running
            for task in [*running, *([arrival] if arrival else [])]:
                task.cancel()  # a reasoning step's generation stops with its task

    def _launch(self, run: Run, pending: list[StepSpec], running: dict[asyncio.Future[Any], list[StepSpec]],
                *, writing: bool) -> list[asyncio.Future[Any]]:
        """Start every pending step whose parents are done, as far as the step budget allows; the
        tasks started, also added to `running`."""
        ready = [s for s in pending if all(p in run.results for p in run.plan.parents(s.id))]
        if writing:
            # subtle: the model is busy writing the plan, so reasoning steps wait for it to end
            # and then go together, as one batch; tool steps start at once
            ready = [s for s in ready if s.tool != THINK_TOOL]
        launch = ready[: run.budget.steps_left()]
        started: list[asyncio.Future[Any]] = []
        for step in launch:
            pending.remove(step)
            run.budget.steps_used += 1
            written = run.emit(StepStarted(step=step))
            if step.tool != THINK_TOOL:
                started.append(asyncio.create_task(self._tool_step(step, run, written)))
                running[started[-1]] = [step]
        thinks = [s for s in launch if s.tool == THINK_TOOL]
        if thinks:
            started.append(asyncio.create_task(self._think_steps(thinks, run)))
            running[started[-1]] = thinks
        return started

    async def _tool_step(self, step: StepSpec, run: Run, started: Future[None] | None) -> list[StepResult]:
        """Call the step's tool, once the store holds that it started (`started`): a run that dies
        during the call then knows, on resume, that the call may have had its effect."""
        await run.journal.durable(started)
        start = time.perf_counter()
        STEP_ID.set(step.id)  # this task's own context: what idempotency_key() reads
        tool, results = self.registry.get(step.tool), run.results
        try:
            resolved = _resolve_for(tool, step.args, results)
        except InvalidArguments as exc:  # the typed form resolved before it failed validation
            typed = resolve(step.args, {i: r.value for i, r in results.items()})
            return [failed_result(step, "arguments", str(exc), typed, start)]
        except PlanError as exc:  # a result that cannot be spliced into text
            return [failed_result(step, "arguments", str(exc), None, start)]
        earlier = _finished_call(tool.name, resolved, results) if tool.idempotent else None
        if earlier is not None:  # an idempotent call gives what it gave: no need to make it again
            return [earlier.model_copy(update={"id": step.id, "args": step.args, "duration_s": 0.0})]
        policy = self.policy_for(tool)
        if policy.permission == "deny":
            return [failed_result(step, "denied", f"the tool policy denies {tool.name}", resolved, start)]
        if policy.permission == "ask":
            allowed, reason = await run.approve(step, resolved)
            if not allowed:
                return [failed_result(step, "not_approved", f"{tool.name} was not approved: {reason}", resolved, start)]
        attempts = policy.retries + 1 if tool.idempotent else 1
        kind: StepErrorKind
        raised: Exception | None
        for attempt in range(1, attempts + 1):
            try:
                async with asyncio.timeout(policy.timeout_s):  # no task of its own, unlike wait_for
                    value = await tool.invoke(resolved)
                break
            except RetryTool as exc:
                return [failed_result(step, "retry", f"{tool.name} asks to retry: {exc}", resolved, start)]
            except TimeoutError:
                kind, problem, raised = "timeout", f"{tool.name} timed out after {policy.timeout_s:g} s", None
            except Exception as exc:  # any tool failure is an observation, never a crash
                kind, problem, raised = "raised", f"{tool.name} failed: {type(exc).__name__}: {exc}", exc
            if attempt == attempts:
                tries = f" (after {attempts} attempts)" if attempts > 1 else ""
                return [failed_result(step, kind, problem + tries, resolved, start, raised)]
        if isinstance(value, RunResult):  # another agent's run (Agent.as_tool): its answer, the run beside it
            return [StepResult(id=step.id, tool=step.tool, args=step.args, resolved_args=_jsonable(resolved),
                               status="ok", observation=value.answer, value=value.answer, subrun=value,
                               duration_s=time.perf_counter() - start)]
        passages = value if _is_passages(value) else []
        # subtle: converted once, since converting consumes a generator the tool returned
        data = [p.model_dump() for p in passages] if passages else _jsonable(value)
        return [StepResult(
            id=step.id,
            tool=step.tool,
            args=step.args,
            resolved_args=_jsonable(resolved),
            status="ok",
            observation=_observation(data, passages),
            value=data,
            passages=passages,
            duration_s=time.perf_counter() - start,
        )]

    async def _think_steps(self, steps: list[StepSpec], run: Run) -> list[StepResult]:
        """All ready reasoning steps in one batched model call."""
        start, results = time.perf_counter(), run.results
        texts = {i: r.observation for i, r in results.items()}
        prepared = []
        for step in steps:
            question = str(resolve(step.args, texts).get("question", ""))
            passages: list[Passage] = []
            if self.retrieve and question.strip():
                passages = await off_loop(MODEL_THREADS, self.retrieve, question)
            prompt = self.prompts.render(
                "step",
                instruction=run.instruction,
                question=question,
                context=[{"id": p, "tool": results[p].tool, "observation": results[p].observation}
                         for p in step.depends_on],
                passages=passages,
                earlier=list(run.earlier),
            )
            prepared.append((step, question, passages, prompt_request(prompt, self.think_max_new_tokens)))
        streams = [run.text_stream("think", step.id) for step, *_ in prepared]
        replies = await ask(self.llm, "think", [r for *_, r in prepared], passages=[p for _, _, p, _ in prepared],
                            on_text=streams)
        return [
            StepResult(
                id=step.id,
                tool=step.tool,
                args=step.args,
                resolved_args={"question": question},
                status="ok",
                observation=reply.text.strip(),
                value=reply.text.strip(),
                model_call=reply.call,
                passages=passages,
                duration_s=time.perf_counter() - start,
            )
            for (step, question, passages, _), reply in zip(prepared, replies, strict=True)
        ]


def failed_result(
    step: StepSpec, kind: StepErrorKind, message: str, resolved: dict[str, Any] | None = None,
    start: float | None = None, raised: Exception | None = None,
) -> StepResult:
    """The record of a step that failed: `kind` and `message` say why, `raised` is the exception a
    tool raised, and `start` is when the step began, if it ran."""
    # a connection or a time limit may do better a second time; a given exception otherwise not
    retryable = kind in _RETRYABLE or isinstance(raised, (ConnectionError, TimeoutError))
    error = StepError(kind=kind, exception=type(raised).__name__ if raised else None, message=message,
                      retryable=retryable)
    # subtle: the error text is also the step's value, so children that reference it see why.
    return StepResult(
        id=step.id,
        tool=step.tool,
        args=step.args,
        resolved_args=_jsonable(resolved or {}),
        status="error",
        observation=f"Error: {message}",
        value=f"Error: {message}",
        duration_s=0.0 if start is None else time.perf_counter() - start,
        error=error,
    )


_RETRYABLE: set[StepErrorKind] = {"retry", "timeout", "cut_off", "interrupted"}


def _resolve_for(tool: Tool, args: dict[str, Any], results: dict[int, StepResult]) -> dict[str, Any]:
    """Validated arguments with `$N` replaced by typed results; where those do not fit the tool's
    schema (a list of passages for a `str` parameter, say), by the results' text instead.
    Raises the typed form's InvalidArguments when neither fits."""
    typed = resolve(args, {i: r.value for i, r in results.items()})
    try:
        return tool.validate(typed)
    except InvalidArguments as typed_error:
        try:
            return tool.validate(resolve(args, {i: r.observation for i, r in results.items()}))
        except InvalidArguments:
            raise typed_error from None


def _finished_call(tool: str, resolved: dict[str, Any], results: dict[int, StepResult]) -> StepResult | None:
    """The successful earlier step of this run, if any, that called `tool` with these arguments.

    Reused only for idempotent tools: a step of any other tool is a call the plan asked for, so
    "append a line twice" appends twice. Resuming a stored run never repeats a finished step
    either way, since finished steps are kept by id (`Agent.resume`)."""
    arguments = _jsonable(resolved)
    same = (r for r in results.values() if r.status == "ok" and r.tool == tool and r.resolved_args == arguments)
    return next(same, None)


def _is_passages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Passage) for v in value)


def _observation(data: Any, passages: list[Passage]) -> str:
    """What the model reads of a result: the passages' text, else the result as text or JSON."""
    if passages:
        return "\n".join(f"[{p.title}] {p.text}" for p in passages)
    return data if isinstance(data, str) else json.dumps(data)


def _jsonable(value: Any) -> Any:
    """`value` as JSON data (pydantic models, dataclasses, enums and dates as pydantic writes
    them), else its text, so records always serialise."""
    try:
        data = to_jsonable_python(value)
        json.dumps(data)
        return data
    except (TypeError, ValueError, RecursionError):  # PydanticSerializationError is a ValueError
        try:
            return str(value)
        except (ValueError, RecursionError):  # an int too long to print, a structure nested too deep
            return f"<{type(value).__name__} that cannot be written as text>"
