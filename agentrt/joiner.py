"""Joiner: after a round of steps, decide between answering and asking for more steps.

A successful `final_answer` step is the answer as written, with no model call (the agent checks
`Joiner.final_answer` first). Otherwise the model decides, under a JSON schema:
`{"action": "answer", "answer": ...}` or, while replans are left, `{"action": "replan", "reason": ...}`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .conversation import Turn
from .errors import ModelOutputError, about_output_of
from .llm import LLM, ask, prompt_request
from .plan import references
from .prompts import PromptLibrary
from .schema import FINAL_ANSWER_TOOL, ModelCall, StepResult

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

    async def decide(self, instruction: str, results: list[StepResult], *, can_replan: bool,
                     earlier: Sequence[Turn] = ()) -> Decision:
        """Ask the model to answer from `results` (and the `earlier` turns of a conversation) or,
        when `can_replan`, to ask for more steps."""
        prompt = self.prompts.render(
            "answer",
            instruction=instruction,
            steps=[{"id": r.id, "tool": r.tool, "observation": r.observation, "status": r.status} for r in results],
            can_replan=can_replan,
            earlier=list(earlier),
        )
        request = prompt_request(prompt, self.max_new_tokens,
                                 decision_schema(can_replan) if self.constrained else None)
        [reply] = await ask(self.llm, "answer", [request])
        text = reply.whole("The joiner's reply", "raise agent.joiner.max_new_tokens")
        with about_output_of(reply.call):
            try:
                decision = Decision.model_validate(json.loads(text))
            except (ValueError, ValidationError) as exc:
                raise ModelOutputError(
                    f"The joiner's reply is not a decision ({exc})"
                    + ("; the JSON-schema constraint should make this impossible, so please report it with "
                       "the raw output below" if self.constrained else ""),
                    text,
                ) from exc
            if decision.action == "replan" and not can_replan:
                raise ModelOutputError("The joiner asked to replan with no replans left", text)
        decision.call = reply.call
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
