"""Executor: runs a validated plan's steps in dependency order and records each one.

Tool steps validate their arguments and call the tool; `think` steps render `step.j2` and ask the
model. Every failure (bad arguments, a tool exception, `RetryTool`) becomes the step's observation,
so the run goes on and the answer step sees what went wrong. Parallel execution comes later; the
order here is already the DAG's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from .errors import RetryTool
from .llm import LLM, GenerationRequest, call_record
from .plan import Plan, resolve
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry
from .schema import THINK_TOOL, Message, Passage, StepResult, StepSpec

FINAL_ANSWER_TOOL = "final_answer"

Retriever = Callable[[str], list[Passage]]


class Executor:
    """Runs plans against one tool registry and one model."""

    def __init__(
        self,
        llm: LLM,
        registry: ToolRegistry,
        prompts: PromptLibrary,
        *,
        retrieve: Retriever | None = None,
        think_max_new_tokens: int = 96,
    ) -> None:
        self.llm = llm
        self.registry = registry
        self.prompts = prompts
        self.retrieve = retrieve
        self.think_max_new_tokens = think_max_new_tokens

    async def run(self, plan: Plan, instruction: str, max_steps: int) -> list[StepResult]:
        """Results of the steps run, in order; stops after `final_answer` or `max_steps` steps."""
        results: list[StepResult] = []
        for step in plan.order()[:max_steps]:
            if step.tool == THINK_TOOL:
                result = self._think(step, instruction, results)
            else:
                result = await self._call_tool(step, results)
            results.append(result)
            if step.tool == FINAL_ANSWER_TOOL and result.status == "ok":
                break
        return results

    async def _call_tool(self, step: StepSpec, done: list[StepResult]) -> StepResult:
        start = time.perf_counter()
        tool = self.registry.get(step.tool)
        resolved = _resolve_for(tool, step.args, done)
        try:
            value = await tool.acall(resolved)
        except ValidationError as exc:
            return self._failed(step, resolved, start, f"invalid arguments for {tool.name}: {_brief(exc)}")
        except RetryTool as exc:
            return self._failed(step, resolved, start, f"{tool.name} asks to retry: {exc}")
        except Exception as exc:  # any tool failure is an observation, never a crash
            return self._failed(step, resolved, start, f"{tool.name} failed: {type(exc).__name__}: {exc}")
        passages = value if _is_passages(value) else []
        if passages:
            value = [p.model_dump() for p in passages]
        return StepResult(
            id=step.id,
            tool=step.tool,
            args=step.args,
            resolved_args=_jsonable(resolved),
            status="ok",
            observation=_observation(value, passages),
            value=_jsonable(value),
            passages=passages,
            duration_s=time.perf_counter() - start,
        )

    def _think(self, step: StepSpec, instruction: str, done: list[StepResult]) -> StepResult:
        start = time.perf_counter()
        resolved = resolve(step.args, {r.id: r.observation for r in done})
        parents = [r for r in done if r.id in step.depends_on]
        question = str(resolved.get("question", ""))
        passages = self.retrieve(question) if self.retrieve and question.strip() else []
        prompt = self.prompts.render(
            "step",
            instruction=instruction,
            question=question,
            context=[{"id": r.id, "tool": r.tool, "observation": r.observation} for r in parents],
            passages=passages,
        )
        request = GenerationRequest(
            messages=[Message(role="user", content=prompt)], max_new_tokens=self.think_max_new_tokens
        )
        [generation] = self.llm.generate([request])
        text = generation.text.strip()
        return StepResult(
            id=step.id,
            tool=step.tool,
            args=step.args,
            resolved_args=_jsonable(resolved),
            status="ok",
            observation=text,
            value=text,
            model_call=call_record("think", request, generation, passages),
            passages=passages,
            duration_s=time.perf_counter() - start,
        )

    @staticmethod
    def _failed(step: StepSpec, resolved: dict[str, Any], start: float, message: str) -> StepResult:
        # subtle: the error text is also the step's value, so children that reference it see why.
        return StepResult(
            id=step.id,
            tool=step.tool,
            args=step.args,
            resolved_args=_jsonable(resolved),
            status="error",
            observation=f"Error: {message}",
            value=f"Error: {message}",
            duration_s=time.perf_counter() - start,
        )


def _resolve_for(tool: Tool, args: dict[str, Any], done: list[StepResult]) -> dict[str, Any]:
    """Arguments with `$N` replaced by typed results; where those do not fit the tool's schema
    (a list of passages for a `str` parameter, say), by the results' text instead."""
    typed = resolve(args, {r.id: r.value for r in done})
    try:
        tool.validate(typed)
        return typed
    except ValidationError:
        as_text = resolve(args, {r.id: r.observation for r in done})
        try:
            tool.validate(as_text)
            return as_text
        except ValidationError:
            return typed  # the call reports the typed form's errors


def _is_passages(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Passage) for v in value)


def _observation(value: Any, passages: list[Passage]) -> str:
    if passages:
        return "\n".join(f"[{p.title}] {p.text}" for p in passages)
    return value if isinstance(value, str) else json.dumps(_jsonable(value))


def _brief(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']} (got {e.get('input')!r})"
        for e in exc.errors()
    )


def _jsonable(value: Any) -> Any:
    """`value` if JSON can hold it, else its text, so records always serialise."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)
