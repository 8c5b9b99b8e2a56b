"""A knowledge base on PostgreSQL + pgvector, against a real server (the `fresh_database`
fixture): the same passages as the FAISS one, changes seen by every opener, errors that say what
to fix. The real default model answers from it at the end."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from agentrt import ConfigError, KnowledgeBase, run_script
from agentrt.cli import main
from agentrt.config import AgentConfig
from agentrt.embeddings import default_embedder
from agentrt.database import hide_password
from agentrt.testing import HashingEmbedder

ROOT = Path(__file__).parent.parent
EXAMPLE_DOCS = ROOT / "examples" / "docs"
QUERIES = [
    "How much does a transfer abroad cost?", "When do branches open on Saturday?", "savings account interest",
    "What happens when a process is killed while indexing?", "How is a tool call kept from running twice?",
    "Which sandbox confines Python code?", "How do I see a run's trace?", "recall of HNSW against exact search",
    "Where is the run store kept?", "Can the agent read files outside the workspace?",
]


class EmbeddedOnce:
    """The real embedder (all-MiniLM-L6-v2, from its wheel), each text embedded once: both bases
    get the same vectors without paying for them twice."""

    def __init__(self) -> None:
        self.real = default_embedder()
        self.name, self.dim = self.real.name, self.real.dim
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, texts):
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        self.vectors.update(zip(new, self.real.embed(new), strict=True))
        return np.stack([self.vectors[t] for t in texts])


def test_the_same_documents_give_the_same_passages_as_the_faiss_knowledge_base(fresh_database, tmp_path):
    embedder = EmbeddedOnce()
    bases = [KnowledgeBase.create(tmp_path / "kb", embedder=embedder),
             KnowledgeBase.create(fresh_database, embedder=embedder)]
    for kb in bases:
        kb.add(EXAMPLE_DOCS, *(ROOT / "docs" / name for name in ("architecture.md", "durability.md", "trace.md")))
    faiss_kb, pg_kb = bases
    assert len(pg_kb) == len(faiss_kb) > 40 and pg_kb.sources() == faiss_kb.sources()
    for query in QUERIES:
        expected, found = faiss_kb.search(query, k=10), pg_kb.search(query, k=10)
        assert [(p.source, p.position) for p in found] == [(p.source, p.position) for p in expected], query
        assert np.allclose([p.score for p in found], [p.score for p in expected], atol=1e-5)
        assert found[0].text == expected[0].text and found[0].title == expected[0].title


def test_add_replace_delete_and_reopen_keep_the_database_right(fresh_database, tmp_path):
    (tmp_path / "hours.txt").write_text("The office opens at nine and closes at five on weekdays.")
    (tmp_path / "fees.md").write_text("# Fee policy\n\nTransfers abroad cost a flat fee of 3 euros.")
    kb = KnowledgeBase.create(fresh_database, embedder=HashingEmbedder(), chunk_size=500, chunk_overlap=50)
    progress: list[tuple[int, int]] = []
    report = kb.add(tmp_path, "Refunds arrive within ten working days.", progress=lambda *p: progress.append(p))
    assert (report.files, report.documents, report.chunks, progress[-1]) == (2, 3, 3, (3, 3))
    kb.add(tmp_path / "hours.txt")  # indexed again: replaced, not doubled
    assert len(kb) == 3 and kb.sources() == sorted(kb.sources())
    refunds = kb.search("refunds working days", k=1)[0]
    assert refunds.title.startswith("Refunds") and 0 < refunds.score <= 1.0
    assert kb.delete(refunds.source) == 1 and kb.delete(refunds.source) == 0
    kb.save()
    kb.close()

    reopened = KnowledgeBase.open(fresh_database, embedder=HashingEmbedder())
    assert reopened.settings == {"embedder": "hashing-256", "dim": "256", "chunk_size": "500", "chunk_overlap": "50"}
    assert [p.title for p in reopened.search("transfers abroad fee", k=10)][0] == "Fee policy"
    assert len(reopened.search("office", k=500)) == 2  # above the default ef_search: raised for this query
    assert len(reopened.search("office", k=5000)) == 2  # past pgvector's largest ef_search: exact, all rows
    with pytest.raises(ConfigError, match="already holds a knowledge base"):
        KnowledgeBase.create(fresh_database, embedder=HashingEmbedder())
    with pytest.raises(ConfigError, match="built with chunk size 500 and overlap 50"):
        KnowledgeBase.open_or_create(fresh_database, embedder=HashingEmbedder())
    with pytest.raises(ConfigError, match="built with embedder 'hashing-256', not 'hashing-32'"):
        KnowledgeBase.open(fresh_database, embedder=HashingEmbedder(32))
    reopened.destroy()
    with pytest.raises(ConfigError, match="No knowledge base at .*agentrt index DOCS --kb"):
        KnowledgeBase.open(fresh_database)


def test_every_opener_of_the_url_sees_the_others_changes_while_threads_share_one(fresh_database):
    """Three app processes open one URL (a connection each): two add documents at once while the
    agent's pools in the third search."""
    writer = KnowledgeBase.create(fresh_database, embedder=HashingEmbedder())
    other_writer = KnowledgeBase.open(fresh_database, embedder=HashingEmbedder())
    reader = KnowledgeBase.open(fresh_database, embedder=HashingEmbedder())
    writer.add("refunds are paid within 14 days")
    assert reader.search("refunds", k=1)[0].text == "refunds are paid within 14 days"
    errors: list[BaseException] = []

    def guarded(work):
        def run():
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever a thread hit
                errors.append(exc)
        return threading.Thread(target=run)

    def search():
        for _ in range(20):
            assert reader.search("refunds", k=3)[0].text.startswith("refunds")

    def add(kb, start):
        for n in range(start, start + 10):
            kb.add(f"note number {n} about shipping")

    threads = [guarded(search) for _ in range(3)] + [guarded(lambda kb=kb, s=s: add(kb, s))
                                                     for kb, s in ((writer, 0), (other_writer, 100))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(reader) == 21 and len(reader.search("shipping", k=50)) == 21


def test_the_command_line_indexes_into_and_searches_a_url_and_leaves_no_empty_base(fresh_database, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["index", str(tmp_path / "empty"), "--kb", fresh_database]) == 2
    assert "No readable documents" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="No knowledge base at"):
        KnowledgeBase.open(fresh_database)
    assert main(["index", str(EXAMPLE_DOCS), "--kb", fresh_database]) == 0
    out = capsys.readouterr().out
    assert "indexed 5 documents from 4 files into 5 chunks; 5 chunks in postgresql://" in out and "(hnsw index)" in out
    assert main(["search", "--kb", fresh_database, "-k", "1", "when do branches open on Saturday"]) == 0
    assert "opening_hours" in capsys.readouterr().out


