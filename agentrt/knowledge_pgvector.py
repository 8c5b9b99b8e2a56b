"""PgvectorStore: a knowledge base's chunks in PostgreSQL, searched with pgvector's HNSW index.

A `postgresql://` URL names a database that holds one knowledge base, in two tables:
`knowledge_settings` (what it was built with) and `knowledge_chunks` (every chunk's text, source,
title, position and embedding, a `vector(dim)`). Each change is one transaction, so every process
that opens the URL, on any machine, sees a whole `add` or none of it. PostgreSQL keeps the HNSW
index up to date on every insert: there is nothing derived to rebuild, and `save` writes nothing.

The index is over inner product (`vector_ip_ops`), as FAISS scores, with the same HNSW parameters;
`hnsw.ef_search` is set per query to at least k, since an HNSW scan returns at most ef_search rows.
Above pgvector's largest ef_search (1,000) a search is exact. psycopg and pgvector load when a
URL is opened: a folder knowledge base never loads them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Sequence

import numpy as np

from .database import connect_postgres, hide_password
from .documents import Chunk
from .errors import ConfigError
from .knowledge_faiss import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_NEIGHBOURS
from .schema import Passage

MAX_EF_SEARCH = 1000  # pgvector's limit on hnsw.ef_search
BUILD_MEMORY_CAP_MB = 2048  # the most maintenance_work_mem an index build asks for (~600k chunks of 384-d)


class PgvectorStore:
    """A `knowledge.ChunkStore` in a PostgreSQL database with the pgvector extension."""

    def __init__(self, url: str) -> None:
        self.location = hide_password(url)
        self._db = connect_postgres(url, what="knowledge base", setting="--kb (Agent(knowledge=...))")
        self._db.execute("SELECT set_config('hnsw.ef_search', %s, false)", [str(HNSW_EF_SEARCH)])

    def load_settings(self) -> dict[str, str] | None:
        found = self._db.execute("SELECT to_regclass('knowledge_settings')").fetchone()
        if found is None or found[0] is None:
            return None
        self._register_vector()
        return {key: value for key, value in self._db.execute("SELECT key, value FROM knowledge_settings")}

    def initialise(self, settings: dict[str, str]) -> None:
        import psycopg

        with self._db.transaction():
            try:
                self._db.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.Error as exc:
                raise ConfigError(
                    f"The database {self.location} has no pgvector extension, and adding it failed "
                    f"({' '.join(str(exc).split())}); install pgvector on the server (Debian: "
                    "postgresql-16-pgvector) and run `CREATE EXTENSION vector` in that database as a superuser"
                ) from exc
            self._db.execute("CREATE TABLE knowledge_settings (key text PRIMARY KEY, value text NOT NULL)")
            self._db.execute(
                "CREATE TABLE knowledge_chunks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "source text NOT NULL, title text NOT NULL, position integer NOT NULL, text text NOT NULL, "
                f"embedding vector({int(settings['dim'])}) NOT NULL)"
            )
            with self._db.cursor() as cursor:
                cursor.executemany("INSERT INTO knowledge_settings VALUES (%s, %s)", list(settings.items()))
            self._db.execute("CREATE INDEX knowledge_chunks_source ON knowledge_chunks (source)")
            self._create_index(rows=0)
        self._register_vector()

    def count(self) -> int:
        row = self._db.execute("SELECT count(*) FROM knowledge_chunks").fetchone()
        return int(row[0]) if row else 0

    def sources(self) -> list[str]:
        # subtle: COLLATE "C" sorts by code point, as SQLite does, whatever the database's locale
        query = 'SELECT DISTINCT source COLLATE "C" AS source FROM knowledge_chunks ORDER BY 1'
        return [row[0] for row in self._db.execute(query)]

    def replace(self, sources: Collection[str], chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """In one transaction. An add that at least doubles the base rebuilds the HNSW index after
        the copy, holding off other searchers until it commits: pgvector builds an index over all
        rows many times faster than it inserts them one by one (benchmarks/README.md)."""
        rebuild = len(chunks) >= self.count()
        with self._db.transaction(), self._db.cursor() as cursor:
            # subtle: the strongest lock first, so two writers queue instead of deadlocking on an upgrade
            cursor.execute(f"LOCK TABLE knowledge_chunks IN {'ACCESS' if rebuild else 'SHARE ROW'} EXCLUSIVE MODE")
            cursor.execute("DELETE FROM knowledge_chunks WHERE source = ANY(%s)", [list(sources)])
            if rebuild:
                cursor.execute("DROP INDEX knowledge_chunks_embedding")
            copy_in = "COPY knowledge_chunks (source, title, position, text, embedding) FROM STDIN (FORMAT BINARY)"
            with cursor.copy(copy_in) as copy:
                copy.set_types(["text", "text", "int4", "text", "vector"])
                for c, vector in zip(chunks, vectors, strict=True):
                    copy.write_row((c.source, c.title, c.position, c.text, vector))
            if rebuild:
                self._create_index(rows=self.count())

    def delete(self, source: str) -> int:
        with self._db.cursor() as cursor:
            cursor.execute("DELETE FROM knowledge_chunks WHERE source = %s", [source])
            return cursor.rowcount

    def search(self, vector: np.ndarray, k: int) -> list[Passage]:
        # subtle: up to HNSW_EF_SEARCH the session's setting holds, and no transaction costs round trips
        with self._db.transaction() if k > HNSW_EF_SEARCH else contextlib.nullcontext():
            if k > MAX_EF_SEARCH:  # the index could return no more than this: scan every row
                self._db.execute("SET LOCAL enable_indexscan = off")
            elif k > HNSW_EF_SEARCH:
                self._db.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(k)])
            rows = self._db.execute(
                "SELECT id, source, title, position, text, -(embedding <#> %(q)s) FROM knowledge_chunks "
                "ORDER BY embedding <#> %(q)s LIMIT %(k)s",
                {"q": vector.astype(np.float32), "k": k},
            ).fetchall()
        return [Passage(id=i, source=s, title=t, position=p, text=x, score=float(score))
                for i, s, t, p, x, score in rows]

    def index_kind(self) -> str:
        return "hnsw"

    def save(self) -> None:
        """Nothing to do: each change was committed, with the index, as it was made."""

    def close(self) -> None:
        self._db.close()

    def destroy(self) -> None:
        """Drop the knowledge base's tables (the pgvector extension stays), and close."""
        with self._db.transaction():
            self._db.execute("DROP TABLE IF EXISTS knowledge_chunks, knowledge_settings")
        self.close()

    def _create_index(self, rows: int) -> None:
        """The HNSW index over `rows` rows, built in memory up to `BUILD_MEMORY_CAP_MB`: a
        graph that outgrows maintenance_work_mem (64 MB by default) is built on disk, ~60x slower."""
        [(dim,)] = self._db.execute("SELECT value::int FROM knowledge_settings WHERE key = 'dim'").fetchall()
        needed = rows * (4 * dim + 48 * HNSW_NEIGHBOURS + 256) // 2**20 + 64  # MB: vector, neighbours, overhead
        [(configured,)] = self._db.execute(
            "SELECT pg_size_bytes(current_setting('maintenance_work_mem')) / 2^20").fetchall()
        if needed > configured:
            self._db.execute("SELECT set_config('maintenance_work_mem', %s, true)",
                             [f"{min(needed, BUILD_MEMORY_CAP_MB)}MB"])
        self._db.execute(
            "CREATE INDEX knowledge_chunks_embedding ON knowledge_chunks USING hnsw (embedding vector_ip_ops) "
            f"WITH (m = {HNSW_NEIGHBOURS}, ef_construction = {HNSW_EF_CONSTRUCTION})"
        )

    def _register_vector(self) -> None:
        """Let psycopg send and read numpy arrays as `vector` (binary)."""
        from pgvector.psycopg import register_vector

        register_vector(self._db)
