"""Shared fixtures. The real default model is loaded once per session: it is the slow part."""

from __future__ import annotations

import pytest

from agentrt.llm.transformers_llm import TransformersLLM


@pytest.fixture(scope="session")
def default_llm() -> TransformersLLM:
    """The embedded SmolLM2-135M, converted once into the user cache and reused."""
    return TransformersLLM()


def plan(*steps: tuple[str, dict], first: int = 1) -> dict:
    """Plan JSON as the model emits it: steps numbered from `first` in order."""
    return {"steps": [{"id": i, "tool": t, "args": a} for i, (t, a) in enumerate(steps, first)]}


def answer(text: str) -> dict:
    """The joiner's reply that ends a run with `text`."""
    return {"action": "answer", "answer": text}


def replan(reason: str = "a step failed") -> dict:
    """The joiner's reply that asks for more steps."""
    return {"action": "replan", "reason": reason}
