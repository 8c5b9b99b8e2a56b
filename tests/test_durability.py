"""Durable runs: every run is stored as it goes and resumes after a crash, never repeating a
finished tool call; the fault-injection benchmark kills real processes."""

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agentrt import Agent, ConfigError, UnsafeResume, tool
from agentrt.context import idempotency_key
from agentrt.memory import ExperienceMemory
from agentrt.store import RunStore
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan, replan

ROOT = Path(__file__).resolve().parent.parent
CHECKOUT = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
"""The environment in which a script run from benchmarks/ imports this checkout's agentrt."""


class Effects:
    """Side effects the test tools had, by name."""

    def __init__(self) -> None:
        self.log: list[str] = []


def tools_for(effects: Effects, *, block: asyncio.Event | None = None):
    @tool(idempotent=False)
    def pay(amount: int) -> str:
        """Pay `amount`: a side effect that must not happen twice.

        Args:
            amount: how much
        """
        effects.log.append(f"pay {amount}")
        return f"paid {amount}"

    @tool(idempotent=True)
    async def fetch(key: str) -> str:
        """Read `key`; safe to repeat. Waits on `block` when given, to stand for a long call.

        Args:
            key: what to read
        """
        effects.log.append(f"fetch {key} {idempotency_key()}")
        if block is not None:
            await block.wait()
        return f"value of {key}"

    @tool(idempotent=False)
    async def slow_pay(amount: int) -> str:
        """Pay `amount`, slowly: interrupted runs stop in the middle of it.

        Args:
            amount: how much
        """
        effects.log.append(f"slow_pay {amount}")
        await asyncio.Event().wait()
        return "never"

    return [pay, fetch, slow_pay]


def interrupted(agent: Agent, instruction: str, finished: int = 0) -> str:
    """Start a run and cancel it once a blocking step has started and `finished` other steps have
    finished, as a crash would stop it (the store then holds the blocking one as running);
    returns the run id."""
    async def go() -> str:
        events = agent.astream(instruction)
        run_id, blocked, done = "", False, 0
        async for event in events:
            run_id = getattr(event, "run_id", run_id)
            blocked = blocked or (event.kind == "step_started" and event.step.tool in ("slow_pay", "fetch"))
            done += event.kind == "step_finished"
            if blocked and done >= finished:
                await asyncio.sleep(0.05)
                break
        await events.aclose()
        return run_id

    return asyncio.run(go())


def test_every_run_is_stored_with_its_steps_and_result(store_location):
    store = RunStore(store_location)
    llm = ScriptedLLM([plan(("calculator", {"expression": "6*7"}), ("final_answer", {"answer": "$1"}))])
    result = Agent(model=llm, store=store).run("6*7?")
    saved = store.load(result.run_id)
    assert saved.status == "finished" and saved.result == result
    assert sorted(saved.done) == [1, 2] and saved.done[1].value == 42 and len(saved.calls) == 1
    assert store.load(result.run_id[:5]).id == result.run_id  # a unique prefix is enough
    assert Agent(model=ScriptedLLM(), store=store).resume(result.run_id) == result  # nothing to do


def test_a_resumed_run_goes_on_from_its_last_finished_step_without_repeating_it(store_location):
    store, effects, gate = RunStore(store_location), Effects(), asyncio.Event()
    steps = plan(("pay", {"amount": 5}), ("fetch", {"key": "k"}), ("final_answer", {"answer": "$1, $2"}))
    first = Agent(model=ScriptedLLM([steps]), tools=tools_for(effects, block=gate), store=store)
    run_id = interrupted(first, "pay and fetch", finished=1)
    store.close()
    store = RunStore(store_location)  # what another process (a worker) opens to resume the run
    assert "pay 5" in effects.log and store.load(run_id).status == "failed"
    assert [s.id for s in store.load(run_id).interrupted] == [2]

    resumed = Agent(model=ScriptedLLM(), tools=tools_for(effects), store=store).resume(run_id)
    assert resumed.answer == "paid 5, value of k" and resumed.run_id == run_id
    assert sorted(e.split()[0] for e in effects.log) == ["fetch", "fetch", "pay"]  # pay once; fetch re-run
    fetches = [e for e in effects.log if e.startswith("fetch")]
    assert fetches[0].split()[-1] == fetches[1].split()[-1] == f"{run_id}:2"  # same idempotency key
    assert store.load(run_id).status == "finished"


