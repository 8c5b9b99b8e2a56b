"""KnowledgeBase: user documents, chunked, embedded and searchable, in a folder or in PostgreSQL.

A knowledge base reads documents and cuts them into chunks (`documents.py`), embeds them
(`embeddings.py`), reports progress and what it skipped. Where the chunks and their vectors live,
and how the nearest ones are found, is its `ChunkStore`'s job, chosen by the location it is given:

- a directory, the embedded default: SQLite holds the chunks, FAISS searches (`knowledge_faiss.py`);
- a `postgresql://` URL: one database with pgvector, which every process and machine that opens the
  URL shares (`knowledge_pgvector.py`).

Both score by inner product (the cosine: embeddings are unit length) and search exactly or with
HNSW of the same parameters (`knowledge_faiss.HNSW_*`), so the same documents give the same
passages in either: benchmarks/retrieval.py measures both against exact search.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from .database import is_postgres_url
from .documents import Chunk, Document, Skipped, chunk, read_path
from .embeddings import Embedder
from .errors import ConfigError
from .knowledge_faiss import FaissStore
from .knowledge_pgvector import PgvectorStore
from .schema import Passage

EMBED_BATCH = 64
SETTINGS = ("embedder", "dim", "chunk_size", "chunk_overlap")
"""What a knowledge base is built with; reopening it must not change them."""

Progress = Callable[[int, int], None]


@dataclass
class AddReport:
    """What one `add` did: documents and chunks indexed, files skipped and why."""

    files: int = 0
    documents: int = 0
    chunks: int = 0
    skipped: list[Skipped] = field(default_factory=list)


class ChunkStore(Protocol):
    """Where a knowledge base's chunks and vectors live, and how the nearest are found.

    One is made per location (a database's is connected then); `load_settings` comes first, and
    `initialise` when it found none. One thread at a time calls it (the knowledge base's lock);
    every change is committed, in one transaction, before the call returns."""

    location: str
    """Where it is, for people: a directory, or a URL with its password hidden."""

    def load_settings(self) -> dict[str, str] | None:
        """The settings it was created with, or None when the location holds no knowledge base."""

    def initialise(self, settings: dict[str, str]) -> None:
        """Make an empty knowledge base with these settings at the location."""

    def count(self) -> int:
        """How many chunks it holds."""

    def sources(self) -> list[str]:
        """Every source it holds chunks of, sorted by code point."""

    def replace(self, sources: Collection[str], chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Remove every chunk of `sources`, then add `chunks` with their `vectors` (row i is chunk i)."""

    def delete(self, source: str) -> int:
        """Remove every chunk of `source`; how many there were."""

    def search(self, vector: np.ndarray, k: int) -> list[Passage]:
        """The `k` chunks whose vectors have the largest inner product with `vector`, best first."""

    def index_kind(self) -> str:
        """`"exact"` or `"hnsw"`: how a search finds the nearest chunks at this size."""

    def save(self) -> None:
        """Write whatever is derived and kept only in memory."""

    def close(self) -> None:
        """Release the connection; the store is unusable afterwards."""

    def destroy(self) -> None:
        """Remove the knowledge base from the location, and close."""


class KnowledgeBase:
    """Embedded chunks of documents, in a directory or a PostgreSQL database. Use `create`,
    `open` or `open_or_create`, never the constructor.

    Safe to share between threads (an agent searches from two pools while an app may add
    documents): calls into the store take turns; embedding does not wait."""

    def __init__(self, store: ChunkStore, settings: dict[str, str], embedder: Embedder | None) -> None:
        self.location = store.location
        self.settings = {key: settings[key] for key in SETTINGS}
        self._store = store
        self._embedder = embedder
        self._lock = threading.RLock()

    @classmethod
    def create(
        cls,
        location: str | Path,
        *,
        embedder: Embedder | str | None = None,
        chunk_size: int = 800,
        chunk_overlap: int = 100,
    ) -> KnowledgeBase:
        """A new, empty knowledge base at `location`: an empty or missing directory, or a
        `postgresql://` URL of a database that holds none yet."""
        _check_chunking(chunk_size, chunk_overlap)
        with _store_at(location) as (store, settings):
            if settings is not None:
                raise ConfigError(f"{store.location!r} already holds a knowledge base; use KnowledgeBase.open")
            return cls._initialise(store, embedder, chunk_size, chunk_overlap)

    @classmethod
    def open(cls, location: str | Path, *, embedder: Embedder | str | None = None) -> KnowledgeBase:
        """An existing knowledge base (a directory or a `postgresql://` URL); its embedder is
        loaded when first needed."""
        with _store_at(location) as (store, settings):
            if settings is None:
                raise ConfigError(f"No knowledge base at {store.location!r}; create one with "
                                  f"`agentrt index DOCS --kb {store.location}`")
            return cls._opened(store, settings, embedder)

    @classmethod
    def open_or_create(
        cls, location: str | Path, *, embedder: Embedder | str | None = None, chunk_size: int = 800,
        chunk_overlap: int = 100,
    ) -> KnowledgeBase:
        """The knowledge base at `location`, created with these settings if there is none; an
        existing one must have been built with the same settings."""
        _check_chunking(chunk_size, chunk_overlap)
        with _store_at(location) as (store, settings):
            if settings is None:
                return cls._initialise(store, embedder, chunk_size, chunk_overlap)
            kb = cls._opened(store, settings, embedder)
            built = (int(kb.settings["chunk_size"]), int(kb.settings["chunk_overlap"]))
            if built != (chunk_size, chunk_overlap):
                raise ConfigError(
                    f"{store.location!r} was built with chunk size {built[0]} and overlap {built[1]}, not "
                    f"{chunk_size} and {chunk_overlap}; pass those, or index into a new location"
                )
            return kb

    @classmethod
    def _initialise(cls, store: ChunkStore, embedder: Embedder | str | None, chunk_size: int,
                    chunk_overlap: int) -> KnowledgeBase:
        loaded = _embedder(embedder)
        settings = {"embedder": loaded.name, "dim": str(loaded.dim), "chunk_size": str(chunk_size),
                    "chunk_overlap": str(chunk_overlap)}
        store.initialise(settings)
        return cls(store, settings, loaded)

    @classmethod
    def _opened(cls, store: ChunkStore, settings: dict[str, str], embedder: Embedder | str | None) -> KnowledgeBase:
        kb = cls(store, settings, None)
        if embedder is not None:
            kb._embedder = _embedder(embedder)
            if kb._embedder.name != kb.settings["embedder"]:
                raise ConfigError(
                    f"{store.location!r} was built with embedder {kb.settings['embedder']!r}, not "
                    f"{kb._embedder.name!r}; open it without embedder= or rebuild it"
                )
        return kb

    @property
    def embedder(self) -> Embedder:
        """The embedder this base was built with, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = _embedder(self.settings["embedder"])
            return self._embedder

    def __len__(self) -> int:
        with self._lock:
            return self._store.count()

    def sources(self) -> list[str]:
        """Every indexed source (file path, `file:line` for JSON Lines, `text:…` for texts)."""
        with self._lock:
            return self._store.sources()

    def add(self, *items: str | Path | Document, progress: Progress | None = None) -> AddReport:
        """Index texts (`str`), files and directories (`Path`), or `Document`s.

        A source indexed before is replaced, so re-running an index over a folder is safe.
        Unreadable files are skipped and listed in the report, never raised. `progress(done,
        total)` is called as chunks are embedded.
        """
        missing = [str(i) for i in items if isinstance(i, Path) and not i.exists()]
        if missing:
            raise ConfigError(f"Nothing to index at {', '.join(map(repr, missing))}: no such file or directory")
        report = AddReport()
        documents: list[Document] = []
        for item in items:
            if isinstance(item, Document):
                documents.append(item)
            elif isinstance(item, Path):
                for found in read_path(item):
                    if isinstance(found, Skipped):
                        report.skipped.append(found)
                    else:
                        documents.append(found)
            else:  # named by content, so adding the same text twice keeps one copy
                digest = hashlib.sha256(str(item).encode()).hexdigest()[:16]
                documents.append(Document(f"text:{digest}", str(item)[:60], str(item)))
        chunks = [c for d in documents for c in chunk(d, size=int(self.settings["chunk_size"]),
                                                    overlap=int(self.settings["chunk_overlap"]))]
        vectors = self._embed([f"{c.title}\n{c.text}" for c in chunks], progress)
        with self._lock:
            self._store.replace({d.source for d in documents}, chunks, vectors)
        report.documents, report.chunks = len(documents), len(chunks)
        report.files = len({d.file for d in documents if d.file})
        return report

    def delete(self, source: str) -> int:
        """Remove every chunk from `source` (a file path as indexed); returns how many."""
        with self._lock:
            return self._store.delete(source)

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The `k` chunks most similar to `query`, best first, with cosine scores."""
        if not query.strip():
            raise ConfigError("The search query is empty")
        vector = self.embedder.embed([query])[0]
        with self._lock:
            return self._store.search(vector, k)

    def save(self) -> None:
        """Make every change durable where the store keeps a derived index only in memory (the
        FAISS index file; PostgreSQL has nothing to write)."""
        with self._lock:
            self._store.save()

    def close(self) -> None:
        """Close the database; the object is unusable afterwards."""
        with self._lock:
            self._store.close()

    def destroy(self) -> None:
        """Delete this knowledge base (its files, and its directory if nothing else is left in it;
        or its tables) and close it."""
        with self._lock:
            self._store.destroy()

    def index_kind(self) -> str:
        """`"exact"` or `"hnsw"`: the index a search uses at this size."""
        with self._lock:
            return self._store.index_kind()

    def _embed(self, texts: Sequence[str], progress: Progress | None) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), EMBED_BATCH):
            parts.append(self.embedder.embed(texts[start : start + EMBED_BATCH]))
            if progress:
                progress(min(start + EMBED_BATCH, len(texts)), len(texts))
        return np.concatenate(parts) if parts else np.zeros((0, int(self.settings["dim"])), np.float32)


@contextlib.contextmanager
def _store_at(location: str | Path) -> Iterator[tuple[ChunkStore, dict[str, str] | None]]:
    """The store for `location` and the settings it holds (None: no knowledge base there yet),
    closed again if what the caller does with them fails."""
    store: ChunkStore = PgvectorStore(str(location)) if is_postgres_url(location) else FaissStore(Path(location))
    try:
        yield store, store.load_settings()
    except BaseException:
        store.close()
        raise


def _check_chunking(chunk_size: int, chunk_overlap: int) -> None:
    if not 0 <= chunk_overlap < chunk_size:
        raise ConfigError(f"chunk_overlap={chunk_overlap} must be at least 0 and below chunk_size={chunk_size}")


def _embedder(choice: Embedder | str | None) -> Embedder:
    if isinstance(choice, Embedder):
        return choice
    from .embeddings import TransformersEmbedder

    return TransformersEmbedder(choice)
