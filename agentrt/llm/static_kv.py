"""Pre-allocated (static) KV caches for decoding, reused call after call, with prefix reuse.

Why: decode compiled with CUDA graphs replays the same kernels on the same addresses, so the
KV cache must be one set of tensors allocated once (transformers' `StaticCache`), not one that
grows by a concatenation every token (`DynamicCache`). gpt-fast and transformers' own compile
path decode this way. Prefix reuse still works: `PrefixCache` keeps prompts' caches as
`DynamicCache`s of exactly their length, a hit is copied into a static cache's first positions,
and after the call the prompt's positions are copied back out to be kept.

Does not choose when to use a static cache (`transformers_llm.py` does) nor which prefix to
reuse (`prefix_cache.py` does).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from transformers import DynamicCache, StaticCache

MIN_LENGTH = 256  # the shortest cache allocated: lengths are powers of two from here


class StaticCaches:
    """Static caches for a model, one per (rows, length bucket), the `entries` most recently used kept.

    Lengths are rounded up to a power of two so that a compiled decode sees few shapes (each new
    shape is a recompile, or a new CUDA graph), and attention over the unused tail of a bucket
    costs at most as much again as the positions in use."""

    def __init__(self, config: Any, entries: int = 4) -> None:
        self.config = config
        self.entries = entries
        self._caches: OrderedDict[tuple[int, int], StaticCache] = OrderedDict()

    def take(self, rows: int, length: int, prefix: tuple[DynamicCache, int] | None = None) -> StaticCache:
        """An emptied static cache for `rows` rows and at least `length` positions; with
        `prefix` (a one-row cache and how many of its first positions to take), those keys and
        values fill the first positions of every row."""
        bucket = max(MIN_LENGTH, 1 << (length - 1).bit_length())
        key = (rows, bucket)
        cache = self._caches.pop(key, None)
        if cache is None:
            while len(self._caches) >= self.entries:  # free the least recently used first
                self._caches.popitem(last=False)
            cache = StaticCache(config=self.config, max_cache_len=bucket)
        else:
            cache.reset()
        self._caches[key] = cache
        if prefix is not None:
            _copy_prefix(*prefix, cache, rows)
        return cache

    def clear(self) -> None:
        """Free every cache (their memory goes back to torch's allocator)."""
        self._caches.clear()


def prefix_of(cache: StaticCache, length: int) -> DynamicCache:
    """A `DynamicCache` holding a copy of the first `length` positions of `cache`'s first row:
    what `PrefixCache` keeps of a prompt decoded in a static cache, which the next call reuses."""
    copy = DynamicCache()
    layers: list[Any] = cache.layers  # StaticLayers, whose keys and values are allocated by now
    for index, layer in enumerate(layers):
        copy.update(layer.keys[:1, :, :length].clone(), layer.values[:1, :, :length].clone(), index)
    return copy


def _copy_prefix(prefix: DynamicCache, length: int, cache: StaticCache, rows: int) -> None:
    sources: list[Any] = prefix.layers  # DynamicLayers holding at least `length` positions
    targets: list[Any] = cache.layers  # StaticLayers, allocated here if not yet
    for source, target in zip(sources, targets, strict=True):
        if not target.is_initialized:
            # subtle: allocation needs only the shapes but the length, which a length-0 slice gives
            empty = source.keys[:, :, :0].expand(rows, -1, -1, -1)
            target.lazy_initialization(empty, source.values[:, :, :0].expand(rows, -1, -1, -1))
        target.keys[:, :, :length].copy_(source.keys[:, :, :length])  # broadcast over the rows
        target.values[:, :, :length].copy_(source.values[:, :, :length])
        target.cumulative_length.fill_(length)
        if hasattr(target, "cumulative_length_int"):  # a sliding-window layer counts in Python too
            target.cumulative_length_int = length
