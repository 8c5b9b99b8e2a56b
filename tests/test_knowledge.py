"""Knowledge base logic with the deterministic embedder; the real embedder has its own test."""

import json
from pathlib import Path

import pytest

from agentrt import ConfigError
from agentrt.documents import Document, chunk, read_path
from agentrt.knowledge import KnowledgeBase
from agentrt.knowledge_faiss import build_index
from agentrt.testing import HashingEmbedder


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fees.md").write_text("# Fee policy\n\nTransfers abroad cost a flat fee of 3 euros.\n\nCard payments are free.")
    (folder / "hours.txt").write_text("The office opens at nine and closes at five on weekdays.")
    (folder / "faq.jsonl").write_text(
        json.dumps({"title": "Refunds", "text": "Refunds arrive within ten working days."}) + "\n"
        + "not json\n"
    )
    (folder / "page.html").write_text(
        "<html><head><title>Branches</title><style>p{}</style></head><body><p>Oslo branch.</p><p>Bergen branch.</p></body></html>"
    )
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (folder / "blob.txt").write_bytes(b"abc\x00def")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    return folder


def test_a_folder_is_indexed_and_unreadable_files_are_skipped_with_reasons(tmp_path, docs):
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    report = kb.add(docs)
    assert report.documents == 4  # fees.md, hours.txt, faq.jsonl line 1, page.html
    reasons = {Path(s.source).name: s.reason for s in report.skipped}
    assert "unsupported type '.png'" in reasons["logo.png"]
    assert reasons["blob.txt"] == "binary content"
    assert "not UTF-8" in reasons["latin1.txt"]
    assert "not a {\"title\", \"text\"} JSON object" in reasons["faq.jsonl:2"]
    [best] = kb.search("what fee for transfers abroad", k=1)
    assert best.title == "Fee policy" and "3 euros" in best.text and best.source.endswith("fees.md")
    assert 0 < best.score <= 1.0


def test_search_survives_save_and_reopen_and_delete_removes_a_source(tmp_path, docs):
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    kb.add(docs)
    kb.save()
    kb.close()
    reopened = KnowledgeBase.open(tmp_path / "kb", embedder=HashingEmbedder())
    assert reopened.search("refunds working days", k=1)[0].title == "Refunds"
    refunds_source = reopened.search("refunds", k=1)[0].source
    assert reopened.delete(refunds_source) == 1
    assert all(p.title != "Refunds" for p in reopened.search("refunds working days", k=10))


def test_a_stale_index_file_is_rebuilt_from_the_database(tmp_path, docs):
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    kb.add(docs)
    kb.save()
    kb.add("The cafeteria serves soup on Fridays.")  # committed, but the index file is now old
    kb.close()
    reopened = KnowledgeBase.open(tmp_path / "kb", embedder=HashingEmbedder())
    assert "soup" in reopened.search("cafeteria soup", k=1)[0].text


def test_re_adding_a_source_replaces_its_chunks(tmp_path, docs):
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    kb.add(docs)
    before = len(kb)
    kb.add(docs / "hours.txt")
    assert len(kb) == before


def test_open_and_create_refuse_wrong_directories_with_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="agentrt index DOCS --kb"):
        KnowledgeBase.open(tmp_path / "missing")
    KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    with pytest.raises(ConfigError, match="already holds a knowledge base"):
        KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())


def test_approximate_index_finds_the_same_nearest_neighbours_on_clear_cut_data():
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(2000, dtype=np.int64) + 100
    exact = build_index(ids, vectors, approximate=False)
    approx = build_index(ids, vectors, approximate=True)
    _, exact_ids = exact.search(vectors[:50], 1)
    _, approx_ids = approx.search(vectors[:50], 1)
    assert (exact_ids == ids[:50, None]).all() and (approx_ids == exact_ids).mean() >= 0.95


def test_chunks_respect_paragraphs_then_sentences_and_overlap():
    text = "First para is short.\n\n" + " ".join(f"Sentence number {i} is here." for i in range(30))
    chunks = chunk(Document("s", "t", text), size=120, overlap=40)
    assert chunks[0].text.startswith("First para is short.")
    assert all(len(c.text) <= 120 for c in chunks)
    assert all(c.text.endswith(".") for c in chunks)
    for before, after in zip(chunks[1:], chunks[2:]):
        assert after.text.split(". ")[0] in before.text  # each chunk repeats the previous tail
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_reading_a_missing_path_reports_it(tmp_path):
    [skipped] = list(read_path(tmp_path / "nope"))
    assert skipped.reason == "no such file or directory"


def test_a_corrupted_index_file_is_rebuilt_from_the_database(tmp_path, docs):
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    kb.add(docs)
    kb.save()
    kb.close()
    (tmp_path / "kb" / "index.faiss").write_bytes(b"garbage")
    assert KnowledgeBase.open(tmp_path / "kb", embedder=HashingEmbedder()).search("refunds", k=1)[0].title == "Refunds"


