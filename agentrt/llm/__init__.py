"""Language-model backends behind one batched interface.

`LLM.generate` takes every request that is ready at once, so a backend can batch them. A request
with a `json_schema` must come back as JSON matching it: backends enforce it while decoding.
Heavy imports (torch, transformers) live in the backend modules, loaded only when used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from ..context import RUN_BUDGET
from ..errors import ConfigError, ModelOutputError, TokenBudgetSpent
from ..schema import Message, ModelCall, ModelCallPurpose, Passage
from ..threads import MODEL_THREADS, off_loop


class GenerationRequest(BaseModel):
    """One completion to produce: chat messages, an optional JSON schema, a token budget and stop strings."""

    model_config = ConfigDict(extra="forbid")

    messages: list[Message]
    json_schema: dict[str, Any] | None = None
    max_new_tokens: int = Field(default=256, ge=1)
    stop: list[str] = Field(default_factory=list, description="end the text before the first of these")


class Generation(BaseModel):
    """A completion and what it cost."""

    model_config = ConfigDict(extra="forbid")

    text: str
    prompt_tokens: int
    completion_tokens: int
    duration_s: float
    truncated: bool = False


def prompt_request(prompt: str, max_new_tokens: int, json_schema: dict[str, Any] | None = None) -> GenerationRequest:
    """The request for one rendered prompt, as the user's message."""
    return GenerationRequest(messages=[Message(role="user", content=prompt)], json_schema=json_schema,
                             max_new_tokens=max_new_tokens)


@dataclass(frozen=True)
class Reply:
    """A generation, and its record for the run (`call`)."""

    generation: Generation
    call: ModelCall

    @property
    def text(self) -> str:
        return self.generation.text

    def whole(self, what: str, remedy: str) -> str:
        """The text, or, when the generation stopped at its token limit, a ModelOutputError
        saying that `what` did not finish and the `remedy`, carrying this call."""
        if self.generation.truncated:
            error = ModelOutputError(f"{what} did not finish within {self.call.completion_tokens} tokens; {remedy}",
                                     self.text)
            error.model_call = self.call
            raise error
        return self.text


OnText = Callable[[str], None]
"""Receives a generation's text piece by piece, as the model writes it."""


async def ask(
    llm: LLM, purpose: ModelCallPurpose, requests: Sequence[GenerationRequest], *,
    passages: Sequence[Sequence[Passage]] = (), on_text: OnText | Sequence[OnText | None] | None = None,
) -> list[Reply]:
    """Every model call of the run goes through here: `requests` to `llm` as one batch
    (`generate_async`; `on_text` streams the one request's text, or each request's to its own
    callback), each generation with the record of what it was for (`purpose`), what it
    saw (its request, and `passages[i]` retrieved for it) and what it cost. Within a run with a
    token budget, a call that could pass it (its prompts, as `count_tokens` gives them, and all
    the new tokens it may write) raises `TokenBudgetSpent` instead of being made."""
    budget = RUN_BUDGET.get()
    needed = 0
    if budget is not None and budget.max_tokens is not None:
        needed = sum(count_tokens(llm, r.messages) + r.max_new_tokens for r in requests)
        if budget.tokens_used + needed > budget.max_tokens:
            raise TokenBudgetSpent(
                f"the run's token budget (max_tokens={budget.max_tokens}) would be passed: {budget.tokens_used} "
                f"used, and this {purpose} call may take {needed}; raise max_tokens to let it run")
        budget.tokens_used += needed  # set aside while in flight, so concurrent calls cannot overspend
    try:
        generations = await generate_async(llm, requests, on_text)
    finally:
        if budget is not None:
            budget.tokens_used -= needed
    if budget is not None:
        budget.tokens_used += sum(g.prompt_tokens + g.completion_tokens for g in generations)
    shown = list(passages) or [()] * len(requests)
    model = getattr(llm, "name", type(llm).__name__)
    return [
        Reply(generation, ModelCall(
            purpose=purpose, model=model, messages=request.messages, output=generation.text,
            prompt_tokens=generation.prompt_tokens, completion_tokens=generation.completion_tokens,
            duration_s=generation.duration_s, passages=list(seen),
        ))
        for request, generation, seen in zip(requests, generations, shown, strict=True)
    ]


@runtime_checkable
class LLM(Protocol):
    """Anything that turns a batch of requests into one generation per request, in order."""

    name: str

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]: ...


