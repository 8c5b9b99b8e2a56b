"""Retrieval benchmarks for the knowledge base, measured side by side in one run.

1. HotpotQA: index the 4,948 paragraphs of shared/benchdata/hotpotqa with the real embedder, query
   with each of the 500 questions, report recall@2/5/10 of the gold supporting titles, dev half
   (first 250) and test half (last 250) separately, for the exact and the HNSW index; and the
   embedding throughput on this machine.
2. Scale: clustered synthetic unit vectors (384-d, like MiniLM's) at 100k and 1M: build time,
   single-query p50/p99 latency, recall@10 of HNSW against exact search, index memory.
3. pgvector: the same HotpotQA paragraphs and questions, and clustered vectors at 100k, in a
   knowledge base on PostgreSQL (`PgvectorStore`): recall@10 against exact search, top-10 overlap
   with what the FAISS knowledge base returns for the same query, gold recall, insert time, p50/p99.

    .venv/bin/python benchmarks/retrieval.py [--sizes 100000 1000000] [--skip-hotpotqa]
                                             [--pgvector-sizes 100000] [--postgres URL]

PostgreSQL: `--postgres URL` (a database holding no knowledge base; its tables are dropped after),
or by default a temporary server from the pgserver wheel (a test dependency).

The data is read from ../shared/benchdata beside the checkout (AGENTRT_BENCHDATA overrides).

Targets (benchmarks/README.md), claimed: HNSW p50 <= 2 ms with recall@10 >= 0.95 against exact
search (stated at 1M vectors; checked at every size run), and HotpotQA recall@10 >= 0.75 for both
indexes on both halves; pgvector's recall@10 against exact search and its top-10 overlap with the
FAISS knowledge base >= 0.95 on HotpotQA and at every size run. Exits 1 if one misses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

import faiss
import numpy as np

from agentrt.database import connect_postgres
from agentrt.documents import Chunk
from agentrt.embeddings import TransformersEmbedder
from agentrt.knowledge import EMBED_BATCH
from agentrt.knowledge_faiss import APPROXIMATE_FROM, build_index
from agentrt.knowledge_pgvector import PgvectorStore
from agentrt.testing import temporary_postgres
from targets import Targets

BENCHDATA = Path(os.environ.get("AGENTRT_BENCHDATA", Path(__file__).resolve().parents[2] / "shared" / "benchdata"))
HOTPOTQA = BENCHDATA / "hotpotqa"
KS = (2, 5, 10)
HOTPOTQA_TARGET = 0.75  # recall@10 of the gold supporting titles
HNSW_P50_TARGET_MS = 2.0
HNSW_RECALL_TARGET = 0.95  # recall@10 of HNSW against exact search
PGVECTOR_TARGET = 0.95  # pgvector's recall@10 against exact search, and top-10 overlap with the FAISS knowledge base


def hotpotqa(targets: Targets, postgres: str | None) -> None:
    corpus = [json.loads(line) for line in (HOTPOTQA / "corpus_paragraphs.jsonl").open()]
    questions = [json.loads(line) for line in (HOTPOTQA / "hotpot_dev_distractor_sample500.jsonl").open()]
    embedder = TransformersEmbedder(batch_size=EMBED_BATCH)
    start = time.perf_counter()
    vectors = embedder.embed([f"{p['title']}\n{p['text']}" for p in corpus])
    seconds = time.perf_counter() - start
    print(f"embedding throughput: {len(corpus) / seconds:.0f} chunks/s "
          f"({len(corpus)} paragraphs, batch {EMBED_BATCH}, {seconds:.1f} s)")
    queries = embedder.embed([q["question"] for q in questions])
    ids = np.arange(len(corpus), dtype=np.int64)
    titles = [p["title"] for p in corpus]
    half = len(questions) // 2
    results = {kind: build_index(ids, vectors, approximate=kind == "hnsw").search(queries, max(KS))[1]
               for kind in ("exact", "hnsw")}
    if postgres:
        print("\nHotpotQA in a pgvector knowledge base, 500 questions")
        results["pgvector"] = pgvector(postgres, "HotpotQA", vectors, queries, titles, targets)
    print(f"\nHotpotQA recall of gold supporting titles ({len(corpus)} paragraphs pooled)")
    print("index    split  " + "  ".join(f"R@{k:<3}" for k in KS))
    recall_at_10 = {}
    for kind, found in results.items():
        for split, rows in (("dev", range(0, half)), ("test", range(half, len(questions)))):
            recalls = []
            for k in KS:
                per_question = [
                    len(set(questions[i]["supporting_facts"]["title"]) & {titles[j] for j in found[i, :k]})
                    / len(set(questions[i]["supporting_facts"]["title"]))
                    for i in rows
                ]
                recalls.append(np.mean(per_question))
            print(f"{kind:<8} {split:<6} " + "  ".join(f"{r:.3f}" for r in recalls))
            recall_at_10[f"{kind} {split}"] = float(recalls[-1])
    for label, recall in recall_at_10.items():
        targets.check(f"HotpotQA {label} recall@10", recall, f">= {HOTPOTQA_TARGET}", fmt=".3f")


def clustered_vectors(n: int, dim: int = 384, clusters: int = 1000, seed: int = 0) -> np.ndarray:
    """Unit vectors around random topic centres: closer to real sentence embeddings than
    uniform noise, whose neighbours are all equally far and make every index look bad."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    vectors = centres[rng.integers(0, clusters, n)] + 0.6 * rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def scale(n: int, targets: Targets, queries: int = 500) -> None:
    data = clustered_vectors(n + queries)
    base, probes = data[:n], data[n:]
    ids = np.arange(n, dtype=np.int64)
    results = {}
    for kind in ("exact", "hnsw"):
        start = time.perf_counter()
        index = build_index(ids, base, approximate=kind == "hnsw")
        build = time.perf_counter() - start
        latencies = []
        found = np.zeros((queries, 10), dtype=np.int64)
        for i in range(queries):
            t = time.perf_counter()
            _, found[i : i + 1] = index.search(probes[i : i + 1], 10)
            latencies.append((time.perf_counter() - t) * 1000)
        memory = len(faiss.serialize_index(index)) / 2**20
        results[kind] = (build, np.percentile(latencies, 50), np.percentile(latencies, 99), found, memory)
    truth = results["exact"][3]
    hnsw = {}
    for kind, (build, p50, p99, found, memory) in results.items():
        recall = np.mean([len(set(found[i]) & set(truth[i])) / 10 for i in range(queries)])
        print(f"{n:>9,} {kind:<6} build {build:7.1f} s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
              f"recall@10 {recall:.3f}   index {memory:7.0f} MiB")
        if kind == "hnsw":
            hnsw = {"p50": float(p50), "recall": float(recall)}
    targets.check(f"{n:,} vectors, HNSW p50", hnsw["p50"], f"<= {HNSW_P50_TARGET_MS}", unit=" ms")
    targets.check(f"{n:,} vectors, HNSW recall@10 vs exact", hnsw["recall"], f">= {HNSW_RECALL_TARGET}", fmt=".3f")


