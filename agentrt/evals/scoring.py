"""Benchmark scoring, by the rules each benchmark's authors score with.

GSM8K: `grade_school_math/dataset.py`. HotpotQA: `hotpot_evaluate_v1.py`. LLMCompiler:
`src/utils/evaluation_utils.py`. BFCL: `bfcl_eval/eval_checker/ast_eval/ast_checker.py` and the
prompting-mode decoder. The README beside each data set under `shared/benchdata/` states the rule.
"""

from __future__ import annotations

import ast
import re
import string
from collections import Counter
from collections.abc import Callable
from typing import Any

BfclCall = dict[str, dict[str, Any]]
"""One function call as BFCL writes it: `{function_name: {parameter: value}}`."""

GSM8K_INVALID = "[invalid]"
"""The authors' answer for a completion without `#### <number>`."""

_GSM8K_ANSWER = re.compile(r"#### (\-?[0-9\.\,]+)")
_NUMBER = re.compile(r"-?[0-9][0-9,]*(?:\.[0-9]+)?")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)
_YES_NO_NOANSWER = frozenset({"yes", "no", "noanswer"})

_BFCL_CALLING_CATEGORIES = frozenset({"simple_python", "multiple", "parallel", "parallel_multiple"})
_BFCL_PYTHON_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,  # as in the authors' PYTHON_TYPE_MAPPING
}
_BFCL_STRING_NOISE = re.compile(r"[ ,./\-_*^]")


# GSM8K


def _gsm8k_extract(text: str) -> str:
    """The authors' `extract_answer`: the number after `#### `, commas removed, else `[invalid]`."""
    match = _GSM8K_ANSWER.search(text)
    return match.group(1).replace(",", "") if match else GSM8K_INVALID


def gsm8k_reference(answer_text: str) -> str:
    """The reference of a GSM8K `answer` field: the number after `####`, commas removed."""
    reference = _gsm8k_extract(answer_text)
    if reference == GSM8K_INVALID:
        raise ValueError(f"GSM8K answer has no '#### <number>' line: {answer_text[-60:]!r}")
    return reference


def gsm8k_exact(completion: str, reference: str) -> bool:
    """The authors' rule: the completion's `#### <number>`, commas removed, equals the reference as
    a string (so `18.0` is not `18`); without `####` the answer is `[invalid]`, hence wrong."""
    return _gsm8k_extract(completion) == reference


def gsm8k_last_number(completion: str, reference: str) -> bool:
    """The looser rule of later harnesses: the completion's last number, commas removed, equals
    the reference numerically (so `18.0` is `18`)."""
    numbers = _NUMBER.findall(completion)
    return bool(numbers) and float(numbers[-1].replace(",", "")) == float(reference)


# HotpotQA


