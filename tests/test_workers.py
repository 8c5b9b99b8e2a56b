"""Runs queued in PostgreSQL and taken by workers (agentrt.workers): a submitted run is run and
stored, and a run whose worker was SIGKILLed is taken over by another worker and resumed from its
last finished step, its side effect made once. Real processes, a real PostgreSQL, real signals."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentrt import Agent
from agentrt.config import AgentConfig
from agentrt.errors import ConfigError
from agentrt.store import SavedRun
from agentrt.testing import ScriptedLLM
from agentrt.workers import RunQueue

from .queue_worker import open_effects, plans, tools

ROOT = Path(__file__).resolve().parent.parent
ANSWER = "paid 5, filed paid 5"


@pytest.fixture
def store(store_location: str) -> str:
    """The run store the workers share: a SQLite file (one machine), then a PostgreSQL database."""
    return store_location


def saved(store: str, run_id: str) -> SavedRun:
    with Agent(model=ScriptedLLM(), store=store, builtin_tools=False) as reader:
        return reader.store.load(run_id)


def counts(effects: Path, table: str) -> collections.Counter[str]:
    with contextlib.closing(open_effects(effects)) as db:  # made here too: a worker may not have made them yet
        return collections.Counter(name for (name,) in db.execute(f"SELECT name FROM {table}"))


def test_submitted_runs_are_taken_by_a_worker_and_stored(store, fresh_database, tmp_path):
    queue, effects = RunQueue(fresh_database), tmp_path / "effects.sqlite"
    run_ids = queue.submit_many(["Pay 5 and file the receipt."] * 3, AgentConfig(store=store))
    queue.work(concurrency=2, llm=ScriptedLLM([plans] * 3), tools=tools(effects, block=False), drain=True)
    for run_id in run_ids:
        run = saved(store, run_id)
        assert run.status == "finished" and run.result is not None and run.result.answer == ANSWER
    assert counts(effects, "effects") == {"pay": 3}


def test_agent_submit_and_the_cli_queue_runs_with_the_agents_config(store, fresh_database, tmp_path):
    agent = Agent.from_config(AgentConfig(store=store, max_steps=5), llm=ScriptedLLM())
    from_python = agent.submit("Pay 5.", queue=fresh_database)
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"instruction": "Pay 5 again."}\n')
    cli = subprocess.run([sys.executable, "-m", "agentrt.cli", "submit", "Pay 5 once more.", "--file", str(batch),
                          "--queue", fresh_database, "--store", store, "--max-steps", "4"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert cli.returncode == 0, cli.stderr
    from_cli = cli.stdout.split()
    assert len(from_cli) == 2
    with pytest.raises(ConfigError, match="built from Python objects.*from_config"):
        Agent(model=ScriptedLLM(), store=":memory:").submit("Pay 5.", queue=fresh_database)

    effects = tmp_path / "effects.sqlite"
    RunQueue(fresh_database).work(llm=ScriptedLLM([plans] * 3), tools=tools(effects, block=False), drain=True)
    instructions = {run_id: saved(store, run_id).instruction for run_id in [from_python, *from_cli]}
    assert instructions == {from_python: "Pay 5.", from_cli[0]: "Pay 5 once more.", from_cli[1]: "Pay 5 again."}
    assert all(saved(store, run_id).status == "finished" for run_id in instructions)


def killed_in_step_2(queue: RunQueue, store: str, effects: Path, *, unsafe: bool = False) -> str:
    """Queue a run, and SIGKILL the worker process that took it once step 1 (pay) is done and
    step 2 (hold) is running; the run's id."""
    run_id = queue.submit("Pay 5 and file the receipt.", AgentConfig(store=store))
    first = subprocess.Popen([sys.executable, "-m", "tests.queue_worker", queue.url, str(effects), "--block",
                              *(["--unsafe"] if unsafe else [])], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not counts(effects, "calls")["hold"]:
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() < deadline, "the first worker never got to step 2"
            time.sleep(0.1)
    finally:
        first.kill()
        first.wait()
    half = saved(store, run_id)
    assert half.status == "running" and sorted(half.done) == [1] and [s.id for s in half.interrupted] == [2]
    return run_id


def second_worker_until(queue: RunQueue, effects: Path, done: Callable[[], bool], *, unsafe: bool = False) -> None:
    """Run a worker in this process, taking over runs after 1 s without a heartbeat, until `done()`."""
    async def work() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(queue.awork(llm=ScriptedLLM([plans]), tools=tools(effects, False, unsafe=unsafe),
                                                 takeover_after_s=1.0, stop=stop))
        deadline = time.monotonic() + 60
        while not done():
            assert not worker.done() and time.monotonic() < deadline, "the run was not taken over"
            await asyncio.sleep(0.1)
        stop.set()
        await worker

    asyncio.run(work())


def test_a_run_whose_worker_was_killed_is_taken_over_and_resumed_with_its_side_effect_once(
        store, fresh_database, tmp_path):
    queue, effects = RunQueue(fresh_database), tmp_path / "effects.sqlite"
    run_id = killed_in_step_2(queue, store, effects)
    second_worker_until(queue, effects, lambda: saved(store, run_id).status == "finished")
    run = saved(store, run_id)
    assert run.result is not None and run.result.answer == ANSWER and run.result.run_id == run_id
    assert counts(effects, "effects") == {"pay": 1}
    assert counts(effects, "calls") == {"pay": 1, "hold": 2}  # pay not called again; hold (idempotent) re-run


def test_a_taken_over_run_does_not_call_again_a_step_with_side_effects_that_was_running(
        store, fresh_database, tmp_path):
    queue, effects = RunQueue(fresh_database), tmp_path / "effects.sqlite"
    run_id = killed_in_step_2(queue, store, effects, unsafe=True)
    second_worker_until(queue, effects, lambda: saved(store, run_id).status == "failed", unsafe=True)
    run = saved(store, run_id)
    assert run.error is not None and "UnsafeResume: Step 2" in run.error and "--rerun" in run.error
    assert counts(effects, "calls") == {"pay": 1, "hold": 1}
    import psycopg

    with psycopg.connect(fresh_database) as db:  # held in the queue as failed, not retried
        assert db.execute("SELECT status::text FROM pgqueuer").fetchall() == [("failed",)]


def test_killed_workers_runs_all_finish_with_every_side_effect_once():
    """The scale benchmark, small: worker processes SIGKILLed at random moments, and restarted."""
    here = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--runs", "24", "--kills", "4",
                           "--throughput-runs", "0", "--seed", "1"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=here)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "every side effect exactly once" in done.stdout


def test_a_bad_queue_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not a PostgreSQL URL.*AGENTRT_QUEUE"):
        RunQueue(str(tmp_path / "queue.sqlite"))
    unreachable = RunQueue("postgresql://ada:s3cret@127.0.0.1:1/runs")
    with pytest.raises(ConfigError, match=r"Cannot reach .*ada:\*\*\*@127\.0\.0\.1:1/runs.*PostgreSQL runs there") \
            as caught:
        unreachable.submit("Pay 5.")
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ConfigError, match="Cannot reach .*localhost:port/runs.*invalid literal"):
        RunQueue("postgresql://ada@localhost:port/runs").submit("Pay 5.")
    with pytest.raises(ConfigError, match="concurrency=1.*start fewer workers"):
        unreachable.work(concurrency=1)


def test_the_worker_command_drains_an_empty_queue_and_exits(fresh_database):
    done = subprocess.run([sys.executable, "-m", "agentrt.cli", "worker", "--queue", fresh_database, "--drain"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "taking runs from" in done.stderr
