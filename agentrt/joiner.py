"""Joiner: turns the executed steps into the run's answer.

A successful `final_answer` step is the answer as written. Otherwise the model composes one from
the observations with `answer.j2`. Replanning (asking for more steps) is not decided here yet.
"""

from __future__ import annotations

from .executor import FINAL_ANSWER_TOOL
from .llm import LLM, GenerationRequest, call_record
from .prompts import PromptLibrary
from .schema import Message, ModelCall, StepResult


class Joiner:
    """Decides the answer once the plan's steps have run."""

    def __init__(self, llm: LLM, prompts: PromptLibrary, *, max_new_tokens: int = 96) -> None:
        self.llm = llm
        self.prompts = prompts
        self.max_new_tokens = max_new_tokens

    def answer(self, instruction: str, results: list[StepResult]) -> tuple[str, ModelCall | None]:
        """The answer text, and the model call that composed it (None when final_answer gave it)."""
        final = [r for r in results if r.tool == FINAL_ANSWER_TOOL and r.status == "ok"]
        if final:
            return final[-1].observation, None
        prompt = self.prompts.render(
            "answer",
            instruction=instruction,
            steps=[{"id": r.id, "tool": r.tool, "observation": r.observation} for r in results],
        )
        request = GenerationRequest(
            messages=[Message(role="user", content=prompt)], max_new_tokens=self.max_new_tokens
        )
        [generation] = self.llm.generate([request])
        return generation.text.strip(), call_record("answer", request, generation)