def test_an_interrupted_step_with_side_effects_is_not_rerun_unless_the_caller_says(store_location):
    store, effects = RunStore(store_location), Effects()
    steps = plan(("slow_pay", {"amount": 9}), ("final_answer", {"answer": "$1"}))
    run_id = interrupted(Agent(model=ScriptedLLM([steps]), tools=tools_for(effects), store=store), "pay")
    again = Agent(model=ScriptedLLM(), tools=tools_for(effects), store=store)
    with pytest.raises(UnsafeResume, match=r"Step 1 .*slow_pay.* not idempotent.*--rerun") as caught:
        again.resume(run_id)
    assert caught.value.step_id == 1 and effects.log == ["slow_pay 9"]
    llm = ScriptedLLM([answer("The payment may not have gone through.")])
    failed = Agent(model=llm, tools=tools_for(effects), store=store, max_replans=0).resume(run_id, unfinished="fail")
    assert failed.steps[0].status == "error" and "not idempotent" in failed.steps[0].observation
    assert "not idempotent" in llm.prompts()[0]  # the joiner saw why
    assert effects.log == ["slow_pay 9"]


def test_a_repeated_call_runs_again_unless_its_tool_is_idempotent(tmp_path):
    """A plan that asks twice is obeyed; an idempotent call's result is simply reused."""
    effects = Effects()
    llm = ScriptedLLM([plan(("pay", {"amount": 3}), ("fetch", {"key": "k"})), replan("check again"),
                       plan(("pay", {"amount": 3}), ("fetch", {"key": "k"}), ("final_answer", {"answer": "$4"}),
                            first=3)])
    result = Agent(model=llm, tools=tools_for(effects), store=tmp_path / "runs.sqlite").run("pay 3 twice")
    assert sorted(e.split(" ")[0] for e in effects.log) == ["fetch", "pay", "pay"]  # siblings in any order
    assert result.answer == "value of k" and result.steps[3].duration_s == 0.0


def test_a_tool_runs_only_once_the_store_holds_that_its_step_started(store_location):
    store = RunStore(store_location)
    seen = []

    @tool(idempotent=False)
    def send(to: str) -> str:
        """Send a message: a side effect."""
        run_id, step_id = idempotency_key().split(":")
        seen.append((int(step_id), [s.id for s in store.load(run_id).interrupted]))
        return f"sent to {to}"

    llm = ScriptedLLM([plan(("send", {"to": "Ada"}), ("send", {"to": "Bob"})), answer("sent")])
    Agent(model=llm, tools=[send], store=store).run("Message Ada and Bob")
    assert len(seen) == 2 and all(step in running for step, running in seen)  # a crash now would be known


def test_journal_writes_happen_off_the_event_loop_and_a_failed_one_ends_the_run(store_location, monkeypatch):
    import threading

    store = RunStore(store_location)
    writers = set()
    transaction = store._db.transaction

    def watched():
        writers.add(threading.current_thread().name)
        return transaction()

    monkeypatch.setattr(store._db, "transaction", watched)
    Agent(model=ScriptedLLM([plan(("calculator", {"expression": "6*7"})), answer("42")]), store=store).run("6*7?")
    assert writers - {threading.current_thread().name} == {"agentrt-store"}  # begin() alone runs on the caller's

    def broken(self, db, step_id):
        raise sqlite3.OperationalError("disk I/O error")

    from agentrt.store import RunJournal

    monkeypatch.setattr(RunJournal, "_started", broken)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        Agent(model=ScriptedLLM([plan(("calculator", {"expression": "6*7"})), answer("42")]), store=store).run("6*7?")


