"""The OpenAI-compatible backend awaited on the event loop (`AsyncLLM.agenerate`): the agent's
model calls to a server take no thread, a batch is in flight at once, a stream can be stopped.
Runs against a small stand-in server speaking the chat-completions protocol; the real llama.cpp
server is in test_remote_backend.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentrt import Agent
from agentrt.llm import AsyncLLM, generate_async, prompt_request
from agentrt.llm.openai_compatible import OpenAICompatibleLLM

from .conftest import answer, plan


class Server(BaseHTTPRequestHandler):
    """Replies from `replies` in order, whole or streamed in 3-character pieces, after `delay_s`."""

    replies: list[str] = []
    delay_s = 0.0
    piece_delay_s = 0.0

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        self._send({"object": "list", "data": [{"id": "stand-in", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.bodies.append(body)
        time.sleep(self.delay_s)
        text = self.replies.pop(0)
        usage = {"prompt_tokens": 5, "completion_tokens": len(text), "total_tokens": 5 + len(text)}
        if not body.get("stream"):
            self._send({"id": "x", "object": "chat.completion", "created": 0, "model": "stand-in", "usage": usage,
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}]})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            for start in range(0, len(text), 3):
                self._event({"choices": [{"index": 0, "delta": {"content": text[start:start + 3]},
                                          "finish_reason": None}], "usage": None})
                time.sleep(self.piece_delay_s)
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None})
            self._event({"choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            pass

    def _event(self, chunk: dict) -> None:
        chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "stand-in", **chunk}
        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.flush()

    def _send(self, data: dict) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[type[Server]]:
    handler = type("Scripted", (Server,), {"replies": [], "bodies": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    yield handler
    httpd.shutdown()


def test_the_agent_awaits_the_server_without_its_blocking_generate(server, monkeypatch):
    server.replies = [json.dumps(plan(("calculator", {"expression": "6*7"}))), json.dumps(answer("42"))]
    llm = OpenAICompatibleLLM(server.url)
    assert isinstance(llm, AsyncLLM) and llm.model == "stand-in"
    monkeypatch.setattr(llm, "generate", lambda requests: pytest.fail("the blocking path was taken"))
    monkeypatch.setattr(llm, "generate_streaming", lambda *args: pytest.fail("the blocking path was taken"))
    result = Agent(model=llm, store=":memory:").run("What is 6 times 7?")
    assert result.answer == "42" and result.steps[0].value == 42
    assert [c.purpose for c in result.model_calls] == ["plan", "answer"] and result.model_calls[0].prompt_tokens == 5


def test_a_batch_is_in_flight_at_once_on_the_event_loop(server):
    server.replies, server.delay_s = ["a", "b", "c", "d"], 0.3
    llm = OpenAICompatibleLLM(server.url)
    start = time.perf_counter()
    generations = asyncio.run(generate_async(llm, [prompt_request(f"say {x}", 8) for x in "abcd"]))
    assert sorted(g.text for g in generations) == ["a", "b", "c", "d"]
    assert time.perf_counter() - start < 0.9  # four 0.3 s requests, one after another, would take 1.2 s


def test_a_stream_hands_over_pieces_and_cancel_stops_it_with_what_had_arrived(server):
    server.replies, server.piece_delay_s = ["0123456789" * 10], 0.02
    llm = OpenAICompatibleLLM(server.url)
    request, pieces = prompt_request("count", 200), []

    def on_text(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 3:
            threading.Thread(target=llm.cancel, args=([request],)).start()

    [generation] = asyncio.run(generate_async(llm, [request], on_text))
    assert generation.text == "".join(pieces) and generation.text.startswith("012345678")
    assert len(generation.text) < 100


def test_a_typed_answer_travels_as_response_format_and_a_bad_reply_is_fed_back_once(server):
    from pydantic import BaseModel

    class Weather(BaseModel):
        city: str
        celsius: int

    server.replies = [json.dumps(plan(("calculator", {"expression": "6*3"}))), json.dumps(answer("18 degrees")),
                      '{"city": "Paris", "celsius": "mild"}', '{"city": "Paris", "celsius": 18}']
    result = Agent(model=OpenAICompatibleLLM(server.url), store=":memory:").run("Weather in Paris?",
                                                                                output_type=Weather)
    assert result.output == Weather(city="Paris", celsius=18)
    sent = server.bodies[-2]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"]["required"] == ["city", "celsius"]
    assert "not a valid Weather" in server.bodies[-1]["messages"][-1]["content"]


def test_each_event_loop_gets_its_own_client(server):
    server.replies = ["one", "two"]
    llm = OpenAICompatibleLLM(server.url)
    for expected in ("one", "two"):  # asyncio.run makes a new loop each time, as Agent.run does
        [generation] = asyncio.run(generate_async(llm, [prompt_request("hi", 8)]))
        assert generation.text == expected
