"""Local generation with transformers: greedy decoding of batches, continuous (`continuous.py`)
or whole (`model.generate` on a padded batch), with JSON-schema constraints per row. CUDA + bf16
when a GPU is present, decoding whole batches in static KV caches with the decode step compiled
(CUDA graphs); on the CPU int4 weights with bf16 activations for a 4-bit GGUF, else fp32, in
dynamic caches, batched continuously. A PEFT (LoRA) adapter, when given, is applied as the model loads."""

from __future__ import annotations

import atexit
import contextlib
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigError, ModelNotFoundError, ModelOutputError
from ..schema import Message
from . import Generation, GenerationRequest, model_source
from .batching import BatchQueue, Job
from .prefix_cache import PrefixCache

if TYPE_CHECKING:
    from transformers import CompileConfig

    from .int4_cache import CausalLM


class TransformersLLM:
    """A causal LM loaded with transformers from the embedded default, a local path or a hub id,
    optionally with a PEFT (LoRA) adapter."""

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str | None = None,
        dtype: str | None = None,
        quantize: str | None = None,
        adapter: str | Path | None = None,
        prefix_cache: bool = True,
        max_batch: int = 16,
        static_cache: bool | None = None,
        compile: bool | CompileConfig | None = None,
        continuous: bool | None = None,
    ) -> None:
        """`device` and `dtype` default to CUDA + bf16 when a GPU is present, else the CPU.
        `quantize="int4"` packs the linear weights to int4 for the CPU's int4 kernel, with bf16
        activations; `"none"` keeps them. By default a 4-bit GGUF (the embedded model) is packed
        when the CPU computes bf16 natively, since int4 then holds exactly the GGUF's weights.
        `adapter` is a local PEFT adapter directory (`save_pretrained` output). It is merged into
        float weights (no cost per token); beside int4 weights a LoRA adapter runs unmerged, since
        re-packing merged weights to 4 bits would round most of its update away.
        `max_batch` caps how many requests decode together; `static_cache`, `compile` and
        `continuous` choose how a batch decodes (see `from_model`)."""
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ImportError as exc:
            raise ModelNotFoundError(
                f"The local backend needs torch and transformers ({exc}); run `make setup` "
                "or `pip install torch==2.13.0 transformers`"
            ) from exc
        from . import adapters, int4_cache
        from .quantize import cpu_has_bf16, quantize_int4

        self.name = model or model_source.DEFAULT_MODEL
        self.adapter = adapters.adapter_dir(adapter) if adapter is not None else None
        location, gguf_file = model_source.resolve(model)
        four_bit_source = False
        if gguf_file is not None:
            source = Path(location) / gguf_file
            converted = model_source.converted_gguf(location, gguf_file)
            four_bit_source = model_source.gguf_is_4bit(source, converted)
            location = str(converted)
        hf_logging.disable_progress_bar()  # loading converted weights takes under a second
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        on_cpu = self.device.type == "cpu"
        if quantize is None:
            quantize = "int4" if on_cpu and four_bit_source and cpu_has_bf16() else "none"
        if quantize not in ("int4", "none"):
            raise ConfigError(
                f"quantize={quantize!r}; use 'int4', 'none', or leave it unset to choose by model and CPU"
            )
        if quantize == "int4" and not on_cpu:
            raise ConfigError("quantize='int4' uses torch's CPU int4 kernel; on a GPU leave it unset (bf16)")
        self.quantize = quantize
        merge = self.adapter is not None and quantize != "int4"
        torch_dtype = getattr(torch, dtype) if dtype else (
            torch.bfloat16 if not on_cpu or quantize == "int4" else torch.float32
        )
        # the packed copy is kept beside weights agentrt converted itself, never in a user's folder
        packed = (int4_cache.packed_file(Path(location), torch_dtype)
                  if quantize == "int4" and gguf_file is not None and self.adapter is None else None)
        try:
            # subtle: never download at run time; a hub id must already be in the local HF cache.
            self.tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
            loaded = int4_cache.load(location, packed, torch_dtype) if packed is not None and packed.is_file() else None
            # subtle: merge an adapter in fp32: a LoRA update is small next to the weights it adds
            # to, and bf16's 8-bit mantissa would round much of it away
            self.model = loaded if loaded is not None else AutoModelForCausalLM.from_pretrained(
                location, dtype=torch.float32 if merge else torch_dtype, local_files_only=True
            )
        except OSError as exc:
            raise ModelNotFoundError(
                f"Could not load model {self.name!r}: looked for a local directory {location!r} "
                "and for that id in the local Hugging Face cache (agentrt never downloads). Pass a "
                "local path, or run `huggingface-cli download ID` on a connected machine first. "
                f"({exc.__class__.__name__}: {str(exc).splitlines()[0][:200]})"
            ) from exc
        if self.adapter is not None:
            self.model, kind = adapters.apply_adapter(
                self.model, self.adapter, self.name, merge=merge, dtype=torch_dtype
            )
            self.name = f"{self.name}+{kind}:{self.adapter.name}"
        # transformers decorates `to` with functools.wraps(nn.Module.to), whose stub type does not bind
        # `self` on a method: it takes the device for the model
        self.model.to(self.device)  # type: ignore[arg-type]
        if quantize == "int4" and loaded is None:
            quantize_int4(self.model, keep=("lm_head", adapters.ADAPTER_NAME))
            if packed is not None:
                # subtle: the packed copy only saves time; a cache that cannot take it packs again next start
                with contextlib.suppress(OSError):
                    int4_cache.save(self.model, packed)
        self._start(prefix_cache, max_batch, static_cache, compile, continuous)

    @classmethod
    def from_model(
        cls,
        model: CausalLM,
        tokenizer: Any,
        *,
        name: str,
        prefix_cache: bool = True,
        max_batch: int = 16,
        static_cache: bool | None = None,
        compile: bool | CompileConfig | None = None,
        continuous: bool | None = None,
    ) -> TransformersLLM:
        """The backend for a model already built (from a config, say, with random weights, as
        benchmarks/gpu.py does), on its own device and dtype, with `tokenizer` (whose ids must be
        below the model's vocabulary size).

        `static_cache` decodes in pre-allocated KV caches (`static_kv.py`), prefix reuse kept;
        `compile` compiles the decode step with transformers' compile path (which needs the
        static cache): True for its default, `torch.compile(mode="reduce-overhead")`, which
        replays the step as CUDA graphs; a `transformers.CompileConfig` for other settings, on
        any device. Both default to on where the model is on CUDA and off elsewhere: on a CPU the
        compile takes minutes and a static cache attends over positions not yet used.

        `continuous` batches continuously (`continuous.py`): a request that arrives while others
        decode joins them at the next token, and a finished one leaves at once. It is the default
        with dynamic caches; a static cache has a fixed number of rows, so there (or with
        `continuous=False`) each batch runs whole with `model.generate`, and what arrives meanwhile
        waits for it to end."""
        llm = cls.__new__(cls)
        llm.name, llm.adapter, llm.quantize = name, None, "none"
        llm.model, llm.tokenizer, llm.device = model, tokenizer, model.device
        llm._start(prefix_cache, max_batch, static_cache, compile, continuous)
        return llm

    def _start(
        self,
        prefix_cache: bool,
        max_batch: int,
        static_cache: bool | None,
        compile: bool | CompileConfig | None,
        continuous: bool | None,
    ) -> None:
        """What every backend sets up once its model and tokenizer are loaded."""
        from . import compiled_decode
        from .constrained import TokenizerGrammar
        from .continuous import StepDecoder
        from .static_kv import StaticCaches

        self.model.eval()
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        on_cuda = self.device.type == "cuda"
        static_cache = on_cuda if static_cache is None else static_cache
        compile = on_cuda and static_cache if compile is None else compile
        if compile is not False and not static_cache:
            raise ConfigError("compile= compiles the decode step over a static KV cache: pass static_cache=True too")
        continuous = not static_cache if continuous is None else continuous
        if continuous and static_cache:
            raise ConfigError("continuous batching grows and shrinks the batch, which a static KV cache cannot: "
                              "pass static_cache=False or continuous=False")
        self.static_caches = StaticCaches(self.model.config) if static_cache else None
        self._compile = compiled_decode.generate_options(compile, on_cuda)
        self._compiled_on_cuda = on_cuda and compile is not False
        self.grammar = TokenizerGrammar(self.tokenizer, self.model.config.vocab_size)
        self.prefix_cache = PrefixCache() if prefix_cache else None
        # the model decodes on the queue's thread only, one batch at a time
        self.batches = BatchQueue(StepDecoder(self) if continuous else self._run_batch, max_batch)
        _LIVE.add(self)

    def prompt_text(self, messages: Sequence[Message]) -> str:
        """The exact text the model sees: its chat template when it has one, else plain turns."""
        turns = [m.model_dump() for m in messages]
        if self.tokenizer.chat_template:
            # tokenize=False gives the text (the annotation covers every mode: ids, encodings)
            return cast(str, self.tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True))
        return "".join(f"{m.role}: {m.content}\n" for m in messages) + "assistant: "

    def count_tokens(self, messages: Sequence[Message]) -> int:
        """The prompt tokens the model sees for `messages` (`CountingLLM`)."""
        return len(self.tokenizer(self.prompt_text(messages), add_special_tokens=False).input_ids)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """Greedy completions for `requests`. Requests from concurrent callers that wait while the
        model is busy are run together as its next batch."""
        return self.batches.submit(requests)

    def generate_streaming(self, request: GenerationRequest, on_text: Callable[[str], None]) -> Generation:
        """`generate` for one request, handing each new piece of text to `on_text` as it decodes."""
        [generation] = self.batches.submit([request], [on_text])
        return generation

    def _run_batch(self, jobs: list[Job]) -> None:
        """One padded batch through `model.generate`; sets each job's result or error."""
        import torch

        from . import compiled_decode
        from .constrained import BatchConstraints

        matchers = []
        for job in jobs:
            try:
                matchers.append(self.grammar.matcher(job.request.json_schema) if job.request.json_schema else None)
            except ConfigError as exc:  # only this request's schema is at fault, not its batch-mates
                job.error = exc
        jobs = [job for job in jobs if job.error is None]
        if not jobs:
            return
        requests = [job.request for job in jobs]
        start = time.perf_counter()
        prompts = [self.prompt_text(r.messages) for r in requests]
        batch = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        batch = batch.to(self.device)
        constraints = BatchConstraints(self.grammar, matchers, [r.max_new_tokens for r in requests])
        constrained = any(m is not None for m in matchers)
        texts = RowTexts(self.tokenizer, jobs)
        budget = max(r.max_new_tokens for r in requests) + 1
        lone = self.prefix_cache is not None and len(requests) == 1  # only a lone request reuses a prefix
        with torch.inference_mode():
            if self._compiled_on_cuda:
                compiled_decode.prepare_thread()
            prompt_ids = batch["input_ids"][0].tolist() if lone else []
            result = self.model.generate(
                **batch,
                cache=self._cache(batch["input_ids"].shape, budget, prompt_ids),
                return_dict_in_generate=True,
                max_new_tokens=budget,
                do_sample=False,
                logits_processor=[constraints],
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
                top_p=None, top_k=None, temperature=None,
                streamer=texts if texts.needed else None,
                stopping_criteria=[_Cancelled(jobs), *([constraints.advance] if constrained else []),
                                   *([texts] if texts.needed else [])],
                **self._compile,
            )
            if lone:
                self._keep(prompt_ids, result.cache)
        output = result.sequences
        duration = time.perf_counter() - start
        new_tokens = output[:, batch["input_ids"].shape[1]:].tolist()
        prompt_lengths = batch["attention_mask"].sum(dim=1).tolist()
        rows = zip(jobs, new_tokens, prompt_lengths, constraints.errors(), strict=True)
        for job, tokens, prompt_tokens, error in rows:
            job.result = self.generation(tokens, prompt_tokens, job.request, duration, job.cancelled)
            if error is not None:  # the mask let through a token the grammar then refused: a bug
                job.error = ModelOutputError(f"The constraint engine rejected the output ({error})", job.result.text)

    def _cache(self, shape: Any, new_tokens: int, prompt_ids: list[int]) -> Any:
        """The KV cache a batch of `shape` (rows, prompt length) starts from: the longest cached
        prefix of `prompt_ids` when there is one, in a static cache when those are on (else
        None, and generate makes a dynamic one)."""
        reuse = self.prefix_cache if prompt_ids else None
        if self.static_caches is not None:
            rows, length = shape
            return self.static_caches.take(rows, length + new_tokens, reuse.longest(prompt_ids) if reuse else None)
        return reuse.lookup(prompt_ids) if reuse else None

    def _keep(self, prompt_ids: list[int], cache: Any) -> None:
        """Keep the cache of the prompt `prompt_ids` for prefix reuse."""
        from .static_kv import prefix_of

        assert self.prefix_cache is not None
        self.prefix_cache.store(prompt_ids, prefix_of(cache, len(prompt_ids)) if self.static_caches else cache)

    def generation(
        self, tokens: list[int], prompt_tokens: int, request: GenerationRequest, duration: float, cancelled: bool
    ) -> Generation:
        """The `Generation` of `request` from the `tokens` it was given (up to EOS, and cut at a stop string)."""
        eos = self.tokenizer.eos_token_id
        ended = eos in tokens
        if ended:
            tokens = tokens[: tokens.index(eos)]
        # one sequence of ids decodes to one string (the annotation covers a batch of them too)
        text, stopped = _cut_at_stop(cast(str, self.tokenizer.decode(tokens, skip_special_tokens=True)), request.stop)
        return Generation(
            text=text,
            prompt_tokens=int(prompt_tokens),
            completion_tokens=len(tokens),
            duration_s=duration,
            # a cancelled row is padded like a finished one: its end of text is not the model's
            truncated=not stopped and (cancelled or not ended or len(tokens) >= request.max_new_tokens),
        )

    def cancel(self, requests: Collection[GenerationRequest] | None = None) -> None:
        """Stop the generations of `requests`, running or waiting, each at its next token (every
        generation when None); their batch-mates go on."""
        self.batches.cancel(requests)

    def close(self) -> None:
        """Stop every generation and end the batch thread, which otherwise keeps the model in
        memory for the life of the process; a later request starts the thread again."""
        self.wind_down()
        self.batches.close()

    def wind_down(self, timeout_s: float = 10.0) -> None:
        """Stop every generation and wait for it to leave the model."""
        self.cancel()
        self.batches.wait_idle(timeout_s)


