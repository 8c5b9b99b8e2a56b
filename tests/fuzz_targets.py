"""Fuzz targets, shared by tests/test_fuzz.py (a few hundred cases each, in CI) and
benchmarks/fuzz.py (10,000 each): for each, a hypothesis strategy of hostile inputs, the call
under test, and the only exceptions that call may raise. Anything else is a bug.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Optional

from hypothesis import strategies as st
from pydantic import BaseModel

from agentrt import AgentrtError, InvalidArguments, Plan, PlanSpec, RetryTool, Tool, ToolRegistry, tool
from agentrt.batch import read_batch
from agentrt.plan import references, resolve
from agentrt.planner import _StepStream, parse_plan
from agentrt.plugins import installed_tools

TOOL_NAMES = ["calculator", "final_answer", "think"]
DIGITS = "0123456789٣١߁०"  # ASCII and other Unicode decimal digits: `\d` and int() take both
DEEP = 5000  # nesting well past Python's recursion limit

# --- inputs -------------------------------------------------------------------------------------


def nested(depth: int, leaf: Any = "$1") -> Any:
    """`leaf` inside `depth` alternating lists and dicts, built without recursion."""
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"k": leaf}
    return leaf


reference_texts = st.lists(
    st.one_of(
        st.just("$"),
        st.integers(-3, 12).map(lambda n: f"${n}"),
        st.text(DIGITS, min_size=1, max_size=3).map(lambda d: f"${d}"),
        st.integers(4290, 4400).map(lambda n: "$" + "9" * n),  # past int()'s 4300-digit limit
        st.text(max_size=6),
    ),
    max_size=5,
).map("".join)
"""Text dense in `$N` look-alikes: `$`, `$0`, `$-1`, step numbers too long or not ASCII."""

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), reference_texts
)

json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
"""Any value JSON text can hold, NaN and infinities included."""

python_values = st.one_of(
    json_values,
    st.integers(4290, 4400).map(lambda n: 10**n),  # ints too long for str()
    st.integers(0, DEEP).map(nested),
)
"""What a Python caller may pass on top of JSON: huge ints and arbitrarily deep nesting."""

well_typed_steps = st.fixed_dictionaries(
    {
        "id": st.integers(0, 7),
        "tool": st.sampled_from([*TOOL_NAMES, "weather", ""]),
        "args": st.dictionaries(st.text(max_size=6), reference_texts | json_values, max_size=3),
    },
    optional={"depends_on": st.lists(st.integers(-1, 8), max_size=4)},
)
"""Steps of the right shape: small ids, so that duplicates, cycles, self and unknown dependencies,
and references to missing or later steps all occur; unknown tools."""

any_steps = st.fixed_dictionaries(
    {"id": st.integers(0, 7) | json_values, "tool": json_values, "args": json_values},
    optional={"depends_on": json_values, "note": json_values},
)
"""Steps with the right keys and any values."""


def _plan_with_args(args: str) -> str:
    return '{"steps": [{"id": 1, "tool": "think", "args": {"question": %s}}]}' % args


plan_texts = st.one_of(
    st.text(),
    json_values.map(json.dumps),
    st.lists(well_typed_steps, max_size=6).map(lambda steps: json.dumps({"steps": steps})),
    st.lists(well_typed_steps | any_steps, max_size=6).map(lambda steps: json.dumps({"steps": steps})),
    st.integers(0, DEEP).map(lambda n: _plan_with_args("[" * n + '"$1"' + "]" * n)),
    st.integers(4290, 4400).map(lambda n: _plan_with_args(f'"${"9" * n}"')),
    st.integers(4290, 4400).map(lambda n: '{"steps": [{"id": 1%s, "tool": "think", "args": {}}]}' % ("0" * n)),
)
"""A planner's output: any text, any JSON, plausible plans, and nesting, references and ids past
Python's limits."""


class Point(BaseModel):
    """A nested model parameter."""

    x: float
    y: float
    label: Optional[str] = None


@tool
def every_kind(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    numbers: list[int],
    weights: dict[str, float],
    mode: Literal["fast", "slow"] = "fast",
    note: Optional[str] = None,
    point: Point | None = None,
) -> str:
    """Takes one parameter of every kind a signature can declare."""
    return text


SCHEMA_TOOLS = [
    Tool(lambda **kwargs: kwargs, name=name, description="Takes what its schema allows.", parameters=schema)
    for name, schema in [
        ("typed_object", {
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 50},
                "limit": {"type": "integer", "minimum": 1},
                "tags": {"type": "array", "items": {"type": "string"}},
                "unit": {"enum": ["celsius", "fahrenheit"]},
                "where": {"type": "object", "properties": {"lat": {"type": "number"}}, "required": ["lat"]},
            },
            "required": ["query"],
            "additionalProperties": False,
        }),
        ("untyped_root", {"properties": {"query": {"type": "string"}}}),  # valid JSON schema, no "type"
    ]
]
TOOLS = [every_kind, *SCHEMA_TOOLS]
PARAMETER_NAMES = sorted({name for t in TOOLS for name in t.json_schema().get("properties", {})})

tool_arguments = st.tuples(
    st.sampled_from(TOOLS),
    st.dictionaries(st.sampled_from(PARAMETER_NAMES) | st.text(max_size=4), python_values, max_size=6)
    | python_values,
)
"""A tool and arguments for it: right names with any values, unknown names, or not a dict at all."""

