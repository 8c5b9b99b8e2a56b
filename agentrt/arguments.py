"""Writing a planned call's arguments in a request of its own, after the plan has chosen the call.

Why: a 135M model asked for a whole plan does two jobs at once, choosing the tools and copying the
task's values into their arguments, and it does the second badly: shown worked examples of the
tools (which it needs to choose them), it copies the examples' values, so "directions from my
hotel to the airport" becomes `get_directions(origin="origin", ...)`. Asked instead, in a short
prompt of its own, for the arguments of one chosen tool given the task, it copies the task's
values, though not reliably: it still writes `order_id="1234567890"` for "cancel ORD-58377", or
100 for "38.5 C". So the constraint does the copying: a free-text argument may only be a phrase of
the task (a run of its words) and a number one of the task's numbers, or else the value the plan
gave (which carries what the task implies but does not say, like "AAPL" for "apple"), unless
that is the value the tool's worked example showed, which the model copies. The same goes for
what the task's words decide without the model: a choice the task names takes that value ("make it
cooler": mode "cool", but not a choice two parameters share, like from and to), a flag the task
names is on unless negated ("nonstop", "don't shuffle"), and a value whose described example has
a telling shape ("e.g. ORD-58213", "e.g. 08:15") takes a word of the task of that shape when there is one.

So the plan decides which tools run and how their results flow (`$N`), and then its calls get
their arguments rewritten here, all of them in one batch. A call the plan opened with for one
part of the instruction (`tool_choice.Call`: "set two timers, 10 and 25 minutes" is two) is
asked about that part, and its values come from it first, so the two timers get 10 and 25;
any other call of a tool the plan calls once is asked about the whole instruction. Arguments that
take an earlier step's result keep the plan's reference; any other call of a tool the plan calls
several times keeps the plan's arguments, since a prompt that sees one call cannot tell which of
the task's values that call is for.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .llm import LLM, GenerationRequest, ask, prompt_request
from .plan import references
from .plan_schema import MAX_STRING_CHARS, arguments_schema, inline_refs
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry
from .schema import ModelCall, PlanSpec, StepSpec
from .tool_choice import NUMBER, Call, described_example, example_arguments, signature

_NEGATIONS = {"no", "not", "dont", "without", "never", "nor"}
# a described example's pieces: digits, letters, and anything else as itself
_SHAPE_PIECES = re.compile(r"\d+|[^\W\d_]+|.")


class ArgumentWriter:
    """Rewrites the arguments of a plan's calls, one constrained request per call, in one batch."""

    def __init__(self, llm: LLM, registry: ToolRegistry, prompts: PromptLibrary, *, max_new_tokens: int = 256) -> None:
        self.llm = llm
        self.registry = registry
        self.prompts = prompts
        self.max_new_tokens = max_new_tokens

    def rewritable(self, steps: Sequence[StepSpec], opening: int = 0) -> list[StepSpec]:
        """The steps whose arguments are rewritten: calls of a registered tool that are among
        the first `opening` steps (each made for a request of its own) or that the plan makes
        once, with at least one parameter not taken from an earlier step."""
        counts = Counter(step.tool for step in steps)
        return [step for position, step in enumerate(steps)
                if step.tool in self.registry and (position < opening or counts[step.tool] == 1)
                and _free_parameters(self.registry.get(step.tool), step)]

    def request(
        self, instruction: str, step: StepSpec, call: Call | None = None, *, repeated: bool = False
    ) -> GenerationRequest:
        """The request for `step`'s arguments: the task (and the part of it that the step
        serves, if it is a chosen `call`) and the tool, constrained to the tool's arguments,
        with each argument that takes an earlier step's result fixed to the plan's, without the
        optional ones the plan left out, and free text and numbers narrowed to the part's own
        (`_TaskValues`) and the plan's value, unless the tool is `repeated` in the plan, whose
        values for each call are then guesses ("Taipei" for "the weather in Paris, and in
        Tokyo"). A call that follows one up in a conversation offers that call's values
        instead of the plan's (but not a number where the part states one), and keeps its
        choices, numbers and flags where the part states none ("and 250?": the same currencies)."""
        tool = self.registry.get(step.tool)
        arguments = arguments_schema(tool, step.id)
        properties = arguments.get("properties", {})
        declared = inline_refs(tool.json_schema(), tool.name).get("properties", {})
        part = call.part if call is not None else None
        carried = call.carried if call is not None else {}
        stated = _task_values(part or instruction, instruction)
        shown = example_arguments(tool)
        shared = _shared_choices(declared)
        for name in list(properties):
            if references(step.args.get(name)):
                properties[name] = {"const": step.args[name]}
            elif name not in step.args and name not in carried and name not in arguments.get("required", []):
                del properties[name]  # asked for an optional argument, a small model makes one up
            else:
                # a value the plan copied from the tool's worked example is no evidence
                copied = step.args.get(name) == shown.get(name)
                if carried:  # a number the follow-up states replaces the one before ("and 250?")
                    planned = carried.get(name)
                    if isinstance(planned, (int, float)) and not isinstance(planned, bool) and stated.numbers:
                        planned = None
                else:
                    planned = None if repeated or copied else step.args.get(name)
                narrowed = stated.narrow(name, declared[name], planned, shared=name in shared)
                if narrowed is None and name in carried:
                    narrowed = {"const": carried[name]}
                properties[name] = narrowed or properties[name]
        prompt = self.prompts.render(
            "arguments", instruction=instruction, part=part if part != instruction else None,
            tool={"name": tool.name, "signature": signature(tool), "description": tool.description},
        )
        return prompt_request(prompt, self.max_new_tokens, arguments)

    async def rewrite(
        self, instruction: str, spec: PlanSpec, opening: Sequence[Call] = ()
    ) -> tuple[PlanSpec, list[ModelCall]]:
        """`spec` with the arguments of its `rewritable` steps written anew, and the model calls
        that wrote them; its first steps are the chosen calls `opening`, one each. A step whose
        rewrite did not finish, or is no JSON object (a backend that does not enforce the
        schema), keeps the plan's arguments."""
        chosen = self.rewritable(spec.steps, len(opening))
        if not chosen:
            return spec, []
        served = {step.id: call for step, call in zip(spec.steps, opening, strict=False)}
        counts = Counter(step.tool for step in spec.steps)
        requests = [self.request(instruction, step, served.get(step.id), repeated=counts[step.tool] > 1)
                    for step in chosen]
        replies = await ask(self.llm, "arguments", requests)
        written = {}
        for step, reply in zip(chosen, replies, strict=True):
            arguments = None if reply.generation.truncated else _json_object(reply.text)
            if arguments is not None:
                written[step.id] = arguments
        steps = [_with_arguments(step, written[step.id]) if step.id in written else step for step in spec.steps]
        return PlanSpec(steps=steps), [reply.call for reply in replies]


