"""`Agent(adapter=...)` and `agentrt run --adapter DIR` load a LoRA adapter onto the local model."""

import subprocess
import sys

import pytest

from agentrt import Agent, ConfigError
from agentrt.testing import ScriptedLLM

from .test_lora import zero_adapter  # noqa: F401  (a LoRA adapter that adds nothing)


def test_an_adapter_needs_a_model_to_load_onto():
    with pytest.raises(ConfigError, match="adapter='lora/' needs a model id or path"):
        Agent(model=ScriptedLLM(), adapter="lora/")


@pytest.mark.model
def test_agent_and_cli_run_the_default_model_with_an_adapter(zero_adapter, tmp_path):  # noqa: F811
    agent = Agent(adapter=zero_adapter, store=":memory:")
    assert "lora" in agent.llm.name and agent.run("What is 17 * 23 + 4?").answer
    done = subprocess.run([sys.executable, "-m", "agentrt.cli", "run", "What is 17 * 23 + 4?", "--adapter",
                           str(zero_adapter), "--store", ":memory:"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Answer: " in done.stdout
