"""Writing a planned call's arguments in a request of its own, after the plan has chosen the call.

Why: a 135M model asked for a whole plan does two jobs at once, choosing the tools and copying the
task's values into their arguments, and it does the second badly: shown worked examples of the
tools (which it needs to choose them), it copies the examples' values, so "directions from my
hotel to the airport" becomes `get_directions(origin="origin", ...)`. Asked instead, in a short
prompt of its own, for the arguments of one chosen tool given the task, it copies the task's
values. So the plan decides which tools run and how their results flow (`$N`), and then each
call the plan makes once gets its arguments rewritten here, all of them in one batch. Arguments
that take an earlier step's result keep the plan's reference; a tool the plan calls several
times (a fan-out over cities, say) keeps the plan's arguments, since a prompt that sees one
call cannot tell which of the task's values that call is for.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .llm import LLM, GenerationRequest, call_record, generate_async
from .plan import references
from .plan_schema import arguments_schema
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry
from .schema import Message, ModelCall, PlanSpec, StepSpec
from .tool_choice import signature


class ArgumentWriter:
    """Rewrites the arguments of a plan's calls, one constrained request per call, in one batch."""

    def __init__(self, llm: LLM, registry: ToolRegistry, prompts: PromptLibrary, *, max_new_tokens: int = 256) -> None:
        self.llm = llm
        self.registry = registry
        self.prompts = prompts
        self.max_new_tokens = max_new_tokens

    def rewritable(self, steps: Sequence[StepSpec]) -> list[StepSpec]:
        """The steps whose arguments are rewritten: calls of a registered tool that the plan
        makes once, with at least one parameter not taken from an earlier step."""
        counts = Counter(step.tool for step in steps)
        return [step for step in steps if step.tool in self.registry and counts[step.tool] == 1
                and _free_parameters(self.registry.get(step.tool), step)]

    def request(self, instruction: str, step: StepSpec) -> GenerationRequest:
        """The request for `step`'s arguments: the task and the tool, constrained to the tool's
        arguments, with each argument that takes an earlier step's result fixed to the plan's,
        and without the optional ones the plan left out."""
        tool = self.registry.get(step.tool)
        arguments = arguments_schema(tool, step.id)
        properties = arguments.get("properties", {})
        for name in list(properties):
            if references(step.args.get(name)):
                properties[name] = {"const": step.args[name]}
            elif name not in step.args and name not in arguments.get("required", []):
                del properties[name]  # asked for an optional argument, a small model makes one up
        prompt = self.prompts.render(
            "arguments", instruction=instruction, tool={"name": tool.name, "signature": signature(tool),
                                                        "description": tool.description},
        )
        return GenerationRequest(messages=[Message(role="user", content=prompt)], json_schema=arguments,
                                 max_new_tokens=self.max_new_tokens)

    async def rewrite(self, instruction: str, spec: PlanSpec) -> tuple[PlanSpec, list[ModelCall]]:
        """`spec` with the arguments of its `rewritable` steps written anew, and the model calls
        that wrote them. A step whose rewrite did not finish, or is no JSON object (a backend
        that does not enforce the schema), keeps the plan's arguments."""
        chosen = self.rewritable(spec.steps)
        if not chosen:
            return spec, []
        requests = [self.request(instruction, step) for step in chosen]
        generations = await generate_async(self.llm, requests)
        written = {}
        for step, generation in zip(chosen, generations, strict=True):
            arguments = None if generation.truncated else _json_object(generation.text)
            if arguments is not None:
                written[step.id] = arguments
        steps = [_with_arguments(step, written[step.id]) if step.id in written else step for step in spec.steps]
        calls = [call_record("arguments", r, g) for r, g in zip(requests, generations, strict=True)]
        return PlanSpec(steps=steps), calls


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _with_arguments(step: StepSpec, arguments: dict[str, Any]) -> StepSpec:
    return step.model_copy(update={"args": arguments,
                                   "depends_on": sorted(set(step.depends_on) | references(arguments))})


def _free_parameters(tool: Tool, step: StepSpec) -> bool:
    """Whether `step` has an argument to write: a parameter of `tool` that is required or given,
    and not taken from an earlier step."""
    schema = tool.json_schema()
    wanted = [*schema.get("required", []), *step.args]
    return any(name in schema.get("properties", {}) and not references(step.args.get(name)) for name in wanted)
