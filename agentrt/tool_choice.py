"""What the planner is shown of the tools for one instruction: the tools that fit it, each with its
parameters spelled out, a worked example of calling each one, made from its own schema, and the
calls the plan makes before it answers.

Why: a 135M model copies what it is shown. Shown only a calculator and a `think` example, it
answers "What is the weather in Paris?" with a `think` step even when a weather tool is
registered; shown a call of that tool, it writes one. But asked to pick among the tools it is
shown, it picks badly (the right one for 23% of the tool-use suite's dev items), while
sentence-embedding similarity between the instruction and each tool's name, description and
parameters (the encoder the knowledge base uses) ranks a wanted tool first for 90% of them. So
the embedding decides, request by request: an instruction is cut into the requests it strings
together ("turn off the lights and set a timer for 20 minutes", "convert 72 F to celsius, then set
the thermostat to that"), and each request that some tool fits calls the tool that fits it best;
a request no tool fits but which follows one that does and reads as a value ("define ubiquitous
and serendipity") is one more call of the same tool, unless either lacks the numbers that tool
needs, when they are pieces of one call ("the gcd of 40 and 50"); one that reads as more
("..., then give all three results") calls nothing; one that lists values ("the factorial of 5,
10 and 15") is a call for each, unless its tool takes a list or needs them all. A call that
needs an identifier its request only names ("cancel my sneakers order": no order id) comes after
the call that looks it up (`lookups.py`: `find_order`). The plan is those calls, in order, and
then the answer; the model writes how their results flow into each other and into the answer.
When no request reaches `min_fit` (nor reads like the request a tool's worked example answers, by
`min_example_fit`), none of these tools is shown, so a question no tool answers is
not forced into one: the planner plans it as it would without a chooser, among the tools it
always shows (`Planner._shown`). Once some tool is called, a part's tool is the best by the part
as asked or by what is left of it without its values ("price of MSFT" as "price of"), and what a
request says to tell ("text Carla that the meeting moved to 3pm") is never matched as what to do.
Showing `top_k` tools, not all, also
keeps the prompt and the constraint the same size with 500 tools as with 5. In a conversation, a
first request no tool fits that follows up the turn before ("and in London?", `follow_up`) calls
again the tool that turn called last.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .lookups import with_lookups
from .parameters import described_example
from .registry import Tool
from .schema import StepResult

if TYPE_CHECKING:
    from .embeddings import Embedder  # which imports numpy: loaded with the embedder itself

# where one request of an instruction may end and the next begin: a sentence's end, a semicolon,
# or "and"/"then"/"also"/"plus" (with a comma or not); a bare comma more often lists values
_BETWEEN_REQUESTS = re.compile(
    r"\s*(?:[;?!]\s+|\.\s+|,?\s+(?:and|then|also|plus)\s+)(?:(?:and|then|also|plus)\s+)*", re.IGNORECASE)
NUMBER = re.compile(r"(?<![\w.:])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!:?\d)")
"""A number as an instruction states it: 38.5, -4, 2025, 400,000 (not the 1 of "ORD-1" or "v1.2",
nor the 19 or 30 of a time, "19:30"; "5,10 and 15" are three), read by `number`."""


# one value of a listed series: a number, with a unit after it or not ("5", "100F", "200 euros")
_ITEM = rf"{NUMBER.pattern}%?(?:\s?(?!(?:and|or)\b)[^\W\d_]+)?"
_VALUE_LIST = re.compile(rf"{_ITEM}(?:\s*,\s*{_ITEM})+,?\s+(?:and|or)\s+{_ITEM}", re.IGNORECASE)
"""A list of three or more values, the last after "and": "5,10 and 15", "10, 20 and 30 years"."""


def number(text: str) -> float:
    """The value of a number `NUMBER` found: "400,000" is 400000."""
    return float(text.replace(",", ""))
# how a follow-up opens: "and in London?", "what about 200 euros?", "same for Tokyo"
_FOLLOW_UP = re.compile(r"(?:and|or|also|now|then|same for|what about|how about)\b,?\s*(.*)", re.IGNORECASE | re.DOTALL)
QUOTED = re.compile(r"""(?<!\w)(["'])(?:(?!\1).)+\1(?!\w)""")
"""Quoted text ('...' or "...") in an instruction, which is a value, never cut or matched as what
to do: the quote opens after no letter (not the apostrophe of "Kenji's")."""
SAID = re.compile(r"^\s*(?:please\s+)?(?:text|email|e-mail|message|post|reply|tell(?!\s+(?:me|us)\b)|remind\s+\w+"
                  r"|let\s+\w+\s+know|send\s+(?:an?\s+)?(?:text|message|email|e-mail|note|sms))\b"
                  r".*?\b(?:that|saying)\s+(?!(?:to|in|on|for|with|at)\b)(.+)$", re.IGNORECASE | re.DOTALL)
"""What a request says to write or tell (group 1): the rest after "that" or "saying", when the
request opens with a verb of telling someone ("text Sam that...", "send a text to ... that",
"remind me that"), not "that" as what is sent ("text that to mom"). Like quoted text, a value,
not what to do: "text Carla that the meeting moved to 3pm" is a text, not a calendar event."""


@dataclass
class Call:
    """A call the plan must make: `tool`, for `part` of the instruction (one of its requests);
    `carried` are the arguments of the call it follows up, in a conversation ("And in London?"
    after the weather in Paris), for those the part does not restate; `refers_to` is the step
    whose result the part names as `$N` ("text $1 to Sam", `arguments.py`), if any; `inputs`
    are the parameters that take the result of an earlier call of the plan, each by that call's
    position among the plan's calls (`lookups.py`: "share my resume with john" shares what
    `search_files` found with whom `find_contact` found); `after` is the part of the call before
    it when that one calls the same tool, whose words give what the part leaves unsaid ("the
    forecast for Paris today and tomorrow": tomorrow's is for Paris too)."""

    tool: Tool
    part: str
    carried: dict[str, Any] = field(default_factory=dict)
    refers_to: int | None = None
    inputs: dict[str, int] = field(default_factory=dict)
    after: str | None = None


@dataclass
class Choice:
    """The tools that fit one instruction, best fit last, and the calls it asks for, in order;
    both empty when no tool fits well enough."""

    tools: list[Tool]
    calls: list[Call] = field(default_factory=list)


class ToolChooser:
    """Ranks a fixed set of tools against instructions; the tools' texts are embedded once."""

    def __init__(
        self, tools: Sequence[Tool], embedder: Embedder, *, top_k: int = 4, min_fit: float = 0.3,
        min_part_fit: float = 0.3, min_example_fit: float = 0.45,
    ) -> None:
        """`min_fit`: how well some tool's whole text (`tool_text`) must fit the instruction, or
        one of its parts, for any tool to be called; `min_part_fit`: how well a tool must fit a
        part, by its whole text or by its name alone, for that part to call it rather than
        repeat the call before it. Both were tuned on the tool-use suite's dev half: past 0.3,
        instructions that need a tool lose it faster than ones that need none are kept from one.

        Why the name too: a short request matches a short text better ("weather in Tokyo" fits
        `get weather` well and get_weather's whole text at 0.26), so a part's tool is the best by
        either; whether any tool is called stays with the whole texts, which tell a request no
        tool serves apart better. On the dev half, chosen alone: the right tools for 86 of 134
        items (80 by whole texts only), no tool for the same 26 of 32; BFCL's dev halves
        unchanged within one item.

        `min_example_fit`: how well the request a tool's worked example answers (`example_task`:
        "Get the current weather for a city: Paris") must fit the instruction, or one of its
        parts, for a tool to be called though no whole text reaches `min_fit`. A short everyday
        request reads like another request more than like a description of parameters: "is it
        raining in Seattle at the moment?" fits get_current_weather's whole text at 0.25 and its
        example's request at 0.47. On the dev half, chosen alone: the right tools for 95 of 134
        items (93 without), no tool for the same 26 of 32 (no request that needs none fits an
        example above 0.43 there)."""
        self.tools = list(tools)
        self.embedder = embedder
        self.top_k = top_k
        self.min_fit = min_fit
        self.min_part_fit = min_part_fit
        self.min_example_fit = min_example_fit
        self._vectors = embedder.embed([tool_text(t) for t in self.tools]) if self.tools else None
        self._names = embedder.embed([t.name.replace("_", " ") for t in self.tools]) if self.tools else None
        self._examples = (embedder.embed([example_task(t, example_arguments(t)) for t in self.tools])
                          if self.tools else None)

    def choose(self, instruction: str, before: Sequence[StepResult] = ()) -> Choice:
        """The `top_k` tools that fit `instruction` best, in rising order of fit, with any that
        one of its parts (`parts_of`) calls but that is not among them, and the calls of its
        parts; nothing when no tool fits the instruction or one of its parts by `min_fit`.

        `before` are the calls of the turn before, in a conversation: a first part that no tool
        fits by `min_fit` but that follows one up (`follow_up`: "and in London?") calls the
        tool of the last of them again, for what the part adds, its arguments carried over."""
        if self._vectors is None or self._names is None or self._examples is None:
            return Choice([])
        import numpy as np  # loaded with the embedder already

        parts = parts_of(instruction)
        texts = [_asked(text) for text in (instruction, *parts)]
        embedded = self.embedder.embed(texts + [_without_values(text) for text in texts]).T
        asked, bare = embedded[:, : len(texts)], embedded[:, len(texts) :]
        fits = self._vectors @ asked  # tools x texts, by the tools' whole texts
        followed = next((t for t in self.tools if before and t.name == before[-1].tool), None)
        fitting_some = fits.max() >= self.min_fit or (self._examples @ asked).max() >= self.min_example_fit
        if not fitting_some and not (followed and follow_up(parts[0]) is not None):
            return Choice([])
        # once some tool is called, a part's tool is the best by the tools' whole texts or names,
        # matched on the part or on what is left of it without its values (`_without_values`)
        picks = np.maximum.reduce([fits, self._names @ asked, self._vectors @ bare, self._names @ bare])
        calls: list[Call] = []
        for column, part in enumerate(parts, start=1):
            best = int(picks[:, column].argmax())
            added = follow_up(part) if followed and not calls and fits[:, column].max() < self.min_fit else None
            if followed and added is not None:
                calls.append(Call(followed, added or part, dict(before[-1].args)))
                continue
            # "... in tokyo and in new york": a few words after a preposition ask nothing of their
            # own, however well another tool fits them (get_showtimes fits "in new york"): they are
            # the call before made again, for them
            more = bool(calls) and _only_more(part)
            fitting = picks[best, column] >= self.min_part_fit and not more
            if not fitting and not (calls and _a_value(part)):
                # more of the request before, which "and" went on with ("email Rita that I landed and
                # I'll be in tomorrow"), or about the answer ("then give all three results")
                joined = f"{calls[-1].part} and {part}" if calls else ""
                if joined and joined in instruction:
                    calls[-1] = Call(calls[-1].tool, joined)
                continue
            tool = self.tools[best] if fitting else calls[-1].tool  # "... and serendipity": the call before's
            if calls and calls[-1].tool is tool and (not _stands_alone(calls[-1].part, tool)
                                                     or not (fitting or more or _stands_alone(part, tool))):
                # values of one call ("gcd of 40 and 50"), or a word about it ("60? as a dict")
                calls[-1] = Call(tool, f"{calls[-1].part} and {part}")
            else:  # "define ubiquitous and serendipity", "timers for 10 and for 25 minutes": a call each
                calls.append(Call(tool, part, after=calls[-1].part if calls and calls[-1].tool is tool else None))
        if not calls:
            calls = [Call(self.tools[int(picks[:, 0].argmax())], instruction)]
        by_fit = [self.tools[i] for i in fits[:, 0].argsort()[::-1]]
        calls = with_lookups([each for call in calls for each in _fanned_out(call)], by_fit)
        ranked = by_fit[: self.top_k]
        called = {call.tool.name: call.tool for call in calls}
        return Choice([t for t in ranked if t.name not in called] + list(called.values())[::-1], calls)


def follow_up(part: str) -> str | None:
    """What a part that reads as more of what was asked before it adds ("in London" of "and in
    London?", "200 euros" of "what about 200 euros?"): a follow-up word, then what reads as a
    value (`_a_value`); None for a part that does not read so."""
    found = _FOLLOW_UP.match(part.strip())
    if found is None:
        return None
    added = found.group(1).strip(" ?!.")
    return added if _a_value(added or "it") else None


def _a_value(part: str) -> bool:
    """Whether a part no tool fits reads as one more value for the call before it ("... and
    serendipity", "and in Tokyo", "and 25 minutes"): a number, quoted text, or a few words."""
    return bool(NUMBER.search(part) or QUOTED.search(part)) or len(part.split()) <= 3


def _only_more(part: str) -> bool:
    """Whether a part is a few words after a preposition ("in new york", "to pounds", "from Boston
    to Hartford"): more of the call before it, not a request."""
    words = part.split()
    return 1 < len(words) <= 4 and words[0].lower() in _PREPOSITIONS


_PREPOSITIONS = {"in", "to", "into", "for", "from", "on", "at", "with"}


def _stands_alone(part: str, tool: Tool) -> bool:
    """Whether `part` states as many numbers as `tool` requires, so that it can be a call of its
    own rather than a piece of one ("... and c=5")."""
    schema = tool.inlined_schema()
    properties = schema.get("properties", {})
    required = [properties[name] for name in schema.get("required", []) if name in properties]
    numeric = [p for p in required if {o.get("type") for o in p.get("anyOf", [p])} & {"number", "integer"}]
    return len(NUMBER.findall(part)) >= len(numeric)


def _fanned_out(call: Call) -> list[Call]:
    """`call` made once for each value its part lists ("the factorial of 5, 10 and 15": three
    calls, "... of 5" and so on), when its tool takes no list and each such part names all the
    numbers the tool needs; else `call` alone ("a triangle with sides 3, 4 and 5" is one)."""
    found = _VALUE_LIST.search(call.part)
    if found is None or any(_takes_list(prop) for prop in call.tool.inlined_schema().get("properties", {}).values()):
        return [call]
    items = re.findall(_ITEM, found.group(0), re.IGNORECASE)
    parts = [call.part[: found.start()] + item + call.part[found.end() :] for item in items]
    if not all(_stands_alone(part, call.tool) for part in parts):
        return [call]
    return [replace(call, part=part) for part in parts]


def _takes_list(prop: dict[str, Any]) -> bool:
    return any(option.get("type") == "array" for option in prop.get("anyOf", [prop]))


def _asked(text: str) -> str:
    """What `text` asks for, to match against the tools: without its quoted text, nor what it
    says to tell (`SAID`), which are values ("translate 'where is the station' into German",
    "text Carla that the meeting moved to 3pm"), not what to do with them."""
    said = SAID.search(text)
    told = text[: said.start(1)] if said else text
    return " ".join(QUOTED.sub(" ", told).split()) or text


def _without_values(text: str) -> str:
    """`text` without the words that are values rather than what to do: numbers and identifiers
    (a word with a digit, "@" or a leading "/" or "#"), and names (a capitalised word that does
    not open a sentence or follow a colon, "I" aside): "price of MSFT" is matched as "price of"
    too. A word that is what to do but is capitalised ("Send an SMS") is dropped as well, which
    costs nothing: a part's tool is the best by either text. A value weighs
    on a sentence encoder's mean as much as the request's verb: "price of MSFT" fits
    get_stock_price's text at 0.13, below `min_part_fit`. Whether any tool is called is not
    decided on such texts: that let more requests that need no tool call one ("book me a table
    for two at Nobu tonight") than it let requests that need one do so."""
    words = text.split()
    kept = []
    for position, word in enumerate(words):
        bare = word.strip(".,;:!?()\"'")
        opens = position == 0 or words[position - 1][-1:] in ".!?:"
        name = bare[:1].isupper() and len(bare) > 1 and not opens and not bare.startswith(("I'", "I\u2019"))
        if not (name or _VALUE_WORD.search(bare)):
            kept.append(word)
    return " ".join(kept) or text


_VALUE_WORD = re.compile(r"\d|@|^[/#]")


def parts_of(instruction: str) -> list[str]:
    """The parts of an instruction, each a request of its own, in order: "turn off the lights and
    set a timer" has two. Quoted text and lists of values ("of 5, 10 and 15") stay whole; an
    instruction with one request is its part."""
    quoted: list[str] = []

    def hide(match: re.Match[str]) -> str:
        quoted.append(match.group(0))
        return f"\x00{len(quoted) - 1}\x00"

    masked = _VALUE_LIST.sub(hide, QUOTED.sub(hide, instruction))
    pieces = (piece.strip(" ,") for piece in _BETWEEN_REQUESTS.split(masked))
    parts = [re.sub(r"\x00(\d+)\x00", lambda m: quoted[int(m.group(1))], piece) for piece in pieces if piece]
    return parts or [instruction]


def tool_text(tool: Tool) -> str:
    """What a tool is matched on: its name in words, its description and its parameters'."""
    properties = tool.json_schema().get("properties", {})
    params = "; ".join(f"{name.replace('_', ' ')}: {prop.get('description', '')}" for name, prop in properties.items())
    return f"{tool.name.replace('_', ' ')}. {tool.description} {params}"


def signature(tool: Tool) -> str:
    """The parameters as the planner shows them: `name: type`, a choice as `"a"|"b"`, and
    `= default` or `= optional` for a parameter that may be left out."""
    schema = tool.inlined_schema()
    required = set(schema.get("required", []))
    shown = []
    for name, prop in schema.get("properties", {}).items():
        text = f"{name}: {_type_text(prop)}"
        if name not in required:
            text += f" = {json.dumps(prop['default'])}" if prop.get("default") is not None else " = optional"
        shown.append(text)
    return ", ".join(shown)


def _type_text(prop: dict[str, Any]) -> str:
    if "enum" in prop:
        return "|".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    if "anyOf" in prop:
        return "|".join(_type_text(p) for p in prop["anyOf"] if p.get("type") != "null")
    if prop.get("type") == "array":
        return f"list of {_type_text(prop.get('items', {}))}"
    if prop.get("type") == "object" and "properties" in prop:
        return "{" + ", ".join(f"{k}: {_type_text(v)}" for k, v in prop["properties"].items()) + "}"
    return str(prop.get("type", "any"))


def example_arguments(tool: Tool) -> dict[str, Any]:
    """Arguments for a worked example of `tool`: each required parameter's example from its
    description ("e.g. Paris"), else its first choice, else a plain value of its type."""
    schema = tool.inlined_schema()
    properties = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    # subtle: the n-th parameter takes the n-th choice, so "from" and "to" get different currencies
    return {name: _example_value(name, properties[name], n) for n, name in enumerate(required)}


def example_task(tool: Tool, arguments: dict[str, Any]) -> str:
    """A request the example answers: the tool's description with the example's values."""
    summary = tool.description.split(". ")[0].split("; ")[0].rstrip(".")
    values = ", ".join(str(v) for v in arguments.values() if not isinstance(v, (dict, list)))
    return f"{summary}: {values}" if values else summary


def _example_value(name: str, prop: dict[str, Any], position: int = 0) -> Any:
    if "anyOf" in prop:
        options = [p for p in prop["anyOf"] if p.get("type") != "null"]
        described = {**options[0], "description": prop.get("description", "")} if options else {}
        return _example_value(name, described, position) if options else None
    if "enum" in prop:
        return prop["enum"][position % len(prop["enum"])]
    if "const" in prop:
        return prop["const"]
    kind = prop.get("type")
    if kind == "object":
        inner = prop.get("properties", {})
        return {k: _example_value(k, inner[k]) for k in prop.get("required", []) if k in inner}
    if kind == "array":
        return [_example_value(name, prop.get("items", {}))]
    text = described_example(prop)
    try:
        if kind == "integer":
            return int(float(text)) if text else 2
        if kind == "number":
            return float(text) if text else 2.5
    except ValueError:
        return 2 if kind == "integer" else 2.5
    if kind == "boolean":
        return True
    return text or name.replace("_", " ")
