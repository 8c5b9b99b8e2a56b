"""Property-based fuzzing in CI: a few hundred cases for each target of fuzz_targets.py, none of
which may raise anything but the target's allowed errors (benchmarks/fuzz.py runs 10,000 each).
Then, as plain examples, the inputs fuzzing found that once raised something else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings

from agentrt import InvalidArguments, ModelOutputError, Plan, PlanError, PlanSpec, RetryTool, StepSpec
from agentrt.plan import references, resolve

from .fuzz_targets import SCHEMA_TOOLS, TARGETS, Target, calculate, every_kind, nested, parse_plan_text

settings.register_profile(
    "agentrt-ci", max_examples=300, derandomize=True, database=None, deadline=timedelta(seconds=2)
)


@pytest.mark.parametrize("target", TARGETS, ids=lambda target: target.name)
def test_hostile_input_raises_nothing_but_the_targets_own_errors(target: Target):
    @settings(settings.get_profile("agentrt-ci"))
    @given(target.inputs)
    def case(example):
        try:
            target.run(example)
        except target.allowed:
            pass

    case()


LONG = "9" * 5000  # more digits than int() reads (sys.get_int_max_str_digits)


@pytest.mark.parametrize(
    "text, message",
    [  # were RecursionError, from json and from looking for `$N` in the arguments
        ('{"steps": [{"id": 1, "tool": "think", "args": {"question": %s}}]}' % ("[" * 5000 + "]" * 5000),
         "recursion"),
        ('{"steps": [{"id": 1, "tool": "think", "args": {"question": %s}}]}' % ("[" * 150 + "]" * 150),
         "nest deeper than 100 levels, in question.0.0.0.0.0…"),
        # was ValueError, from int()
        ('{"steps": [{"id": 1, "tool": "think", "args": {"question": "$%s"}}]}' % LONG,
         "in question has 5000 digits"),
    ],
)
def test_a_plan_text_past_pythons_limits_is_a_model_output_error(text, message):
    with pytest.raises(ModelOutputError, match=message):
        parse_plan_text(text)


def test_a_plan_built_in_python_with_too_deep_arguments_names_the_step():
    with pytest.raises(PlanError, match="Step 1: Arguments nest deeper than 100 levels"):  # was RecursionError
        Plan.from_spec(PlanSpec(steps=[StepSpec(id=1, tool="think", args={"question": nested(5000)})]))


@pytest.mark.parametrize(
    "args, results, message",
    [
        ({"n": "$1"}, {}, r"\$1 in n refers to step 1, which has no result"),  # was KeyError
        ({"n": ["x $" + LONG]}, {}, "in n.0 has 5000 digits"),  # was ValueError
        (nested(5000), {}, "nest deeper than 100 levels"),  # was RecursionError
        ({"n": "x $1"}, {1: 10**5000}, r"\$1 in n: step 1's result cannot be written as text"),  # was ValueError
        ({"n": "x $1"}, {1: nested(5000)}, "cannot be written as text"),  # was RecursionError
    ],
)
def test_a_reference_that_cannot_be_resolved_is_a_plan_error_saying_where(args, results, message):
    with pytest.raises(PlanError, match=message):
        resolve(args, results)


def test_only_ascii_digits_make_a_reference():
    assert references("pay $٣ or $3") == {3}  # was {3} from "$٣" alone: int() reads Arabic-Indic digits
    assert resolve("$٣", {3: "x"}) == "$٣"


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


def test_the_calculator_refuses_syntax_nested_too_deep_to_quote():
    with pytest.raises(RetryTool, match="nests too deeply"):  # was RecursionError, from ast.unparse
        calculate("~" * 400 + "1")