def test_a_corrupted_database_names_the_file_and_the_fix(tmp_path):
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "chunks.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match=r"chunks.sqlite' is not a readable knowledge base.*agentrt index"):
        KnowledgeBase.open(tmp_path / "kb")


def test_opening_with_another_embedder_is_refused(tmp_path):
    KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder(256))
    with pytest.raises(ConfigError, match="built with embedder 'hashing-256', not 'hashing-64'"):
        KnowledgeBase.open(tmp_path / "kb", embedder=HashingEmbedder(64))


def test_a_missing_path_is_an_error_before_anything_is_indexed(tmp_path):
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    with pytest.raises(ConfigError, match="no such file or directory"):
        kb.add(tmp_path / "nope")
    assert len(kb) == 0


def test_a_huge_single_line_is_cut_into_bounded_chunks(tmp_path):
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder(), chunk_size=500, chunk_overlap=50)
    (tmp_path / "one_line.txt").write_text("word " * 20_000)
    report = kb.add(tmp_path / "one_line.txt")
    assert report.chunks >= 200
    assert all(len(p.text) <= 500 for p in kb.search("word", k=50))


def test_a_kill_during_indexing_leaves_the_previous_base_readable(tmp_path, docs):
    import signal
    import subprocess
    import sys
    import time

    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    kb.add(docs)
    kb.save()
    before = len(kb)
    kb.close()
    many = tmp_path / "many"
    many.mkdir()
    for i in range(200):
        (many / f"{i}.txt").write_text(f"document number {i} " * 50)
    slow_indexer = f"""
import time
from pathlib import Path
from agentrt.knowledge import KnowledgeBase
from agentrt.testing import HashingEmbedder

class Slow(HashingEmbedder):
    def embed(self, texts):
        print("embedding", flush=True)
        time.sleep(0.2)
        return super().embed(texts)

kb = KnowledgeBase.open({str(tmp_path / "kb")!r}, embedder=Slow())
kb.add(Path({str(many)!r}))
kb.save()
"""
    process = subprocess.Popen([sys.executable, "-c", slow_indexer], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "embedding"
    time.sleep(0.3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    reopened = KnowledgeBase.open(tmp_path / "kb", embedder=HashingEmbedder())
    assert len(reopened) == before
    assert reopened.search("refunds working days", k=1)[0].title == "Refunds"


def test_plain_texts_are_named_by_content_so_one_never_replaces_another(tmp_path):
    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    kb.add("alpha text")
    kb.add("beta text")
    kb.delete(kb.search("alpha", k=1)[0].source)
    kb.add("gamma text")
    assert sorted(p.text for p in kb.search("text", k=10)) == ["beta text", "gamma text"]
    kb.add("gamma text")
    assert len(kb) == 2


def test_reopening_with_other_chunk_settings_is_refused(tmp_path):
    KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder(), chunk_size=500, chunk_overlap=50)
    with pytest.raises(ConfigError, match="built with chunk size 500 and overlap 50"):
        KnowledgeBase.open_or_create(tmp_path / "kb", embedder=HashingEmbedder(), chunk_size=800)


def test_concurrent_searches_and_adds_neither_fail_nor_lose_chunks(tmp_path):
    """The agent searches from two thread pools (retrieval for prompts, the search_knowledge
    tool) while an app may be adding documents: one base, shared, must stay consistent."""
    import threading

    kb = KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder())
    kb.add("refunds are paid within 14 days")
    errors: list[BaseException] = []

    def guarded(work):
        def run():
            try:
                work()
            except BaseException as exc:  # noqa: BLE001 - the test reports whatever a thread hit
                errors.append(exc)
        return threading.Thread(target=run)

    def search():
        for _ in range(40):
            assert kb.search("refunds", k=3)[0].text.startswith("refunds")

    def add(start):
        for n in range(start, start + 20):
            kb.add(f"note number {n} about shipping")

    threads = [guarded(search) for _ in range(4)] + [guarded(lambda s=s: add(s)) for s in (0, 100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(kb) == 41
    assert len(kb.search("shipping", k=50)) == 41


def test_a_json_lines_record_holding_a_raw_line_separator_stays_one_record(tmp_path):
    """JSON allows U+2028 and U+2029 raw inside strings; str.splitlines() cuts at them."""
    from agentrt.documents import read_file
    from agentrt.jsonl import read_records

    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"title": "Hours", "text": "open 9\u2028to 5"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    [document] = read_file(path)
    assert document.text == "open 9\u2028to 5"
    assert read_records(path) == [{"title": "Hours", "text": "open 9\u2028to 5"}]
