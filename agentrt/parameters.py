"""What a tool's parameter says about its values: the example its description gives, the shape
of that example, and, for a parameter that takes an identifier, what one looks like in a text.

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
}
_SPACED = {"path"}  # kinds whose values may hold spaces: "/Desktop/untitled folder copy"
_IDENTIFIER_WORDS = {"link": "url", "uri": "url", "email": "email", "path": "path", "url": "url",
                     "phone": "phone", "id": "id", "ids": "id"}
_FORMATS = {"email": "email", "uri": "url", "uri-reference": "url"}


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
    return identifier(name, prop) is not None and _kind(name, prop) in _SPACED


def identifier(name: str, prop: dict[str, Any]) -> re.Pattern[str] | None:
    """What a value of parameter `name` looks like in a text, if it takes an identifier (an email
    address, a path, a URL, a phone number, an id), known by its format or the last word of its
    name (`email`, `file_path`, `order_id`); None for a parameter that takes anything else (a
    city, a message, a time, a choice). An id looks like its described example ("e.g. ORD-58213":
    letters-dash-digits), since each system has its own; a path, an email address, a URL or a
    phone number looks like any other ("/Documents/Work/contract_signed.pdf" is a path though
    the example was "/Documents/report.pdf")."""
    if prop.get("type") != "string" or "enum" in prop:
        return None
    kind = _kind(name, prop)
    if kind is None:
        return None
    return (shape(described_example(prop)) if kind == "id" else None) or _IDENTIFIERS[kind]


def _kind(name: str, prop: dict[str, Any]) -> str | None:
    return _FORMATS.get(prop.get("format", "")) or _IDENTIFIER_WORDS.get(name.lower().split("_")[-1])