_OPERATORS = ["+", "-", "*", "/", "//", "%", "**", "^", "×", "÷", "<<", "@", " and ", "<", ","]
_NAMES = ["sqrt", "abs", "round", "min", "max", "log", "exp", "open", "__import__", "getattr", "x"]
expressions = st.one_of(
    st.recursive(
        st.one_of(
            st.integers(-(10**6), 10**6).map(str),
            st.floats().map(repr),
            st.sampled_from(["pi", "e", "1e308", "0", "0.0", "9", "10**999", "1j", "True", "'a'", "[]", "x"]),
        ),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(_OPERATORS), inner).map("".join),
            inner.map(lambda e: f"({e})"),
            st.tuples(st.sampled_from("-+~"), inner).map("".join),
            st.tuples(st.sampled_from(_NAMES), st.lists(inner, max_size=3)).map(
                lambda call: f"{call[0]}({', '.join(call[1])})"),
            inner.map(lambda e: f"({e}).__class__"),
        ),
        max_leaves=25,
    ),
    st.text(),
    st.tuples(st.sampled_from(["(", "-", "~", "not ", "+", "2**", "[", "x."]), st.integers(100, 520)).map(
        lambda p: p[0] * p[1] + "1" + ")" * p[1] * (p[0] == "(") + "]" * p[1] * (p[0] == "[")),
    st.integers(0, 2000).map(lambda n: "9" * n),
    st.text("0123456789+-*/()^. \x00", max_size=600),
)
"""Arithmetic that may overflow, divide by zero or nest deep; other syntax; any text."""

_batch_lines = st.one_of(
    st.fixed_dictionaries({"instruction": st.text(max_size=10)}, optional={"id": st.integers(0, 3)}).map(json.dumps),
    st.fixed_dictionaries({"instruction": json_values}, optional={"id": json_values, "x": json_values}).map(json.dumps),
    json_values.map(json.dumps),
    st.integers(0, DEEP).map(lambda n: '{"instruction": "a", "id": %s}' % ("[" * n + "]" * n)),
    st.integers(4290, 4400).map(lambda n: '{"instruction": "a", "id": 1%s}' % ("0" * n)),
    st.text(max_size=20),
)
batch_files = st.one_of(
    st.binary(max_size=400),
    st.tuples(
        st.lists(st.tuples(_batch_lines, st.sampled_from(["\n", "\r\n", "\r", "\x85", "\u2028", ""])).map("".join),
                 max_size=6).map("".join),
        st.sampled_from(["utf-8", "utf-16", "latin-1"]),
    ).map(lambda file: file[0].encode(file[1], errors="replace")),
)
"""Instruction files: any bytes, or lines of JSON in several encodings and line endings."""

# --- calls under test ---------------------------------------------------------------------------


def parse_plan_text(text: str) -> None:
    """The planner's path for a model's plan: streamed in pieces, each batch of finished steps
    added to a plan as the agent does, then parsed and validated whole."""
    plan = Plan()
    stream = _StepStream(lambda steps: plan.extend(PlanSpec(steps=steps), TOOL_NAMES), on_error=lambda: None)
    for start in range(0, len(text), 7):
        stream.feed(text[start : start + 7])
    spec = parse_plan(text)
    stream.finish(spec)
    Plan.from_spec(spec, TOOL_NAMES)


def resolve_references(case: tuple[Any, dict[int, Any]]) -> None:
    """Find and replace the `$N` references in arbitrary arguments against arbitrary results."""
    args, results = case
    references(args)
    resolve(args, results)


def validate_arguments(case: tuple[Tool, Any]) -> None:
    """Check arbitrary arguments against a tool's schema."""
    checked_tool, args = case
    checked_tool.validate(args)


_calculator = ToolRegistry(installed_tools().tools).get("calculator")


def calculate(expression: str) -> None:
    """The built-in calculator on any text: a finite number back, or a correction for the model."""
    result = _calculator.fn(**_calculator.validate({"expression": expression}))
    if type(result) not in (int, float) or (type(result) is float and not math.isfinite(result)):
        raise AssertionError(f"calculator returned {type(result).__name__} {result!r:.80}")


def read_batch_file(data: bytes) -> None:
    """Read an instruction file holding exactly `data`."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl") as file:
        file.write(data)
        file.flush()
        read_batch(file.name)


PYTHON_RECURSION_LIMIT = sys.getrecursionlimit()  # read on import, before hypothesis raises it


@dataclass(frozen=True)
class Target:
    """One fuzzed entry point: inputs, the call, and the exceptions it may raise on purpose."""

    name: str
    inputs: st.SearchStrategy[Any]
    call: Callable[[Any], object]
    allowed: tuple[type[BaseException], ...] = (AgentrtError,)

    def run(self, example: Any) -> None:
        """The call under Python's own recursion limit: hypothesis raises it by thousands of frames
        while a test runs, which would hide the RecursionErrors an application meets."""
        raised = sys.getrecursionlimit()
        sys.setrecursionlimit(PYTHON_RECURSION_LIMIT)
        try:
            self.call(example)
        finally:
            sys.setrecursionlimit(raised)


TARGETS = [
    Target("plan parsing", plan_texts, parse_plan_text),
    Target("$N resolution", st.tuples(python_values, st.dictionaries(st.integers(-2, 12), python_values)),
           resolve_references),
    Target("tool arguments", tool_arguments, validate_arguments, allowed=(InvalidArguments,)),
    # the calculator raises RetryTool, and only RetryTool, on purpose: a correction for the model
    Target("calculator", expressions, calculate, allowed=(RetryTool,)),
    # the nearest thing to script parsing until instruction scripts exist
    Target("instruction file", batch_files, read_batch_file),
]
