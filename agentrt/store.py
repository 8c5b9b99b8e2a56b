"""RunStore: every run's progress in one database, written as it goes (one transaction per burst
of writes, on a writer thread of its own), so a run that dies in a crash, a kill or a reboot
resumes from its last finished step instead of starting over, in this process or another.

The database is a SQLite file (WAL mode) by default, or a PostgreSQL server for a store that
several processes or machines share (`store="postgresql://..."`); the journal, the writer thread
and the rows are the same for both (`database.py` holds what differs).
"""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import platformdirs

from .database import Connection, Database, Schema, open_database
from .errors import ConfigError
from .events import Event, ModelCalled, StepFinished, StepStarted
from .schema import ModelCall, RunResult, StepResult, StepSpec
from .threads import awaitable

RunStatus = Literal["running", "finished", "failed"]

_SCHEMA = Schema("runs", "run store", "AGENTRT_STORE (Agent(store=...), --store)", migrations=(
    # 1: the tables of the first stores, which predate schema_version (hence IF NOT EXISTS)
    ("""CREATE TABLE IF NOT EXISTS runs (
        id TEXT PRIMARY KEY,
        instruction TEXT NOT NULL,
        status TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        updated DOUBLE PRECISION NOT NULL,
        rounds INTEGER NOT NULL DEFAULT 0,
        replans_used INTEGER NOT NULL DEFAULT 0,
        elapsed_s DOUBLE PRECISION NOT NULL DEFAULT 0,
        result TEXT,
        error TEXT
    )""",
     """CREATE TABLE IF NOT EXISTS steps (
        run_id TEXT NOT NULL REFERENCES runs(id),
        id INTEGER NOT NULL,
        round INTEGER NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,  -- planned, running or done
        result TEXT,
        PRIMARY KEY (run_id, id)
    )""",
     """CREATE TABLE IF NOT EXISTS model_calls (
        run_id TEXT NOT NULL REFERENCES runs(id),
        seq INTEGER NOT NULL,
        call TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    )""",
     """CREATE TABLE IF NOT EXISTS conversations (
        id TEXT PRIMARY KEY,
        created DOUBLE PRECISION NOT NULL
    )""",
     """CREATE TABLE IF NOT EXISTS turns (
        conversation TEXT NOT NULL REFERENCES conversations(id),
        position INTEGER NOT NULL,
        run_id TEXT NOT NULL UNIQUE REFERENCES runs(id),
        PRIMARY KEY (conversation, position)
    )"""),
    # 2: `runs` lists the latest first
    ("CREATE INDEX IF NOT EXISTS runs_by_update ON runs (updated)",),
))


def default_store() -> str:
    """`AGENTRT_STORE` (a file or a postgresql:// URL), else `runs.sqlite` in the platform's
    user state directory for agentrt."""
    return os.environ.get("AGENTRT_STORE") or str(Path(platformdirs.user_state_dir("agentrt")) / "runs.sqlite")


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class SavedRun:
    """A run as the store holds it: enough to resume it, or its result if it finished."""

    id: str
    instruction: str
    status: RunStatus
    created: float
    steps: list[StepSpec] = field(default_factory=list)
    done: dict[int, StepResult] = field(default_factory=dict)
    interrupted: list[StepSpec] = field(default_factory=list)
    """Steps that had started and not finished when the run stopped."""
    calls: list[ModelCall] = field(default_factory=list)
    rounds: int = 0
    replans_used: int = 0
    elapsed_s: float = 0.0
    result: RunResult | None = None
    error: str | None = None


