"""JSON-schema-constrained decoding for transformers' `generate`, built on llguidance.

Why llguidance: a 7.6 MB wheel with no GPU stack, the widest JSON-schema coverage, and ~0.4 ms
per token on the default model (benchmarks/plan_validity.py measures the total cost). We only turn its
token bitmask into a logits mask; the grammar work is the library's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import llguidance
import llguidance.hf
import llguidance.torch
import numpy as np
import torch
from transformers import LogitsProcessor

from ..errors import ConfigError

if TYPE_CHECKING:
    from llguidance._lib import JsonCompileOptions  # a TypedDict that only the type stub defines

# Compact JSON: whitespace costs tokens and invites a small model to ramble.
_JSON_OPTIONS: JsonCompileOptions = {"whitespace_flexible": False}


class TokenizerGrammar:
    """The llguidance view of one tokenizer; expensive to build (~1 s), so built once per model."""

    def __init__(self, hf_tokenizer: Any, vocab_size: int) -> None:
        self.tokenizer = llguidance.hf.from_tokenizer(hf_tokenizer, n_vocab=vocab_size)
        self.vocab_size = vocab_size
        self.eos_token_id = hf_tokenizer.eos_token_id

    def matcher(self, json_schema: dict[str, Any]) -> llguidance.LLMatcher:
        grammar = llguidance.LLMatcher.grammar_from_json_schema(
            json.dumps(json_schema), overrides=_JSON_OPTIONS
        )
        matcher = llguidance.LLMatcher(self.tokenizer, grammar, log_level=0)
        if matcher.is_error():
            raise ConfigError(
                f"A tool's argument schema cannot be enforced while decoding ({matcher.get_error()}); "
                "simplify that tool's parameter types"
            )
        return matcher


class BatchConstraints(LogitsProcessor):
    """Per-row constraints for one batched `generate` call, or for the rows of a continuous batch
    as they join and leave (`add`, `keep`): the logits processor, with `advance` as a stopping
    criterion beside it.

    Row i follows `matchers[i]` (None means free text) and may emit at most `budgets[i]` tokens;
    after either is exhausted the row can only emit EOS, so finished rows idle cheaply.

    The mask is computed while the device runs the forward pass: `generate` launches the forward
    pass and calls this processor with its logits, which a GPU has not computed yet. Nothing here
    waits on them until the mask is ready, since the grammar already has the last token: the
    stopping criterion `advance` fed it at the end of the step before, where the token had to be
    read on the host anyway (to stream it, and to see whether the batch is done).
    """

    def __init__(
        self,
        grammar: TokenizerGrammar,
        matchers: Sequence[llguidance.LLMatcher | None],
        budgets: Sequence[int],
    ) -> None:
        self.grammar = grammar
        self.matchers: list[llguidance.LLMatcher | None] = []
        self.budgets: list[int] = []
        self.steps: list[int] = []  # tokens chosen so far, per row
        self.add(matchers, budgets)

    def add(self, matchers: Sequence[llguidance.LLMatcher | None], budgets: Sequence[int]) -> None:
        """Rows that join the batch before its next token (continuous batching), after those in it."""
        self.matchers += matchers
        self.budgets += budgets
        self.steps += [0] * len(matchers)
        self._rows_changed()

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only the rows numbered `rows`, in that order: the others have left the batch."""
        self.matchers = [self.matchers[i] for i in rows]
        self.budgets = [self.budgets[i] for i in rows]
        self.steps = [self.steps[i] for i in rows]
        self._rows_changed()

    def _rows_changed(self) -> None:
        self.bitmask = llguidance.torch.allocate_token_bitmask(len(self.matchers), self.grammar.vocab_size)
        self._none_stopped: torch.Tensor | None = None  # what `advance` answers, allocated once per set of rows

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        constrained = False
        for row, matcher in enumerate(self.matchers):
            if self.steps[row] >= self.budgets[row]:
                self._only_eos(row)
                constrained = True
            elif matcher is not None:
                llguidance.torch.fill_next_token_bitmask(matcher, self.bitmask, row)
                constrained = True
            else:
                self.bitmask[row].fill_(-1)
        self.steps = [steps + 1 for steps in self.steps]
        if constrained:
            scores = scores.masked_fill(self._blocked(scores.shape[-1]).to(scores.device), float("-inf"))
        return scores

    def advance(self, input_ids: torch.LongTensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """A stopping criterion that stops no row: hands each row's matcher the token just chosen."""
        tokens = input_ids[:, -1].tolist()
        for row, matcher in enumerate(self.matchers):
            # subtle: a row past its budget was forced to EOS; that token is not the grammar's
            if matcher is not None and not matcher.is_stopped() and self.steps[row] <= self.budgets[row]:
                matcher.consume_token(tokens[row])
        if self._none_stopped is None:
            self._none_stopped = torch.zeros(len(tokens), dtype=torch.bool, device=input_ids.device)
        return self._none_stopped

    def _blocked(self, vocab: int) -> torch.Tensor:
        """[rows, vocab] booleans, True where the bitmask forbids the token: bit j of the mask's
        32-bit word i is token 32 * i + j (read as bytes, little-endian, as on every CPU torch runs on)."""
        # subtle: numpy's unpackbits is one single-threaded C loop; the same expansion in torch
        # (word & 1 << bit over [rows, words, 32]) ran its parallel kernels on every token and cost
        # ~0.1 ms a token on an idle 2-core CPU, up to several ms when another job held a core
        bits = np.unpackbits(self.bitmask.numpy().view(np.uint8), axis=-1, bitorder="little")
        return torch.from_numpy(bits[:, :vocab] == 0)

    def _only_eos(self, row: int) -> None:
        self.bitmask[row].zero_()
        word, bit = divmod(self.grammar.eos_token_id, 32)
        self.bitmask[row, word] = torch.tensor(1 << bit, dtype=torch.int64).to(torch.int32)

    def errors(self) -> list[str | None]:
        """Per row, the matcher's error if it rejected a token (a bug in masking), else None."""
        return [m.get_error() if m is not None and m.is_error() else None for m in self.matchers]
