"""Which run and step the code now running belongs to, so a tool with side effects can make
them idempotent: a resumed run re-calls an interrupted step with the same key; and the run's
budget, which every model call of the run counts its tokens against (`llm.ask`)."""

from __future__ import annotations

from contextvars import ContextVar

from .budget import Budget
from .errors import ConfigError

RUN_ID: ContextVar[str | None] = ContextVar("agentrt_run_id", default=None)
STEP_ID: ContextVar[int | None] = ContextVar("agentrt_step_id", default=None)
RUN_BUDGET: ContextVar[Budget | None] = ContextVar("agentrt_run_budget", default=None)


def idempotency_key() -> str:
    """`RUN_ID:STEP_ID` of the tool call in progress: the same when a resumed run calls the step
    again, different for every other call. Pass it to services that accept one (payments, queues)
    or record it beside your side effect, and mark the tool `idempotent=True`."""
    run_id, step_id = RUN_ID.get(), STEP_ID.get()
    if run_id is None or step_id is None:
        raise ConfigError("idempotency_key() is only known inside a tool call made by an agent run")
    return f"{run_id}:{step_id}"
