"""A backend that talks to any OpenAI-compatible server (vLLM, SGLang, llama.cpp's server, ...).

The server owns the model, the chat template and the batching: every request of a `generate`
call is sent at once, on its own connection, so the server's continuous batching sees them
together. JSON-schema constraints travel as `response_format`, which those servers enforce
while decoding.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeGuard
from urllib.parse import urldefrag

from ..errors import BackendError, ConfigError, ModelNotFoundError
from ..threads import DaemonThreadPool
from . import Generation, GenerationRequest, cancels

REMOTE_PREFIXES = ("http://", "https://")


class OpenAICompatibleLLM:
    """Chat completions from a server at `base_url` (e.g. ``http://localhost:8000/v1``).

    `model` names the served model; when omitted, the server must serve exactly one, which is
    used. `schema_style` picks how a JSON schema is sent: ``"json_schema"`` is OpenAI's form,
    understood by vLLM, SGLang and llama.cpp's own server; ``"json_object"`` puts the schema
    beside ``type: json_object``, the form llama-cpp-python's server reads. A server that refuses
    the first form naming the second is switched to it.
    """

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str = "not-needed",
        schema_style: str = "json_schema",
        timeout_s: float = 600.0,
        max_concurrency: int = 64,
    ) -> None:
        try:
            import openai
        except ImportError as exc:
            raise ConfigError(
                "A server URL as the model needs the OpenAI client: pip install 'agentrt[remote]'"
            ) from exc
        if schema_style not in ("json_schema", "json_object"):
            raise ConfigError(f"schema_style must be 'json_schema' or 'json_object', not {schema_style!r}")
        self._openai = openai
        self.base_url = base_url
        self.schema_style = schema_style
        self._client_options: dict[str, Any] = {"base_url": base_url, "api_key": api_key, "timeout": timeout_s,
                                                "max_retries": 1}
        self._client = openai.OpenAI(**self._client_options)
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        # daemon threads: a request still in flight at exit must not hold the process open
        self._pool = DaemonThreadPool(max_concurrency, "agentrt-remote")
        self._streams: dict[Any, GenerationRequest] = {}  # each stream in flight, and its request
        self._streams_lock = threading.Lock()
        self.model = model or self._only_served_model()
        self.name = f"{self.model} @ {base_url}"

    @classmethod
    def from_url(cls, url: str, **options: Any) -> OpenAICompatibleLLM:
        """A backend for ``URL`` or ``URL#MODEL``: the fragment names the served model."""
        base_url, model = urldefrag(url)
        return cls(base_url, model or None, **options)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        """All `requests` in flight at once; their generations in order."""
        return list(self._pool.map(self._complete, requests))

    async def agenerate(
        self, requests: Sequence[GenerationRequest], on_text: Callable[[str], None] | None = None
    ) -> list[Generation]:
        """`generate`, awaited on the running event loop (the agent's way: no thread per
        request); with `on_text`, the one request streamed as `generate_streaming` does."""
        client = self._async_client()
        if on_text is not None:
            [request] = requests
            return [await self._astream(client, request, on_text)]
        return list(await asyncio.gather(*(self._acomplete(client, request) for request in requests)))

    def generate_streaming(self, request: GenerationRequest, on_text: Callable[[str], None]) -> Generation:
        """One request, streamed: `on_text` gets each piece of text as the server sends it. Token
        counts come from the server where it reports usage on streams; else pieces are counted."""
        text = _Streamed(on_text)
        with self._errors_named(), self._stream(request) as stream:
            for chunk in stream:
                text.add(chunk)
        return text.generation()

    def cancel(self, requests: Collection[GenerationRequest] | None = None) -> None:
        """Close the streams of `requests` (every stream in flight when None); their callers get
        what had arrived."""
        with self._streams_lock:
            streams = [stream for stream, request in self._streams.items() if cancels(requests, request)]
        for stream in streams:
            if isinstance(stream, _Streamed):  # an awaited stream, which stops at its next piece
                stream.stopped = True
            else:
                stream.close()

    def _complete(self, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        with self._errors_named():
            reply = self._create(request)
        return _completed(reply, start)

    async def _acomplete(self, client: Any, request: GenerationRequest) -> Generation:
        start = time.perf_counter()
        with self._errors_named():
            reply = await self._acreate(client, request)
        return _completed(reply, start)

    async def _astream(self, client: Any, request: GenerationRequest, on_text: Callable[[str], None]) -> Generation:
        text = _Streamed(on_text)
        with self._errors_named(), self._registered(text, request):
            stream = await self._acreate(client, request, **_STREAMING)
            try:
                async for chunk in stream:
                    text.add(chunk)
                    if text.stopped:
                        break
            finally:
                await stream.close()
        return text.generation()

    def _async_client(self) -> Any:
        """The async client of the running event loop: its connections belong to that loop."""
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = self._openai.AsyncOpenAI(**self._client_options)
            self._async_clients[loop] = client
        return client

    @contextmanager
    def _stream(self, request: GenerationRequest) -> Iterator[Any]:
        stream = self._create(request, **_STREAMING)
        with self._registered(stream, request):
            try:
                yield stream
            finally:
                stream.close()

    @contextmanager
    def _registered(self, stream: Any, request: GenerationRequest) -> Iterator[None]:
        """`stream` among those `cancel` can stop while it lasts."""
        with self._streams_lock:
            self._streams[stream] = request
        try:
            yield
        finally:
            with self._streams_lock:
                self._streams.pop(stream, None)

    def _create(self, request: GenerationRequest, **extra: Any) -> Any:
        """The server's reply to `request`; sent once more in the other schema style if the
        server asked for it."""
        try:
            return self._client.chat.completions.create(**self._arguments(request), **extra)
        except self._openai.APIStatusError as exc:
            if not self._switch_style(exc, request):
                raise
            return self._client.chat.completions.create(**self._arguments(request), **extra)

    async def _acreate(self, client: Any, request: GenerationRequest, **extra: Any) -> Any:
        """`_create`, awaited on `client`, the running loop's."""
        try:
            return await client.chat.completions.create(**self._arguments(request), **extra)
        except self._openai.APIStatusError as exc:
            if not self._switch_style(exc, request):
                raise
            return await client.chat.completions.create(**self._arguments(request), **extra)

    def _switch_style(self, exc: Exception, request: GenerationRequest) -> bool:
        """Whether the server refused `request`'s schema in OpenAI's form naming `json_object`:
        then every later request uses that form (llama-cpp-python's server)."""
        if request.json_schema is None or self.schema_style != "json_schema" or "json_object" not in str(exc):
            return False
        self.schema_style = "json_object"
        return True

    def _arguments(self, request: GenerationRequest) -> dict[str, Any]:
        """The chat-completion arguments for `request`: greedy, like the local backend."""
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": [m.model_dump() for m in request.messages],
            "max_tokens": request.max_new_tokens,
            "temperature": 0.0,
        }
        if request.stop:
            arguments["stop"] = request.stop
        schema = request.json_schema
        if schema is not None and self.schema_style == "json_object":
            arguments["response_format"] = {"type": "json_object", "schema": schema}
        elif schema is not None:
            arguments["response_format"] = {
                "type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}
            }
        return arguments

    def _only_served_model(self) -> str:
        with self._errors_named():
            served = [m.id for m in self._client.models.list()]
        if len(served) != 1:
            raise ModelNotFoundError(
                f"The server at {self.base_url} serves {len(served)} models ({', '.join(served) or 'none'}); "
                f"name one after '#': --model '{self.base_url}#MODEL'"
            )
        return served[0]

    @contextmanager
    def _errors_named(self) -> Iterator[None]:
        """The OpenAI client's exceptions as agentrt's, saying which server and what to check."""
        openai = self._openai
        try:
            yield
        except openai.APIConnectionError as exc:
            raise BackendError(f"Could not reach the model server at {self.base_url} ({exc}); is it running?") from exc
        except openai.APIStatusError as exc:
            raise BackendError(
                f"The model server at {self.base_url} refused the request with HTTP {exc.status_code}: "
                f"{str(exc)[:500]}"
            ) from exc


_STREAMING: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}


