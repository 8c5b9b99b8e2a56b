"""FaissStore: a knowledge base's chunks in a directory, in SQLite, searched with FAISS.

The directory has two files. `chunks.sqlite` (WAL mode) is the source of truth: every chunk's text,
source, title, position and embedding, committed in one transaction per change. `index.faiss` is
derived from it and replaced atomically on `save`; if it is missing, damaged or older than the
database (a crash between the two), it is rebuilt.

The index is rebuilt in memory at the first search after a change (and saved by `save`).
Search is exact inner product (`IndexFlatIP`) up to `APPROXIMATE_FROM` chunks and HNSW above:
benchmarks/retrieval.py measures where HNSW starts to pay and what recall it costs.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .documents import Chunk
from .errors import ConfigError
from .schema import Passage

if TYPE_CHECKING:  # faiss is imported where an index is built, read or written: `import agentrt` stays light
    import faiss

APPROXIMATE_FROM = 20_000  # exact search takes ~3 ms per query there on 2 cores; HNSW ~0.4 ms
HNSW_NEIGHBOURS = 32  # these three are the pgvector store's too, so both find the same passages
HNSW_EF_SEARCH = 128
HNSW_EF_CONSTRUCTION = 80

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


class FaissStore:
    """A `knowledge.ChunkStore` in a directory: SQLite for the chunks, a FAISS index derived from them."""

    DB_FILE = "chunks.sqlite"
    INDEX_FILE = "index.faiss"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self._connection: sqlite3.Connection | None = None
        self._settings: dict[str, str] = {}  # the knowledge base's, and the generations below
        self._index: faiss.Index | None = None
        self._index_generation: str | None = None  # the database generation _index reflects

    def load_settings(self) -> dict[str, str] | None:
        if not (self.path / self.DB_FILE).is_file():
            return None
        self._connection = _connect(self.path / self.DB_FILE)
        self._settings = dict(self._connection.execute("SELECT key, value FROM settings"))
        return dict(self._settings)

    def initialise(self, settings: dict[str, str]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._connection = _connect(self.path / self.DB_FILE)
        self._settings = {**settings, "generation": "0"}
        with self._connection:
            self._connection.executemany("INSERT INTO settings VALUES (?, ?)", list(self._settings.items()))

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    def sources(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT DISTINCT source FROM chunks ORDER BY source")]

    def replace(self, sources: Collection[str], chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        with self._db:
            self._db.executemany("DELETE FROM chunks WHERE source = ?", [(source,) for source in sources])
            self._db.executemany(
                "INSERT INTO chunks (source, title, position, text, vector) VALUES (?, ?, ?, ?, ?)",
                [(c.source, c.title, c.position, c.text, v.tobytes()) for c, v in zip(chunks, vectors, strict=True)],
            )
            self._bump_generation()

    def delete(self, source: str) -> int:
        with self._db:
            removed = self._db.execute("DELETE FROM chunks WHERE source = ?", (source,)).rowcount
            if removed:
                self._bump_generation()
        return removed

    def search(self, vector: np.ndarray, k: int) -> list[Passage]:
        index = self._current_index()
        if index.ntotal == 0:
            return []
        scores, ids = index.search(vector[None, :], min(k, index.ntotal))
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

    def index_kind(self) -> str:
        return "hnsw" if self.count() >= APPROXIMATE_FROM else "exact"

    def save(self) -> None:
        """Write the search index next to the database, atomically (temporary file, then rename)."""
        import faiss

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
            self._set("index_generation", self._settings["generation"])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()

    def destroy(self) -> None:
        """Remove the database and index files, and the directory if nothing else is in it."""
        self.close()
        for name in (self.DB_FILE, f"{self.DB_FILE}-wal", f"{self.DB_FILE}-shm", self.INDEX_FILE):
            (self.path / name).unlink(missing_ok=True)
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()

    @property
    def _db(self) -> sqlite3.Connection:
        assert self._connection is not None, "load_settings or initialise comes first"
        return self._connection

    def _current_index(self) -> faiss.Index:
        generation = self._settings["generation"]
        saved = self.path / self.INDEX_FILE
        if self._index is None and saved.is_file() and self._settings.get("index_generation") == generation:
            self._index = _read_index(saved, int(self._settings["dim"]))
            self._index_generation = generation
        if self._index is None or self._index_generation != generation:
            self._index = build_index(*self._all_vectors(), approximate=self.count() >= APPROXIMATE_FROM)
            self._index_generation = generation
        return self._index

    def _all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        rows = self._db.execute("SELECT id, vector FROM chunks ORDER BY id").fetchall()
        dim = int(self._settings["dim"])
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), dim)
        return ids, vectors

    def _bump_generation(self) -> None:
        self._set("generation", str(int(self._settings["generation"]) + 1))

    def _set(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", (key, value))
        self._settings[key] = value


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