@runtime_checkable
class CountingLLM(LLM, Protocol):
    """An `LLM` that can say how many tokens a prompt takes before it is sent."""

    def count_tokens(self, messages: Sequence[Message]) -> int: ...


def count_tokens(llm: LLM, messages: Sequence[Message]) -> int:
    """The prompt tokens of `messages` for `llm`: its own count, else a generous guess (one token
    per three characters), so a budget check errs on the side of refusing."""
    if isinstance(llm, CountingLLM):
        return llm.count_tokens(messages)
    return sum(len(m.content) // 3 + 8 for m in messages)


@runtime_checkable
class StreamingLLM(LLM, Protocol):
    """An `LLM` that can also hand over one request's text as it is generated."""

    def generate_streaming(self, request: GenerationRequest, on_text: Callable[[str], None]) -> Generation:
        """Generate like `generate([request])[0]`, calling `on_text` with each new piece of text."""
        ...


@runtime_checkable
class AsyncLLM(Protocol):
    """An `LLM` whose requests are awaited on the event loop (a server's HTTP calls) instead of
    taking a model thread; the agent prefers it. Cancelling the awaiting task abandons them."""

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_text: Callable[[str], None] | None = None
    ) -> list[Generation]:
        """Like `generate(requests)`; with `on_text`, the one request's text is streamed to it."""
        ...


@runtime_checkable
class CancellableLLM(Protocol):
    """An `LLM` whose generations in progress can be stopped from another thread."""

    def cancel(self, requests: Collection[GenerationRequest] | None = None) -> None:
        """Stop the generations of `requests` (the objects given to `generate`; every generation
        when None), leaving other callers' batch-mates running; their callers get what was
        generated so far."""
        ...


def cancels(requests: Collection[GenerationRequest] | None, request: GenerationRequest) -> bool:
    """Whether `cancel(requests)` covers `request`: it is one of those very objects (an equal
    request of another caller is not), or `requests` is None, which means every one."""
    return requests is None or any(request is chosen for chosen in requests)


def stop_generation(llm: object, requests: Collection[GenerationRequest]) -> None:
    """Stop `llm`'s generations of `requests`, if it can; for calls their caller abandons."""
    if isinstance(llm, CancellableLLM):
        llm.cancel(requests)


async def generate_async(
    llm: LLM, requests: Sequence[GenerationRequest], on_text: OnText | Sequence[OnText | None] | None = None
) -> list[Generation]:
    """`llm.generate(requests)` on a model thread (or, for an `AsyncLLM`, its own coroutine),
    awaited from the event loop. Cancelling the awaiting task stops these generations, and only
    these: concurrent runs batched with them go on. With `on_text` and a streaming backend, the
    one request's text is handed over as it grows; given one callback per request, each
    request's text goes to its own, the requests going to the model at once (the local
    backend's batch queue still batches them)."""
    streams = [on_text] if callable(on_text) else list(on_text or [])
    streamed = any(streams) and isinstance(llm, (AsyncLLM, StreamingLLM))
    try:
        if streamed and len(requests) > 1:
            each = await asyncio.gather(*(
                generate_async(llm, [request], stream) for request, stream in zip(requests, streams, strict=True)))
            return [generation for [generation] in each]
        stream = streams[0] if streamed else None
        if isinstance(llm, AsyncLLM):
            return await llm.agenerate(requests, stream)
        if stream is not None and isinstance(llm, StreamingLLM):
            [request] = requests
            return [await off_loop(MODEL_THREADS, llm.generate_streaming, request, stream)]
        return await off_loop(MODEL_THREADS, llm.generate, list(requests))
    except asyncio.CancelledError:
        stop_generation(llm, requests)
        raise


def load_llm(model: str | None = None, adapter: str | Path | None = None, **options: Any) -> LLM:
    """The backend for `model`: an OpenAI-compatible server for ``http(s)://HOST/v1[#MODEL]``,
    else the local transformers backend (a Hugging Face id, a local path, or the default), with
    the PEFT adapter in directory `adapter` when given."""
    from .openai_compatible import OpenAICompatibleLLM, is_remote

    if is_remote(model):
        if adapter is not None:
            raise ConfigError(
                "adapter= applies to local models only; a server loads its own adapters (e.g. vLLM "
                "--lora-modules NAME=PATH): name the served adapter in the URL instead, http://HOST/v1#NAME"
            )
        return OpenAICompatibleLLM.from_url(model, **options)
    from .transformers_llm import TransformersLLM

    return TransformersLLM(model, adapter=adapter, **options)
