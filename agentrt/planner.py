"""Planner: asks the model for a plan under a JSON schema built from the registered tools.

The schema does more than shape the JSON. Step k may only name a registered tool, only give that
tool's arguments, and only reference `$1`..`$k-1`, so every plan the model can emit is a valid
DAG by construction. Whether it is a *good* plan is the model's business.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import ValidationError

from .errors import ModelOutputError, PlanError, ToolDefinitionError, about_output_of
from .llm import LLM, GenerationRequest, call_record, generate_async, stop_generation
from .memory import Experience
from .plan import references
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry
from .schema import FINAL_ANSWER_TOOL, THINK_TOOL, Message, ModelCall, Passage, PlanSpec, StepResult, StepSpec
from .tool_choice import ToolChooser, example_arguments, example_task, signature

MAX_STRING_CHARS = 200  # bounds a runaway string so a plan always fits its token budget
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
    ) -> None:
        """With a `chooser`, each plan is shown (and constrained to) the tools that fit its
        instruction, with worked examples of them (`tool_choice.py`); without, every tool."""
        self.llm = llm
        self.constrained = constrained
        self.registry = registry
        self.prompts = prompts
        self.max_steps = max_steps
        self.max_new_tokens = max_new_tokens
        self.chooser = chooser
        self._schemas: dict[tuple[tuple[str, ...], int, int], dict[str, Any]] = {}

    def _schema(self, tools: Sequence[Tool], count: int, first_id: int) -> dict[str, Any]:
        key = (tuple(t.name for t in tools), count, first_id)
        if key not in self._schemas:
            self._schemas[key] = plan_schema(tools, count, first_id=first_id)
        return self._schemas[key]

    def _shown(self, instruction: str) -> tuple[list[Tool], list[dict[str, str]], bool]:
        """The tools to show, each tool's worked examples (best fit last), and whether the
        `think` example goes last (no tool fits)."""
        if self.chooser is None:
            return list(self.registry), [], False
        choice = self.chooser.choose(instruction)
        always = [t for t in self.registry if t.name == FINAL_ANSWER_TOOL]
        examples = [example for t in choice.tools for example in _examples(t)]
        return [*choice.tools, *always], examples, not choice.fits

    def request(
        self,
        instruction: str,
        passages: Sequence[Passage] = (),
        history: Sequence[StepResult] = (),
        max_new_steps: int | None = None,
        experiences: Sequence[Experience] = (),
    ) -> GenerationRequest:
        """The request for the next planning round, constrained to valid plans unless the planner
        was made with `constrained=False` (a baseline); steps in `history` already ran, and
        `experiences` are past plans for similar tasks, shown as worked examples."""
        first_id = max((r.id for r in history), default=0) + 1
        count = min(max_new_steps or self.max_steps, self.max_steps)
        tools, examples, think_last = self._shown(instruction)
        prompt = self.prompts.render(
            "plan",
            instruction=instruction,
            tools=[_describe(t, spelled_out=self.chooser is not None) for t in tools] + [_THINK_DESCRIPTION],
            tool_examples=examples,
            think_last=think_last,
            chosen=self.chooser is not None,
            max_steps=count,
            passages=list(passages),
            instruction_has_numbers=bool(re.search(r"\d", instruction)),
            history=[{"id": r.id, "tool": r.tool, "args": json.dumps(r.args), "observation": r.observation}
                     for r in history],
            experiences=[{"instruction": e.instruction, "plan": e.plan.model_dump_json(exclude_defaults=True)}
                         for e in experiences],
        )
        return GenerationRequest(
            messages=[Message(role="user", content=prompt)],
            json_schema=self._schema(tools, count, first_id) if self.constrained else None,
            max_new_tokens=self.max_new_tokens,
        )

    async def plan(
        self,
        instruction: str,
        passages: Sequence[Passage] = (),
        history: Sequence[StepResult] = (),
        max_new_steps: int | None = None,
        on_steps: Callable[[list[StepSpec]], None] | None = None,
        experiences: Sequence[Experience] = (),
    ) -> tuple[PlanSpec, ModelCall]:
        """Steps for `instruction`, numbered after `history`, which they may reference as `$N`.

        `passages` (retrieved for the instruction) are shown to the model. With a streaming
        backend, `on_steps` receives steps as soon as the model has written them, so they can start
        before the plan is complete; otherwise it receives them all once the plan is parsed.
        An exception from `on_steps` ends the round and is raised here.
        """
        request = self.request(instruction, passages, history, max_new_steps, experiences)
        steps = _StepStream(on_steps or (lambda new: None), on_error=lambda: stop_generation(self.llm, [request]))
        loop = asyncio.get_running_loop()

        def on_text(piece: str) -> None:
            # subtle: pieces arrive on the model's thread; feeding them through the loop keeps
            # their order and runs on_steps where the executor lives
            loop.call_soon_threadsafe(steps.feed, piece)

        [generation] = await generate_async(self.llm, [request], on_text)
        call = call_record("plan", request, generation, passages)
        with about_output_of(call):
            if steps.error is not None:
                raise steps.error
            if generation.truncated:
                raise ModelOutputError(
                    f"The plan did not finish within {self.max_new_tokens} tokens; raise "
                    "agent.planner.max_new_tokens or lower max_steps",
                    generation.text,
                )
            spec = parse_plan(generation.text)
            steps.finish(spec)
        return spec, call


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


def plan_schema(registry: Iterable[Tool], max_steps: int, *, first_id: int = 1) -> dict[str, Any]:
    """JSON schema of one planning round: position k holds `{"id": first_id + k, "tool": T,
    "args": T's arguments}`, whose references may only name steps before it."""
    if max_steps < 1:
        raise ValueError(f"max_steps={max_steps}: a planning round needs room for at least one step")
    tools = [(t.name, inline_refs(t.json_schema(), t.name)) for t in registry]
    tools.append((THINK_TOOL, _THINK_SCHEMA))
    positions = {
        f"step{step_id}": {"anyOf": [_step_schema(step_id, name, schema) for name, schema in tools]}
        for step_id in range(first_id, first_id + max_steps)
    }
    # subtle: one fixed-length tuple per plan length rather than prefixItems with minItems: the
    # same language, but llama.cpp's schema-to-grammar converter ignores minItems on tuples
    plans = [
        {"type": "array", "prefixItems": [{"$ref": f"#/$defs/{name}"} for name in list(positions)[:length]],
         "items": False, "minItems": length}
        for length in range(1, max_steps + 1)
    ]
    return {
        "type": "object",
        "properties": {"steps": {"anyOf": plans}},
        "required": ["steps"],
        "additionalProperties": False,
        "$defs": positions,
    }


def inline_refs(schema: dict[str, Any], tool: str) -> dict[str, Any]:
    """`schema` with every `$ref` to its `$defs` replaced by the definition itself, so that it
    can be nested inside the plan schema (whose root has no `$defs`)."""
    definitions = schema.get("$defs", {})

    def expand(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [expand(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in seen:
                raise ToolDefinitionError(
                    f"Tool {tool!r}: parameter type {name!r} refers to itself; plans need "
                    "non-recursive argument types"
                )
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**expand(definitions[name], (*seen, name)), **expand(rest, seen)}
        return {k: expand(v, seen) for k, v in node.items() if k != "$defs"}

    return expand(schema, ())


def _step_schema(position: int, tool: str, args_schema: dict[str, Any]) -> dict[str, Any]:
    args = copy.deepcopy(args_schema)
    args.pop("title", None)
    args["additionalProperties"] = False
    for name, prop in args.get("properties", {}).items():
        args["properties"][name] = _allow_references(prop, position - 1)
    return {
        "type": "object",
        "properties": {"id": {"const": position}, "tool": {"const": tool}, "args": args},
        "required": ["id", "tool", "args"],
        "additionalProperties": False,
    }


def _allow_references(prop: dict[str, Any], earlier: int) -> dict[str, Any]:
    """A property schema that also accepts `$N` for N in 1..earlier, and only those."""
    prop = {k: v for k, v in prop.items() if k not in ("title", "default")}
    if prop.get("type") == "string" and "pattern" not in prop and "enum" not in prop:
        limit = min(prop.get("maxLength", MAX_STRING_CHARS), MAX_STRING_CHARS)
        return {**prop, "pattern": _text_pattern(earlier), "maxLength": limit}
    if earlier == 0:
        return prop
    return {"anyOf": [prop, {"type": "string", "pattern": f"^{_reference(earlier)}$"}]}


def _reference(earlier: int) -> str:
    # subtle: `[$]`, not `\\$`: llama.cpp's schema-to-grammar converter cannot translate the escape
    return "[$](" + "|".join(str(n) for n in range(earlier, 0, -1)) + ")"


def _text_pattern(earlier: int) -> str:
    """Free text whose `$` only ever starts a reference to an earlier step.

    A reference is never followed by a digit, `.` or `,`: `$1` then `2` would read as `$12`, and a
    small model writing a price like "$1.50" would otherwise splice step 1's result into a number.
    """
    if earlier == 0:
        return f"^{_TEXT_CHAR}*$"
    ref = _reference(earlier)
    return f"^{_TEXT_CHAR}*({ref}{_AFTER_REFERENCE}{_TEXT_CHAR}*)*({ref})?$"


# subtle: no `"`, `\` or control characters in free text: llama.cpp's schema-to-grammar converter
# puts a pattern into the grammar of the JSON text unescaped, where a quote would end the string;
# and a small model, once it writes one DEL or C1 control (\u007f), may write nothing else
_TEXT_CHAR = r'[^$"\\\x00-\x1f\x7f-\x9f]'
_AFTER_REFERENCE = r'[^$0-9.,"\\\x00-\x1f\x7f-\x9f]'


_THINK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"question": {"type": "string", "description": "what to reason about"}},
    "required": ["question"],
}
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
