"""Planner: asks the model for a plan under a JSON schema built from the registered tools.

The schema (`plan_schema.py`) makes every plan the model can emit a valid DAG of registered
tools by construction. Whether it is a *good* plan is the model's business.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from .arguments import ArgumentWriter
from .conversation import Turn
from .errors import ModelOutputError, PlanError, about_output_of
from .llm import LLM, GenerationRequest, ask, prompt_request, stop_generation
from .memory import Experience
from .plan import references
from .plan_schema import plan_schema
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry
from .schema import FINAL_ANSWER_TOOL, THINK_TOOL, ModelCall, Passage, PlanSpec, StepResult, StepSpec
from .tool_choice import Call, ToolChooser, example_arguments, example_task, signature

# What decoding a plan's text into steps raises when the text is no (complete) plan: bad JSON,
# nesting past the decoder's recursion limit, missing keys, wrong types, unusable `$N` references
_NOT_A_PLAN = (ValueError, RecursionError, KeyError, TypeError, ValidationError, PlanError)


class Planner:
    """Turns an instruction into a `PlanSpec` with one constrained model call."""

    def __init__(
        self,
        llm: LLM,
        registry: ToolRegistry,
        prompts: PromptLibrary,
        *,
        max_steps: int,
        max_new_tokens: int = 640,
        constrained: bool = True,
        chooser: ToolChooser | None = None,
        arguments: ArgumentWriter | None = None,
    ) -> None:
        """With a `chooser`, a plan whose instruction some tool fits is shown the tools that fit
        it, with worked examples of them, and is constrained to the calls chosen for its
        requests and then the answer (`tool_choice.py`); with `arguments`, that plan's calls
        then get their arguments written anew (`arguments.py`) before any step is handed on.
        A plan no tool fits, or a planner without a chooser, is shown the tools (with a
        chooser, only those always shown: `_shown`) and may call any, and its steps are handed
        on as the model writes them."""
        self.llm = llm
        self.constrained = constrained
        self.registry = registry
        self.prompts = prompts
        self.max_steps = max_steps
        self.max_new_tokens = max_new_tokens
        self.chooser = chooser
        self.arguments = arguments
        self._schemas: dict[tuple[tuple[str, ...], int, int, tuple[str, ...]], dict[str, Any]] = {}

    def _schema(self, tools: Sequence[Tool], count: int, first_id: int, opening: tuple[str, ...]) -> dict[str, Any]:
        key = (tuple(t.name for t in tools), count, first_id, opening)
        if key not in self._schemas:
            self._schemas[key] = plan_schema(tools, count, first_id=first_id, opening=opening)
        return self._schemas[key]

    def _shown(self, instruction: str, has_numbers: bool,
               earlier: Sequence[Turn]) -> tuple[list[Tool], list[dict[str, str]], list[Call]]:
        """With a chooser: the tools to show, each tool's worked examples (best fit last), and
        the calls the plan makes before it answers (a follow-up may repeat a call of the turn
        before, the last of `earlier`). The calculator is also shown when the instruction has
        numbers, since arithmetic does not read like its description."""
        if self.chooser is None:
            return list(self.registry), [], []
        # subtle: the turn just before, not the latest that called a tool: a follow-up of a
        # turn that called none ("is it raining in Oslo?" unmatched) is not about older calls
        choice = self.chooser.choose(instruction, earlier[-1].calls if earlier else ())
        extra = [t for t in self.registry if t.name == FINAL_ANSWER_TOOL
                 or (t.name == "calculator" and t not in choice.tools and has_numbers)]
        examples = [example for t in [*extra, *choice.tools] if t.name != FINAL_ANSWER_TOOL for example in _examples(t)]
        return [*choice.tools, *extra], examples, choice.calls

    def request(
        self,
        instruction: str,
        passages: Sequence[Passage] = (),
        history: Sequence[StepResult] = (),
        max_new_steps: int | None = None,
        experiences: Sequence[Experience] = (),
        earlier: Sequence[Turn] = (),
    ) -> GenerationRequest:
        """The request for the next planning round, constrained to valid plans unless the planner
        was made with `constrained=False` (a baseline); steps in `history` already ran,
        `experiences` are past plans for similar tasks, shown as worked examples, and `earlier`
        the turns before this one, in a conversation."""
        return self._request(instruction, passages, history, max_new_steps, experiences, earlier)[0]

    def _request(
        self,
        instruction: str,
        passages: Sequence[Passage],
        history: Sequence[StepResult],
        max_new_steps: int | None,
        experiences: Sequence[Experience],
        earlier: Sequence[Turn],
    ) -> tuple[GenerationRequest, list[Call]]:
        """`request`, and the chosen calls the plan makes before it answers (as many as fit)."""
        first_id = max((r.id for r in history), default=0) + 1
        count = min(max_new_steps or self.max_steps, self.max_steps)
        has_numbers = bool(re.search(r"\d", instruction))
        tools, examples, calls = self._shown(instruction, has_numbers, earlier)
        chosen = bool(calls)  # else no tool fits: planned as without a chooser, among the tools always shown
        if history:  # a replan continues a plan that has already made its calls
            calls = []
        calls = calls[: count - 1]  # room left for the answer; with none, the plan is free
        prompt = self.prompts.render(
            "plan",
            instruction=instruction,
            tools=[_describe(t, spelled_out=chosen) for t in tools] + [_THINK_DESCRIPTION],
            tool_examples=examples,
            chosen=chosen,
            max_steps=count,
            passages=list(passages),
            instruction_has_numbers=has_numbers,
            history=[{"id": r.id, "tool": r.tool, "args": json.dumps(r.args), "observation": r.observation}
                     for r in history],
            experiences=[{"instruction": e.instruction, "plan": e.plan.model_dump_json(exclude_defaults=True)}
                         for e in experiences],
            earlier=list(earlier),
        )
        opening = tuple(call.tool.name for call in calls)
        schema = self._schema(tools, count, first_id, opening) if self.constrained else None
        return prompt_request(prompt, self.max_new_tokens, schema), calls

    async def plan(
        self,
        instruction: str,
        passages: Sequence[Passage] = (),
        history: Sequence[StepResult] = (),
        max_new_steps: int | None = None,
        on_steps: Callable[[list[StepSpec]], None] | None = None,
        experiences: Sequence[Experience] = (),
        earlier: Sequence[Turn] = (),
    ) -> tuple[PlanSpec, list[ModelCall]]:
        """Steps for `instruction`, numbered after `history`, which they may reference as `$N`,
        and the model calls that wrote them.

        `passages` (retrieved for the instruction) are shown to the model. With a streaming
        backend, `on_steps` receives steps as soon as the model has written them, so they can start
        before the plan is complete; otherwise (and when arguments are written apart) it receives
        them all once the plan is parsed. An exception from `on_steps` ends the round and is raised here.
        """
        request, opening = self._request(instruction, passages, history, max_new_steps, experiences, earlier)
        steps = _StepStream(on_steps or (lambda new: None), on_error=lambda: stop_generation(self.llm, [request]))
        loop = asyncio.get_running_loop()

        def on_text(piece: str) -> None:
            # subtle: pieces arrive on the model's thread; feeding them through the loop keeps
            # their order and runs on_steps where the executor lives
            loop.call_soon_threadsafe(steps.feed, piece)

        streamed = on_text if self.arguments is None or not opening else None
        [reply] = await ask(self.llm, "plan", [request], passages=[passages], on_text=streamed)
        call = reply.call
        with about_output_of(call):
            if steps.error is not None:
                raise steps.error
            spec = parse_plan(reply.whole("The plan", "raise agent.planner.max_new_tokens or lower max_steps"))
        calls = [call]
        if opening:
            spec = _answering_each_call(spec, len(opening))
        if self.arguments is not None and opening:
            spec, written = await self.arguments.rewrite(instruction, spec, opening)
            calls += written
        with about_output_of(call):
            steps.finish(spec)
        return spec, calls


class _StepStream:
    """Finds the plan's steps in its text as it grows and hands each one on exactly once.

    Each step is decoded once, from where the previous one ended, as soon as its closing brace
    arrives: the cost stays linear in the plan's length.
    """

    _DECODER = json.JSONDecoder()

    def __init__(self, on_steps: Callable[[list[StepSpec]], None], on_error: Callable[[], None]) -> None:
        self.on_steps = on_steps
        self.on_error = on_error
        self.text = ""
        self.position: int | None = None  # where the next step starts, once the list has opened
        self.sent = 0
        self.error: Exception | None = None

    def feed(self, piece: str) -> None:
        self.text += piece
        if "}" not in piece or self.error is not None:
            return
        if self.position is None:
            opened = self.text.find("[")
            if opened < 0:
                return
            self.position = opened + 1
        complete = []
        while True:
            start = self.position
            while start < len(self.text) and self.text[start] in ", ":
                start += 1
            try:
                raw, end = self._DECODER.raw_decode(self.text, start)
                complete.append(_step_spec(raw))
            except _NOT_A_PLAN:
                break  # the next step is not complete yet; finish() checks the whole plan anyway
            self.position = end
        self._send(complete)

    def finish(self, spec: PlanSpec) -> None:
        self._send(spec.steps[self.sent :])
        if self.error is not None:
            raise self.error

    def _send(self, steps: list[StepSpec]) -> None:
        if not steps or self.error is not None:
            return
        self.sent += len(steps)
        try:
            self.on_steps(steps)
        except Exception as exc:  # kept for the planner to raise: this may run as a loop callback
            self.error = exc
            self.on_error()  # the rest of the plan is moot: stop writing it


def _answering_each_call(spec: PlanSpec, calls: int) -> PlanSpec:
    """`spec` with its final answer also giving the result of each of its first `calls` steps
    that it leaves out: each was made for a request of the user's, so the answer owes them all
    ("the weather in Lisbon, and 50 euros in pounds"), which a small model, copying a worked
    example's `"answer": "$1"`, does not see."""
    final = spec.steps[-1]
    answer = final.args.get("answer")
    if final.tool != FINAL_ANSWER_TOOL or not isinstance(answer, str):
        return spec
    missing = [step.id for step in spec.steps[:calls] if step.id not in references(answer)]
    if not missing:
        return spec
    answer = "\n".join([answer, *(f"${step_id}" for step_id in missing)])
    completed = final.model_copy(update={"args": {**final.args, "answer": answer},
                                         "depends_on": sorted({*final.depends_on, *missing})})
    return PlanSpec(steps=[*spec.steps[:-1], completed])


