"""The OpenAI-compatible backend against a real server (llama-cpp-python's) running the embedded GGUF.
The agent tests shared with the local backend are in test_default_model.py."""

import json
import subprocess
import sys

import pytest

from agentrt import Agent, BackendError
from agentrt.llm import GenerationRequest, load_llm
from agentrt.llm.openai_compatible import OpenAICompatibleLLM
from agentrt.plan_schema import plan_schema
from agentrt.registry import ToolRegistry
from agentrt.plugins import installed_tools
from agentrt.schema import Message

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def remote(llama_server) -> OpenAICompatibleLLM:
    return load_llm(llama_server)


def ask(text: str, **fields) -> GenerationRequest:
    return GenerationRequest(messages=[Message(role="user", content=text)], **fields)


def test_a_url_selects_the_server_and_its_only_model(remote, llama_server):
    assert isinstance(remote, OpenAICompatibleLLM)
    assert remote.model.endswith(".gguf") and llama_server in remote.name


def test_a_batch_is_sent_at_once_and_schema_requests_come_back_valid(remote):
    schema = plan_schema(ToolRegistry(installed_tools().tools), 3)
    colours, plan = remote.generate([ask("Name three colours.", max_new_tokens=12),
                                     ask("Plan: add 2 and 2.", json_schema=schema, max_new_tokens=200)])
    assert colours.text and 0 < colours.completion_tokens <= 12 and colours.prompt_tokens > 0
    steps = json.loads(plan.text)["steps"]
    assert 1 <= len(steps) <= 3 and [s["id"] for s in steps] == list(range(1, len(steps) + 1))


def test_streaming_hands_over_pieces_and_stops_at_a_stop_string(remote):
    full = remote.generate([ask("Count from 1 to 10, separated by commas.", max_new_tokens=40)])[0].text
    assert "," in full, full
    pieces: list[str] = []
    streamed = remote.generate_streaming(ask("Count from 1 to 10, separated by commas.", max_new_tokens=40,
                                             stop=[","]), pieces.append)
    assert streamed.text == full[: full.index(",")] == "".join(pieces)
    assert not streamed.truncated


def test_the_cli_runs_an_instruction_on_the_server(llama_server):
    out = subprocess.run(
        [sys.executable, "-m", "agentrt.cli", "run", "--model", llama_server, "What is 6 times 7?"],
        capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "calculator(" in out.stdout and "Answer:" in out.stdout


def test_a_server_that_is_not_running_is_named_in_the_error():
    with pytest.raises(BackendError, match=r"http://127.0.0.1:9/v1.*is it running"):
        OpenAICompatibleLLM("http://127.0.0.1:9/v1", "some-model").generate([ask("hi")])
    with pytest.raises(BackendError, match="Could not reach"):
        Agent(model="http://127.0.0.1:9/v1")  # no model named: asking the server which fails too


def test_a_url_fragment_names_the_served_model(llama_server):
    assert load_llm(f"{llama_server}#my-model").model == "my-model"
