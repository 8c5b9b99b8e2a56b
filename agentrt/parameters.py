"""What a tool's parameter says about its values: the example its description gives, the shape
of that example, and, for a parameter that takes an identifier, what one looks like in a text;
and the times of day a text says ("8pm"), for a parameter that takes one on the 24-hour clock.

The argument writer (`arguments.py`) narrows a value to the words of an example's shape ("e.g.
ORD-58213": "ORD-58377", not "order"); the chooser's lookups (`lookups.py`) tell whether a
request states the identifier a parameter takes ("share it with dana@example.com") or only names
what has one ("share it with Dana").
"""

from __future__ import annotations

import re
from typing import Any

# the value after "e.g." in a parameter's description: quoted, or up to the next space or comma
_EXAMPLE = re.compile(r"""e\.g\.,?\s*("[^"]+"|'[^']+'|[^\s,;)]+)""")
# a described example's pieces: digits, letters, and anything else as itself
_SHAPE_PIECES = re.compile(r"\d+|[^\W\d_]+|.")
# an identifier as a text states it, by the word its parameter is named for (`order_id`: "id")
_IDENTIFIERS = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "path": re.compile(r"(?<![\w/])[~.]{0,2}(?:/[^\s/]+)+/?|\b[\w-]+\.[A-Za-z][A-Za-z0-9]{1,3}\b"),
    "url": re.compile(r"\bhttps?://\S+|\bwww\.\S+"),
    "phone": re.compile(r"\+?\d[\d ().-]{6,}\d"),
    "id": re.compile(r"\b[\w-]*\d[\w-]*\b"),
    "channel": re.compile(r"(?<!\w)#[\w-]+"),
}
_SPACED = {"path"}  # kinds whose values may hold spaces: "/Desktop/untitled folder copy"
_IDENTIFIER_WORDS = {"link": "url", "uri": "url", "email": "email", "path": "path", "url": "url",
                     "phone": "phone", "id": "id", "ids": "id", "channel": "channel"}
_FORMATS = {"email": "email", "uri": "url", "uri-reference": "url"}
# what a description that says what its parameter is ends with: "the recipient's email address"
_DESCRIBED_KINDS = {"email address": "email", "e-mail address": "email", "phone number": "phone",
                    "telephone number": "phone", "url": "url", "file path": "path", "folder path": "path"}
# a time of day as people say it: "8am", "9:30 p.m.", "noon", "6:45"
_CLOCK = re.compile(r"(?<![\w:])(\d{1,2})(?::(\d{2}))?\s?([ap])\.?m\b\.?|\b(noon|midnight)\b"
                    r"|(?<![\w:])(\d{1,2}):(\d{2})(?![\w:])", re.IGNORECASE)


def clock_times(text: str, example: str | None) -> list[tuple[str, str]]:
    """The times of day `text` says with am or pm, as noon or midnight, or as hours and minutes,
    each written on the 24-hour clock as `example` writes its hour ("8pm": "20:00"; "08:00" and
    "06:45" after an example "08:15"), beside the words that said it."""
    padded = example is None or len(example.split(":")[0]) == 2
    times = []
    for found in _CLOCK.finditer(text):
        if found.group(5):
            hour, minute = int(found.group(5)), int(found.group(6))
        elif found.group(4):
            hour, minute = (12 if found.group(4).lower() == "noon" else 0), 0
        else:
            hour = int(found.group(1)) % 12 + (12 if found.group(3).lower() == "p" else 0)
            minute = int(found.group(2) or 0)
        if hour < 24 and minute < 60:
            times.append((f"{hour:02d}:{minute:02d}" if padded else f"{hour}:{minute:02d}", found.group(0)))
    return times


def described_example(prop: dict[str, Any]) -> str | None:
    """The example a parameter's description gives ("the order's id, e.g. ORD-58213"), if any."""
    found = _EXAMPLE.search(prop.get("description", ""))
    return found.group(1).strip().strip("\"'") if found else None


def shape(example: str | None) -> re.Pattern[str] | None:
    """The shape of a telling example (one word with digits or - / : @ .): "ORD-58213" gives
    letters-dash-digits, which "ORD-58377" has and "order" has not; None for other examples."""
    if not example or " " in example or not re.search(r"[\d\-/:@.]", example):
        return None
    return re.compile("".join(r"\d+" if piece[0].isdigit() else r"[^\W\d_]+" if piece[0].isalpha()
                              else re.escape(piece) for piece in _SHAPE_PIECES.findall(example)))


def spaced(name: str, prop: dict[str, Any]) -> bool:
    """Whether parameter `name` takes an identifier that may hold spaces (a path), so that its
    value may run on past the word `identifier` matches: "/Desktop/untitled folder copy"."""
    return identifier(name, prop) is not None and identifier_kind(name, prop) in _SPACED


def identifier(name: str, prop: dict[str, Any]) -> re.Pattern[str] | None:
    """What a value of parameter `name` looks like in a text, if it takes an identifier (an email
    address, a path, a URL, a phone number, an id), known by its format or the last word of its
    name (`email`, `file_path`, `order_id`); None for a parameter that takes anything else (a
    city, a message, a time, a choice). An id looks like its described example ("e.g. ORD-58213":
    letters-dash-digits), since each system has its own; a path, an email address, a URL or a
    phone number looks like any other ("/Documents/Work/contract_signed.pdf" is a path though
    the example was "/Documents/report.pdf"). Which kind: `identifier_kind`."""
    if prop.get("type") != "string" or "enum" in prop:
        return None
    kind = identifier_kind(name, prop)
    if kind is None:
        return None
    return (shape(described_example(prop)) if kind == "id" else None) or _IDENTIFIERS[kind]


def identifier_kind(name: str, prop: dict[str, Any]) -> str | None:
    """Which kind of identifier (`email`, `path`, `url`, `phone`, `id`, `channel`) parameter
    `name` takes, by its format, the last word of its name, or else what its description says it
    is ("to": "the recipient's email address"; not "a contact's name or a phone number", which is
    either: `alternative_identifier`)."""
    alternatives = _described(prop)
    return (_FORMATS.get(prop.get("format", "")) or _IDENTIFIER_WORDS.get(name.lower().split("_")[-1])
            or (alternatives[0] if alternatives == [alternatives[0]] else None))


def alternative_identifier(prop: dict[str, Any]) -> re.Pattern[str] | None:
    """What an identifier looks like that a parameter takes as one of the alternatives its
    description gives ("a contact's name or a phone number": a phone number), if any: a value
    for it when a text states one."""
    kinds = [kind for kind in _described(prop) if kind is not None]
    return _IDENTIFIERS[kinds[0]] if kinds else None


def _described(prop: dict[str, Any]) -> list[str | None]:
    """The kind of identifier each alternative of a description names, if any ("a name or a
    phone number": [None, "phone"])."""
    described = re.split(r"[,;(]|\be\.g\.", prop.get("description", "").lower(), maxsplit=1)[0].strip(" .")
    return [next((kind for words, kind in _DESCRIBED_KINDS.items() if alternative.strip().endswith(words)), None)
            for alternative in described.split(" or ")]