def test_an_unreachable_server_is_named_with_its_password_hidden_and_the_fix():
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://agent:s3cret@127.0.0.1:{port}/kb"
    with pytest.raises(ConfigError) as caught:
        KnowledgeBase.open(url)
    message = str(caught.value)
    assert f"Could not connect to the knowledge base postgresql://agent:***@127.0.0.1:{port}/kb" in message
    assert "s3cret" not in message and "Is the server running" in message


def test_a_missing_database_or_a_malformed_url_says_what_to_fix(fresh_database):
    missing = fresh_database.replace("/t_", "/nowhere_t_", 1)
    with pytest.raises(ConfigError, match=r'database "nowhere_t_.*" does not exist\). Create it \(createdb nowhere_t_'):
        KnowledgeBase.create(missing, embedder=HashingEmbedder())
    with pytest.raises(ConfigError, match=r"postgresql://agent:\*\*\*@db/kb\?.*Is the server running") as caught:
        KnowledgeBase.open("postgresql://agent:s3cret@db/kb?no_such_option=1")
    assert "s3cret" not in str(caught.value)


def test_a_database_without_pgvector_that_the_user_may_not_add_says_how_to_add_it(fresh_database):
    import psycopg

    role = f"kb_reader_{os.getpid()}"
    as_role = fresh_database.replace("//postgres:@", f"//{role}:@", 1)
    with psycopg.connect(fresh_database, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        try:
            with pytest.raises(ConfigError, match=r"has no pgvector extension, and adding it failed \(permission "
                                                  r"denied.*run `CREATE EXTENSION vector` in that database"):
                KnowledgeBase.create(as_role, embedder=HashingEmbedder())
        finally:
            admin.execute(f"DROP ROLE {role}")


def test_urls_are_shown_without_passwords_and_left_alone_by_scripts(tmp_path):
    assert hide_password("postgresql://app:s3cret@db:5433/kb?sslmode=require") == "postgresql://app:***@db:5433/kb?sslmode=require"
    assert hide_password("postgresql://app@db/kb?password=s3cret&host=/run/pg") == "postgresql://app@db/kb?password=***&host=/run/pg"
    config = AgentConfig(knowledge="postgresql://app@db/kb", memory="memory.sqlite").relative_to(tmp_path)
    assert config.knowledge == "postgresql://app@db/kb" and config.memory == str(tmp_path / "memory.sqlite")


@pytest.mark.model
def test_the_default_model_answers_from_a_passage_retrieved_from_postgres(default_llm, fresh_database, tmp_path):
    kb = KnowledgeBase.create(fresh_database)
    kb.add(EXAMPLE_DOCS)
    kb.close()
    script = tmp_path / "bank.md"
    script.write_text(f'---\nknowledge: "{fresh_database}"\nstore: ":memory:"\n---\n'
                      "1. How much does a transfer abroad cost at Fjord Bank?\n")
    [result] = run_script(script, llm=default_llm)
    top = result.model_calls[0].passages[0]
    assert top.source.endswith("fees.md") and "flat fee of 3 euros" in result.model_calls[0].messages[-1].content
    think_steps = [s for s in result.steps if s.tool == "think"]
    assert think_steps, f"expected a reasoning step, got plan {result.plan}"
    assert think_steps[0].passages[0].source.endswith("fees.md")
    assert "flat fee of 3 euros" in think_steps[0].model_call.messages[-1].content
