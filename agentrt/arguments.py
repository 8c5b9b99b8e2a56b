"""Writing a planned call's arguments in a request of its own, after the plan has chosen the call.

Why: a 135M model asked for a whole plan does two jobs at once, choosing the tools and copying the
task's values into their arguments, and it does the second badly: shown worked examples of the
tools (which it needs to choose them), it copies the examples' values, so "directions from my hotel
to the airport" becomes `get_directions(origin="origin", ...)`. Asked instead, in a short prompt of
its own, for the arguments of one chosen tool given the task, it copies the task's values, though
not reliably: it still writes `order_id="1234567890"` for "cancel ORD-58377", or 100 for "38.5 C".
So the constraint does the copying: a free-text argument may only be a phrase of the task (a run of
its words) and a number one of the task's numbers, or else the value the plan gave (which carries
what the task implies but does not say, like "AAPL" for "apple"), unless that is the value the
tool's worked example showed, which the model copies, or only the task's words put together anew.
The same goes for what the task's words decide without the model: a choice the task names takes
that value ("make it cooler": mode "cool"; "into German": "de", by the standard names of codes,
`choice_names`), a choice two parameters share as the two sides of a conversion (from and to
currencies) takes, on each side, what the task names on that side ("250 euros in US dollars": the
amount's currency, then the one after "in"), a flag the task names is on unless negated ("nonstop",
"don't shuffle"), a number the task states in the unit a parameter is named for takes that number
("1 min 30 sec": minutes 1, seconds 30), a choice the task means in other words than its own takes
that value by the sentence encoder ("it's taking too long": `too_slow`; `choice_meanings.py`), and
a value whose described example has a telling shape ("e.g. ORD-58213", "e.g. 08:15", where "8pm"
is 20:00 and "6:45" 06:45) takes a word of the task of that shape when
there is one, as one that takes an identifier takes a word that is one (a path, an email address, a
#channel: `parameters.py`); an earlier result the task refers to takes its place among its numbers
("split $1 between 4 of us"). An optional parameter is asked for only when the task's words decide
it that way ("in the last 2 days", "somewhere cheap"), or the plan gave it text or a number,
narrowed as above: otherwise a small model makes one up ("mode": "heat" for "set the thermostat to
22"). One word of the task fills one argument: free text leaves out the words another argument's
value took ("dim the living room lights": the action's "dim") and those of the tool's name
("delete" in "delete old.txt"), and begins with no article ("living room"). Quoted text is what to
say or write, never who or where ("text mom 'landed safe!'"), and a quote labelled with a
parameter's name is its value, optional or not ("subject 'Sick day'"). A percentage is offered as a
fraction too ("5%": 0.05), or only as the parameter's description asks.

So the plan decides which tools run and how their results flow (`$N`), and then its calls get
their arguments rewritten here, all of them in one batch. A call the plan opened with for one
part of the instruction (`tool_choice.Call`: "set two timers, 10 and 25 minutes" is two) is
asked about that part, and its values come from it first, so the two timers get 10 and 25;
any other call of a tool the plan calls once is asked about the whole instruction. A part that
refers back to the call before it ("text it to Sam", "convert that to won") is asked about with
that word written as the call's result (`$1`), which its values may then take. An argument
that a lookup serves (`Call.inputs`: the order id `find_order` returns) is that lookup's result,
whatever the plan wrote; arguments that take an earlier step's result keep the plan's
reference; any other call of a tool the plan calls several times keeps the plan's arguments,
since a prompt that sees one call cannot tell which of the task's values that call is for.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from .choice_meanings import ChoiceMeanings
from .choice_names import standard_names
from .llm import LLM, GenerationRequest, ask, prompt_request
from .parameters import alternative_identifier, clock_times, described_example, identifier, shape, spaced
from .plan import references
from .plan_schema import MAX_STRING_CHARS, arguments_schema
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry
from .schema import ModelCall, PlanSpec, StepSpec
from .tool_choice import NUMBER, QUOTED, SAID, Call, example_arguments, number, signature

_NEGATIONS = frozenset({"no", "not", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "wont", "without", "never",
                        "nor"})
# the words of a parameter's name that say it takes what a request says to tell ("text Sam that ...")
_MESSAGE_NAMES = {"message", "text", "body", "content", "note", "msg"}
Side = Literal["source", "target"]
_SIDES: tuple[Side, Side] = ("source", "target")
# the words of a parameter's name that make it one side of a conversion (from_currency, to_currency)
_SIDE_NAMES: dict[Side, set[str]] = {
    "source": {"from", "source", "src", "origin", "base", "original", "input"},
    "target": {"to", "target", "dest", "destination", "into", "output", "quote"},
}
# the word just before a value that puts it on the target side: "to euros", "in yen", "into German",
# "how many Canadian dollars"; on the source side are "from" and a number ("250 euros")
_TARGET_CUES = {"to", "into", "in", "as", "many", "much"}
# a word that refers back to what the call before gave, where it stands for a value: "text it to
# Sam", "convert that to won", "set the thermostat to that" (not "remind me that the bins...")
_BACK = re.compile(r"(?<![\w'])(?:it|that|them|this)"
                   r"(?=\s*$|\s*[,.;?!]|\s+(?:to|in|into|as|with|between|for|on|at|from|by)\b)", re.IGNORECASE)
# a quotation mark, not an apostrophe ("it's"): a phrase holding one runs into or out of a quote
_QUOTE_MARK = re.compile(r"""(?<![^\W\d_])['"\u2018\u2019\u201c\u201d]|['"\u2018\u2019\u201c\u201d](?![^\W\d_])""")
_SIGN = re.compile(r"[^\w\s]")  # what is neither a word nor a space: "*" in "6*7"
# words that join a value to the rest of a sentence and are never one end of it: "to Sam" is "Sam"
_LINKS = {"to", "in", "into", "on", "at", "for", "from", "with", "by", "of", "about", "and", "or", "as", "than",
          "then"}