def test_a_store_no_one_writes_to_holds_no_writer_thread():
    """Many short-lived agents (an eval builds one per item) must not leave a thread, and with it
    their store, behind each."""
    import threading
    import time

    for _ in range(5):
        Agent(model=ScriptedLLM([plan(("calculator", {"expression": "1+1"})), answer("2")]), store=":memory:").run("2")
    deadline = time.monotonic() + 5
    while any(t.name == "agentrt-store" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(t.name == "agentrt-store" for t in threading.enumerate())


def test_an_unreadable_store_or_unknown_run_is_a_clear_error(tmp_path):
    bad = tmp_path / "runs.sqlite"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigError, match="not a readable run store.*move it aside"):
        RunStore(bad)
    with pytest.raises(ConfigError, match="no run .* starting with 'nope'"):
        RunStore(tmp_path / "other.sqlite").load("nope")


def test_idempotency_key_outside_a_run_is_a_clear_error():
    with pytest.raises(ConfigError, match="only known inside a tool call"):
        idempotency_key()


def test_killed_runs_and_index_jobs_resume_with_every_side_effect_exactly_once():
    """The fault-injection benchmark, small: real processes, SIGKILL at random points."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "durability.py"), "--runs", "6",
                           "--index-jobs", "4", "--seed", "1"], capture_output=True, text=True, timeout=600,
                          env=CHECKOUT)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "every side effect exactly once" in done.stdout and "opened and searched" in done.stdout


def test_runs_killed_at_random_resume_from_a_postgresql_store_with_every_side_effect_once(fresh_database):
    """The same, with every run's journal in one PostgreSQL database that each new process reopens."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "durability.py"), "--runs", "3",
                           "--index-jobs", "0", "--seed", "2", "--store", fresh_database],
                          capture_output=True, text=True, timeout=600, env=CHECKOUT)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "3 runs" in done.stdout and "every side effect exactly once" in done.stdout
    # and the run that timed the kill window, unkilled
    assert [run.status for run in RunStore(fresh_database).runs(10)] == ["finished"] * 4


@pytest.mark.model
def test_a_run_of_the_default_model_is_stored_and_resumes_to_the_same_answer(default_llm, tmp_path):
    store = RunStore(tmp_path / "runs.sqlite")
    result = Agent(model=default_llm, store=store).run("What is 17 * 23 + 4?")
    assert result.answer.strip().rstrip(".").endswith("395")
    with sqlite3.connect(store.path) as db:  # mark the last step unfinished, as a crash there would
        db.execute("UPDATE steps SET state = 'running', result = NULL WHERE id = (SELECT MAX(id) FROM steps)")
        db.execute("UPDATE runs SET status = 'running', result = NULL")
    resumed = Agent(model=default_llm, store=store).resume(result.run_id)
    assert resumed.answer == result.answer and [s.value for s in resumed.steps] == [s.value for s in result.steps]
    assert [c.purpose for c in resumed.model_calls] == [c.purpose for c in result.model_calls]


@pytest.mark.model
def test_the_default_model_keeps_its_runs_and_memory_in_postgresql_and_resumes_there(default_llm, fresh_database):
    with Agent(model=default_llm, store=fresh_database, memory=fresh_database) as agent:
        result = agent.run("What is 17 times 23, plus 4?")
    assert result.answer.strip().rstrip(".").endswith("395")
    store = RunStore(fresh_database)
    assert store.load(result.run_id).result == result and len(ExperienceMemory(fresh_database)) == 1
    with store._db.transaction() as db:  # the last step unfinished, as a crash there would leave it
        db.execute("UPDATE steps SET state = 'running', result = NULL WHERE id = (SELECT MAX(id) FROM steps)")
        db.execute("UPDATE runs SET status = 'running', result = NULL")
    resumed = Agent(model=default_llm, store=fresh_database).resume(result.run_id)  # a worker elsewhere, say
    assert resumed.answer == result.answer and [s.value for s in resumed.steps] == [s.value for s in result.steps]
    assert store.load(result.run_id).status == "finished"
