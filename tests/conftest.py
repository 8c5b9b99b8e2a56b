"""Shared fixtures. The real default model is loaded once per session: it is the slow part."""

from __future__ import annotations

import pytest

from agentrt.llm.transformers_llm import TransformersLLM


@pytest.fixture(scope="session")
def default_llm() -> TransformersLLM:
    """The embedded SmolLM2-135M, converted once into the user cache and reused."""
    return TransformersLLM()


def plan(*steps: tuple[str, dict]) -> dict:
    """Plan JSON as the model emits it: steps numbered from 1 in order."""
    return {"steps": [{"id": i, "tool": t, "args": a} for i, (t, a) in enumerate(steps, 1)]}
