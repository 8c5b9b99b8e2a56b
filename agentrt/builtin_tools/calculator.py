"""Built-in `calculator`: safe arithmetic by walking the expression's AST. No `eval`, no names
beyond a few math functions, and bounds on exponents and result size so `9**9**9` cannot hang."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from agentrt import RetryTool, tool

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
MAX_RESULT_DIGITS = 1000

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
    "log": math.log,
    "exp": math.exp,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


def _evaluate(node: ast.AST) -> float | int:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        return _bounded(_BINARY[type(node.op)](left, right))
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_evaluate(a) for a in node.args))
    raise RetryTool(
        f"unsupported syntax {ast.unparse(node)!r}: use numbers, + - * / // % **, parentheses, "
        f"and {', '.join(sorted(_FUNCTIONS))}"
    )


def _bounded(value: float | int) -> float | int:
    if isinstance(value, int) and value.bit_length() > MAX_RESULT_DIGITS * 3.33:
        raise RetryTool(f"result would exceed {MAX_RESULT_DIGITS} digits")
    return value


def _check_power(base: float | int, exponent: float | int) -> None:
    if abs(exponent) > MAX_EXPONENT:
        raise RetryTool(f"exponent {exponent} is larger than {MAX_EXPONENT}")
    if abs(base) > 1 and exponent > 0 and exponent * math.log10(abs(base)) > MAX_RESULT_DIGITS:
        raise RetryTool(f"result of {base}**{exponent} would exceed {MAX_RESULT_DIGITS} digits")


@tool(idempotent=True)
def calculator(expression: str) -> float | int:
    """Evaluate an arithmetic expression and return the number.

    Args:
        expression: arithmetic only, e.g. "(12 + 30) * 4 / 7" or "sqrt(2) ** 3"
    """
    expression = expression.strip()
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise RetryTool(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.replace("^", "**").replace("×", "*").replace("÷", "/"), mode="eval")
    except SyntaxError as exc:
        raise RetryTool(f"{expression!r} is not an arithmetic expression: {exc.msg}") from None
    try:
        result = _evaluate(tree)
    except ZeroDivisionError:
        raise RetryTool(f"{expression!r} divides by zero") from None
    except (OverflowError, ValueError, TypeError) as exc:
        raise RetryTool(f"{expression!r} cannot be computed: {exc}") from None
    except RecursionError:  # evaluating, or quoting unsupported syntax, hundreds of levels deep
        raise RetryTool(f"{expression!r} nests too deeply; split it into smaller expressions") from None
    if isinstance(result, complex) or (isinstance(result, float) and not math.isfinite(result)):
        raise RetryTool(f"{expression!r} has no finite real value")
    if isinstance(result, float) and result.is_integer() and abs(result) < 1e15:
        return int(result)
    return result
