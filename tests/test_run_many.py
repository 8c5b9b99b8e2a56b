"""Many runs at once on one model: `Agent.run_many`, `arun_many` and `agentrt run-batch`."""

import json
import re
import subprocess
import sys
import threading
import time

import pytest

from agentrt import Agent, ConfigError, ModelOutputError
from agentrt.batch import read_batch
from agentrt.llm import GenerationRequest
from agentrt.testing import ScriptedLLM

from .conftest import plan


class ConcurrencyProbe(ScriptedLLM):
    """Plans `calculator(N*2)` for "double N", fails on "break", and records how many plans overlap."""

    def __init__(self) -> None:
        super().__init__(latency_s=0.05)
        self.active = self.most_active = 0
        self._lock = threading.Lock()

    def generate(self, requests):
        self.enqueue(*[self.reply(r) for r in requests])
        return super().generate(requests)

    def generate_streaming(self, request, on_text):
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            return super().generate_streaming(request, on_text)
        finally:
            with self._lock:
                self.active -= 1

    @staticmethod
    def reply(request: GenerationRequest) -> str | dict:
        task = request.messages[-1].content
        if "break" in task:
            return "not json"
        number = re.findall(r"double (\d+)", task)[-1]
        return plan(("calculator", {"expression": f"{number}*2"}), ("final_answer", {"answer": "$1"}))


def test_run_many_returns_results_in_order_with_failures_in_their_place():
    llm = ConcurrencyProbe()
    outcomes = Agent(model=llm).run_many(["double 1", "double 2", "break it", "double 4"], concurrency=3)
    assert [o.answer for o in outcomes if not isinstance(o, Exception)] == ["2", "4", "8"]
    assert isinstance(outcomes[2], ModelOutputError)
    assert 1 < llm.most_active <= 3  # runs overlapped, never more than the concurrency


def test_64_agents_sharing_one_model_and_one_store_all_finish(tmp_path):
    import asyncio

    from agentrt.store import RunStore

    llm, store = ConcurrencyProbe(), RunStore(tmp_path / "runs.sqlite")
    agents = [Agent(model=llm, store=store) for _ in range(64)]

    async def together():
        runs = [agent.arun(f"double {i}") for i, agent in enumerate(agents)]
        return await asyncio.wait_for(asyncio.gather(*runs), timeout=120)  # a deadlock fails here

    results = asyncio.run(together())
    assert [r.answer for r in results] == [str(2 * i) for i in range(64)]
    assert llm.most_active > 1 and {r.status for r in store.runs(limit=100)} == {"finished"}


def test_concurrency_must_be_positive():
    with pytest.raises(ConfigError, match="concurrency=0"):
        Agent(model=ScriptedLLM()).run_many(["double 1"], concurrency=0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"instruction": "ok"}\n{"instructions": "typo"}\n', r"batch.jsonl:2: .*instruction"),
        ('{"instruction": "a", "id": 1}\n{"instruction": "b", "id": 1}\n', "repeated: 1"),
        ("not json\n", r"batch.jsonl:1:"),
        ("\n", "holds no instructions"),
    ],
)
def test_a_bad_instruction_file_is_refused_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "batch.jsonl"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_batch(path)


@pytest.mark.model
def test_run_many_on_the_default_model_batches_the_runs_model_calls(default_llm):
    before = default_llm.batches.batch_sizes.copy()
    outcomes = Agent(model=default_llm).run_many(["What is 6 times 7?", "What is 9 times 9?", "What is 3 plus 4?"],
                                                 concurrency=3)
    assert all(not isinstance(o, Exception) and o.answer for o in outcomes), outcomes
    ran = default_llm.batches.batch_sizes - before
    assert max(ran) > 1, ran  # at least one batch served several runs at once


@pytest.mark.model
def test_run_batch_cli_writes_results_as_they_finish_and_resumes(tmp_path):
    instructions = tmp_path / "batch.jsonl"
    instructions.write_text('{"instruction": "What is 6 times 7?", "id": "six"}\n{"instruction": "What is 5 plus 5?"}\n')
    results = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "agentrt.cli", "run-batch", str(instructions), "--concurrency", "2",
               "--out", str(results)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(str(r["id"]) for r in records) == ["2", "six"]
    assert all(r["answer"] and r["completion_tokens"] > 0 for r in records)
    assert "2 runs in" in first.stderr
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "already in" in again.stderr
    assert len(results.read_text().splitlines()) == 2  # nothing was run twice


def test_instruction_lines_may_hold_unicode_line_separators_inside_strings(tmp_path):
    path = tmp_path / "batch.jsonl"
    path.write_text('{"instruction": "first\u2028still first"}\r\n{"instruction": "second\x85"}\n', encoding="utf-8")
    assert [item.instruction for item in read_batch(path)] == ["first\u2028still first", "second\x85"]