def normalize_answer(s: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation, drop the articles a/an/the, collapse spaces."""
    without_punctuation = "".join(ch for ch in s.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", without_punctuation).split())


def hotpot_em(prediction: str, gold: str) -> float:
    """HotpotQA answer exact match: 1.0 when both normalise to the same text, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def hotpot_f1(prediction: str, gold: str) -> float:
    """HotpotQA answer F1 over normalised tokens; 0 when the two differ and either is yes/no/noanswer."""
    predicted, expected = normalize_answer(prediction), normalize_answer(gold)
    if predicted != expected and (predicted in _YES_NO_NOANSWER or expected in _YES_NO_NOANSWER):
        return 0.0
    predicted_tokens, expected_tokens = predicted.split(), expected.split()
    overlap = sum((Counter(predicted_tokens) & Counter(expected_tokens)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted_tokens), overlap / len(expected_tokens)
    return 2 * precision * recall / (precision + recall)


def recall_at_k(retrieved_titles: list[str], gold_titles: list[str], k: int) -> float:
    """Retrieval recall@k: the fraction of the distinct gold titles among the first k retrieved."""
    if not gold_titles or k < 1:
        raise ValueError(f"recall@k needs gold titles and k >= 1, got {len(gold_titles)} titles and k={k}")
    gold = set(gold_titles)
    return len(gold & set(retrieved_titles[:k])) / len(gold)


# LLMCompiler


def llmcompiler_correct(answer: str, label: str) -> bool:
    """The authors' `compare_answer`: a numeric label needs a numeric answer strictly within 10% of
    it; any other label needs the same text after `normalize_answer`."""
    try:
        expected = float(label)
    except ValueError:
        return normalize_answer(answer) == normalize_answer(label)
    try:
        given = float(answer)
    except ValueError:
        return False
    return expected * 0.9 < given < expected * 1.1


# BFCL: decoding a prompting-mode reply


def bfcl_decode(text: str) -> list[BfclCall]:
    """Decode a prompting-mode reply such as `[f(a=1), math.g(b="x")]` into BFCL's call list.
    Raises ValueError unless it is a list of calls with literal keyword arguments only."""
    source = text.strip("`\n\r\t ")
    source = source if source.startswith("[") else "[" + source
    source = source if source.endswith("]") else source + "]"
    try:
        body = ast.parse(source, mode="eval").body
    except SyntaxError as error:
        raise ValueError(f"reply is not a Python list of calls ({error.msg}): {text!r}") from error
    if not isinstance(body, ast.List):
        raise ValueError(f"reply is not a list of calls: {text!r}")
    return [_decode_call(node) for node in body.elts]


def _decode_call(node: ast.expr) -> BfclCall:
    """One `name(keyword=literal, ...)` as `{name: {keyword: value}}`."""
    if not isinstance(node, ast.Call):
        raise ValueError(f"not a function call: {ast.unparse(node)!r}")
    if node.args:
        raise ValueError(f"positional arguments in {ast.unparse(node)!r}; only keyword arguments are accepted")
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ValueError(f"`**` unpacking in {ast.unparse(node)!r}")
        if keyword.arg in arguments:
            raise ValueError(f"argument {keyword.arg!r} repeated in {ast.unparse(node)!r}")
        arguments[keyword.arg] = _literal(keyword.value)
    return {_dotted_name(node.func): arguments}


def _dotted_name(node: ast.expr) -> str:
    """A called name, dots kept: `f` or `math.factorial`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted_name(node.value)}.{node.attr}"
    raise ValueError(f"not a function name: {ast.unparse(node)!r}")


def _literal(node: ast.expr) -> Any:
    """The value of a literal argument (number, string, list, tuple, dict, ...)."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError) as error:
        raise ValueError(f"argument value is not a literal: {ast.unparse(node)!r}") from error


# BFCL: the AST checker


def bfcl_check(
    category: str, calls: list[BfclCall], functions: list[dict[str, Any]], ground_truth: list[BfclCall]
) -> tuple[bool, str]:
    """Score one BFCL entry by the authors' AST rules: (correct, why not; "" when correct).
    Every category but irrelevance needs as many calls as expected, matched in any order."""
    if category == "irrelevance":
        if calls:
            return False, f"expected no call, got {len(calls)}"
        return True, ""
    if category not in _BFCL_CALLING_CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}")
    if len(calls) != len(ground_truth):
        return False, f"expected {len(ground_truth)} call(s), got {len(calls)}"
    return match_in_any_order(calls, functions, ground_truth)


AnswerFor = Callable[[BfclCall, dict[str, list[Any]]], dict[str, list[Any]]]
"""(a call made, an expected call's possible answer) -> the possible answer to check that call against."""


def match_in_any_order(
    calls: list[BfclCall], functions: list[dict[str, Any]], ground_truth: list[BfclCall],
    answer_for: AnswerFor | None = None,
) -> tuple[bool, str]:
    """Match each expected call to the first still-unmatched call that passes the single-call
    check. `answer_for` lets a suite settle an answer per call first (values that are patterns)."""
    unmatched = list(range(len(calls)))
    for position, expected in enumerate(ground_truth):
        [(name, answer)] = expected.items()
        function = next((f for f in functions if f["name"] == name), None)
        if function is None:
            return False, f"no function doc named {name!r}"
        reasons = []
        for index in unmatched:
            checked = answer_for(calls[index], answer) if answer_for else answer
            reason = _call_mismatch(calls[index], function, checked)
            if reason is None:
                unmatched.remove(index)
                break
            reasons.append(f"call {index}: {reason}")
        else:
            return False, f"no call matches expected call {position} ({name}): {'; '.join(reasons)}"
    return True, ""


def _call_mismatch(call: BfclCall, function: dict[str, Any], answer: dict[str, list[Any]]) -> str | None:
    """Why `call` fails the single-call check against `function` and its possible answer; None if it passes."""
    if len(call) != 1 or not isinstance(next(iter(call.values())), dict):
        return f"not a {{name: {{arguments}}}} call: {call!r}"
    [(name, arguments)] = call.items()
    if name not in (function["name"], function["name"].replace(".", "_")):
        return f"called {name!r}, expected {function['name']!r}"
    properties = function["parameters"].get("properties", {})
    for param in function["parameters"].get("required", []):
        if param not in arguments:
            return f"required parameter {param!r} missing"
    for param, value in arguments.items():
        if param not in properties or param not in answer:
            return f"unexpected parameter {param!r}"
        reason = _value_mismatch(value, properties[param], answer[param])
        if reason:
            return f"parameter {param!r}: {reason}"
    for param, acceptable in answer.items():
        if param not in arguments and "" not in acceptable:
            return f"parameter {param!r} missing, and the answer does not let it be left out"
    return None


def _value_mismatch(value: Any, schema: dict[str, Any], acceptable: list[Any]) -> str | None:
    """Why `value` fails the type check against `schema` or is none of the acceptable values; None if neither."""
    schema_type = schema["type"]
    if schema_type == "tuple" and type(value) is tuple:
        value = list(value)
    if schema_type == "float" and type(value) is int:
        value = float(value)
    if type(value) is not _BFCL_PYTHON_TYPES[schema_type]:
        # the authors take a value of the possible answer's own type as a variable, compared as is
        if type(value) is _answer_type(acceptable):
            return None if value in acceptable else f"{value!r} is not one of {acceptable!r}"
        return f"expected {schema_type}, got {type(value).__name__}"
    item_type = schema.get("items", {}).get("type") if schema_type in ("array", "tuple") else None
    if item_type and isinstance(value, list) and not _items_fit(value, item_type, acceptable):
        return f"expected items of type {item_type}, got {value!r}"
    if not _is_acceptable(value, item_type, acceptable):
        return f"{value!r} is not one of {acceptable!r}"
    return None


def _answer_type(acceptable: list[Any]) -> type | None:
    """The type of the first acceptable value other than "" (which only marks the parameter optional)."""
    return next((type(option) for option in acceptable if option != ""), None)


def _items_fit(value: list[Any], item_type: str, acceptable: list[Any]) -> bool:
    """Item types, one level deep: each item of the schema's item type or, by the same variable
    rule, of the type of an acceptable list's items (with no acceptable list, the schema decides)."""
    options = [option for option in acceptable if isinstance(option, list)] or [[]]
    expected = _BFCL_PYTHON_TYPES[item_type]
    return any(all(type(item) in (expected, _answer_type(option)) for item in value) for option in options)


def _is_acceptable(value: Any, item_type: str | None, acceptable: list[Any]) -> bool:
    """Whether a type-checked value equals one of the acceptable values, compared as BFCL compares."""
    if isinstance(value, dict):
        return any(_dict_matches(value, option) for option in acceptable if isinstance(option, dict))
    if item_type == "dict":
        return any(_dict_list_matches(value, option) for option in acceptable if isinstance(option, list))
    return _comparable(value) in [_comparable(option) for option in acceptable]


def _dict_matches(value: dict[str, Any], option: dict[str, list[Any]]) -> bool:
    """A dict against one acceptable dict, whose keys map to lists of acceptable values: every key
    of `value` known and acceptable, every key of `option` present unless "" is among its values."""
    known_and_acceptable = all(
        key in option and _standardize(item) in [_standardize(o) for o in option[key]] for key, item in value.items()
    )
    return known_and_acceptable and all(key in value or "" in options for key, options in option.items())


def _dict_list_matches(values: list[dict[str, Any]], options: list[dict[str, list[Any]]]) -> bool:
    """A list of dicts against one acceptable list of dicts, position by position."""
    return len(values) == len(options) and all(_dict_matches(v, o) for v, o in zip(values, options, strict=True))


def _comparable(value: Any) -> Any:
    """A value as BFCL compares it: strings standardized, and so the strings inside a list."""
    return [_standardize(item) for item in value] if isinstance(value, list) else _standardize(value)


def _standardize(value: Any) -> Any:
    """BFCL's string normalisation: drop spaces and `, . / - _ * ^`, lowercase, `'` becomes `"`."""
    if isinstance(value, str):
        return _BFCL_STRING_NOISE.sub("", value).lower().replace("'", '"')
    return value
