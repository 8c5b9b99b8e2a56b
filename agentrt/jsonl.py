"""Reading JSON Lines files that agentrt appends to, whose writer may have been killed mid-line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def appended_lines(
    path: Path, on_bad_line: Callable[[int, ValueError], None] | None = None
) -> Iterator[tuple[int, Any]]:
    """Each line's number and JSON value, in order. Blank lines and a last line cut short (its
    writer was killed) are left out; any other line that is not JSON goes to `on_bad_line`,
    or is left out too when there is none."""
    lines = path.read_text(encoding="utf-8").split("\n")  # JSON strings may hold \u2028 raw
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            if on_bad_line is not None and number < len(lines):
                on_bad_line(number, exc)
            continue
        yield number, value
