"""Retrieval inside runs: passages reach the planner and think prompts, and the run record."""

import subprocess
import sys
from pathlib import Path

import pytest

from agentrt import Agent
from agentrt.knowledge import KnowledgeBase
from agentrt.testing import HashingEmbedder, ScriptedLLM

from .conftest import plan

EXAMPLE_DOCS = Path(__file__).parent.parent / "examples" / "docs"


@pytest.fixture
def hashed_kb(tmp_path) -> KnowledgeBase:
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    kb.add(EXAMPLE_DOCS)
    return kb


def test_passages_reach_the_plan_and_think_prompts_and_the_record(hashed_kb):
    llm = ScriptedLLM([
        plan(("think", {"question": "What does a transfer abroad cost?"}), ("final_answer", {"answer": "$1"})),
        "3 euros plus 0.5 percent.",
    ])
    result = Agent(model=llm, knowledge=hashed_kb, top_k=2).run("Fee for a transfer abroad?")
    plan_prompt, think_prompt = llm.prompts()
    assert "flat fee of 3 euros" in plan_prompt and "flat fee of 3 euros" in think_prompt
    plan_passages = result.model_calls[0].passages
    assert len(plan_passages) == 2 and plan_passages[0].title == "Fee policy of Fjord Bank"
    think = result.steps[0]
    assert think.passages[0].source.endswith("fees.md") and think.passages[0].score > 0
    assert think.model_call.passages == think.passages


def test_search_knowledge_tool_returns_passages_with_sources_and_scores(hashed_kb):
    llm = ScriptedLLM([plan(("search_knowledge", {"query": "savings account interest"}), ("final_answer", {"answer": "$1"}))])
    result = Agent(model=llm, knowledge=hashed_kb, top_k=0).run("Savings interest?")
    search = result.steps[0]
    assert search.status == "ok" and search.passages[0].title == "Savings account"
    assert search.value[0]["title"] == "Savings account" and "score" in search.value[0]
    assert "[Savings account] The savings account pays 3.2 percent" in search.observation
    assert "Passages from the user's documents" not in llm.prompts()[0]  # top_k=0: none in prompts
    # a str parameter referencing a structured result gets the result's text
    assert result.answer.startswith("[Savings account] The savings account pays")


def test_without_a_knowledge_base_there_is_no_search_tool_and_no_passages():
    llm = ScriptedLLM([plan(("final_answer", {"answer": "hi"}))])
    agent = Agent(model=llm)
    assert "search_knowledge" not in agent.tools
    assert agent.run("hi").model_calls[0].passages == []


@pytest.mark.model
def test_real_embedder_and_default_model_ground_a_step_in_the_documents(default_llm, tmp_path):
    kb = KnowledgeBase.create(tmp_path / "kb")
    kb.add(EXAMPLE_DOCS)
    result = Agent(model=default_llm, knowledge=kb).run("How much does a transfer abroad cost at Fjord Bank?")
    top = result.model_calls[0].passages[0]
    assert top.source.endswith("fees.md")
    assert "flat fee of 3 euros" in result.model_calls[0].messages[-1].content
    think_steps = [s for s in result.steps if s.tool == "think"]
    assert think_steps, f"expected a reasoning step, got plan {result.plan}"
    step = think_steps[0]
    assert step.passages and step.passages[0].source.endswith("fees.md")
    assert "flat fee of 3 euros" in step.model_call.messages[-1].content


@pytest.mark.model
def test_cli_index_then_search_on_the_example_folder(tmp_path):
    kb = tmp_path / "kb"
    index = subprocess.run([sys.executable, "-m", "agentrt.cli", "index", str(EXAMPLE_DOCS), "--kb", str(kb)],
                           capture_output=True, text=True)
    assert index.returncode == 0, index.stderr
    assert "indexed 5 documents from 4 files into 5 chunks" in index.stdout
    search = subprocess.run([sys.executable, "-m", "agentrt.cli", "search", "--kb", str(kb), "-k", "1",
                             "when do branches open on Saturday"], capture_output=True, text=True)
    assert search.returncode == 0, search.stderr
    assert "opening_hours" in search.stdout


@pytest.mark.model
def test_cli_index_of_an_empty_folder_says_nothing_was_readable_and_leaves_no_base(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "image.png").write_bytes(b"\x89PNG")
    out = subprocess.run([sys.executable, "-m", "agentrt.cli", "index", str(tmp_path / "empty"), "--kb",
                          str(tmp_path / "kb")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "No readable documents in" in out.stderr and "image.png: unsupported type '.png'" in out.stderr
    assert not (tmp_path / "kb").exists()
