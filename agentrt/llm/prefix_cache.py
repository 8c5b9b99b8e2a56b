"""Reuse of the attention (KV) cache across prompts that start the same way.

Every plan request repeats the same instructions, tool list and examples before the task; a
reasoning step in sequential mode repeats the whole history so far. Keeping the KV cache of
recent prompts lets the next one compute only what differs. Greedy outputs are unchanged
(tests/test_default_model.py checks it). Used for every request that joins a continuous batch
(each is prefilled alone) and for a whole batch of one request; a whole batch of several is
padded on the left, so their prefixes do not line up.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any


class PrefixCache:
    """The KV caches of the last `entries` prompts, keyed by their token ids."""

    def __init__(self, entries: int = 4, min_tokens: int = 32) -> None:
        self.entries = entries
        self.min_tokens = min_tokens
        self._caches: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self.reused_tokens = 0

    def lookup(self, ids: list[int]) -> Any:
        """A private copy of the cache for the longest stored prefix of `ids`, cut to that prefix;
        None when no stored prompt shares `min_tokens` with `ids`."""
        hit = self.longest(ids)
        if hit is None:
            return None
        stored, length = hit
        cache = copy.deepcopy(stored)
        try:
            cache.crop(length - cache.get_seq_length())
        except (RuntimeError, ValueError, NotImplementedError):
            # sliding-window and linear-attention caches cannot be cut back to a prefix
            self.entries = 0
            self._caches.clear()
            self.reused_tokens -= length
            return None
        return cache

    def longest(self, ids: list[int]) -> tuple[Any, int] | None:
        """(the stored cache that shares the longest prefix with `ids`, that prefix's length), the
        cache itself and not a copy (read its first positions, change nothing); None when no
        stored prompt shares `min_tokens` with `ids`."""
        best, best_len = None, 0
        for key in self._caches:
            shared = _common_prefix(key, ids)
            if shared > best_len:
                best, best_len = key, shared
        # subtle: at least one prompt token must be left for the model to compute logits from
        best_len = min(best_len, len(ids) - 1)
        if best is None or best_len < self.min_tokens:
            return None
        self._caches.move_to_end(best)
        self.reused_tokens += best_len
        return self._caches[best], best_len

    def clear(self) -> None:
        """Forget every stored prompt."""
        self._caches.clear()

    def store(self, ids: list[int], cache: Any) -> None:
        """Keep `cache` (which may run past the prompt) as the cache of prompt `ids`."""
        if not self.entries:
            return
        extra = cache.get_seq_length() - len(ids)
        try:
            if extra > 0:
                cache.crop(-extra)
        except (RuntimeError, ValueError, NotImplementedError):
            self.entries = 0  # this model's cache cannot be cut back to a prefix: stop trying
            return
        self._caches[tuple(ids)] = cache
        self._caches.move_to_end(tuple(ids))
        while len(self._caches) > self.entries:
            self._caches.popitem(last=False)


def _common_prefix(a: tuple[int, ...], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):  # the shorter one ends the common prefix
        if x != y:
            break
        n += 1
    return n
