"""A worker process for tests/test_workers.py: `python -m tests.queue_worker QUEUE EFFECTS [--block] [--unsafe]`.

It takes queued runs on a scripted model that plans `pay(5)`, then `hold($1)`, then the answer.
`pay` is a side effect, recorded in the SQLite file EFFECTS once per `idempotency_key()` (and
every call of either tool in its `calls` table); with `--block`, `hold` never returns, so the
test can SIGKILL the worker with the run half done; with `--unsafe`, `hold` is not idempotent,
so a run interrupted in it cannot simply call it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from pathlib import Path

from agentrt import tool
from agentrt.context import idempotency_key
from agentrt.llm import GenerationRequest
from agentrt.testing import ScriptedLLM
from agentrt.workers import RunQueue

PLAN = {"steps": [{"id": 1, "tool": "pay", "args": {"amount": 5}},
                  {"id": 2, "tool": "hold", "args": {"receipt": "$1"}},
                  {"id": 3, "tool": "final_answer", "args": {"answer": "$1, $2"}}]}


def open_effects(effects: Path) -> sqlite3.Connection:
    """The EFFECTS file, its tables made if they are not there yet."""
    db = sqlite3.connect(effects, timeout=30, isolation_level=None)
    db.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, name TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT, name TEXT)")
    return db


def record(effects: Path, table: str, name: str) -> None:
    with contextlib.closing(open_effects(effects)) as db:
        db.execute(f"INSERT {'OR IGNORE' if table == 'effects' else ''} INTO {table} VALUES (?, ?)",
                   (idempotency_key(), name))


def tools(effects: Path, block: bool, *, unsafe: bool = False) -> list:
    @tool(idempotent=True)  # keyed by the call's idempotency key: repeating it changes nothing
    def pay(amount: int) -> str:
        """Pay `amount`, once per call, however often the call is made.

        Args:
            amount: how much
        """
        record(effects, "calls", "pay")
        record(effects, "effects", "pay")
        return f"paid {amount}"

    @tool(idempotent=not unsafe)
    async def hold(receipt: str) -> str:
        """File `receipt`; with --block, never finish.

        Args:
            receipt: what to file
        """
        record(effects, "calls", "hold")
        if block:
            await asyncio.Event().wait()
        return f"filed {receipt}"

    return [pay, hold]


def plans(request: GenerationRequest) -> dict:
    return PLAN


if __name__ == "__main__":
    queue, effects = sys.argv[1], Path(sys.argv[2])
    given = tools(effects, "--block" in sys.argv, unsafe="--unsafe" in sys.argv)
    RunQueue(queue).work(concurrency=2, llm=ScriptedLLM([plans] * 100), tools=given, takeover_after_s=1.0)