class _TaskValues:
    """What a text states: its phrases (every run of its words, trimmed of quotes and punctuation
    at the ends) and its numbers, or where it has none, those of the `whole` task it is part of
    ("set a timer for 20 minutes and name it tea": the second part's minutes are the task's), and
    its words (`narrow` says what they decide)."""

    MAX_WORDS = 80  # past this many words, phrases are too many to list: free text stays free
    _EDGES = "\"'`,.;:?!()[]{}"

    def __init__(self, text: str, whole: str) -> None:
        words = text.split()
        self.phrases: list[str] = []
        if len(words) <= self.MAX_WORDS:
            spans = ((i, j) for i in range(len(words)) for j in range(i + 1, len(words) + 1))
            runs = (" ".join(words[i:j]).strip(self._EDGES) for i, j in spans)
            # subtle: no `$` in a value: the executor would read "$50" as the result of step 50
            self.phrases = list(dict.fromkeys(r for r in runs if r and "$" not in r and len(r) <= MAX_STRING_CHARS))
        numbers = NUMBER.findall(text) or NUMBER.findall(whole)
        self.numbers = list(dict.fromkeys(float(n) for n in numbers))
        self.words = re.findall(r"[^\W_]+", text.lower().replace("'", "").replace("\u2019", ""))
        self.tokens = [token.strip(self._EDGES) for token in text.split()]

    def narrow(self, name: str, prop: dict[str, Any], planned: Any, *, shared: bool = False) -> dict[str, Any] | None:
        """Parameter `name`'s values (`prop`) narrowed to the instruction's (and `planned`, the
        plan's value), or None where that does not apply (a format, an object, nothing to choose
        from): a choice to those the instruction names, unless another parameter `shared` it;
        a flag to what the instruction says of it; text with a telling example to the words of
        its shape, else to the instruction's phrases; a number to its numbers."""
        options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
        if len(options) != 1:
            return None
        option, kind = options[0], options[0].get("type")
        if "enum" in option:
            named = [] if shared else [v for v in option["enum"] if isinstance(v, str) and self._names(v)]
            return {"enum": named} if named else None
        if any(k in option for k in ("const", "format", "pattern")):
            return None
        if kind == "boolean":
            said = self._switch(name)
            return None if said is None else {"enum": [said]}
        if kind == "array":
            planned_items = planned if isinstance(planned, list) else []
            items = self.narrow(name, option.get("items", {}), planned_items[0] if len(planned_items) == 1 else None)
            # subtle: at least one item: a small model otherwise closes the list at once
            return {"type": "array", "items": items, "minItems": 1} if items is not None else None
        values: list[Any]
        if kind == "string":
            shape = _shape(described_example(prop) or described_example(option))
            shaped = [t for t in self.tokens if shape.fullmatch(t)] if shape else []
            if shape and shaped:
                if isinstance(planned, str) and shape.fullmatch(planned):
                    shaped.append(planned)
                return {"enum": list(dict.fromkeys(shaped))}
            values = [*self.phrases, *([planned] if isinstance(planned, str) and planned not in self.phrases else [])]
        elif kind in ("number", "integer"):
            values = [int(n) if n.is_integer() else n for n in self.numbers if kind == "number" or n.is_integer()]
            if isinstance(planned, (int, float)) and not isinstance(planned, bool) and planned not in values:
                values.append(planned)
        else:
            return None
        return {"enum": values} if values else None

    def _names(self, value: str) -> bool:
        """Whether the text names choice `value`: each of its words is a word of the text, or
        (from 4 letters) begins one ("cool" in "cooler"); a value under 3 letters is too often
        a word of another sense ("it" for Italian)."""
        wanted = re.findall(r"[^\W_]+", value.lower())
        return len(value) >= 3 and bool(wanted) and all(
            any(w == x or (len(x) >= 4 and w.startswith(x)) for w in self.words) for x in wanted)

    def _switch(self, name: str) -> bool | None:
        """What the text says of flag `name`, by its first word of 4 letters or more
        ("nonstop" for nonstop_only): on where it appears, off where a negation just precedes
        it, nothing where it does not appear."""
        key = next((w for w in name.lower().split("_") if len(w) >= 4), None)
        if key is None:
            return None
        stem = key[: max(4, len(key) - 2)]  # "shuffle" also as "shuffled", "permanently" as "permanent"
        for position, word in enumerate(self.words):
            if word.startswith(stem):
                return not _NEGATIONS & set(self.words[max(0, position - 2) : position])
        return None


def _shape(example: str | None) -> re.Pattern[str] | None:
    """The shape of a telling example (one word with digits or - / : @ .): "ORD-58213" gives
    letters-dash-digits, which "ORD-58377" has and "order" has not; None for other examples."""
    if not example or " " in example or not re.search(r"[\d\-/:@.]", example):
        return None
    return re.compile("".join(r"\d+" if piece[0].isdigit() else r"[^\W\d_]+" if piece[0].isalpha()
                              else re.escape(piece) for piece in _SHAPE_PIECES.findall(example)))


def _shared_choices(properties: dict[str, Any]) -> set[str]:
    """The parameters whose list of choices another parameter has too (from and to currencies)."""
    choices = {name: tuple(o["enum"]) for name, prop in properties.items()
               for o in prop.get("anyOf", [prop]) if "enum" in o}
    counts = Counter(choices.values())
    return {name for name, values in choices.items() if counts[values] > 1}


@functools.lru_cache(maxsize=16)
def _task_values(text: str, whole: str) -> _TaskValues:
    """A text's values, listed once for all the calls of its plan (O(words²) phrases)."""
    return _TaskValues(text, whole)


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
