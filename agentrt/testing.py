"""Test doubles shipped with agentrt, so users can test their own agents without model weights.

`ScriptedLLM` replies from a queue and records every request it saw; `HashingEmbedder` embeds
deterministically without a model; `temporary_postgres` starts a PostgreSQL server with pgvector
for a test of a `postgresql://` store, queue or knowledge base.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .llm import Generation, GenerationRequest
from .schema import Message

Reply = str | dict[str, Any] | Callable[[GenerationRequest], str]


class ScriptedLLM:
    """An `LLM` that answers each request with the next queued reply.

    A reply is a string, a dict (sent as JSON, handy for plans), or a callable taking the request.
    Every request is kept in `history`, in order, so tests can assert on prompts; `batch_sizes`
    records how many requests each `generate` call carried.
    """

    name = "scripted"

    def __init__(self, replies: Sequence[Reply] = (), *, latency_s: float = 0.0) -> None:
        self._queue: list[Reply] = list(replies)
        self.latency_s = latency_s
        self.history: list[GenerationRequest] = []
        self.batch_sizes: list[int] = []

    def enqueue(self, *replies: Reply) -> ScriptedLLM:
        self._queue.extend(replies)
        return self

    @property
    def pending(self) -> int:
        """Replies queued but not yet used."""
        return len(self._queue)

    def prompts(self) -> list[str]:
        """The last message of each request seen, in order."""
        return [r.messages[-1].content for r in self.history]

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """Its prompts' tokens as it reports them: one a word."""
        return sum(len(m.content.split()) for m in messages)

    def generate_streaming(self, request: GenerationRequest, on_text: Callable[[str], None]) -> Generation:
        """The next reply, handed to `on_text` in pieces of a few words' length, with `latency_s`
        spread over them, as a streaming backend would."""
        latency, self.latency_s = self.latency_s, 0.0
        try:
            [generation] = self.generate([request])
        finally:
            self.latency_s = latency
        pieces = [generation.text[i : i + 24] for i in range(0, len(generation.text), 24)] or [""]
        for piece in pieces:
            if latency:
                time.sleep(latency / len(pieces))
            on_text(piece)
        return generation

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """One reply per request, after `latency_s` per call (a batch costs one latency, as on a GPU)."""
        if self.latency_s:
            time.sleep(self.latency_s)
        self.batch_sizes.append(len(requests))
        generations = []
        for request in requests:
            self.history.append(request)
            if not self._queue:
                raise AssertionError(
                    f"ScriptedLLM ran out of replies at request {len(self.history)}; "
                    f"enqueue more. Last prompt:\n{request.messages[-1].content}"
                )
            reply = self._queue.pop(0)
            if callable(reply):
                reply = reply(request)
            text = reply if isinstance(reply, str) else json.dumps(reply)
            generations.append(
                Generation(
                    text=text,
                    prompt_tokens=self.count_tokens(request.messages),
                    completion_tokens=len(text.split()),
                    duration_s=0.0,
                )
            )
        return generations


class HashingEmbedder:
    """A deterministic bag-of-words `Embedder`: texts sharing words get similar vectors.

    No weights and instant, for tests of indexing and retrieval logic; not for real search quality.
    """

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                vectors[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """The URL of a PostgreSQL 16 server with pgvector in a temporary folder, stopped and removed
    after: the `pgserver` wheel's (`pip install pgserver`; Debian bookworm packages no pgvector).
    As root, pgserver runs it as an unprivileged user of its own, since PostgreSQL refuses root;
    it listens on a socket file in the folder, not on a TCP port."""
    with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set", for pgserver's lock file
        warnings.simplefilter("ignore")
        import pgserver

    # subtle: not under pytest's base temp: each pytest session that starts makes
    # /tmp/pytest-of-USER private again, and the server's user could no longer reach it
    with tempfile.TemporaryDirectory(prefix="agentrt-postgres-") as folder:
        server = pgserver.get_server(Path(folder) / "data", cleanup_mode="delete")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()