def pgvector(url: str, label: str, vectors: np.ndarray, queries: np.ndarray, titles: list[str] | None,
             targets: Targets) -> np.ndarray:
    """Put `vectors` into a pgvector knowledge base at `url` (chunk i's source: `titles[i]` or i),
    search each query for 10, and check recall@10 against exact search and the top-10 overlap with
    the FAISS knowledge base's index at this size; the row numbers found, one row per query."""
    ids = np.arange(len(vectors), dtype=np.int64)
    exact = build_index(ids, vectors, approximate=False).search(queries, 10)[1]
    faiss_kb = build_index(ids, vectors, approximate=len(vectors) >= APPROXIMATE_FROM).search(queries, 10)[1]
    names = titles or [str(i) for i in range(len(vectors))]
    row = {name: i for i, name in enumerate(names)}
    store = PgvectorStore(url)
    try:
        store.initialise({"embedder": "benchmark", "dim": str(vectors.shape[1]), "chunk_size": "0",
                          "chunk_overlap": "0"})
        start = time.perf_counter()
        store.replace((), [Chunk(name, name, 0, "") for name in names], vectors)
        insert = time.perf_counter() - start
        found = np.full((len(queries), 10), -1, dtype=np.int64)
        latencies = []
        for i, query in enumerate(queries):
            t = time.perf_counter()
            passages = store.search(query, 10)
            latencies.append((time.perf_counter() - t) * 1000)
            found[i, : len(passages)] = [row[p.source] for p in passages]
        with connect_postgres(url, what="benchmark database", setting="--postgres") as db:
            [(size,)] = db.execute("SELECT pg_relation_size('knowledge_chunks_embedding')").fetchall()
    finally:
        store.destroy()
    recall = np.mean([len(set(found[i]) & set(exact[i])) / 10 for i in range(len(queries))])
    overlap = np.mean([len(set(found[i]) & set(faiss_kb[i])) / 10 for i in range(len(queries))])
    print(f"{label:>9} pgvector insert {insert:7.1f} s   p50 {np.percentile(latencies, 50):6.2f} ms   "
          f"p99 {np.percentile(latencies, 99):6.2f} ms   recall@10 {recall:.3f}   "
          f"overlap@10 with FAISS KB {overlap:.3f}   index {size / 2**20:7.0f} MiB")
    targets.check(f"{label}, pgvector recall@10 vs exact", float(recall), f">= {PGVECTOR_TARGET}", fmt=".3f")
    targets.check(f"{label}, pgvector top-10 overlap with the FAISS KB", float(overlap), f">= {PGVECTOR_TARGET}",
                  fmt=".3f")
    return found





def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--skip-hotpotqa", action="store_true")
    parser.add_argument("--pgvector-sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--postgres", metavar="URL", help="a database for the pgvector knowledge base "
                                                         "(default: a temporary server)")
    parser.add_argument("--skip-pgvector", action="store_true")
    args = parser.parse_args()
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads")
    targets = Targets("retrieval")
    with contextlib.ExitStack() as held:
        postgres = None if args.skip_pgvector else held.enter_context(
            contextlib.nullcontext(args.postgres) if args.postgres else temporary_postgres())
        if not args.skip_hotpotqa:
            hotpotqa(targets, postgres)
        if args.sizes:
            print("\nScale: single-query latency, clustered 384-d unit vectors, 500 queries")
        for n in args.sizes:
            scale(n, targets)
        if postgres and args.pgvector_sizes:
            print("\npgvector at scale: clustered 384-d unit vectors, 500 queries")
        for n in args.pgvector_sizes if postgres else []:
            data = clustered_vectors(n + 500)
            pgvector(postgres, f"{n:,}", data[:n], data[n:], None, targets)
    targets.exit()


if __name__ == "__main__":
    main()
