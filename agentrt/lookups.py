"""The calls a chosen call needs first: looking up what its request names but does not state.

Why: "share my resume with john" asks for `share_file(path, email)` and states neither a path nor
an email address: it names a file and a person. What it means, and what a person would do, is to
find the file and look John up first, with the tools that return those (`search_files`: "...;
returns the path of the best match", `find_contact`: "...; returns their email address"), and
share what they return. A 135M model does not plan that: it writes "resume" as the path. So a
required parameter of a chosen call that takes an identifier (`parameters.identifier`: an email
address, a path, a URL, a phone number, an id) which the call's request does not state takes the
result of a call that returns one: an earlier call of the plan that does ("get Alex's email and
share the q3 slides with him"), or else a lookup made just before it, for the same request
("cancel my sneakers order": `find_order`, then `cancel_order`).

Which tools return what is read from their descriptions ("...; returns the order id"), as people
document functions; a tool whose description does not say is never a lookup. A lookup must be
callable from the request's words alone (each identifier it requires is stated there), so that
`move_file`, which returns a path but needs one, never looks one up for `delete_file`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .parameters import identifier, identifier_kind
from .registry import Tool

if TYPE_CHECKING:
    from .tool_choice import Call

# what a tool's description says it returns: "...; returns the path of the best match."
_RETURNS = re.compile(r"\breturns?\b([^.;]*)", re.IGNORECASE)
_ID_WORDS = {"id", "ids"}


def with_lookups(calls: Sequence[Call], tools: Sequence[Tool]) -> list[Call]:
    """`calls`, each after the lookups it needs, with `Call.inputs` naming, for each parameter
    that takes an identifier its request does not state, the call whose result it takes: the
    nearest earlier one that returns it, else one of the first of `tools` (best fit first) that
    returns it, made just before. A parameter no tool returns is left to the argument writer."""
    made: list[Call] = []
    for call in calls:
        inputs: dict[str, int] = {}
        for name, parameter in _unstated(call.tool, call.part).items():
            earlier = next((i for i in reversed(range(len(made))) if _returns(made[i].tool, name, parameter)), None)
            if earlier is None:
                lookup = next((t for t in tools if t is not call.tool and _returns(t, name, parameter)
                               and not _unstated(t, call.part)), None)
                if lookup is None:
                    continue
                made.append(replace(call, tool=lookup, carried={}, refers_to=None, inputs={}, after=None))
                earlier = len(made) - 1
            inputs[name] = earlier
        made.append(replace(call, inputs=inputs) if inputs else call)
    return made


def _unstated(tool: Tool, request: str) -> dict[str, dict[str, Any]]:
    """The required parameters of `tool` (name: schema) that take an identifier `request` does
    not state."""
    schema = tool.inlined_schema()
    properties: dict[str, Any] = schema.get("properties", {})
    unstated = {}
    for name in schema.get("required", []):
        pattern = identifier(name, properties.get(name, {}))
        if pattern is not None and not pattern.search(request):
            unstated[name] = properties[name]
    return unstated


def _returns(tool: Tool, name: str, parameter: dict[str, Any]) -> bool:
    """Whether `tool`'s description says it returns what parameter `name` (`parameter`) takes:
    the last word of the name ("path", "email"), and for an id the word before it too ("returns
    the order id"); for a name that does not say ("to"), the kind its description says it is."""
    said = _RETURNS.search(tool.description)
    if said is None:
        return False
    words = set(re.findall(r"[a-z]+", said.group(1).lower().replace("'s", "")))
    named = name.lower().split("_")
    kind = identifier_kind(name, parameter)
    wanted = named[-2:] if named[-1] in _ID_WORDS else named[-1:] if kind is None or kind in named else [kind]
    return set(wanted) <= words
