"""Traces: every run's events as versioned records on RunResult.trace and in `--trace` files,
readable even when the run was killed while writing one."""

import json
import signal
import subprocess
import sys
import time

import pytest

from agentrt import Agent, ConfigError
from agentrt.testing import ScriptedLLM
from agentrt.trace import TRACE_VERSION, TraceRecord, read_trace

from .conftest import answer, plan, replan


def test_a_run_hands_back_its_trace_in_event_order():
    llm = ScriptedLLM([plan(("calculator", {"expression": "2+2"})), replan("check"),
                       plan(("final_answer", {"answer": "$1"}), first=2)])
    result = Agent(model=llm, store=":memory:").run("2+2?")
    kinds = [r["kind"] for r in result.trace]
    assert kinds[0] == "run_started" and kinds[-1] == "answer" and "replan" in kinds
    assert kinds.count("model_call") == 3  # two plans and the joiner's decision
    assert all(r["v"] == TRACE_VERSION for r in result.trace)
    times = [r["t"] for r in result.trace]
    assert times == sorted(times)
    end = result.trace[-1]
    assert (end["answer"], end["run_id"], end["prompt_tokens"]) == ("4", result.run_id, result.prompt_tokens)
    for record in result.trace:
        TraceRecord.validate_python(record)
    json.dumps(result.trace)  # plain JSON all through


def test_a_bad_line_or_version_is_refused_naming_the_line(tmp_path):
    result = Agent(model=ScriptedLLM([plan(("final_answer", {"answer": "hi"}))]), store=":memory:").run("hi")
    lines = [json.dumps(r) for r in result.trace]
    path = tmp_path / "trace.jsonl"
    path.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    with pytest.raises(ConfigError, match=r"trace.jsonl:2: not a JSON trace record"):
        read_trace(path)
    path.write_text(json.dumps({**result.trace[0], "v": 99}) + "\n")
    with pytest.raises(ConfigError, match="version 99"):
        read_trace(path)
    path.write_text(json.dumps({**result.trace[0], "kind": "mystery"}) + "\n")
    with pytest.raises(ConfigError, match=r"trace.jsonl:1: not a valid trace record"):
        read_trace(path)


@pytest.mark.model
def test_the_trace_of_a_killed_run_of_the_default_model_is_readable(tmp_path):
    path = tmp_path / "trace.jsonl"
    # a think step keeps the model busy for seconds after it starts: the kill lands mid-run
    run = subprocess.Popen([sys.executable, "-m", "agentrt.cli", "run", "Why is the sky blue?", "--trace", str(path),
                            "--store", str(tmp_path / "runs.sqlite")], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (path.exists() and "step_started" in path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait()
    records = read_trace(path)
    assert records[0]["kind"] == "run_started" and "step_started" in [r["kind"] for r in records]
    shown = subprocess.run([sys.executable, "-m", "agentrt.cli", "trace", str(path)], capture_output=True, text=True)
    assert shown.returncode == 0 and "cut short" in shown.stdout


@pytest.mark.model
def test_cli_trace_file_holds_the_whole_run(tmp_path):
    path = tmp_path / "trace.jsonl"
    done = subprocess.run([sys.executable, "-m", "agentrt.cli", "run", "What is 17 * 23 + 4?", "--trace", str(path),
                           "--store", str(tmp_path / "runs.sqlite")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    records = read_trace(path)
    assert records[-1]["kind"] == "answer" and records[-1]["answer"] in done.stdout
    calls = [r for r in records if r["kind"] == "model_call"]
    assert calls and calls[0]["call"]["purpose"] == "plan" and calls[0]["call"]["messages"][-1]["content"]
