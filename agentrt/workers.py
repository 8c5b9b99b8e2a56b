"""Runs queued in PostgreSQL and taken by workers on any number of machines.

`RunQueue.submit` queues a run: its id, its instruction and the `AgentConfig` that rebuilds its
agent. `RunQueue.work` takes queued runs until stopped, each as `Agent.arun` under its queued id,
or as `Agent.aresume` when a worker that died had begun it: the run store, shared by every
worker, holds its progress, so the run goes on from its last finished step and its finished tool
calls are not repeated.

The queue is PgQueuer's, not ours: a table in PostgreSQL whose rows workers claim with
`FOR UPDATE SKIP LOCKED`, heartbeat while they run them, and re-pick when a heartbeat is older
than `takeover_after_s` (the worker holding it was killed, or its machine went away). DBOS
Transact recovers a dead executor's workflows only when told to (its Conductor service, or an
admin call naming the executor), and procrastinate finds stalled jobs but leaves retrying them to
a periodic task of ours; PgQueuer's dequeue takes over stale jobs by itself.

A run is taken over only after its worker stopped heartbeating, so two workers hold it at once
only if one's event loop stalls past `takeover_after_s`; tools with side effects key them by
`idempotency_key()`, which is the same wherever the run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from .agent import Agent, Unfinished, _blocking, check_instruction
from .config import AgentConfig
from .database import hide_password, is_postgres_url
from .errors import ConfigError, UnsafeResume
from .store import new_run_id

if TYPE_CHECKING:
    from pgqueuer import Job, Queries

    from .llm import LLM
    from .registry import Tool

ENTRYPOINT = "agentrt.run"
"""The PgQueuer entrypoint (its name for a kind of job) of queued runs."""
TAKEOVER_AFTER_S = 30.0
"""How long a run's worker may go without a heartbeat before another worker takes the run over."""
log = logging.getLogger(__name__)


