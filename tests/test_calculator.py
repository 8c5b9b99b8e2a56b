import asyncio

import pytest

from agentrt import RetryTool, ToolRegistry
from agentrt.plugins import installed_tools

calculator = ToolRegistry(installed_tools().tools).get("calculator")


def calc(expression: str):
    return asyncio.run(calculator.acall({"expression": expression}))


@pytest.mark.parametrize(
    "expression, expected",
    [("17*23+4", 395), ("(12 + 30) * 4 / 7", 24), ("2^10", 1024), ("7 // 2 + 7 % 2", 4),
     ("-3 + +5", 2), ("sqrt(16) + abs(-2)", 6), ("1/3", 1 / 3), ("max(2, 9, 4)", 9)],
)
def test_arithmetic_matches_python(expression, expected):
    assert calc(expression) == pytest.approx(expected)


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("9**9**9", "exponent"),
        ("10**999 * 10**999 ** 1", "exceed|exponent"),
        ("__import__('os').system('true')", "unsupported syntax"),
        ("(1).__class__", "unsupported syntax"),
        ("open('x')", "unsupported syntax"),
        ("1/0", "divides by zero"),
        ("2 +", "not an arithmetic expression"),
        ("1" * 600, "longer than"),
        ("(-8) ** 0.5", "no finite real value"),
        ("1e308 * 10", "no finite real value"),
        ("round(2.5, 1.0)", "cannot be computed"),
    ],
)
def test_unsafe_or_unbounded_input_is_refused_with_a_reason(expression, reason):
    with pytest.raises(RetryTool, match=reason):
        calc(expression)
