"""Reading JSON Lines: files agentrt appends to, whose writer may have been killed mid-line, and
files a user or a benchmark gives. Lines end at "\n" only: a JSON string may hold U+2028 and
other characters at which `str.splitlines()` would also cut a record in two."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """Each non-blank line of JSON Lines `text`, with its number."""
    for number, line in enumerate(text.split("\n"), 1):
        if line.strip():
            yield number, line


def read_records(path: Path) -> list[Any]:
    """Every line's JSON value, for a file whose every line must be JSON (a benchmark's data)."""
    return [json.loads(line) for _, line in numbered_lines(path.read_text(encoding="utf-8"))]


def appended_lines(
    path: Path, on_bad_line: Callable[[int, ValueError], None] | None = None
) -> Iterator[tuple[int, Any]]:
    """Each line's number and JSON value, in order. Blank lines and a last line cut short (its
    writer was killed) are left out; any other line that is not JSON goes to `on_bad_line`,
    or is left out too when there is none."""
    text = path.read_text(encoding="utf-8")
    last = text.count("\n") + 1
    for number, line in numbered_lines(text):
        try:
            value = json.loads(line)
        except ValueError as exc:
            if on_bad_line is not None and number < last:
                on_bad_line(number, exc)
            continue
        yield number, value
