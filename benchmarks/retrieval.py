"""Retrieval benchmarks for the knowledge base, measured side by side in one run.

1. HotpotQA: index the 4,948 paragraphs of shared/benchdata/hotpotqa with the real embedder, query
   with each of the 500 questions, report recall@2/5/10 of the gold supporting titles, dev half
   (first 250) and test half (last 250) separately, for the exact and the HNSW index; and the
   embedding throughput on this machine.
2. Scale: clustered synthetic unit vectors (384-d, like MiniLM's) at 100k and 1M: build time,
   single-query p50/p99 latency, recall@10 of HNSW against exact search, index memory.

    .venv/bin/python benchmarks/retrieval.py [--sizes 100000 1000000] [--skip-hotpotqa]

The data is read from ../shared/benchdata beside the checkout (AGENTRT_BENCHDATA overrides).

Targets (benchmarks/README.md), claimed: HNSW p50 <= 2 ms with recall@10 >= 0.95 against exact
search (stated at 1M vectors; checked at every size run), and HotpotQA recall@10 >= 0.75 for both
indexes on both halves. Exits 1 if one misses.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import faiss
import numpy as np

from agentrt.embeddings import TransformersEmbedder
from agentrt.knowledge import EMBED_BATCH, build_index
from targets import Targets

BENCHDATA = Path(os.environ.get("AGENTRT_BENCHDATA", Path(__file__).resolve().parents[2] / "shared" / "benchdata"))
HOTPOTQA = BENCHDATA / "hotpotqa"
KS = (2, 5, 10)
HOTPOTQA_TARGET = 0.75  # recall@10 of the gold supporting titles
HNSW_P50_TARGET_MS = 2.0
HNSW_RECALL_TARGET = 0.95  # recall@10 of HNSW against exact search


def hotpotqa(targets: Targets) -> None:
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
    print(f"\nHotpotQA recall of gold supporting titles ({len(corpus)} paragraphs pooled)")
    print("index   split  " + "  ".join(f"R@{k:<3}" for k in KS))
    recall_at_10 = {}
    for kind in ("exact", "hnsw"):
        index = build_index(ids, vectors, approximate=kind == "hnsw")
        _, found = index.search(queries, max(KS))
        for split, rows in (("dev", range(0, half)), ("test", range(half, len(questions)))):
            recalls = []
            for k in KS:
                per_question = [
                    len(set(questions[i]["supporting_facts"]["title"]) & {titles[j] for j in found[i, :k]})
                    / len(set(questions[i]["supporting_facts"]["title"]))
                    for i in rows
                ]
                recalls.append(np.mean(per_question))
            print(f"{kind:<7} {split:<6} " + "  ".join(f"{r:.3f}" for r in recalls))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--skip-hotpotqa", action="store_true")
    args = parser.parse_args()
    print(f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads")
    targets = Targets("retrieval")
    if not args.skip_hotpotqa:
        hotpotqa(targets)
    if args.sizes:
        print("\nScale: single-query latency, clustered 384-d unit vectors, 500 queries")
    for n in args.sizes:
        scale(n, targets)
    targets.exit()


if __name__ == "__main__":
    main()
