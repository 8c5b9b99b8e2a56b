"""Joiner: after a round of steps, decide between answering and asking for more steps.

A successful `final_answer` step is the answer as written, with no model call (the agent checks
`Joiner.final_answer` first). Otherwise the model decides, under a JSON schema:
`{"action": "answer", "answer": ...}` or, while replans are left, `{"action": "replan", "reason": ...}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .conversation import Turn
from .errors import ModelOutputError, about_output_of
from .llm import LLM, OnText, ask, prompt_request
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
                     earlier: Sequence[Turn] = (), on_answer: OnText | None = None) -> Decision:
        """Ask the model to answer from `results` (and the `earlier` turns of a conversation) or,
        when `can_replan`, to ask for more steps. `on_answer` gets the answer's text as the
        model writes it (`AnswerText`)."""
        prompt = self.prompts.render(
            "answer",
            instruction=instruction,
            steps=[{"id": r.id, "tool": r.tool, "observation": r.observation, "status": r.status} for r in results],
            can_replan=can_replan,
            earlier=list(earlier),
        )
        request = prompt_request(prompt, self.max_new_tokens,
                                 decision_schema(can_replan) if self.constrained else None)
        [reply] = await ask(self.llm, "answer", [request], on_text=AnswerText(on_answer) if on_answer else None)
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


class AnswerText:
    """Follows the joiner's reply as the model writes it, `{"action": "answer", "answer": "..."}`,
    and hands on the answer's text, decoded, as far as it is written: so the person sees the
    answer as it is written, not once the JSON around it closes. A replan hands on nothing."""

    _KEY = re.compile(r'"answer"\s*:\s*"')

    def __init__(self, on_text: OnText) -> None:
        self.on_text = on_text
        self.raw = ""
        self.sent = 0

    def __call__(self, piece: str) -> None:
        self.raw += piece
        key = self._KEY.search(self.raw)
        if key is None:
            return
        text = _string_so_far(self.raw[key.end():])
        if len(text) > self.sent:
            self.on_text(text[self.sent:])
            self.sent = len(text)


def _string_so_far(body: str) -> str:
    """The decoded content of a JSON string whose opening quote came just before `body`, as far
    as it is written: to its closing quote if there is one, without an escape cut in two."""
    position = 0
    while position < len(body) and body[position] != '"':
        position += 2 if body[position] == "\\" else 1
    text = body[:position]
    for cut in range(7):  # "\\" or "\\u00" at the end waits for the rest of its escape
        try:
            return str(json.loads(f'"{text[:len(text) - cut]}"'))
        except ValueError:
            continue
    return ""


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
