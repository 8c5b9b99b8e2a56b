"""Joiner: after a round of steps, decide between answering and asking for more steps.

A successful `final_answer` step is the answer as written, with no model call (the agent checks
`Joiner.final_answer` first). Otherwise the model decides, under a JSON schema:
`{"action": "answer", "answer": ...}` or, while replans are left, `{"action": "replan", "reason": ...}`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .errors import ModelOutputError, about_output_of
from .llm import LLM, GenerationRequest, call_record, generate_async
from .plan import references
from .prompts import PromptLibrary
from .schema import FINAL_ANSWER_TOOL, Message, ModelCall, StepResult

MAX_ANSWER_CHARS = 400


class Decision(BaseModel):
    """What the joiner decided, and the model call behind it (None for a `final_answer` step)."""

    action: Literal["answer", "replan"]
    answer: str = ""
    reason: str = ""
    call: ModelCall | None = None


class Joiner:
    """Decides the answer, or a replan, once a round of steps has run."""

    def __init__(
        self, llm: LLM, prompts: PromptLibrary, *, max_new_tokens: int = 160, constrained: bool = True
    ) -> None:
        self.llm = llm
        self.constrained = constrained
        self.prompts = prompts
        self.max_new_tokens = max_new_tokens

    @staticmethod
    def final_answer(results: list[StepResult]) -> str | None:
        """The text of the last successful `final_answer` step that no failed step feeds, even
        through other steps, if any: an answer built on an error text is no answer."""
        tainted: set[int] = set()
        for r in sorted(results, key=lambda r: r.id):  # references only point to earlier steps
            if r.status == "error" or references(r.args) & tainted:
                tainted.add(r.id)
        final = [r for r in results if r.tool == FINAL_ANSWER_TOOL and r.id not in tainted]
        return final[-1].observation if final else None

    async def decide(self, instruction: str, results: list[StepResult], *, can_replan: bool) -> Decision:
        """Ask the model to answer from `results` or, when `can_replan`, to ask for more steps."""
        prompt = self.prompts.render(
            "answer",
            instruction=instruction,
            steps=[{"id": r.id, "tool": r.tool, "observation": r.observation, "status": r.status} for r in results],
            can_replan=can_replan,
        )
        request = GenerationRequest(
            messages=[Message(role="user", content=prompt)],
            json_schema=decision_schema(can_replan) if self.constrained else None,
            max_new_tokens=self.max_new_tokens,
        )
        [generation] = await generate_async(self.llm, [request])
        call = call_record("answer", request, generation)
        with about_output_of(call):
            if generation.truncated:
                raise ModelOutputError(
                    f"The joiner's reply did not finish within {self.max_new_tokens} tokens; raise "
                    "agent.joiner.max_new_tokens",
                    generation.text,
                )
            try:
                decision = Decision.model_validate(json.loads(generation.text))
            except (ValueError, ValidationError) as exc:
                raise ModelOutputError(
                    f"The joiner's reply is not a decision ({exc})"
                    + ("; the JSON-schema constraint should make this impossible, so please report it with "
                       "the raw output below" if self.constrained else ""),
                    generation.text,
                ) from exc
            if decision.action == "replan" and not can_replan:
                raise ModelOutputError("The joiner asked to replan with no replans left", generation.text)
        decision.call = call
        return decision


def decision_schema(can_replan: bool) -> dict[str, Any]:
    """The JSON schema of the joiner's reply: an answer, or (when allowed) a replan request."""
    text = {"type": "string", "minLength": 1, "maxLength": MAX_ANSWER_CHARS}
    answer = {
        "type": "object",
        "properties": {"action": {"const": "answer"}, "answer": text},
        "required": ["action", "answer"],
        "additionalProperties": False,
    }
    if not can_replan:
        return answer
    replan = {
        "type": "object",
        "properties": {"action": {"const": "replan"}, "reason": text},
        "required": ["action", "reason"],
        "additionalProperties": False,
    }
    return {"anyOf": [answer, replan]}
