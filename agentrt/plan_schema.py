"""The JSON schema a plan is generated under, built from the registered tools.

The schema does more than shape the JSON. Step k may only name a registered tool, only give that
tool's arguments, and only reference `$1`..`$k-1`, so every plan the model can emit is a valid
DAG by construction.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import ToolDefinitionError
from .schema import FINAL_ANSWER_TOOL, THINK_TOOL

if TYPE_CHECKING:  # the registry checks each tool's schema here when it is made
    from .registry import Tool

MAX_STRING_CHARS = 200  # bounds a runaway string so a plan always fits its token budget


def plan_schema(
    registry: Iterable[Tool], max_steps: int, *, first_id: int = 1, opening: Sequence[str] = ()
) -> dict[str, Any]:
    """JSON schema of one planning round: position k holds `{"id": first_id + k, "tool": T,
    "args": T's arguments}`, whose references may only name steps before it. With an `opening`,
    the plan is those calls, in order, and then its final answer."""
    if max_steps < len(opening) + 1:
        raise ValueError(f"max_steps={max_steps}: a planning round needs room for at least one step, "
                         f"and for the {len(opening)} calls it opens with and their answer")
    tools = [(t.name, t.inlined_schema()) for t in registry]
    tools.append((THINK_TOOL, _THINK_SCHEMA))
    allowed = [*opening, FINAL_ANSWER_TOOL] if opening else None
    positions = {
        f"step{first_id + k}": {"anyOf": [
            _step_schema(first_id + k, name, schema) for name, schema in tools
            if allowed is None or name == allowed[k]
        ]}
        for k in range(len(allowed) if allowed else max_steps)
    }
    # subtle: one fixed-length tuple per plan length rather than prefixItems with minItems: the
    # same language, but llama.cpp's schema-to-grammar converter ignores minItems on tuples
    plans = [
        {"type": "array", "prefixItems": [{"$ref": f"#/$defs/{name}"} for name in list(positions)[:length]],
         "items": False, "minItems": length}
        for length in ([len(allowed)] if allowed else range(1, max_steps + 1))
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
                    f"Tool {tool!r}: parameter type {name!r} refers to itself, which no plan's "
                    "constraint can express; give the parameter a type of bounded depth (e.g. a "
                    "list of a model without the self-reference) or take it as a JSON string"
                )
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**expand(definitions[name], (*seen, name)), **expand(rest, seen)}
        return {k: expand(v, seen) for k, v in node.items() if k != "$defs"}

    return expand(schema, ())


def arguments_schema(tool: Tool, position: int) -> dict[str, Any]:
    """The schema of `tool`'s arguments in step `position` of a plan: what the tool accepts, with
    references to the steps before it."""
    return _arguments_schema(position, tool.inlined_schema())


def _step_schema(position: int, tool: str, args_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"id": {"const": position}, "tool": {"const": tool},
                       "args": _arguments_schema(position, args_schema)},
        "required": ["id", "tool", "args"],
        "additionalProperties": False,
    }


def _arguments_schema(position: int, args_schema: dict[str, Any]) -> dict[str, Any]:
    args = copy.deepcopy(args_schema)
    args.pop("title", None)
    args["additionalProperties"] = False
    for name, prop in args.get("properties", {}).items():
        args["properties"][name] = _allow_references(prop, position - 1)
    return args


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
