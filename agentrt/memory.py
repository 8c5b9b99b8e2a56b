"""Experience memory: the plans of past runs that went well, embedded by their instruction, so
the planner can be shown the most similar ones as worked examples for a new instruction.

A run "went well" if it ended with an answer (a `final_answer` step or the joiner's) and no step
failed; nothing here knows whether the answer was right. Memories live in a database with their
vectors (a SQLite file, memory, or PostgreSQL for a memory several processes share: `database.py`)
and are searched exactly, here: a memory of past runs stays small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .database import Schema, open_database
from .embeddings import Embedder
from .errors import ConfigError
from .schema import PlanSpec, RunResult

_SCHEMA = Schema("memory", "experience memory", "Agent(memory=...) (--memory)", migrations=(
    # 1: the table of the first memories, which predate schema_version (hence IF NOT EXISTS)
    ("""CREATE TABLE IF NOT EXISTS experiences (
        id {serial},
        instruction TEXT NOT NULL UNIQUE,
        plan TEXT NOT NULL,
        answer TEXT NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        vector {bytes} NOT NULL
    )""",),
))


@dataclass
class Experience:
    """One remembered run: what was asked, the plan that worked, its answer, and how similar
    its instruction is to the one being planned (cosine, 1 is identical)."""

    instruction: str
    plan: PlanSpec
    answer: str
    similarity: float = 0.0


def went_well(result: RunResult) -> bool:
    """Whether a run is worth remembering: answered, with every step successful."""
    return (result.stopped_by in ("final_answer", "joiner") and bool(result.steps)
            and all(step.status == "ok" for step in result.steps))


class ExperienceMemory:
    """Remembers plans that went well and finds the `k` most similar to a new instruction, those
    at least `min_similarity` alike. `location` is a SQLite file, ":memory:", or a postgresql:// URL
    (`pip install 'agentrt[postgres]'`), which may be the run store's database too."""

    def __init__(self, location: str | Path = ":memory:", *, embedder: Embedder | str | None = None, k: int = 2,
                 min_similarity: float = 0.5) -> None:
        if k < 1 or not -1 <= min_similarity <= 1:
            raise ConfigError(f"k={k} must be 1 or more and min_similarity={min_similarity} within [-1, 1]")
        self.k, self.min_similarity = k, min_similarity
        # a model named here is loaded when first needed (`_embed`); None: the default embedder
        self._embedder_model = embedder if isinstance(embedder, str) else None
        self._embedder: Embedder | None = embedder if embedder is not None and not isinstance(embedder, str) else None
        self._db = open_database(location, _SCHEMA)

    def __len__(self) -> int:
        with self._db.read() as db:
            return db.execute("SELECT COUNT(*) FROM experiences").fetchone()[0]

    def close(self) -> None:
        """Close the database; the memory is unusable afterwards."""
        self._db.close()

    def remember(self, result: RunResult) -> bool:
        """Keep `result`'s plan if the run went well (a later run of the same instruction replaces
        it); whether it was kept."""
        if not went_well(result):
            return False
        vector = self._embed([result.instruction])[0]
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO experiences (instruction, plan, answer, created, vector) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (instruction) DO UPDATE SET plan = excluded.plan, answer = excluded.answer, "
                "created = excluded.created, vector = excluded.vector",
                (result.instruction, result.plan.model_dump_json(), result.answer, time.time(), vector.tobytes()))
        return True

    def recall(self, instruction: str) -> list[Experience]:
        """The `k` remembered runs most similar to `instruction`, most similar first; never the
        instruction itself (so a rerun is not shown its own answer)."""
        with self._db.read() as db:
            rows = db.execute("SELECT instruction, plan, answer, vector FROM experiences "
                                    "WHERE instruction != ?", (instruction,)).fetchall()
        if not rows:
            return []
        query = self._embed([instruction])[0]
        scores = np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows]) @ query
        best = [i for i in np.argsort(-scores)[: self.k] if scores[i] >= self.min_similarity]
        return [Experience(rows[i][0], PlanSpec.model_validate_json(rows[i][1]), rows[i][2], float(scores[i]))
                for i in best]

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:  # loaded when first needed: a memory that is never asked costs nothing
            from .embeddings import TransformersEmbedder

            self._embedder = TransformersEmbedder(self._embedder_model)
        vectors = np.asarray(self._embedder.embed(texts), dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
