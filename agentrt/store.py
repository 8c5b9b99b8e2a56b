"""RunStore: every run's progress in one SQLite file, written as it goes (WAL mode, one
transaction per step), so a run that dies in a crash, a kill or a reboot resumes from its last
finished step instead of starting over."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import platformdirs

from .errors import ConfigError
from .events import Event, ModelCalled, StepFinished, StepStarted
from .schema import ModelCall, RunResult, StepResult, StepSpec

RunStatus = Literal["running", "finished", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    instruction TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    rounds INTEGER NOT NULL DEFAULT 0,
    replans_used INTEGER NOT NULL DEFAULT 0,
    elapsed_s REAL NOT NULL DEFAULT 0,
    result TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs(id),
    id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,  -- planned, running or done
    result TEXT,
    PRIMARY KEY (run_id, id)
);
CREATE TABLE IF NOT EXISTS model_calls (
    run_id TEXT NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    call TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
"""


def default_store_path() -> Path:
    """`AGENTRT_STORE`, else `runs.sqlite` in the platform's user state directory for agentrt."""
    return Path(os.environ.get("AGENTRT_STORE") or Path(platformdirs.user_state_dir("agentrt")) / "runs.sqlite")


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
    """Runs, their plans, step results and model calls in one SQLite file shared by every run of
    every process that opens it. Each write is one transaction, durable once it returns."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)  # ":memory:" keeps runs in memory only
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a finished step survives a power cut too
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(
                f"{self.path} is not a readable run store ({exc}); move it aside to start a new one, "
                "or point AGENTRT_STORE (Agent(store=...)) elsewhere"
            ) from exc

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def begin(self, run_id: str, instruction: str) -> RunJournal:
        """The journal of a new run, recorded as running."""
        now = time.time()
        with self._transaction() as db:
            db.execute("INSERT INTO runs (id, instruction, status, created, updated) VALUES (?, ?, 'running', ?, ?)",
                       (run_id, instruction, now, now))
        return RunJournal(self, run_id)

    def reopen(self, run_id: str) -> RunJournal:
        """The journal of a stored run that goes on (resumed), recorded as running again."""
        with self._transaction() as db:
            db.execute("UPDATE runs SET status = 'running', updated = ? WHERE id = ?", (time.time(), run_id))
        return RunJournal(self, run_id)

    def load(self, run_id: str) -> SavedRun:
        """The run whose id is `run_id`, or starts with it if no other does."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, instruction, status, created, rounds, replans_used, elapsed_s, result, error "
                "FROM runs WHERE id LIKE ? ESCAPE '\\'", (_like_prefix(run_id),)).fetchall()
            exact = [r for r in rows if r[0] == run_id]
            if len(exact or rows) != 1:
                found = "no run" if not rows else f"{len(rows)} runs ({', '.join(r[0] for r in rows[:5])})"
                raise ConfigError(f"{found} in {self.path} has an id starting with {run_id!r}; "
                                  "`agentrt runs` lists them")
            rid, instruction, status, created, rounds, replans, elapsed, result, error = (exact or rows)[0]
            steps = self._db.execute("SELECT spec, state, result FROM steps WHERE run_id = ? ORDER BY round, id",
                                     (rid,)).fetchall()
            calls = self._db.execute("SELECT call FROM model_calls WHERE run_id = ? ORDER BY seq", (rid,)).fetchall()
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
        with self._lock:
            rows = self._db.execute("SELECT id, instruction, status, created, error FROM runs "
                                    "ORDER BY updated DESC LIMIT ?", (limit,)).fetchall()
        return [SavedRun(id=r[0], instruction=r[1], status=r[2], created=r[3], error=r[4]) for r in rows]



class RunJournal:
    """One run's writer: what the agent loop records as the run goes, each call one transaction."""

    def __init__(self, store: RunStore, run_id: str) -> None:
        self.run_id = run_id
        self._transaction = store._transaction

    def record(self, event: Event) -> None:
        """Write what `event` changes to the store: a step's start or end, or a planner's or
        joiner's model call. Other events leave the store as it is."""
        if isinstance(event, StepStarted):
            with self._transaction() as db:
                db.execute("UPDATE steps SET state = 'running' WHERE run_id = ? AND id = ?",
                           (self.run_id, event.step.id))
        elif isinstance(event, StepFinished):
            self.step_finished(event.result)
        elif isinstance(event, ModelCalled):
            self.model_called(event.call)

    def planned(self, round_: int, steps: list[StepSpec]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO steps (run_id, id, round, spec, state) VALUES (?, ?, ?, ?, 'planned')",
                [(self.run_id, s.id, round_, s.model_dump_json()) for s in steps],
            )

    def step_finished(self, result: StepResult) -> None:
        """The step's result, and its model call if it made one, in one transaction."""
        with self._transaction() as db:
            db.execute("UPDATE steps SET state = 'done', result = ? WHERE run_id = ? AND id = ?",
                       (result.model_dump_json(), self.run_id, result.id))
            db.execute("UPDATE runs SET updated = ? WHERE id = ?", (time.time(), self.run_id))
            if result.model_call is not None:
                self._add_call(db, result.model_call)

    def model_called(self, call: ModelCall) -> None:
        with self._transaction() as db:
            self._add_call(db, call)

    def _add_call(self, db: sqlite3.Connection, call: ModelCall) -> None:
        db.execute("INSERT INTO model_calls (run_id, seq, call) "
                   "VALUES (?, (SELECT COUNT(*) FROM model_calls WHERE run_id = ?), ?)",
                   (self.run_id, self.run_id, call.model_dump_json()))

    def progress(self, *, rounds: int, replans_used: int, elapsed_s: float) -> None:
        """A planning round ended: the counters a resumed run continues from."""
        with self._transaction() as db:
            db.execute("UPDATE runs SET rounds = ?, replans_used = ?, elapsed_s = ?, updated = ? WHERE id = ?",
                       (rounds, replans_used, elapsed_s, time.time(), self.run_id))

    def finished(self, result: RunResult) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET status = 'finished', result = ?, error = NULL, elapsed_s = ?, updated = ? "
                       "WHERE id = ?", (result.model_dump_json(), result.duration_s, time.time(), self.run_id))

    def failed(self, error: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET status = 'failed', error = ?, updated = ? WHERE id = ?",
                       (error, time.time(), self.run_id))


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