_OPENERS = _LINKS | {"the", "a", "an", "my", "your", "our", "their", "his", "her", "its"}  # nor does it end so
_THE_USER = {"me", "us"}  # nor does it begin with the user ("remind me at 8am"), though it may end so ("call me")
_ONCE_MORE = {"again", "also", "too", "another"}  # nor is it only these: "... and again at 8pm" repeats a call
# a number, with its magnitude if it has one: "$1.2M", "5k", "2 million" (not "5 m", metres)
_AMOUNT = re.compile(rf"({NUMBER.pattern})(?:\s?(thousand|million|billion)\b|([kKMB])\b)?")
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "b": 1e9}
# numbers people write as words: "in one sentence", "the three great schisms", "for two people"
_NUMBER_WORDS = {word: float(n) for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())} | {
    "twenty": 20.0, "thirty": 30.0, "forty": 40.0, "fifty": 50.0, "hundred": 100.0, "dozen": 12.0}
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# a number and the word after it: "30 sec", "2 days", "1 sentence"
_QUANTITY = re.compile(rf"({NUMBER.pattern})\s*([^\W\d_]+|%)")
_ONE_UNIT = re.compile(r"\ban?\s+(?:[a-z]+\s+)?(hour|minute|day|week|month|year)\b", re.IGNORECASE)


