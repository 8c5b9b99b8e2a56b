"""KnowledgeBase: user documents, chunked, embedded and searchable with FAISS.

On disk a knowledge base is a directory with two files. `chunks.sqlite` (WAL mode) is the source
of truth: every chunk's text, source, title, position and embedding, committed in one transaction
per `add`/`delete`. `index.faiss` is derived from it and replaced atomically on `save`; if it is
missing, damaged or older than the database (a crash between the two), it is rebuilt.

The index is rebuilt in memory at the first search after a change (and saved by `save`).
Search is exact inner product (`IndexFlatIP`) up to `APPROXIMATE_FROM` chunks and HNSW above:
benchmarks/retrieval.py measures where HNSW starts to pay and what recall it costs.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .documents import Document, Skipped, chunk, read_path
from .embeddings import Embedder
from .errors import ConfigError
from .schema import Passage

if TYPE_CHECKING:  # faiss is imported where an index is built, read or written: `import agentrt` stays light
    import faiss

APPROXIMATE_FROM = 20_000  # exact search takes ~3 ms per query there on 2 cores; HNSW ~0.4 ms
HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 80
EMBED_BATCH = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    position INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_source ON chunks(source);
"""

Progress = Callable[[int, int], None]


@dataclass
class AddReport:
    """What one `add` did: documents and chunks indexed, files skipped and why."""

    files: int = 0
    documents: int = 0
    chunks: int = 0
    skipped: list[Skipped] = field(default_factory=list)