class _Cancelled:
    """A stopping criterion that ends each row whose job has been cancelled."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = jobs

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.tensor([job.cancelled for job in self.jobs], dtype=torch.bool, device=input_ids.device)


_LIVE: weakref.WeakSet[TransformersLLM] = weakref.WeakSet()


@atexit.register
def _wind_down_all() -> None:
    # subtle: a generation abandoned at a time limit runs on a daemon thread; torch aborts the
    # process ("terminate called...") if that thread is still inside it when Python finalizes
    for llm in list(_LIVE):
        llm.wind_down()


def _cut_at_stop(text: str, stops: Sequence[str], start: int = 0) -> tuple[str, bool]:
    """`text` up to the earliest of `stops` found at or after `start`, and whether one was found."""
    cut = min((i for i in (text.find(stop, start) for stop in stops if stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class RowTexts:
    """Follows each row's new text as it is generated: hands it to the row's `on_text`, and ends
    the row at its first stop string. It is both `generate`'s streamer and a stopping criterion;
    continuous batching (`continuous.py`) adds and drops rows as requests join and leave.

    Each token is decoded once, with what it completes (tokenizers' `DecodeStream`), so a step
    costs the same at the 500th token as at the first; decoding each row's whole token list again
    every step, as this once did, grew with the length of the text."""

    def __init__(self, tokenizer: Any, jobs: Sequence[Job]) -> None:
        self.tokenizer = tokenizer
        # a tokenizer without a Rust backend (transformers' Python and SentencePiece ones) has no DecodeStream
        self.backend = getattr(tokenizer, "backend_tokenizer", None)
        self.rows: list[_Row] = []
        self.prompt_seen = False
        self.add(jobs)

    def add(self, jobs: Sequence[Job]) -> None:
        """Rows for `jobs`, after those there are."""
        from tokenizers.decoders import DecodeStream

        self.rows += [
            _Row(job.on_text, [s for s in job.request.stop if s],
                 DecodeStream(skip_special_tokens=True) if self.backend is not None else _WholeDecode(self.tokenizer))
            for job in jobs
        ]

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only the rows numbered `rows`, in that order."""
        self.rows = [self.rows[i] for i in rows]

    @property
    def needed(self) -> bool:
        """Whether any row streams its text or has stop strings to look for."""
        return any(row.on_text or row.stops for row in self.rows)

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate hands over the prompt first
            self.prompt_seen = True
            return
        self.step(value.view(-1).tolist())  # one new token per row

    def step(self, tokens: Sequence[int]) -> None:
        """Each row's new token, in row order."""
        for row, token in zip(self.rows, tokens, strict=True):
            if not row.stopped and (row.on_text or row.stops):
                row.tokens.append(token)
                # None while the token ends inside a character that later tokens complete
                piece = row.stream.step(self.backend, token)
                if piece:
                    row.advance(piece, final=False)

    def end(self) -> None:
        for row in range(len(self.rows)):
            self.end_row(row)

    def end_row(self, row: int) -> None:
        """Send the rest of row `row`'s text: it has ended."""
        ended = self.rows[row]
        if ended.tokens and not ended.stopped:
            # subtle: the whole text, decoded once, ends the stream exactly as the generation's
            # text ends, even where the budget cut a character in half (U+FFFD)
            ended.advance(self.tokenizer.decode(ended.tokens, skip_special_tokens=True)[len(ended.text) :], final=True)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.tensor([row.stopped for row in self.rows], dtype=torch.bool, device=input_ids.device)


@dataclass
class _Row:
    on_text: Callable[[str], None] | None
    stops: list[str]
    stream: Any  # tokenizers.decoders.DecodeStream or _WholeDecode
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    sent: int = 0
    stopped: bool = False

    def advance(self, piece: str, final: bool) -> None:
        """Add `piece` to the text and send what is new, holding back a tail that could still
        become a stop string."""
        longest = max((len(s) for s in self.stops), default=0)
        # a stop string absent from the text so far can only end inside the new piece
        self.text, self.stopped = _cut_at_stop(self.text + piece, self.stops, max(len(self.text) - longest + 1, 0))
        hold = 0 if self.stopped or final else max(longest - 1, 0)
        ready = max(len(self.text) - hold, self.sent)
        if ready > self.sent and self.on_text is not None:
            self.on_text(self.text[self.sent : ready])
        self.sent = ready


class _WholeDecode:
    """`DecodeStream.step` for a tokenizer without a Rust backend: decodes the whole text again
    at each token and returns what is new."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self.text = ""

    def step(self, backend: None, token: int) -> str | None:
        self.tokens.append(token)
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # a character split across tokens decodes to U+FFFD until complete
            return None
        piece, self.text = text[len(self.text) :], text
        return piece