def parse_plan(text: str) -> PlanSpec:
    """The `PlanSpec` for the model's plan JSON; `depends_on` is derived from `$N` references."""
    try:
        return PlanSpec(steps=[_step_spec(step) for step in json.loads(text)["steps"]])
    except _NOT_A_PLAN as exc:
        raise ModelOutputError(f"The plan is not valid plan JSON ({exc})", text) from exc


def _step_spec(raw: dict[str, Any]) -> StepSpec:
    return StepSpec(
        id=raw["id"],
        tool=raw["tool"],
        args=raw["args"],
        depends_on=sorted(set(raw.get("depends_on", [])) | references(raw["args"])),
    )


_THINK_DESCRIPTION = {
    "name": THINK_TOOL,
    "signature": "question: string",
    "description": "Reason about a question with the language model and return the text.",
}


def _describe(t: Tool, spelled_out: bool = False) -> dict[str, str]:
    """A tool as the prompt lists it; `spelled_out` shows each choice and default (`signature`)."""
    if spelled_out:
        return {"name": t.name, "signature": signature(t), "description": t.description}
    schema = t.json_schema()
    required = set(schema.get("required", []))
    params = []
    for name, kinds in t.parameter_types().items():
        params.append(f"{name}: {'|'.join(kinds)}" + ("" if name in required else " = optional"))
    return {"name": t.name, "signature": ", ".join(params), "description": t.description}


