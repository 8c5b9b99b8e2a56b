"""The stores' databases: SQLite or a real PostgreSQL server, brought to the current schema by
versioned migrations, and clear errors when one cannot be opened."""

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from agentrt import Agent, AgentConfig, ConfigError, RunStore
from agentrt.database import hide_password
from agentrt.memory import ExperienceMemory
from agentrt.store import _SCHEMA as RUNS
from agentrt.testing import HashingEmbedder, ScriptedLLM

from .conftest import answer, plan

CLI = [sys.executable, "-m", "agentrt.cli"]
UNREACHABLE = "postgresql://ada:s3cret@127.0.0.1:1/agents"
"""A server no one runs (port 1), with a password that must not show."""


def versions(store: RunStore) -> dict[str, int]:
    with store._db.read() as db:
        return dict(db.execute("SELECT name, version FROM schema_version").fetchall())


def calculation(store: RunStore | str, expression: str = "6*7") -> str:
    """Run one calculation into `store`; its run id."""
    llm = ScriptedLLM([plan(("calculator", {"expression": expression})), answer("done")])
    return Agent(model=llm, store=store).run(f"{expression}?").run_id


def test_a_new_database_gets_every_migration_and_reopening_it_runs_none_again(store_location):
    store = RunStore(store_location)
    memory = ExperienceMemory(store_location, embedder=HashingEmbedder())  # one database for both
    run_id = calculation(store)
    assert versions(store) == {"runs": len(RUNS.migrations), "memory": 1}
    store.close()
    memory.close()
    with pytest.raises((sqlite3.ProgrammingError, psycopg.OperationalError), match="closed"):
        store.runs()  # a closed store stays closed
    again = RunStore(store_location)
    assert versions(again) == {"runs": len(RUNS.migrations), "memory": 1}
    assert again.load(run_id).status == "finished" and len(ExperienceMemory(store_location)) == 0


def test_a_store_from_before_schema_versions_is_brought_up_to_date_with_its_runs(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # as agentrt wrote stores before migrations, and the runs in one
        for statement in RUNS.migrations[0]:
            db.execute(statement.replace("DOUBLE PRECISION", "REAL"))
        db.execute("INSERT INTO runs (id, instruction, status, created, updated) VALUES ('r1', 'hi', 'failed', 1, 1)")
    store = RunStore(path)
    assert versions(store) == {"runs": len(RUNS.migrations)} and store.load("r1").instruction == "hi"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = 'runs_by_update'").fetchone()


def test_a_store_a_newer_agentrt_has_migrated_is_refused(store_location):
    store = RunStore(store_location)
    with store._db.transaction() as db:
        db.execute("UPDATE schema_version SET version = 99 WHERE name = 'runs'")
    store.close()
    with pytest.raises(ConfigError, match="schema version 99, newer than this agentrt knows .*pip install -U"):
        RunStore(store_location)


def test_processes_opening_a_new_postgresql_store_together_migrate_it_once(fresh_database):
    opened, failures = [], []

    def open_store() -> None:
        try:
            opened.append(RunStore(fresh_database))
        except Exception as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(6)]  # a connection each, like processes
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures and len(opened) == 6
    run_ids = [calculation(store, f"{n}*2") for n, store in enumerate(opened)]
    assert sorted(run.id for run in opened[0].runs(10)) == sorted(run_ids)


def test_an_unreachable_server_is_a_clear_error_that_hides_the_password():
    with pytest.raises(ConfigError) as caught:
        RunStore(UNREACHABLE)
    message = str(caught.value)
    assert message.startswith("Could not connect to the run store postgresql://ada:***@127.0.0.1:1/agents (")
    assert "Is the server running" in message and "AGENTRT_STORE" in message and "s3cret" not in message
    with pytest.raises(ConfigError, match=r"experience memory postgresql:///agents\?host=127.0.0.1&port=1&"
                                          r"password=\*\*\* \(.*Is the server running"):
        ExperienceMemory("postgresql:///agents?host=127.0.0.1&port=1&password=s3cret")


def test_a_database_the_server_does_not_have_or_a_malformed_url_is_a_clear_error(postgres_url):
    missing = postgres_url.replace("/postgres?", "/no_such_database?", 1)
    with pytest.raises(ConfigError, match='database "no_such_database" does not exist.*createdb no_such_database'):
        RunStore(missing)
    with pytest.raises(ConfigError, match="Could not connect to the run store postgresql://ada:\\*\\*\\*@db:port/x"):
        RunStore("postgresql://ada:s3cret@db:port/x")
    with pytest.raises(ConfigError, match=r"mysql://ada:\*\*\*@db/x is neither a SQLite file nor a postgresql://"):
        RunStore("mysql://ada:s3cret@db/x")


def test_a_user_who_may_not_create_the_tables_is_told_so(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS visitor")
        admin.execute("CREATE ROLE visitor LOGIN")  # since PostgreSQL 15 no one else may create in public
    visitor = fresh_database.replace("postgresql://postgres:@", "postgresql://visitor:@", 1)
    try:
        with pytest.raises(ConfigError, match=r"Could not set up the run store's tables in postgresql://visitor:.*"
                                              r"permission denied for schema public.*allowed to create tables"):
            RunStore(visitor)
    finally:
        with psycopg.connect(fresh_database, autocommit=True) as admin:
            admin.execute("DROP ROLE visitor")


def test_a_postgresql_store_without_psycopg_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"run store postgresql://ada:\*\*\*@.* needs psycopg: "
                                          r"pip install 'agentrt\[postgres\]'"):
        RunStore(UNREACHABLE)


def test_a_dropped_connection_fails_the_operation_under_way_and_the_next_one_reconnects(fresh_database):
    store = RunStore(fresh_database)
    first = calculation(store)
    with psycopg.connect(fresh_database, autocommit=True) as admin:  # as a server restart would
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    with pytest.raises(psycopg.OperationalError):
        store.runs()
    second = calculation(store)
    assert {run.id for run in store.runs()} == {first, second}


def test_hide_password_keeps_everything_but_the_password():
    assert hide_password("postgresql://ada:s3cret@db:5432/agents?sslmode=require") == (
        "postgresql://ada:***@db:5432/agents?sslmode=require")
    assert hide_password("postgresql://ada@db/agents") == "postgresql://ada@db/agents"
    assert hide_password("postgres:///agents?host=/run/pg&password=x") == "postgres:///agents?host=/run/pg&password=***"


def test_a_url_in_a_script_is_not_taken_for_a_file_beside_it():
    config = AgentConfig(store=UNREACHABLE, memory="mem.sqlite").relative_to(Path("/scripts"))
    assert config.store == UNREACHABLE and config.memory == "/scripts/mem.sqlite"


def test_importing_agentrt_or_using_a_sqlite_store_does_not_import_psycopg(tmp_path):
    code = (f"import sys, agentrt; agentrt.RunStore({str(tmp_path / 'runs.sqlite')!r}).runs(); "
            "assert 'psycopg' not in sys.modules, 'psycopg imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_agentrt_runs_lists_a_postgresql_store_and_names_a_bad_one(fresh_database):
    run_id = calculation(fresh_database)
    listed = subprocess.run([*CLI, "runs", "--store", fresh_database], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and listed.stdout.startswith(f"{run_id}  ") and "finished  6*7?" in listed.stdout
    bad = subprocess.run([*CLI, "runs"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "AGENTRT_STORE": UNREACHABLE})
    assert bad.returncode == 2 and "s3cret" not in bad.stderr
    assert "agentrt: error: Could not connect to the run store postgresql://ada:***@" in bad.stderr
