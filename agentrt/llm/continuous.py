"""Continuous batching for the local transformers backend: the running requests decode one token
a step, all in one forward pass over one left-padded dynamic KV cache. A request that arrives
while others decode joins at the next step (its prompt prefilled, its cache padded on the left to
the batch's length) instead of waiting for the batch to end; a finished one leaves at once, and
the padding no row needs any more goes with it.

Why not transformers' own continuous batching (`model.init_continuous_batching`): on a CPU it
attends each step over every running request's keys at once with a dense mask (no varlen
kernel there), it takes no per-request logits processor (a JSON-schema constraint must follow its
own row), and it has no stop strings; see benchmarks/README.md ("Continuous batching").
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import torch
from torch.nn import functional

from ..errors import ConfigError, ModelOutputError
from .batching import Job
from .constrained import BatchConstraints
from .transformers_llm import RowTexts

if TYPE_CHECKING:
    from .transformers_llm import TransformersLLM


class StepDecoder:
    """The `batching.Decoder` of a `TransformersLLM` with dynamic KV caches: greedy, with each
    row's constraint, stop strings, streaming and cancellation as `model.generate` has them, and
    prefix reuse for every request that joins."""

    def __init__(self, llm: TransformersLLM) -> None:
        self.llm = llm
        self.jobs: list[Job] = []
        self.tokens: list[list[int]] = []  # each row's tokens so far
        self.prompt_tokens: list[int] = []
        self.started: list[float] = []
        self.constraints = BatchConstraints(llm.grammar, [], [])
        self.texts = RowTexts(llm.tokenizer, [])
        self.cache: Any = None  # a DynamicCache: [rows, heads, positions, head size] per layer
        self.mask = torch.zeros(0, 0, dtype=torch.long)  # [rows, positions]: 0 where a row is padded
        self.logits = torch.zeros(0, 0)  # [rows, vocabulary]: each row's next token's, in fp32

    def admit(self, jobs: list[Job]) -> list[Job]:
        """Prefill `jobs` and join them to the batch; returns those whose schema the constraint
        engine refused (each with its error), which never start.

        Each prompt is prefilled alone, from the longest prefix it shares with a recent prompt
        (`PrefixCache`): requests of one agent share their instructions and tools, so that costs
        far fewer tokens than prefilling the prompts together, whole, as one padded batch."""
        refused, started, matchers = [], [], []
        for job in jobs:
            schema = job.request.json_schema
            try:
                matchers.append(self.llm.grammar.matcher(schema) if schema else None)
                started.append(job)
            except ConfigError as exc:  # only this request's schema is at fault, not its batch-mates
                job.error = exc
                refused.append(job)
        if started:
            now = time.perf_counter()  # a generation's duration counts its prefill, as generate's does
            with torch.inference_mode():
                prefilled = [self._prefill(job) for job in started]
                self._join(prefilled)
            self.jobs += started
            self.tokens += [[] for _ in started]
            self.prompt_tokens += [mask.shape[1] for _, mask, _ in prefilled]
            self.started += [now] * len(started)
            self.constraints.add(matchers, [job.request.max_new_tokens for job in started])
            self.texts.add(started)
        return refused

    def step(self) -> list[Job]:
        """Choose each row's next token; the rows that finish with it leave, and the others run
        one forward pass for the token after."""
        with torch.inference_mode():
            chosen = self.constraints(None, self.logits).argmax(dim=-1)  # type: ignore[arg-type]
            self.constraints.advance(chosen[:, None], self.logits)  # type: ignore[arg-type]
            tokens = chosen.tolist()
            self.texts.step(tokens)
            eos = self.llm.tokenizer.eos_token_id
            ended = []
            for row, (job, token) in enumerate(zip(self.jobs, tokens, strict=True)):
                self.tokens[row].append(token)
                if (token == eos or len(self.tokens[row]) >= job.request.max_new_tokens
                        or self.texts.rows[row].stopped or job.cancelled):
                    ended.append(row)
            finished = [self._finish(row) for row in ended]
            staying = [row for row in range(len(self.jobs)) if row not in ended]
            if ended:
                self._keep(staying)
            if staying:
                self._decode(chosen[staying, None])
        return finished

    def clear(self) -> None:
        self._keep([])

    def _prefill(self, job: Job) -> tuple[Any, torch.Tensor, torch.Tensor]:
        """(KV cache, attention mask, last logits) of `job`'s prompt."""
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        llm = self.llm
        ids = llm.tokenizer(llm.prompt_text(job.request.messages), return_tensors="pt",
                            add_special_tokens=False)["input_ids"].to(llm.device)
        prompt_ids = ids[0].tolist()
        cache = llm.prefix_cache.lookup(prompt_ids) if llm.prefix_cache is not None else None
        if cache is None:
            cache = DynamicCache(config=llm.model.config)
        if any(type(layer) is not DynamicLayer for layer in cache.layers):
            raise ConfigError(f"{llm.name} has sliding-window or linear attention layers, whose caches continuous "
                              "batching does not pad; pass continuous=False")
        done = cache.get_seq_length()
        out = llm.model(input_ids=ids[:, done:], cache=cache, use_cache=True, logits_to_keep=1)
        if llm.prefix_cache is not None:
            llm.prefix_cache.store(prompt_ids, cache)  # _join copies it: decoding never extends the stored one
        return cache, torch.ones_like(ids), out.logits[:, -1].float()

    def _join(self, prefilled: list[tuple[Any, torch.Tensor, torch.Tensor]]) -> None:
        """Add the rows of `prefilled` (cache, mask, logits) to the batch, each padded on the left
        to the longest."""
        from transformers import DynamicCache

        parts = ([(self.cache, self.mask, self.logits)] if self.cache is not None else []) + prefilled
        length = max(mask.shape[1] for _, mask, _ in parts)
        merged = DynamicCache()
        for number in range(len(prefilled[0][0].layers)):
            layers = [cache.layers[number] for cache, _, _ in parts]
            merged.update(torch.cat([_pad_left(layer.keys, length, dim=2) for layer in layers]),
                          torch.cat([_pad_left(layer.values, length, dim=2) for layer in layers]), number)
        self.cache = merged
        self.mask = torch.cat([_pad_left(mask, length, dim=1) for _, mask, _ in parts])
        self.logits = torch.cat([logits for _, _, logits in parts])

    def _keep(self, rows: list[int]) -> None:
        """Keep only `rows`, and only the positions at least one of them attends to."""
        from transformers import DynamicCache

        self.jobs = [self.jobs[i] for i in rows]
        self.tokens = [self.tokens[i] for i in rows]
        self.prompt_tokens = [self.prompt_tokens[i] for i in rows]
        self.started = [self.started[i] for i in rows]
        self.constraints.keep(rows)
        self.texts.keep(rows)
        if not rows:
            self.cache, self.mask, self.logits = None, torch.zeros(0, 0, dtype=torch.long), torch.zeros(0, 0)
            return
        index = torch.tensor(rows, device=self.mask.device)
        mask = self.mask[index]
        start = int(mask.any(dim=0).nonzero()[0])  # columns before it pad every row left
        kept = DynamicCache()
        for number, layer in enumerate(self.cache.layers):
            kept.update(layer.keys[index, :, start:], layer.values[index, :, start:], number)
        self.cache, self.mask, self.logits = kept, mask[:, start:], self.logits[index]

    def _decode(self, tokens: torch.Tensor) -> None:
        """One forward pass of every row with its new token; keeps the logits of the token after."""
        ones = torch.ones(len(tokens), 1, dtype=self.mask.dtype, device=self.mask.device)
        self.mask = torch.cat([self.mask, ones], dim=1)
        positions = self.mask.sum(dim=1, keepdim=True) - 1
        out = self.llm.model(input_ids=tokens, attention_mask=self.mask, position_ids=positions,
                             cache=self.cache, use_cache=True)
        self.logits = out.logits[:, -1].float()

    def _finish(self, row: int) -> Job:
        """Row `row`'s job, with its result (or error) set: its text has ended."""
        job = self.jobs[row]
        self.texts.end_row(row)
        duration = time.perf_counter() - self.started[row]
        job.result = self.llm.generation(
            self.tokens[row], self.prompt_tokens[row], job.request, duration, job.cancelled
        )
        error = self.constraints.errors()[row]
        if error is not None:  # the mask let through a token the grammar then refused: a bug
            job.error = ModelOutputError(f"The constraint engine rejected the output ({error})", job.result.text)
        return job


def _pad_left(tensor: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    """`tensor` with zeros before its entries along `dim` up to `length` of them."""
    missing = length - tensor.shape[dim]
    if missing == 0:
        return tensor
    pads = [0, 0] * (tensor.dim() - 1 - dim) + [missing, 0]  # F.pad lists the last dimension first
    return functional.pad(tensor, pads)