# The calculator's worked examples are written by hand: they also show a result used by a later step
_CALCULATOR_EXAMPLES = [
    {"task": "Share 120 apples among 8 people, then add 3 to each share.",
     "plan": '{"steps":[{"id":1,"tool":"calculator","args":{"expression":"120/8"}},'
             '{"id":2,"tool":"calculator","args":{"expression":"$1+3"}},'
             '{"id":3,"tool":"final_answer","args":{"answer":"Each person gets $2 apples."}}]}'},
    {"task": "What is 15 times 4, plus 7?",
     "plan": '{"steps":[{"id":1,"tool":"calculator","args":{"expression":"15*4+7"}},'
             '{"id":2,"tool":"final_answer","args":{"answer":"$1"}}]}'},
]


def _examples(t: Tool) -> list[dict[str, str]]:
    """Worked examples of calling `t` and answering with its result."""
    if t.name == "calculator" and t.source == "builtin":
        return _CALCULATOR_EXAMPLES
    arguments = example_arguments(t)
    steps = [{"id": 1, "tool": t.name, "args": arguments},
             {"id": 2, "tool": FINAL_ANSWER_TOOL, "args": {"answer": "$1"}}]
    return [{"task": example_task(t, arguments), "plan": json.dumps({"steps": steps}, separators=(",", ":"))}]
