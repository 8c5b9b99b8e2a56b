"""Continuous batching on the real embedded model: requests join a decoding batch between steps
and leave it as soon as they finish, with the greedy output each gets alone."""

import threading
import time

import pytest

from agentrt.llm import Generation, GenerationRequest
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.plan_schema import plan_schema
from agentrt.plugins import installed_tools
from agentrt.registry import ToolRegistry
from agentrt.schema import Message

pytestmark = pytest.mark.model


def ask(text: str, **options) -> GenerationRequest:
    return GenerationRequest(messages=[Message(role="user", content=text)], **options)


def test_a_request_arriving_mid_decode_joins_and_finishes_before_the_long_one(default_llm):
    long, short = ask("Write a long story about a dragon.", max_new_tokens=120), ask("Say hi.", max_new_tokens=4)
    outcomes: dict[str, tuple[Generation, float]] = {}
    streamed: list[str] = []

    def long_run() -> None:
        generation = default_llm.generate_streaming(long, streamed.append)
        outcomes["long"] = generation, time.perf_counter()

    before = default_llm.batches.batch_sizes.copy()
    thread = threading.Thread(target=long_run)
    thread.start()
    while not streamed:  # the long request is decoding
        time.sleep(0.01)
    [generation] = default_llm.generate([short])
    outcomes["short"] = generation, time.perf_counter()
    assert thread.is_alive()  # the short one did not wait for the long one to end
    thread.join(timeout=300)
    assert outcomes["long"][0].completion_tokens == 120 and outcomes["short"][0].completion_tokens <= 4
    assert outcomes["short"][1] < outcomes["long"][1]
    steps = default_llm.batches.batch_sizes - before
    assert 1 <= steps[2] <= 4 and steps[1] >= 110  # two rows only while the short one ran, then one


def test_requests_joining_at_different_steps_get_their_lone_greedy_output(exact_llm):
    schema = plan_schema(ToolRegistry(installed_tools().tools), 3)
    requests = [
        ask("Name three colours.", max_new_tokens=30),
        ask("Plan: add 2 and 2.", json_schema=schema, max_new_tokens=160),
        ask("Count from 1 to 20, one number a line.", max_new_tokens=60, stop=["7"]),
        ask("Why is the sky blue?", max_new_tokens=50),
        ask("Write a haiku about rain.", max_new_tokens=40),
    ]
    alone = TransformersLLM.from_model(exact_llm.model, exact_llm.tokenizer, name="alone", continuous=False,
                                       prefix_cache=False)
    expected = [alone.generate([r])[0] for r in requests]
    joined: dict[int, Generation] = {}

    def run(number: int) -> None:
        [joined[number]] = exact_llm.generate([requests[number]])

    before = exact_llm.batches.batch_sizes.copy()
    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(requests))]
    for thread in threads:  # each arrives while the ones before it decode
        thread.start()
        time.sleep(0.3)
    for thread in threads:
        thread.join(timeout=300)
    assert [joined[n].text for n in range(len(requests))] == [g.text for g in expected]
    assert [joined[n].truncated for n in range(len(requests))] == [g.truncated for g in expected]
    assert max(exact_llm.batches.batch_sizes - before) >= 3  # they did decode together
