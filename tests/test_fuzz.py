"""Inputs that fuzzing (tests/fuzz_targets.py, benchmarks/fuzz.py) found to raise something other
than the error meant for them, as plain examples."""

from __future__ import annotations

import pytest

from agentrt import InvalidArguments

from .fuzz_targets import SCHEMA_TOOLS, every_kind, nested


@pytest.mark.parametrize(
    "checked, args, message",
    [  # were ValueError and TypeError from dict(args), ValueError from repr(), RecursionError from repr()
        (SCHEMA_TOOLS[1], [[1]], "arguments: expected an object of named arguments, got list"),
        (SCHEMA_TOOLS[1], 7, "arguments: expected an object of named arguments, got int"),
        (SCHEMA_TOOLS[0], {"tags": 10**5000}, "tags: an integer of 16610 bits is too long"),
        (every_kind, {"text": nested(5000)}, "text.0.k.0.k.0…: nested deeper than 100 levels"),
    ],
)
def test_arguments_no_schema_check_can_report_on_are_invalid_arguments(checked, args, message):
    with pytest.raises(InvalidArguments, match=f"invalid arguments for {checked.name}: {message}"):
        checked.validate(args)