class KnowledgeBase:
    """A directory of embedded chunks. Use `create` or `open`, never the constructor.

    Safe to share between threads (an agent searches from two pools while an app may add
    documents): reads and writes of the database and index take turns; embedding does not wait."""

    DB_FILE = "chunks.sqlite"
    INDEX_FILE = "index.faiss"

    def __init__(self, path: Path, db: sqlite3.Connection, embedder: Embedder | None) -> None:
        self.path = path
        self._db = db
        self._embedder = embedder
        self.settings = dict(db.execute("SELECT key, value FROM settings"))
        self._index: faiss.Index | None = None
        self._index_generation: str | None = None  # the database generation _index reflects
        self._lock = threading.RLock()  # one sqlite connection and one index, shared by threads

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        embedder: Embedder | str | None = None,
        chunk_size: int = 800,
        chunk_overlap: int = 100,
    ) -> KnowledgeBase:
        """A new, empty knowledge base at `path` (an empty or missing directory)."""
        path = Path(path)
        if (path / cls.DB_FILE).exists():
            raise ConfigError(f"{str(path)!r} already holds a knowledge base; use KnowledgeBase.open")
        if not 0 <= chunk_overlap < chunk_size:
            raise ConfigError(f"chunk_overlap={chunk_overlap} must be at least 0 and below chunk_size={chunk_size}")
        embedder = _embedder(embedder)
        path.mkdir(parents=True, exist_ok=True)
        db = _connect(path / cls.DB_FILE)
        with db:
            db.executemany(
                "INSERT INTO settings VALUES (?, ?)",
                [("embedder", embedder.name), ("dim", str(embedder.dim)), ("chunk_size", str(chunk_size)),
                 ("chunk_overlap", str(chunk_overlap)), ("generation", "0")],
            )
        return cls(path, db, embedder)

    @classmethod
    def open(cls, path: str | Path, *, embedder: Embedder | str | None = None) -> KnowledgeBase:
        """An existing knowledge base; its embedder is loaded when first needed."""
        path = Path(path)
        if not (path / cls.DB_FILE).is_file():
            raise ConfigError(
                f"No knowledge base at {str(path)!r}; create one with `agentrt index DOCS --kb {path}`"
            )
        kb = cls(path, _connect(path / cls.DB_FILE), None)
        if embedder is not None:
            kb._embedder = _embedder(embedder)
            if kb._embedder.name != kb.settings["embedder"]:
                raise ConfigError(
                    f"{str(path)!r} was built with embedder {kb.settings['embedder']!r}, not "
                    f"{kb._embedder.name!r}; open it without embedder= or rebuild it"
                )
        return kb

    @classmethod
    def open_or_create(
        cls, path: str | Path, *, embedder: Embedder | str | None = None, chunk_size: int = 800,
        chunk_overlap: int = 100,
    ) -> KnowledgeBase:
        """The knowledge base at `path`, created with these settings if there is none; an existing
        one must have been built with the same settings."""
        path = Path(path)
        if not (path / cls.DB_FILE).is_file():
            return cls.create(path, embedder=embedder, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        kb = cls.open(path, embedder=embedder)
        built = (int(kb.settings["chunk_size"]), int(kb.settings["chunk_overlap"]))
        if built != (chunk_size, chunk_overlap):
            raise ConfigError(
                f"{str(path)!r} was built with chunk size {built[0]} and overlap {built[1]}, not "
                f"{chunk_size} and {chunk_overlap}; pass those, or index into a new directory"
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
            return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def sources(self) -> list[str]:
        """Every indexed source (file path, `file:line` for JSON Lines, `text:…` for texts)."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT DISTINCT source FROM chunks ORDER BY source")]

    def add(self, *items: str | Path | Document, progress: Progress | None = None) -> AddReport:
        """Index texts (`str`), files and directories (`Path`), or `Document`s.

        A source indexed before is replaced, so re-running an index over a folder is safe.
        Unreadable files are skipped and listed in the report, never raised.
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
        with self._lock, self._db:
            for source in {d.source for d in documents}:
                self._db.execute("DELETE FROM chunks WHERE source = ?", (source,))
            self._db.executemany(
                "INSERT INTO chunks (source, title, position, text, vector) VALUES (?, ?, ?, ?, ?)",
                [(c.source, c.title, c.position, c.text, v.tobytes()) for c, v in zip(chunks, vectors, strict=True)],
            )
            self._bump_generation()
        report.documents, report.chunks = len(documents), len(chunks)
        report.files = len({d.file for d in documents if d.file})
        return report

    def delete(self, source: str) -> int:
        """Remove every chunk from `source` (a file path as indexed); returns how many."""
        with self._lock, self._db:
            removed = self._db.execute("DELETE FROM chunks WHERE source = ?", (source,)).rowcount
            if removed:
                self._bump_generation()
        return removed

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The `k` chunks most similar to `query`, best first, with cosine scores."""
        if not query.strip():
            raise ConfigError("The search query is empty")
        vector = self.embedder.embed([query])
        with self._lock:
            index = self._current_index()
            if index.ntotal == 0:
                return []
            scores, ids = index.search(vector, min(k, index.ntotal))
            hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
            rows = {
                row[0]: row
                for row in self._db.execute(
                    f"SELECT id, source, title, position, text FROM chunks WHERE id IN ({','.join('?' * len(hits))})",
                    [i for i, _ in hits],
                )
            }
        return [
            Passage(id=i, source=rows[i][1], title=rows[i][2], position=rows[i][3], text=rows[i][4], score=s)
            for i, s in hits
            if i in rows
        ]

    def save(self) -> None:
        """Write the search index next to the database, atomically (temporary file, then rename)."""
        import faiss

        with self._lock:
            index = self._current_index()
            handle, temporary = tempfile.mkstemp(prefix=".index-", dir=self.path)
            os.close(handle)
            try:
                faiss.write_index(index, temporary)
                os.replace(temporary, self.path / self.INDEX_FILE)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
            with self._db:
                self._set("index_generation", self.settings["generation"])

    def close(self) -> None:
        """Close the database; the object is unusable afterwards."""
        with self._lock:
            self._db.close()

    def index_kind(self) -> str:
        """`"exact"` or `"hnsw"`: the index a search uses at this size."""
        return "hnsw" if len(self) >= APPROXIMATE_FROM else "exact"

    def _embed(self, texts: Sequence[str], progress: Progress | None) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), EMBED_BATCH):
            parts.append(self.embedder.embed(texts[start : start + EMBED_BATCH]))
            if progress:
                progress(min(start + EMBED_BATCH, len(texts)), len(texts))
        return np.concatenate(parts) if parts else np.zeros((0, int(self.settings["dim"])), np.float32)

    def _current_index(self) -> faiss.Index:
        generation = self.settings["generation"]
        saved = self.path / self.INDEX_FILE
        if self._index is None and saved.is_file() and self.settings.get("index_generation") == generation:
            self._index = _read_index(saved, int(self.settings["dim"]))
            self._index_generation = generation
        if self._index is None or self._index_generation != generation:
            self._index = build_index(*self._all_vectors(), approximate=len(self) >= APPROXIMATE_FROM)
            self._index_generation = generation
        return self._index

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        dim = int(self.settings["dim"])
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return ids, vectors

    def _bump_generation(self) -> None:
        self._set("generation", str(int(self.settings["generation"]) + 1))

    def _set(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))
        self.settings[key] = value


def build_index(ids: np.ndarray, vectors: np.ndarray, *, approximate: bool) -> faiss.Index:
    """Exact inner-product search, or HNSW over inner product when `approximate`."""
    import faiss

    dim = vectors.shape[1]
    inner: faiss.Index
    if approximate:
        inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        inner = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap2(inner)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors), ids)
    return index


def _read_index(path: Path, dim: int) -> faiss.Index | None:
    """The saved index, or None when it is unreadable or of another dimension: the caller then
    rebuilds it from the database, which always holds every vector."""
    import faiss

    try:
        index = faiss.read_index(str(path))
    except RuntimeError:
        return None
    return index if index.d == dim else None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{str(path)!r} is not a readable knowledge base ({exc}); delete its directory and "
            "rebuild it with `agentrt index`"
        ) from exc
    return db


def _embedder(choice: Embedder | str | None) -> Embedder:
    if isinstance(choice, Embedder):
        return choice
    from .embeddings import TransformersEmbedder

    return TransformersEmbedder(choice)