def _completed(reply: Any, start: float) -> Generation:
    """The generation of a whole chat-completion `reply` to a request sent at `start`."""
    choice = reply.choices[0]
    return Generation(
        text=choice.message.content or "",
        prompt_tokens=reply.usage.prompt_tokens if reply.usage else 0,
        completion_tokens=reply.usage.completion_tokens if reply.usage else 0,
        duration_s=time.perf_counter() - start,
        truncated=choice.finish_reason == "length",
    )


class _Streamed:
    """A streamed reply as its chunks arrive: the text so far, handed to `on_text` piece by piece,
    and the usage and finish reason the server reports."""

    def __init__(self, on_text: Callable[[str], None]) -> None:
        self.on_text, self.start = on_text, time.perf_counter()
        self.pieces: list[str] = []
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.stopped = False

    def add(self, chunk: Any) -> None:
        self.usage = chunk.usage or self.usage
        for choice in chunk.choices:
            self.finish_reason = choice.finish_reason or self.finish_reason
            if choice.delta.content:
                self.pieces.append(choice.delta.content)
                self.on_text(choice.delta.content)

    def generation(self) -> Generation:
        """Token counts from the server where it reports usage on streams; else pieces are counted."""
        return Generation(
            text="".join(self.pieces),
            prompt_tokens=self.usage.prompt_tokens if self.usage else 0,
            completion_tokens=self.usage.completion_tokens if self.usage else len(self.pieces),
            duration_s=time.perf_counter() - self.start,
            truncated=self.finish_reason == "length",
        )


def is_remote(model: str | None) -> TypeGuard[str]:
    """Whether `model` names a server URL rather than a local model."""
    return model is not None and model.startswith(REMOTE_PREFIXES)