class ArgumentWriter:
    """Rewrites the arguments of a plan's calls, one constrained request per call, in one batch."""

    def __init__(self, llm: LLM, registry: ToolRegistry, prompts: PromptLibrary, *, max_new_tokens: int = 256,
                 meanings: ChoiceMeanings | None = None) -> None:
        """`meanings`, if given, settles a choice the task means in other words than the
        choice's own ("taking too long" for a reason `too_slow`), where the words name none."""
        self.llm = llm
        self.registry = registry
        self.prompts = prompts
        self.max_new_tokens = max_new_tokens
        self.meanings = meanings

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
        # as the first step's: no `$N` of its own making, since which results flow where is the
        # plan's (its references are kept below) or the chooser's (`Call.refers_to`, `inputs`);
        # else the model makes one up ("address": "$1", the order id the lookup returned)
        arguments = arguments_schema(tool, 1)
        properties = arguments.get("properties", {})
        declared = tool.inlined_schema().get("properties", {})
        part = call.part if call is not None else None
        carried = call.carried if call is not None else {}
        stated = _task_values(part or instruction, instruction, call.refers_to if call is not None else None)
        after = _task_values(call.after, instruction) if call is not None and call.after else None
        shown = example_arguments(tool)
        shared = _shared_choices(declared)
        sides = _sides(declared, shared)
        required = arguments.setdefault("required", [])
        # one word of the task fills one argument, and the words naming the tool fill none: plain
        # free text ("the living room") comes last, without the words the other values took
        # ("dim", "tomorrow" for an optional date), a side of it ("to") before the rest
        taken = {word for word in tool.name.lower().split("_") if len(word) >= 3}
        # the plan's arguments, but not one that is only the result the part itself refers to:
        # the words place that one ("split that between 4 of us": the total, not the plan's tip)
        args = {name: value for name, value in step.args.items()
                if call is None or call.refers_to is None or references(value) != {call.refers_to}}

        def left_to_the_words(name: str) -> bool:
            """An optional parameter the plan left out, a choice or flag, text whose values the
            words tell (`_telling`, `_vocabulary`), or a number the task does not state: the
            plan's value for it is the model's guess ("mode": "heat" for "set the thermostat to
            22", "date": "8am", "tip_percent": 0.05)."""
            optional = name not in carried and name not in required
            guessed = _a_number(declared[name]) and args.get(name) not in stated.numbers
            return optional and (name not in args or _a_choice(declared[name]) or _told(name, declared[name])
                                 or guessed)

        def meant(name: str) -> dict[str, Any] | None:
            """The choice of `name` the part's words mean but do not name, if the writer has
            `meanings` and `name` is a choice that is no side of a conversion, nor one a
            follow-up carries from the turn before (which its words would have named)."""
            choices = _choices(declared[name])
            if self.meanings is None or choices is None or name in sides or name in shared or name in carried:
                return None
            found = self.meanings.meant(stated.words, choices, taken=frozenset(taken), links=_OPENERS,
                                        negations=_NEGATIONS)
            return {"enum": found} if found else None

        def order(name: str) -> tuple[bool, bool, bool]:  # what the words settle first, then the model's picks
            return _plain_text(name, declared[name]), not left_to_the_words(name), name not in sides

        # what a verb of telling says is written by the text parameter named for it (message, body),
        # else the last text parameter, required if one is, which follows whom it is for (recipient, body)
        texts = [name for name in properties if _plain_text(name, declared[name]) and name not in sides]
        says = next((name for name in texts if _MESSAGE_NAMES & set(name.lower().split("_"))), None) \
            or ([name for name in texts if name in required] or texts or [None])[-1]
        numbers = [name for name in properties if _a_number(declared[name])]
        in_turn = stated.in_turn([name for name in numbers if not left_to_the_words(name) and name not in carried
                                  and not references(args.get(name))], numbers)
        for name in sorted(properties, key=order):
            if references(args.get(name)):
                properties[name] = {"const": args[name]}
            elif left_to_the_words(name):
                decided = (stated.decided(name, declared[name], side=sides.get(name), shared=name in shared)
                           or meant(name))
                if decided is None:
                    del properties[name]  # asked for an optional argument, a small model makes one up
                else:  # "somewhere cheap": the task's words give it, so it is written
                    properties[name] = decided
                    required.append(name)
            else:
                # a value the plan copied from the tool's worked example is no evidence
                copied = args.get(name) == shown.get(name)
                if carried:  # a number the follow-up states replaces the one before ("and 250?")
                    planned = carried.get(name)
                    if isinstance(planned, (int, float)) and not isinstance(planned, bool) and stated.numbers:
                        planned = None
                else:
                    planned = None if repeated or copied else args.get(name)
                narrowed = stated.narrow(name, declared[name], planned, shared=name in shared, side=sides.get(name),
                                         taken=frozenset(taken), in_turn=in_turn.get(name), after=after,
                                         tells=name == says) or meant(name)
                if narrowed is None and name in carried:
                    narrowed = {"const": carried[name]}
                elif narrowed is not None and name not in required:
                    required.append(name)  # the plan wrote it and the task has its value: not to be dropped
                properties[name] = narrowed or properties[name]
            taken |= stated.spelled(name, declared[name], properties.get(name))
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
        spec = _taking_inputs(spec, opening)
        chosen = self.rewritable(spec.steps, len(opening))
        if not chosen:
            return spec, []
        served: dict[int, Call] = {}
        for position, (step, call) in enumerate(zip(spec.steps, opening, strict=False)):
            served[step.id] = _referring_back(call, spec.steps[position - 1].id) if position else call
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
    at the ends, that does not run into or out of a quote), the earlier results it refers to
    (`$N`), and its numbers, or where it has neither, those of the `whole` task it is part of
    ("set a timer for 20 minutes and name it tea": the second part's minutes are the task's),
    and its words (`narrow` says what they decide)."""

    MAX_WORDS = 80  # past this many words, phrases are too many to list: free text stays free
    _EDGES = "\"'`,.;:?!()[]{}"

    def __init__(self, text: str, whole: str, refers_to: int | None = None) -> None:
        # "$1" that `_referring_back` wrote is a reference; any other "$5" is the user's money
        reference = f"${refers_to}" if refers_to is not None else None
        words = text.split()
        self.tokens = [token.strip(self._EDGES) for token in words]
        self.phrases: list[str] = []
        self._before: dict[str, list[str]] = {}  # each phrase: the two words before it, where it first is
        self._after: dict[str, str] = {}  # ... and the word after it, there
        if len(words) <= self.MAX_WORDS:
            lowered = [token.lower() for token in self.tokens]
            for i in range(len(words)):
                for j in range(i + 1, len(words) + 1):
                    run = " ".join(words[i:j]).strip(self._EDGES)
                    # subtle: no `$` in a value, unless it is the reference: the executor reads
                    # "$50" as the result of step 50 (which is what "$1" is in "text $1 to Sam")
                    if run and run not in self._before and ("$" not in run or run == reference) \
                            and len(run) <= MAX_STRING_CHARS and not _QUOTE_MARK.search(run):
                        self.phrases.append(run)
                        self._before[run] = lowered[max(0, i - 2) : i]
                        self._after[run] = lowered[j] if j < len(lowered) else ""
        self.references = [reference] if reference is not None and reference in text else []
        plain = text.replace(reference, " ") if reference is not None else text
        self.words = _words(text)
        numbers = [_amount(found) for found in _AMOUNT.finditer(plain)]
        numbers += [_NUMBER_WORDS[word] for word in self.words if word in _NUMBER_WORDS]
        if not numbers and not self.references:
            numbers = [_amount(found) for found in _AMOUNT.finditer(whole)]
        self.numbers = list(dict.fromkeys(numbers))
        self.quantities = [(number(n), unit.lower()) for n, unit in _QUANTITY.findall(plain)]
        self.quantities += [(_NUMBER_WORDS[word], unit) for word, unit in zip(self.words, self.words[1:], strict=False)
                            if word in _NUMBER_WORDS]
        # one of a unit said with an article, an adjective between or not: "an hour", "a free hour"
        self.quantities += [(1.0, unit.lower()) for unit in _ONE_UNIT.findall(plain)]
        self.quoted = {found.group(0)[1:-1] for found in QUOTED.finditer(text)}
        said = SAID.search(text)
        self.said = said.group(1).strip(self._EDGES) if said else None
        self._quoted_words = {word for quote in self.quoted for word in _words(quote)}
        self._text = text
        self.whole = whole if whole != text else None
        self.length = len(text)

    def narrow(self, name: str, prop: dict[str, Any], planned: Any, *, shared: bool = False,
               side: Side | None = None, taken: frozenset[str] = frozenset(),
               in_turn: float | str | None = None, after: _TaskValues | None = None,
               tells: bool = False) -> dict[str, Any] | None:
        """Parameter `name`'s values (`prop`) narrowed to the instruction's (and `planned`, the
        plan's value), or None where that does not apply (a format, an object, nothing to choose
        from): a choice to those the instruction names (on its `side`, for one side of a
        conversion; not at all if another parameter `shared` it otherwise); a flag to what the
        instruction says of it; text that takes an identifier or has a telling example to the
        words of that shape, else, if it is the parameter that `tells`, to what a verb of saying
        and "that" say is to be written ("text Sam that the package is here"), else to the
        instruction's phrases (those that can be a value, `_a_value`, unless quoted or none is
        left); a number to those stated in the unit `name` speaks of, else to the one it takes
        `in_turn`, else to all its numbers. Text the words leave no phrase for comes from the part of the call
        before, `after`, if given ("the forecast for Paris today and tomorrow": "tomorrow" is
        the day, Paris the city), and so does the source of a conversion of that call's result:
        what it converted to."""
        options = _options(prop)
        if len(options) != 1:
            return None
        option, kind = options[0], options[0].get("type")
        if "enum" in option:
            if side == "source" and self.references and after is not None and not self._sided(option["enum"])[side]:
                # "..., then convert that to won": the result converted on is in what the call before converted to
                chained = after._sided(option["enum"])["target"]
                if chained:
                    return {"enum": chained}
            named = self._chosen(option["enum"], side) if side or not shared else []
            return {"enum": named} if named else None
        if any(k in option for k in ("const", "format", "pattern")):
            return None
        if kind == "boolean":
            said = self._switch(name)
            return None if said is None else {"enum": [said]}
        if kind == "array":
            planned_items = planned if isinstance(planned, list) else []
            items = self.narrow(name, option.get("items", {}), planned_items[0] if len(planned_items) == 1 else None,
                                taken=taken)
            # subtle: at least one item: a small model otherwise closes the list at once
            return {"type": "array", "items": items, "minItems": 1} if items is not None else None
        values: list[Any]
        labelled = self._labelled(name) if kind == "string" else []
        if labelled:
            return {"enum": labelled}
        if kind == "string":
            # not the plan's value too: of this shape but not the task's, it is made up
            shaped = self._shaped(name, _documented(prop)) or self._named(_vocabulary(prop), sure=True)
            if shaped:
                return {"enum": shaped}
            if self.said and tells and not taken.intersection(_words(self.said)):
                return {"enum": [self.said]}  # "text Sam that the package is here": all of what to say
            free = [p for p in self.phrases
                    if _a_value(p, taken, name) or (p in self.quoted and not taken.intersection(_words(p)))]
            if side is not None:  # a quote is what to say or write, not who or where ("text mom 'landed safe!'")
                free = [p for p in free if not set(_words(p)) <= self._quoted_words]
            sided = [p for p in free if side is not None and self._side_of(p) == side]
            free = sided or free  # "text it to Sam": a recipient is what follows "to"
            if not free and after is not None:  # the part said only what differs from the call before
                # ... and a time there is that call's, where this one states its own ("remind me at
                # 7am to stretch, and again at 6pm": "stretch", not "7am to stretch")
                restated = {word for _, said in clock_times(after._text, None) for word in _words(said)} \
                    if clock_times(self._text, None) else set()
                return after.narrow(name, prop, planned, side=side, taken=taken | restated, tells=tells)
            # the plan's own text, unless the words put a value on this side ("11 stone": not the
            # plan's "kilogram"), it is longer than the request (a copy run on: "Dinner is
            # cancelled. Our flight... Dinner is cancelled."), the request refers back to an
            # earlier result (then it is a copy of the earlier request's words), or it is only
            # the task's words put together anew
            offered = isinstance(planned, str) and planned not in self.phrases and not self.references \
                and not sided and len(planned) <= self.length and not self._recombined(planned)
            values = [*(free or self.phrases), *([planned] if offered else [])]
        elif kind in ("number", "integer"):
            counted = self._counted(name)
            described = f"{prop.get('description', '')} {option.get('description', '')}".lower()
            if isinstance(in_turn, str):  # the earlier result it refers to
                return {"enum": [in_turn]}
            stated = counted or self._amounts(described, [in_turn] if in_turn is not None else self.numbers)
            values = [int(n) if n.is_integer() else n for n in stated if kind == "number" or n.is_integer()]
            if not counted and in_turn is None:
                if self.references:  # "set it to $1": the plan's number is a guess
                    values.extend(self.references)
                elif isinstance(planned, (int, float)) and not isinstance(planned, bool) and planned not in values:
                    values.append(planned)
        else:
            return None
        return {"enum": values} if values else None

    def _shaped(self, name: str, documented: dict[str, Any]) -> list[str]:
        """The values of text parameter `name` (`_documented`) that the text states in the
        shape that tells them apart (`_telling`): a word or a run of words ("+1 646 555 0107"),
        a path with the words after it up to a linking one ("/Desktop/untitled folder copy"), a
        time of day said on either clock ("8pm" as 20:00 for "HH:MM, e.g. 18:00")."""
        telling = _telling(name, documented)
        if telling is None:
            return []
        shaped = []
        if telling.fullmatch("12:00"):  # a time of day, on the clock the example writes ("6:45" as 06:45)
            shaped = [t for t, _ in clock_times(self._text, described_example(documented)) if telling.fullmatch(t)]
        shaped = shaped or [t for t in self.phrases or self.tokens if telling.fullmatch(t)]
        if shaped and spaced(name, documented):
            shaped = [p for p in self.phrases if telling.fullmatch(p.split()[0])
                      and not set(_words(" ".join(p.split()[1:]))) & _OPENERS]
        return list(dict.fromkeys(shaped))

    def _recombined(self, planned: str) -> bool:
        """Whether the plan's text is only words and signs of the whole task put together anew
        ("landed safe!@r.meyer@example.com"), which its phrases offer as they stand; "AAPL" for
        "apple" adds what the task implies, "6*7" for "6 times 7" a sign it does not have, and
        "Lisbon" for "how's the air there" what another part said."""
        whole = self.whole or self._text
        words = _words(planned)
        return (bool(words) and set(words) <= set(_words(whole))
                and set(_SIGN.findall(planned)) <= set(_SIGN.findall(whole))
                and planned not in _task_values(whole, whole).phrases)

    def _side_of(self, phrase: str) -> Side | None:
        """Which side of a conversion the words around `phrase` put it on: those before it ("to
        Boston", "from NYC"), else "to" right after it ("NYC to London": NYC is the source)."""
        return _side_after(self._before.get(phrase, [])) or ("source" if self._after.get(phrase) == "to" else None)

    def in_turn(self, names: list[str], others: list[str]) -> dict[str, float | str]:
        """The number each of the number parameters `names` takes by its place, when the text
        states just as many besides those counted in a unit, for them or `others` ("a triangle
        with sides 5, 4 and 3": side1 5, side2 4, side3 3; "15% tip on 80 for 4 people": total
        80 beside people 4 and tip_percent 15), an earlier result it refers to counting as one
        ("split $1 between 4 of us": total $1, people 4); {} otherwise."""
        counted = {name: self._counted(name) for name in [*names, *others]}
        left = [name for name in names if not counted[name]]
        pool: list[float | str] = [n for n in self.numbers if not any(n in numbers for numbers in counted.values())]
        for reference in self.references:  # at its place among the numbers
            at = self._text.find(reference)
            pool.insert(sum(1 for found in _AMOUNT.finditer(self._text[:at]) if _amount(found) in pool), reference)
        if not left or len(pool) != len(left):
            return {}
        return dict(zip(left, pool, strict=True))

    def _amounts(self, described: str, numbers: list[float]) -> list[float]:
        """`numbers` of the text, a percentage ("5%", "5 percent") also or only as a fraction
        (0.05), by what the parameter's description asks for: a decimal or fraction, a
        percentage, or either when it does not say."""
        percents = {n for n, unit in self.quantities if unit in ("%", "percent")}
        as_fraction = any(word in described for word in ("decimal", "fraction"))
        as_percent = not as_fraction and any(word in described for word in ("percent", "%"))
        amounts: list[float] = []
        for n in numbers:
            if n not in percents or not as_fraction:
                amounts.append(n)
            if n in percents and not as_percent:
                amounts.append(round(n / 100, 10))
        return list(dict.fromkeys(amounts))

    def decided(self, name: str, prop: dict[str, Any], *, shared: bool = False,
                side: Side | None = None) -> dict[str, Any] | None:
        """What the text's words alone say of optional parameter `name` (`prop`), as `narrow`
        puts it, or None if they say nothing of it: a choice it names (on `side`), a flag it
        mentions, a number it states in the unit `name` speaks of, or free text it gives as
        one of the values the parameter's description quotes ("tomorrow" for a date described
        as '"today", "tomorrow", a weekday, ...')."""
        options = _options(prop)
        if len(options) != 1:
            return None
        option, kind = options[0], options[0].get("type")
        if "enum" in option:  # named for sure: "38 dollars" does not say which dollars
            choices = option["enum"]
            named = self._sided(choices, sure=True)[side] if side else [] if shared else self._named(choices, sure=True)
            return {"enum": named} if named else None
        if kind == "boolean" or (kind in ("number", "integer") and self._counted(name)):
            return self.narrow(name, prop, None)
        if kind == "string":
            named = (self._labelled(name) or self._named(_vocabulary(prop) or _quoted(prop), sure=True)
                     or self._shaped(name, _documented(prop)))
            return {"enum": named} if named else None
        return None

    def _labelled(self, name: str) -> list[str]:
        """The quoted values the text labels with parameter `name`: "subject 'Sick day'",
        "titled 'Q3 review'", "with the message 'on my way'"."""
        wanted = _words(name)
        labelled = []
        for quote in QUOTED.finditer(self._text):
            before = _words(self._text[: quote.start()])[-len(wanted):]
            if len(before) == len(wanted) and all(map(_same_word, before, wanted)):
                labelled.append(quote.group(0)[1:-1])
        return labelled

    def spelled(self, name: str, prop: dict[str, Any], narrowed: dict[str, Any] | None) -> set[str]:
        """The words of the text that the value settled for parameter `name` (`prop`) takes,
        when `narrowed` leaves it one: a choice's mention ("dim", "US dollars"), a number and
        the unit `name` counts it in ("30 sec"), a word of a telling shape ("ORD-58377")."""
        values = (narrowed or {}).get("enum", [])
        telling = _telling(name, _documented(prop)) if _free_text(prop) else None
        if len(values) > 1 and telling and all(isinstance(v, str) and telling.fullmatch(v) for v in values):
            return {word for value in values for word in _words(value)}  # a phone number, however much of it
        if len(values) != 1:
            return set()
        if isinstance(values[0], bool):  # a flag its word said ("shuffle") takes that word
            stem = _switch_stem(name)
            said = stem is not None and values[0] is self._switch(name)
            return {word for word in self.words if word.startswith(stem)} if stem and said else set()
        value = values[0]
        if isinstance(value, (int, float)):
            units = {unit for number, unit in self.quantities if number == value} if self._counted(name) else set()
            return {*_words(f"{value:g}"), *units}
        choices = _choices(prop)
        if choices is not None:
            return {word for position, covered, named in self._mentions(choices) if named == [value]
                    for word in self.words[position : position + covered]}
        if value in self._labelled(name):  # "subject 'Sick day'": the label's word too
            return {*_words(value), *_words(name)}
        if value in self.tokens or value == self.said:
            return set(_words(value))
        return {word for time, said in clock_times(self._text, value) if time == value for word in _words(said)}

    def _chosen(self, choices: list[Any], side: Side | None) -> list[Any]:
        """The `choices` the text names, on `side` if given: those it names there, or where it
        names none there but some on the other side, all the others ("to celsius": the source
        is any scale but celsius); on a side the text leaves open, the whole task's."""
        if side is None:
            return self._named(choices)
        other: Side = "target" if side == "source" else "source"
        named = self._sided(choices)
        if not named[side] and self.whole is not None:
            whole = _task_values(self.whole, self.whole)._sided(choices)
            named[side] = [c for c in whole[side] if c not in named[other]]
        if named[side]:
            return named[side]
        return [c for c in choices if c not in named[other]] if named[other] else []

    def _named(self, choices: list[Any], *, sure: bool = False) -> list[Any]:
        """The `choices` the text names, in the order it names them (if `sure`, only those it
        names as one choice: not "dollars")."""
        return list(dict.fromkeys(c for _, _, named in self._mentions(choices, sure=sure) for c in named))

    def _sided(self, choices: list[Any], *, sure: bool = False) -> dict[Side, list[Any]]:
        """The `choices` the text names on each side of a conversion: by the word before each
        mention ("to", "in", "into", "how many" for the target; "from" or a number for the
        source), and a mention without one on the first side still without any, in reading
        order ("USD to EUR", "how many euros is 500 dollars")."""
        sides: dict[Side, list[Any]] = {"source": [], "target": []}
        loose = []
        for position, _, named in self._mentions(choices, sure=sure):
            side = self._side_at(position)
            if side is None:
                loose.append(named)
            else:
                sides[side].extend(named)
        for named in loose:
            open_side = next((side for side in _SIDES if not sides[side]), None)
            if open_side is not None:
                sides[open_side].extend(named)
        return {side: list(dict.fromkeys(named)) for side, named in sides.items()}

    def _side_at(self, position: int) -> Side | None:
        """Which side the one or two words before word `position` put a value on, if any."""
        return _side_after(self.words[max(0, position - 2) : position])

    def _mentions(self, choices: list[Any], *, sure: bool = False) -> list[tuple[int, int, list[Any]]]:
        """Where the text names `choices`, in order: each mention's first word, how many words it
        spans and the choices it may be. A choice is named by its own words, anywhere (from 3
        letters: "it" is more often a pronoun than Italian), or by a standard name of its code,
        its words in a row ("German" for "de", "US dollars" for "USD"; `choice_names`), each
        word a word of the text or (from 4 letters) the start of one ("cool" in "cooler"). The
        last word of a standard name alone ("dollars") names every choice whose name ends so
        (with `sure`, such mentions are left out)."""
        texts = tuple(c for c in choices if isinstance(c, str))
        standard = standard_names(texts)
        found: dict[int, tuple[int, list[Any]]] = {}  # first word -> (words covered, choices)
        for choice in texts:
            own = [(self._scattered(_words(choice)), 1)] if len(choice) >= 3 else []
            spelled = [(self._places(_words(name)), len(_words(name))) for name in standard.get(choice, ())]
            for places, length in own + spelled:
                for position in places:
                    covered, named = found.setdefault(position, (length, []))
                    found[position] = (max(covered, length), [*named, choice] if choice not in named else named)
        heads: dict[str, list[str]] = defaultdict(list)
        for choice, names in standard.items():
            for name in names:
                if choice not in heads[_words(name)[-1]]:
                    heads[_words(name)[-1]].append(choice)
        spans = {p + k for p, (covered, _) in found.items() for k in range(covered)}
        for head, named in heads.items():
            for position in self._places([head]):
                if position not in spans:
                    found.setdefault(position, (1, named))
        return [(position, covered, named) for position, (covered, named) in sorted(found.items())
                if not sure or len(named) == 1]

    def _scattered(self, wanted: list[str]) -> list[int]:
        """Where the text has all the words `wanted`, in any order and apart ("changed my mind"
        for changed_mind): the place of the first, once; nowhere if one is missing."""
        places = [next((i for i, w in enumerate(self.words) if _same_word(w, x)), -1) for x in wanted]
        return [places[0]] if places and min(places) >= 0 else []

    def _places(self, wanted: list[str]) -> list[int]:
        """Where the words `wanted` follow each other in the text."""
        return [i for i in range(len(self.words) - len(wanted) + 1) if wanted and all(
            _same_word(w, x) for w, x in zip(self.words[i:], wanted, strict=False))]

    def _counted(self, name: str) -> list[float]:
        """The numbers the text states in the unit parameter `name` speaks of: "30 sec" for
        seconds, "2 days" for days, "1 sentence" for max_sentences (a unit and a word of the
        name agree when the shorter, from 3 letters and without a plural s, begins the longer;
        "%" is "percent"), or for minutes, where none is stated in minutes, the hours in minutes."""
        keys = [key.rstrip("s") for key in name.lower().split("_") if len(key) >= 3]

        def agrees(unit: str) -> bool:
            unit = "percent" if unit == "%" else unit.rstrip("s")
            return any(min(len(unit), len(key)) >= 3 and (key.startswith(unit) or unit.startswith(key)) for key in keys)

        counted = [number for number, unit in self.quantities if agrees(unit)]
        if not counted and "minute" in keys:  # "a 2 hour block" for duration_minutes: 120
            counted = [number * 60 for number, unit in self.quantities if unit.rstrip("s") in ("hour", "hr")]
        return list(dict.fromkeys(counted))

    def _switch(self, name: str) -> bool | None:
        """What the text says of flag `name`, by its first word of 4 letters or more
        ("nonstop" for nonstop_only): on where it appears, off where a negation just precedes
        it, nothing where it does not appear."""
        stem = _switch_stem(name)
        if stem is None:
            return None
        for position, word in enumerate(self.words):
            if word.startswith(stem):
                return not _NEGATIONS & set(self.words[max(0, position - 2) : position])
        return None


def _switch_stem(name: str) -> str | None:
    """The stem a flag is said by: its name's first word of 4 letters or more, less a short ending
    ("shuffle" also as "shuffled", "permanently" as "permanent")."""
    key = next((w for w in name.lower().split("_") if len(w) >= 4), None)
    return key[: max(4, len(key) - 2)] if key is not None else None


def _amount(found: re.Match[str]) -> float:
    """The value of an `_AMOUNT`: "1.2M" is 1200000."""
    digits, word, letter = found.groups()
    return number(digits) * _SCALES.get((word or letter or "").lower(), 1.0)


def _side_after(before: list[str]) -> Side | None:
    """Which side of a conversion the words `before` a value put it on ("to euros", "250 euros",
    "from Boston"), by the nearest that tells, if any."""
    for word in reversed(before):
        if word in _TARGET_CUES:
            return "target"
        if word == "from" or NUMBER.fullmatch(word):
            return "source"
    return None


def _a_value(phrase: str, taken: frozenset[str], name: str) -> bool:
    """Whether `phrase` can be a value of free text for parameter `name`: none of its words
    `taken` by another value or the tool's name, nor the start of one ("remind" of
    `set_reminder`), not the parameter's name itself ("room" is no room), neither end a linking
    word ("to Sam", "lights to"), its last word not one that opens a phrase ("beats in the"),
    nor its first an article or a possessive as written in lower case ("the living room" is
    "living room"; "The Hague" stays), nor only a word that says a call is made once more ("again")."""
    words = _words(phrase)
    return (bool(words) and not any(w in taken or (len(w) >= 4 and any(t.startswith(w) for t in taken))
                                     for w in words)
            and words != _words(name) and words[0] not in _LINKS and words[-1] not in _OPENERS
            and phrase.split()[0] not in _OPENERS and words[0] not in _THE_USER and not set(words) <= _ONCE_MORE)


def _same_word(word: str, wanted: str) -> bool:
    """Whether a word of the text is `wanted`, or (from 4 letters) begins with it ("cooler")."""
    return word == wanted or (len(wanted) >= 4 and word.startswith(wanted))


def _words(text: str) -> list[str]:
    """A text's words, lowercased, without apostrophes ("don't" is "dont")."""
    return re.findall(r"[^\W_]+", text.lower().replace("'", "").replace("\u2019", ""))


def _referring_back(call: Call, step_id: int) -> Call:
    """`call` with the word of its part that refers back to the call before it, if any, written as
    that call's result: "text it to Sam" after a translation in step 1 is "text $1 to Sam", so the
    message can be the translation, and "convert that to won" takes its amount from step 1."""
    part = _BACK.sub(f"${step_id}", call.part, count=1)
    return call if part == call.part else replace(call, part=part, refers_to=step_id)


def _documented(prop: dict[str, Any]) -> dict[str, Any]:
    """The one type a parameter takes (but null), with the parameter's description."""
    options = _options(prop)
    option = options[0] if len(options) == 1 else prop
    return {**option, "description": prop.get("description", option.get("description", ""))}


def _telling(name: str, documented: dict[str, Any]) -> re.Pattern[str] | None:
    """What a value of text parameter `name` (`_documented`) looks like, where that tells it
    apart: an identifier, the shape of its described example, an identifier among the
    alternatives its description gives."""
    return identifier(name, documented) or shape(described_example(documented)) or alternative_identifier(documented)


def _quoted(prop: dict[str, Any]) -> list[str]:
    """The values a parameter's description quotes."""
    return [found.group(0)[1:-1] for found in QUOTED.finditer(prop.get("description", ""))]


def _vocabulary(prop: dict[str, Any]) -> list[str]:
    """The words a parameter's description quotes, when it quotes several of one word each: the
    words its values are said in ('"today", "tomorrow", a weekday such as "friday"'); one quoted
    value, or a phrase ('e.g. "tax return"'), is an example."""
    quoted = _quoted(prop)
    if len(quoted) < 2 or any(len(q.split()) != 1 for q in quoted):
        return []
    return quoted + (_WEEKDAYS if set(_WEEKDAYS) & {q.lower() for q in quoted} else [])  # "a weekday such as friday"


def _told(name: str, prop: dict[str, Any]) -> bool:
    """Whether the values of text parameter `name` are told apart by their words (a vocabulary)
    or their shape (an identifier, a time), so that a text states them or does not."""
    documented = _documented(prop)
    return _free_text(prop) and (_telling(name, documented) is not None or bool(_vocabulary(documented)))


def _options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The types a parameter takes, but null: one for `x: T` and `x: T | None` alike."""
    return [option for option in prop.get("anyOf", [prop]) if option.get("type") != "null"]


def _a_number(prop: dict[str, Any]) -> bool:
    """Whether a parameter takes a number of its own choosing (not one of a list of choices)."""
    options = _options(prop)
    return len(options) == 1 and options[0].get("type") in ("number", "integer") and "enum" not in options[0]


def _choices(prop: dict[str, Any]) -> list[Any] | None:
    """A parameter's choices (its enum, or its non-null option's), or None if it has none."""
    return next((option["enum"] for option in prop.get("anyOf", [prop]) if "enum" in option), None)


def _a_choice(prop: dict[str, Any]) -> bool:
    """Whether a parameter is a choice or a flag."""
    return _choices(prop) is not None or any(option.get("type") == "boolean" for option in prop.get("anyOf", [prop]))


def _plain_text(name: str, prop: dict[str, Any]) -> bool:
    """Whether a parameter takes free text whose values are not told apart by a shape (as "e.g.
    08:15" and a path are) nor by a vocabulary ("today", "tomorrow", a weekday)."""
    return _free_text(prop) and not _told(name, prop)


def _free_text(prop: dict[str, Any]) -> bool:
    """Whether a parameter takes free text (or a list of it): no choice, format or pattern."""
    options = _options(prop)
    option = options[0] if len(options) == 1 else {}
    if option.get("type") == "array":
        option = option.get("items", {})
    return option.get("type") == "string" and not any(k in option for k in ("enum", "const", "format", "pattern"))


def _sides(properties: dict[str, Any], shared: set[str]) -> dict[str, Side]:
    """The parameters that are one side of a conversion, by their names: two that share a choice
    (from_currency and to_currency, base and target, source_language and target_language), and
    any of free text (origin, destination, to)."""
    by_choices: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for name in shared:
        by_choices[tuple(_choices(properties[name]) or ())].append(name)
    sides: dict[str, Side] = {}
    for names in by_choices.values():
        named = {name: side for name in names for side, words in _SIDE_NAMES.items()
                 if words & set(name.lower().split("_"))}
        if len(names) == 2 and sorted(named.values()) == ["source", "target"]:
            sides.update(named)
    for name, prop in properties.items():
        words = set(name.lower().split("_"))
        side = next((side for side in _SIDES if _SIDE_NAMES[side] & words), None)
        if side is not None and _free_text(prop):
            sides[name] = side
    return sides


def _shared_choices(properties: dict[str, Any]) -> set[str]:
    """The parameters whose list of choices another parameter has too (from and to currencies)."""
    choices = {name: tuple(found) for name, prop in properties.items() if (found := _choices(prop)) is not None}
    counts = Counter(choices.values())
    return {name for name, values in choices.items() if counts[values] > 1}


@functools.lru_cache(maxsize=16)
def _task_values(text: str, whole: str, refers_to: int | None = None) -> _TaskValues:
    """A text's values, listed once for all the calls of its plan (O(words²) phrases)."""
    return _TaskValues(text, whole, refers_to)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _taking_inputs(spec: PlanSpec, opening: Sequence[Call]) -> PlanSpec:
    """`spec` with each argument that a chosen call in `opening` takes from an earlier one
    (`Call.inputs`, by position) written as that step's result, `$N`, whatever the plan wrote:
    "share my resume with john" shares `$1`, the path `search_files` returns, not "resume". An
    argument the plan wrote as such a result but the call does not take from it is dropped, to
    be written anew: the plan gave `find_order`'s order id as the new address too."""
    steps = list(spec.steps)
    for position, call in enumerate(opening[: len(steps)]):
        if call.inputs:
            served = {name: steps[earlier].id for name, earlier in call.inputs.items()}
            kept = {name: value for name, value in steps[position].args.items()
                    if not references(value) & set(served.values())}
            steps[position] = _with_arguments(steps[position], {**kept, **{n: f"${i}" for n, i in served.items()}})
    return PlanSpec(steps=steps)


def _with_arguments(step: StepSpec, arguments: dict[str, Any]) -> StepSpec:
    return step.model_copy(update={"args": arguments,
                                   "depends_on": sorted(set(step.depends_on) | references(arguments))})


def _free_parameters(tool: Tool, step: StepSpec) -> bool:
    """Whether `step` has an argument to write: a parameter of `tool` that is required or given,
    and not taken from an earlier step."""
    schema = tool.json_schema()
    wanted = [*schema.get("required", []), *step.args]
    return any(name in schema.get("properties", {}) and not references(step.args.get(name)) for name in wanted)