class RunStore:
    """Runs, their plans, step results and model calls in one database shared by every run of
    every process that opens it: `location` is a SQLite file, ":memory:" (nothing kept), or a
    postgresql:// URL (`pip install 'agentrt[postgres]'`); by default `default_store()`. A run
    writes through its `RunJournal` (`begin` and `reopen` write at once); every write of a run is
    stored by the time it returns or fails. Any process that opens the same location can `load`
    a run by id and go on with it (`Agent.resume`)."""

    def __init__(self, location: str | Path | None = None) -> None:
        self.location = str(location) if location is not None else default_store()
        self._db: Database = open_database(self.location, _SCHEMA)
        self._writer = _Writer(self._db)

    def close(self) -> None:
        """Close the database, once every write made so far is in it (the writer thread then ends
        when idle)."""
        self._writer.submit(lambda db: None).result()
        self._db.close()

    def begin(self, run_id: str, instruction: str, conversation: str | None = None) -> RunJournal:
        """The journal of a new run, recorded as running (as the next turn of `conversation`, if given)."""
        now = time.time()
        with self._db.transaction() as db:
            db.execute("INSERT INTO runs (id, instruction, status, created, updated) VALUES (?, ?, 'running', ?, ?)",
                       (run_id, instruction, now, now))
            if conversation is not None:
                db.execute("INSERT INTO turns (conversation, position, run_id) VALUES "
                           "(?, (SELECT COUNT(*) FROM turns WHERE conversation = ?), ?)",
                           (conversation, conversation, run_id))
        return RunJournal(self, run_id)

    def start_conversation(self, conversation: str) -> None:
        """Record a new conversation, whose turns `begin` adds."""
        with self._db.transaction() as db:
            db.execute("INSERT INTO conversations (id, created) VALUES (?, ?)", (conversation, time.time()))

    def conversations(self, limit: int = 20) -> list[tuple[str, float, int]]:
        """The `limit` most recent conversations, newest first: (id, created, turns)."""
        with self._db.read() as db:
            return db.execute(
                "SELECT id, created, (SELECT COUNT(*) FROM turns WHERE conversation = id) FROM conversations "
                "ORDER BY created DESC LIMIT ?", (limit,)).fetchall()

    def turns(self, conversation: str, before: str | None = None) -> list[RunResult]:
        """The finished turns of `conversation` in order (those before run `before`, if given).
        A turn whose run failed or has not finished is not among them. Raises `ConfigError` for
        a conversation the store does not have."""
        with self._db.read() as db:
            known = db.execute("SELECT 1 FROM conversations WHERE id = ?", (conversation,)).fetchone()
            rows = db.execute(
                "SELECT runs.result FROM turns JOIN runs ON runs.id = turns.run_id WHERE turns.conversation = ? "
                "AND runs.status = 'finished' AND turns.position < COALESCE("
                "(SELECT position FROM turns WHERE run_id = ?), 1e18) ORDER BY turns.position",
                (conversation, before)).fetchall()
        if known is None:
            raise ConfigError(f"{self._db.shown} has no conversation {conversation!r}; start one with "
                              "agent.conversation() (agentrt chat), or pass an id it lists "
                              "(agentrt chat --list)")
        return [RunResult.model_validate_json(result) for (result,) in rows]

    def conversation_of(self, run_id: str) -> str | None:
        """The conversation run `run_id` is a turn of, if any."""
        with self._db.read() as db:
            row = db.execute("SELECT conversation FROM turns WHERE run_id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    def reopen(self, run_id: str) -> RunJournal:
        """The journal of a stored run that goes on (resumed), recorded as running again."""
        with self._db.transaction() as db:
            db.execute("UPDATE runs SET status = 'running', updated = ? WHERE id = ?", (time.time(), run_id))
        return RunJournal(self, run_id)

    def load(self, run_id: str) -> SavedRun:
        """The run whose id is `run_id`, or starts with it if no other does."""
        columns = "SELECT id, instruction, status, created, rounds, replans_used, elapsed_s, result, error FROM runs"
        with self._db.read() as db:
            # the whole id first: a lookup by key, where a prefix's LIKE reads every id on PostgreSQL
            rows = (db.execute(f"{columns} WHERE id = ?", (run_id,)).fetchall()
                    or db.execute(f"{columns} WHERE id LIKE ? ESCAPE '\\'", (_like_prefix(run_id),)).fetchall())
            if len(rows) != 1:
                found = "no run" if not rows else f"{len(rows)} runs ({', '.join(r[0] for r in rows[:5])})"
                raise ConfigError(f"{found} in {self._db.shown} has an id starting with {run_id!r}; "
                                  "`agentrt runs` lists them")
            rid, instruction, status, created, rounds, replans, elapsed, result, error = rows[0]
            steps = db.execute("SELECT spec, state, result FROM steps WHERE run_id = ? ORDER BY round, id",
                               (rid,)).fetchall()
            calls = db.execute("SELECT call FROM model_calls WHERE run_id = ? ORDER BY seq", (rid,)).fetchall()
        saved = SavedRun(id=rid, instruction=instruction, status=status, created=created, rounds=rounds,
                         replans_used=replans, elapsed_s=elapsed, error=error,
                         result=RunResult.model_validate_json(result) if result else None,
                         calls=[ModelCall.model_validate_json(c) for (c,) in calls])
        for spec, state, step_result in steps:
            step = StepSpec.model_validate_json(spec)
            saved.steps.append(step)
            if state == "done":
                saved.done[step.id] = StepResult.model_validate_json(step_result)
            elif state == "running":
                saved.interrupted.append(step)
        return saved

    def runs(self, limit: int = 20) -> list[SavedRun]:
        """The `limit` most recently updated runs, newest first, without their steps."""
        with self._db.read() as db:
            rows = db.execute("SELECT id, instruction, status, created, error FROM runs "
                              "ORDER BY updated DESC LIMIT ?", (limit,)).fetchall()
        return [SavedRun(id=r[0], instruction=r[1], status=r[2], created=r[3], error=r[4]) for r in rows]



class RunJournal:
    """One run's writer: what the agent loop records as the run goes.

    Writes happen on the store's writer thread, in the order they are made (one thread for every
    run of the store), so the event loop never waits on a disk: a method returns at once with
    the write's future. Who needs a write done awaits it: a tool step does not start until its
    `running` mark is durable (so a crash during the call is known on resume), and a run does
    not return until its result is. A write that fails is raised by the next one awaited.
    """

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.run_id = run_id
        self._store = store
        self._failure: BaseException | None = None

    def record(self, event: Event) -> Future[None] | None:
        """Write what `event` changes: a step's start or end, or a planner's or joiner's model
        call; None for events that leave the store as it is."""
        if isinstance(event, StepStarted):
            return self._write(self._started, event.step.id)
        if isinstance(event, StepFinished):
            return self.step_finished(event.result)
        if isinstance(event, ModelCalled):
            return self._write(self._call, event.call.model_dump_json())
        return None

    def planned(self, round_: int, steps: list[StepSpec]) -> Future[None]:
        return self._write(self._planned, round_, [(s.id, s.model_dump_json()) for s in steps])

    def step_finished(self, result: StepResult) -> Future[None]:
        """The step's result, and its model call if it made one, in one transaction."""
        call = result.model_call.model_dump_json() if result.model_call is not None else None
        return self._write(self._finished_step, result.id, result.model_dump_json(), call)

    def progress(self, *, rounds: int, replans_used: int, elapsed_s: float) -> Future[None]:
        """A planning round ended: the counters a resumed run continues from."""
        return self._write(self._progress, rounds, replans_used, elapsed_s)

    def finished(self, result: RunResult) -> Future[None]:
        return self._write(self._finished, result.model_dump_json(), result.duration_s)

    def failed(self, error: str) -> None:
        """The run stopped with `error`; returns once that, and every write before it, is stored."""
        self._write(self._failed, error).result()

    async def durable(self, write: Future[None] | None) -> None:
        """Wait until `write` (and so every write before it) is stored; raise a failed write's error."""
        if write is not None and not write.done():  # subtle: wrapping a done one still costs a wake-up
            await awaitable(write)
        if self._failure is not None:
            raise self._failure

    def _write(self, write: Callable[..., None], *args: Any) -> Future[None]:
        done = self._store._writer.submit(lambda db: write(db, *args))
        done.add_done_callback(self._remember_failure)
        return done

    def _remember_failure(self, done: Future[None]) -> None:
        if self._failure is None and not done.cancelled() and done.exception() is not None:
            self._failure = done.exception()

    def _started(self, db: Connection, step_id: int) -> None:
        db.execute("UPDATE steps SET state = 'running' WHERE run_id = ? AND id = ?", (self.run_id, step_id))

    def _planned(self, db: Connection, round_: int, steps: list[tuple[int, str]]) -> None:
        db.executemany("INSERT INTO steps (run_id, id, round, spec, state) VALUES (?, ?, ?, ?, 'planned') "
                       "ON CONFLICT DO NOTHING",
                       [(self.run_id, step_id, round_, spec) for step_id, spec in steps])

    def _finished_step(self, db: Connection, step_id: int, result: str, call: str | None) -> None:
        db.execute("UPDATE steps SET state = 'done', result = ? WHERE run_id = ? AND id = ?",
                   (result, self.run_id, step_id))
        db.execute("UPDATE runs SET updated = ? WHERE id = ?", (time.time(), self.run_id))
        if call is not None:
            self._call(db, call)

    def _call(self, db: Connection, call: str) -> None:
        db.execute("INSERT INTO model_calls (run_id, seq, call) "
                   "VALUES (?, (SELECT COUNT(*) FROM model_calls WHERE run_id = ?), ?)",
                   (self.run_id, self.run_id, call))

    def _progress(self, db: Connection, rounds: int, replans_used: int, elapsed_s: float) -> None:
        db.execute("UPDATE runs SET rounds = ?, replans_used = ?, elapsed_s = ?, updated = ? WHERE id = ?",
                   (rounds, replans_used, elapsed_s, time.time(), self.run_id))

    def _finished(self, db: Connection, result: str, duration_s: float) -> None:
        db.execute("UPDATE runs SET status = 'finished', result = ?, error = NULL, elapsed_s = ?, updated = ? "
                   "WHERE id = ?", (result, duration_s, time.time(), self.run_id))

    def _failed(self, db: Connection, error: str) -> None:
        db.execute("UPDATE runs SET status = 'failed', error = ?, updated = ? WHERE id = ?",
                   (error, time.time(), self.run_id))


class _Writer:
    """The store's one writer thread. It takes every write waiting when it wakes and commits them
    in one transaction (a group commit: one sync to disk, or one round trip, for a burst of steps starting together);
    should that fail, it writes them one by one, so only the failing write fails. The thread
    starts with the first write and ends after IDLE_S without one, so a store no one writes to
    holds no thread (and can be collected: the thread holds its database)."""

    MAX_GROUP = 256
    IDLE_S = 1.0

    def __init__(self, database: Database) -> None:
        self._database = database
        self._queue: queue.SimpleQueue[tuple[Future[None], Callable[[Connection], None]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._serving = False

    def submit(self, write: Callable[[Connection], None]) -> Future[None]:
        """`write(db)` inside a transaction, after every write submitted before it."""
        done: Future[None] = Future()
        with self._lock:
            self._queue.put((done, write))
            if not self._serving:
                self._serving = True
                # a daemon: writes still queued at exit are lost as in a crash, which resume handles
                threading.Thread(target=self._serve, name="agentrt-store", daemon=True).start()
        return done

    def _serve(self) -> None:
        while True:
            try:
                group = [self._queue.get(timeout=self.IDLE_S)]
            except queue.Empty:
                with self._lock:  # subtle: a write submitted meanwhile found _serving set; serve it
                    if self._queue.empty():
                        self._serving = False
                        return
                continue
            while len(group) < self.MAX_GROUP and not self._queue.empty():
                group.append(self._queue.get_nowait())
            try:
                self._commit(group)
            except Exception:  # then one by one, each failure going to its own writer only
                for one in group:
                    try:
                        self._commit([one])
                    except Exception as exc:
                        one[0].set_exception(exc)

    def _commit(self, group: list[tuple[Future[None], Callable[[Connection], None]]]) -> None:
        with self._database.transaction() as db:
            for _, write in group:
                write(db)
        for done, _ in group:
            done.set_result(None)


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