class QueuedRun(BaseModel):
    """What the queue holds for one run: all a worker needs to build its agent and start it."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    instruction: str
    config: AgentConfig


class RunQueue:
    """The queue of runs in the PostgreSQL database at `url` (default `AGENTRT_QUEUE`), created
    there by the first `submit` or worker. Apps submit; workers (`work`, `agentrt worker`) take."""

    def __init__(self, url: str | None = None) -> None:
        url = url or os.environ.get("AGENTRT_QUEUE")
        if not url or not is_postgres_url(url):
            shown = repr(hide_password(url)) if url else "(none given)"
            raise ConfigError(f"The run queue {shown} is not a PostgreSQL URL; give one such as "
                              "postgresql://user@host/dbname (--queue or AGENTRT_QUEUE)")
        self.url = url
        self._installed = False  # PgQueuer's tables are known to be there and up to date

    def submit(self, instruction: str, config: AgentConfig | None = None) -> str:
        """Queue a run of `instruction` on the agent `config` describes (default: the default
        agent); its run id, under which the run store keeps it once a worker starts it."""
        return self.submit_many([instruction], config)[0]

    def submit_many(self, instructions: Sequence[str], config: AgentConfig | None = None) -> list[str]:
        """Queue a run of each instruction, in one transaction; their run ids, in order."""
        return _blocking(self.asubmit_many(instructions, config))

    async def asubmit_many(self, instructions: Sequence[str], config: AgentConfig | None = None) -> list[str]:
        """`submit_many` for callers already inside an event loop."""
        for instruction in instructions:
            check_instruction(instruction)
        # paths are read by workers, which may run elsewhere: made absolute here
        config = (config or AgentConfig()).relative_to(Path.cwd())
        runs = [QueuedRun(run_id=new_run_id(), instruction=text, config=config) for text in instructions]
        async with self._queries() as queries:
            await queries.enqueue([ENTRYPOINT] * len(runs), [r.model_dump_json().encode() for r in runs],
                                  [0] * len(runs))
        return [r.run_id for r in runs]

    def work(self, *, concurrency: int = 4, llm: LLM | None = None, tools: Iterable[Tool | Callable[..., Any]] = (),
             takeover_after_s: float = TAKEOVER_AFTER_S, unfinished: Unfinished = "raise",
             drain: bool = False) -> None:
        """Take queued runs, up to `concurrency` at once, until SIGINT or SIGTERM (then finish
        those under way) or, with `drain`, until the queue is empty. See `awork`."""
        async def until_signalled() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await self.awork(concurrency=concurrency, llm=llm, tools=tools, takeover_after_s=takeover_after_s,
                             unfinished=unfinished, drain=drain, stop=stop)

        _blocking(until_signalled())

    async def awork(self, *, concurrency: int = 4, llm: LLM | None = None,
                    tools: Iterable[Tool | Callable[..., Any]] = (), takeover_after_s: float = TAKEOVER_AFTER_S,
                    unfinished: Unfinished = "raise", drain: bool = False, stop: asyncio.Event | None = None) -> None:
        """Take queued runs, up to `concurrency` at once, until `stop` is set (then finish those
        under way) or, with `drain`, until the queue is empty.

        Each run's agent is built from its queued config (one agent per distinct config, kept for
        the worker's life); `llm` stands in for the config's model and `tools` are added to its
        tools, as in `Agent.from_config`. A run another worker had begun is resumed, and a step
        of it that was running then is handled as `unfinished` says (see `Agent.resume`): with
        "raise", the run is stored as failed with the `UnsafeResume` that names the step, for
        someone to `agentrt resume --rerun | --fail`. A run that fails stays in the queue as
        failed (PgQueuer's `hold`), for `pgq` to show or re-queue. PgQueuer claims jobs in
        batches of at least one with room for two, so `concurrency` is 2 or more."""
        from pgqueuer import QueueManager
        from pgqueuer.types import QueueExecutionMode

        if concurrency < 2:
            raise ConfigError(f"concurrency={concurrency}: a worker takes 2 runs at once or more (PgQueuer claims "
                              "them in batches with room for two); for fewer runs at once, start fewer workers")
        if takeover_after_s <= 0:
            raise ConfigError(f"takeover_after_s={takeover_after_s} must be more than 0 seconds")
        agents = _Agents(llm, list(tools))
        try:
            async with self._queries() as queries:
                manager = QueueManager(queries)

                @manager.entrypoint(ENTRYPOINT, on_failure="hold")
                async def take(job: Job) -> None:
                    assert job.payload is not None  # submit always gives one
                    queued = QueuedRun.model_validate_json(job.payload)
                    agent = agents.get(queued.config)
                    if _begun(agent, queued.run_id):
                        log.info("run %s: resuming it where its worker stopped", queued.run_id)
                        try:
                            await agent.aresume(queued.run_id, unfinished=unfinished)
                        except UnsafeResume as exc:  # stored, so `agentrt runs` says why and what to do
                            agent.store.reopen(queued.run_id).failed(f"UnsafeResume: {exc}")
                            raise
                    else:
                        await agent.arun(queued.instruction, run_id=queued.run_id)

                stopping = asyncio.create_task((stop or asyncio.Event()).wait())
                stopping.add_done_callback(lambda _: manager.shutdown.set())
                try:
                    await manager.run(
                        # stale runs are looked for at each dequeue, which a new job's NOTIFY or this wakes
                        dequeue_timeout=timedelta(seconds=takeover_after_s / 2),
                        batch_size=concurrency // 2, max_concurrent_tasks=concurrency,
                        heartbeat_timeout=timedelta(seconds=takeover_after_s),
                        mode=QueueExecutionMode.drain if drain else QueueExecutionMode.continuous)
                finally:
                    stopping.cancel()
        finally:
            agents.close()

    @contextlib.asynccontextmanager
    async def _queries(self) -> AsyncIterator[Queries]:
        """PgQueuer's queries over a connection of their own, its tables created or brought up to
        date the first time.

        asyncpg, not psycopg: PgQueuer's psycopg driver waits for notifications holding the
        connection, so a worker's claims and heartbeats waited up to a second behind it."""
        import asyncpg
        from pgqueuer import Queries

        try:
            connection = await asyncpg.connect(self.url)
        except (OSError, ValueError, asyncpg.PostgresError) as exc:  # ValueError: a URL asyncpg cannot read
            raise ConfigError(f"Cannot reach the run queue's database {hide_password(self.url)}: "
                              f"{' '.join(str(exc).split())}; check that PostgreSQL runs there and the URL (--queue "
                              "or AGENTRT_QUEUE) names a database you may use") from None
        try:
            queries = Queries.from_asyncpg_connection(connection)
            if not self._installed:  # under an advisory lock: workers starting together are fine
                await queries.apply_upgrade()
                self._installed = True
            yield queries
        finally:
            await connection.close()


class _Agents:
    """A worker's agents, one per distinct config, built when first needed."""

    def __init__(self, llm: LLM | None, tools: list[Tool | Callable[..., Any]]) -> None:
        self._llm, self._tools = llm, tools
        self._built: dict[str, Agent] = {}

    def get(self, config: AgentConfig) -> Agent:
        key = config.model_dump_json()
        if key not in self._built:
            self._built[key] = Agent.from_config(config, llm=self._llm, tools=self._tools)
        return self._built[key]

    def close(self) -> None:
        for agent in self._built.values():
            agent.close()


def _begun(agent: Agent, run_id: str) -> bool:
    """Whether the agent's run store holds run `run_id`: a worker began it, then stopped."""
    try:
        agent.store.load(run_id)
    except ConfigError:  # no run has that id (a queued id is whole: it cannot be a prefix of another)
        return False
    return True

