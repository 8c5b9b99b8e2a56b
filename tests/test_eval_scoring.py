"""The benchmark scoring rules, on hand-checked cases and on real BFCL entries (dev half only).

The BFCL entries are copied from `shared/benchdata/bfcl/` (ids below half of each file's count);
their function descriptions and defaults are left out, as the checker does not read them.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from agentrt.evals.scoring import (
    bfcl_check,
    bfcl_decode,
    gsm8k_exact,
    gsm8k_last_number,
    gsm8k_reference,
    hotpot_em,
    hotpot_f1,
    llmcompiler_correct,
    normalize_answer,
    recall_at_k,
)


def _function(name: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"name": name, "parameters": {"type": "dict", "properties": properties, "required": required}}


# simple_python_0
TRIANGLE_AREA = [_function(
    "calculate_triangle_area",
    {"base": {"type": "integer"}, "height": {"type": "integer"}, "unit": {"type": "string"}},
    ["base", "height"],
)]
TRIANGLE_AREA_ANSWER = [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]

# simple_python_83
DISTANCE = [_function(
    "calculate_distance",
    {"coord1": {"type": "tuple", "items": {"type": "float"}}, "coord2": {"type": "tuple", "items": {"type": "float"}},
     "unit": {"type": "string"}},
    ["coord1", "coord2", "unit"],
)]
DISTANCE_ANSWER = [{"calculate_distance": {"coord1": [[33.4484, -112.074]], "coord2": [[34.0522, -118.2437]],
                                           "unit": ["miles"]}}]

# simple_python_89
FETCH_RECORDS = [_function(
    "db_fetch_records",
    {"database_name": {"type": "string"}, "table_name": {"type": "string"},
     "conditions": {"type": "dict", "properties": {"department": {"type": "string"}, "school": {"type": "string"}}},
     "fetch_limit": {"type": "integer"}},
    ["database_name", "table_name", "conditions"],
)]
FETCH_RECORDS_ANSWER = [{"db_fetch_records": {
    "database_name": ["StudentDB"], "table_name": ["students"],
    "conditions": [{"department": ["Science"], "school": ["Bluebird High School", "Bluebird HS"]}],
    "fetch_limit": ["", 0],
}}]

# multiple_8
PROPERTIES = [
    _function("property_valuation.get",
              {"location": {"type": "string"}, "propertyType": {"type": "string"}, "bedrooms": {"type": "integer"},
               "age": {"type": "integer"}},
              ["location", "propertyType", "bedrooms", "age"]),
    _function("realestate.find_properties",
              {"location": {"type": "string"}, "propertyType": {"type": "string"}, "bedrooms": {"type": "integer"},
               "budget": {"type": "dict", "properties": {"min": {"type": "float"}, "max": {"type": "float"}}}},
              ["location", "propertyType", "bedrooms", "budget"]),
]
PROPERTIES_ANSWER = [{"realestate.find_properties": {
    "location": ["SD", "San Diego", "San Diego, CA", "CA"], "propertyType": ["villa"], "bedrooms": [3],
    "budget": [{"min": [300000], "max": [400000]}],
}}]
FIND_VILLA = {"realestate.find_properties": {"location": "San Diego, CA", "propertyType": "villa", "bedrooms": 3,
                                             "budget": {"min": 300000.0, "max": 400000.0}}}

# parallel_0
SPOTIFY = [_function("spotify.play", {"artist": {"type": "string"}, "duration": {"type": "integer"}},
                     ["artist", "duration"])]
SPOTIFY_ANSWER = [{"spotify.play": {"artist": ["Taylor Swift"], "duration": [20]}},
                  {"spotify.play": {"artist": ["Maroon 5"], "duration": [15]}}]

# parallel_multiple_0
MATH_TOOLKIT = [
    _function("math_toolkit.sum_of_multiples",
              {"lower_limit": {"type": "integer"}, "upper_limit": {"type": "integer"},
               "multiples": {"type": "array", "items": {"type": "integer"}}},
              ["lower_limit", "upper_limit", "multiples"]),
    _function("math_toolkit.product_of_primes", {"count": {"type": "integer"}}, ["count"]),
]
MATH_TOOLKIT_ANSWER = [
    {"math_toolkit.sum_of_multiples": {"lower_limit": [1], "upper_limit": [1000], "multiples": [[3, 5]]}},
    {"math_toolkit.product_of_primes": {"count": [5]}},
]

# parallel_multiple_21
REGRESSION = [
    _function("linear_regression_fit",
              {"x": {"type": "array", "items": {"type": "float"}}, "y": {"type": "array", "items": {"type": "float"}},
               "return_residuals": {"type": "boolean"}},
              ["x", "y"]),
    _function("data_loading", {"file_path": {"type": "string"}, "delimiter": {"type": "string"}}, ["file_path"]),
]
REGRESSION_ANSWER = [{"data_loading": {"file_path": ["dataset.csv"], "delimiter": [",", ""]}},
                     {"linear_regression_fit": {"x": ["data['sales']"], "y": ["data['future_sales']"],
                                                "return_residuals": [True]}}]

# parallel_multiple_94, its sort_list function and first expected call
SORT_LIST = [_function("sort_list",
                       {"elements": {"type": "array", "items": {"type": "integer"}}, "order": {"type": "string"}},
                       ["elements"])]
SORT_WORDS_ANSWER = [{"sort_list": {
    "elements": [["apple", "banana", "cherry", "date", "elderberry"],
                 ["elderberry", "cherry", "banana", "apple", "date"]],
    "order": ["desc", "descending"],
}}]

# irrelevance_0
BODY_MASS_INDEX = [_function("determine_body_mass_index", {"weight": {"type": "float"}, "height": {"type": "float"}},
                             ["weight", "height"])]


def triangle(**arguments: Any) -> list[dict[str, dict[str, Any]]]:
    return [{"calculate_triangle_area": arguments}]


def distance(coord1: Any, coord2: Any = (34.0522, -118.2437), unit: str = "miles") -> list[dict[str, dict[str, Any]]]:
    return [{"calculate_distance": {"coord1": coord1, "coord2": coord2, "unit": unit}}]


def fetch(conditions: dict[str, Any], **more: Any) -> list[dict[str, dict[str, Any]]]:
    return [{"db_fetch_records": {"database_name": "StudentDB", "table_name": "students", "conditions": conditions,
                                  **more}}]


def play(artist: str, duration: int) -> dict[str, dict[str, Any]]:
    return {"spotify.play": {"artist": artist, "duration": duration}}


# GSM8K


def test_gsm8k_reference_is_the_number_after_the_marks_without_commas():
    real = "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer\u2019s market.\n#### 18"  # test.jsonl line 1
    assert gsm8k_reference(real) == "18"
    assert gsm8k_reference("so 1,080 in all\n#### 1,080") == "1080"


def test_gsm8k_reference_without_the_marks_is_an_error():
    with pytest.raises(ValueError, match="####"):
        gsm8k_reference("the answer is 18")


@pytest.mark.parametrize("completion, reference, exact, last_number", [
    ("9 * 2 = 18\n#### 18", "18", True, True),
    ("#### 18.0", "18", False, True),  # string match under the authors' rule, numeric under the loose one
    ("#### 18.", "18", False, True),  # the authors' regex keeps the trailing dot
    ("#### 1,080", "1080", True, True),
    ("The answer is 18", "18", False, True),  # no ####: [invalid]
    ("#### 17", "18", False, False),
    ("#### -5", "-5", True, True),
    ("#### 5", "-5", False, False),
    ("It dropped to -5 degrees.", "-5", False, True),
    ("3 apples at $1,234.50 each", "1234.5", False, True),  # the last number counts
    ("no number at all", "18", False, False),
])
def test_gsm8k_exact_and_last_number(completion, reference, exact, last_number):
    assert gsm8k_exact(completion, reference) is exact
    assert gsm8k_last_number(completion, reference) is last_number


# HotpotQA


@pytest.mark.parametrize("text, normalized", [
    ("The  Quick, Brown fox!", "quick brown fox"),
    ("An apple a day", "apple day"),
    ("theater", "theater"),  # articles only as whole words
    ("U.S.A.", "usa"),
    ("  Denise\tLevertov \n", "denise levertov"),
])
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


@pytest.mark.parametrize("prediction, gold, em, f1", [
    ("Denise Levertov.", "Denise Levertov", 1.0, 1.0),
    ("the Eiffel Tower in Paris", "Eiffel Tower", 0.0, 2 / 3),  # P = 2/4, R = 2/2
    ("cat cat dog", "cat dog dog", 0.0, 2 / 3),  # overlap counts each token at most as often as both have it
    ("Harvey Pekar", "Denise Levertov", 0.0, 0.0),
    ("No.", "no", 1.0, 1.0),
    ("yes", "no", 0.0, 0.0),
    ("yes, it is", "yes", 0.0, 0.0),  # token F1 would be 0.5; the yes/no rule makes it 0
])
def test_hotpot_em_and_f1(prediction, gold, em, f1):
    assert hotpot_em(prediction, gold) == em
    assert hotpot_f1(prediction, gold) == pytest.approx(f1)


@pytest.mark.parametrize("k, recall", [(1, 0.5), (2, 0.5), (3, 1.0), (10, 1.0)])
def test_recall_at_k_counts_distinct_gold_titles_in_the_first_k(k, recall):
    assert recall_at_k(["A", "B", "C", "D"], ["C", "A", "A"], k) == recall


def test_recall_at_k_needs_gold_titles():
    with pytest.raises(ValueError):
        recall_at_k(["A"], [], 1)


# LLMCompiler


@pytest.mark.parametrize("answer, label, correct", [
    ("10", "10", True),
    ("10.99", "10", True),
    ("9.01", "10", True),
    ("11", "10", False),  # exactly 1.1 x the label: the margin is strict
    ("9", "10", False),
    ("22", "20", False),
    ("18", "20", False),
    ("ten", "10", False),  # a numeric label needs a numeric answer
    ("the Mariana Trench.", "Mariana Trench", True),  # parallelqa_dataset.json id 1
    ("Puerto Rico Trench", "Mariana Trench", False),
])
def test_llmcompiler_correct(answer, label, correct):
    assert llmcompiler_correct(answer, label) is correct


# BFCL decoding


def test_decode_strips_backticks_and_keeps_dotted_names():
    reply = ("```\n[spotify.play(artist='Taylor Swift', duration=20), "
             "spotify.play(artist=\"Maroon 5\", duration=15)]\n```")
    assert bfcl_decode(reply) == [play("Taylor Swift", 20), play("Maroon 5", 15)]


def test_decode_wraps_a_bare_call_and_keeps_literal_types():
    decoded = bfcl_decode(" calculate_distance(coord1=(33.4484, -112.074), coord2=[34.0522, -118.2437], unit='miles') ")
    assert decoded == distance((33.4484, -112.074), [34.0522, -118.2437])
    assert type(decoded[0]["calculate_distance"]["coord1"]) is tuple


def test_decode_of_nothing_is_no_call():
    assert bfcl_decode("``") == []


@pytest.mark.parametrize("reply, message", [
    ("[spotify.play(artist='Taylor Swift', duration=20", "not a Python list of calls"),
    ("calculate_triangle_area(10, 5)", "positional arguments"),
    ("calculate_triangle_area(base=b, height=5)", "not a literal: 'b'"),
    ("[1, 2]", "not a function call: '1'"),
    ("calculate_triangle_area(**args)", "unpacking"),
    ("calculate_triangle_area(base=1, base=2)", "argument 'base' repeated"),
    # the language tag survives the stripping of backticks, as in the authors' decoder
    ("```python\ncalculate_triangle_area(base=10, height=5)\n```", "not a Python list of calls"),
])
def test_decode_rejects_what_is_not_a_list_of_literal_keyword_calls(reply, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        bfcl_decode(reply)


# BFCL single-call rules, on real entries


@pytest.mark.parametrize("calls", [
    triangle(base=10, height=5),  # the optional unit ("" acceptable) left out
    triangle(base=10, height=5, unit=" Units"),  # strings compared after normalisation
])
def test_simple_accepts_a_matching_call(calls):
    assert bfcl_check("simple_python", calls, TRIANGLE_AREA, TRIANGLE_AREA_ANSWER) == (True, "")


@pytest.mark.parametrize("calls, reason", [
    (triangle(base=10), "required parameter 'height' missing"),
    (triangle(base=10, height=5, color="red"), "unexpected parameter 'color'"),
    (triangle(base=10, height=5, unit="cm"), "'cm' is not one of"),
    (triangle(base=10.0, height=5), "expected integer, got float"),
    (triangle(base=True, height=5), "expected integer, got bool"),
    (triangle(base=10, height=5) * 2, "expected 1 call(s), got 2"),
    ([], "expected 1 call(s), got 0"),
])
def test_simple_rejects(calls, reason):
    correct, why = bfcl_check("simple_python", calls, TRIANGLE_AREA, TRIANGLE_AREA_ANSWER)
    assert not correct and reason in why


def test_a_parameter_the_answer_needs_must_be_there_even_if_the_schema_calls_it_optional():
    answer = [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units"]}}]
    correct, why = bfcl_check("simple_python", triangle(base=10, height=5), TRIANGLE_AREA, answer)
    assert not correct and "'unit' missing" in why


@pytest.mark.parametrize("coord1", [(33.4484, -112.074), [33.4484, -112.074]])
def test_a_tuple_is_compared_as_a_list(coord1):
    assert bfcl_check("simple_python", distance(coord1), DISTANCE, DISTANCE_ANSWER)[0]


@pytest.mark.parametrize("coord1, reason", [
    ([-112.074, 33.4484], "is not one of"),  # lists keep their order
    ([33, -112], "expected items of type float"),  # items are checked without the int-for-float allowance
    ("33.4484, -112.074", "expected tuple, got str"),
])
def test_tuple_values_are_checked_by_item_type_and_order(coord1, reason):
    correct, why = bfcl_check("simple_python", distance(coord1), DISTANCE, DISTANCE_ANSWER)
    assert not correct and reason in why


@pytest.mark.parametrize("conditions, more, correct", [
    ({"department": "science", "school": "Bluebird HS"}, {}, True),
    ({"department": "Science", "school": "bluebird high-school"}, {"fetch_limit": 0}, True),
    ({"department": "Science"}, {}, False),  # a key of the nested answer left out
    ({"department": "Science", "school": "Bluebird HS", "grade": 10}, {}, False),  # a key it does not know
    ({"department": "Arts", "school": "Bluebird HS"}, {}, False),
    ({"department": "Science", "school": "Bluebird HS"}, {"fetch_limit": 10}, False),
])
def test_a_nested_dict_is_compared_key_by_key(conditions, more, correct):
    assert bfcl_check("simple_python", fetch(conditions, **more), FETCH_RECORDS, FETCH_RECORDS_ANSWER)[0] is correct


def test_an_int_is_accepted_for_a_float_but_a_bool_is_not():
    answer = [{"determine_body_mass_index": {"weight": [70.0], "height": [1.75]}}]
    as_int = [{"determine_body_mass_index": {"weight": 70, "height": 1.75}}]
    as_bool = [{"determine_body_mass_index": {"weight": 70.0, "height": True}}]
    assert bfcl_check("simple_python", as_int, BODY_MASS_INDEX, answer) == (True, "")
    assert "expected float, got bool" in bfcl_check("simple_python", as_bool, BODY_MASS_INDEX, answer)[1]


def test_lists_of_strings_are_normalised_element_by_element_in_order():
    functions = [_function("sort_fruit", {"fruit": {"type": "array", "items": {"type": "string"}}}, ["fruit"])]
    answer = [{"sort_fruit": {"fruit": [["apple", "banana"]]}}]
    assert bfcl_check("simple_python", [{"sort_fruit": {"fruit": ["Apple", "BANANA "]}}], functions, answer)[0]
    assert not bfcl_check("simple_python", [{"sort_fruit": {"fruit": ["banana", "apple"]}}], functions, answer)[0]


def test_single_quotes_match_double_quotes():
    functions = [_function("find_airport", {"name": {"type": "string"}}, ["name"])]
    answer = [{"find_airport": {"name": ['O"Hare']}}]
    assert bfcl_check("simple_python", [{"find_airport": {"name": "o'hare"}}], functions, answer)[0]


# BFCL categories


@pytest.mark.parametrize("name", ["realestate.find_properties", "realestate_find_properties"])
def test_multiple_accepts_the_right_function_with_dots_or_underscores(name):
    calls = [{name: FIND_VILLA["realestate.find_properties"]}]
    assert bfcl_check("multiple", calls, PROPERTIES, PROPERTIES_ANSWER) == (True, "")


def test_multiple_rejects_the_wrong_function_and_a_second_call():
    wrong = [{"property_valuation.get": {"location": "San Diego, CA", "propertyType": "villa", "bedrooms": 3,
                                         "age": 1}}]
    correct, why = bfcl_check("multiple", wrong, PROPERTIES, PROPERTIES_ANSWER)
    assert not correct and "called 'property_valuation.get'" in why
    assert not bfcl_check("multiple", [FIND_VILLA, FIND_VILLA], PROPERTIES, PROPERTIES_ANSWER)[0]


@pytest.mark.parametrize("calls, correct", [
    ([play("Taylor Swift", 20), play("Maroon 5", 15)], True),
    ([play("Maroon 5", 15), play("Taylor Swift", 20)], True),  # any order
    ([play("Taylor Swift", 15), play("Maroon 5", 20)], False),
    ([play("Taylor Swift", 20)], False),
    ([play("Taylor Swift", 20), play("Maroon 5", 15), play("Maroon 5", 15)], False),
])
def test_parallel_matches_calls_in_any_order_and_needs_the_same_count(calls, correct):
    assert bfcl_check("parallel", calls, SPOTIFY, SPOTIFY_ANSWER)[0] is correct


def test_two_identical_expected_calls_need_two_model_calls():
    answer = SPOTIFY_ANSWER[:1] * 2
    assert bfcl_check("parallel", [play("Taylor Swift", 20)] * 2, SPOTIFY, answer) == (True, "")
    correct, why = bfcl_check("parallel", [play("Taylor Swift", 20), play("Maroon 5", 15)], SPOTIFY, answer)
    assert not correct and "expected call 1" in why


@pytest.mark.parametrize("multiples, correct", [([3, 5], True), ([5, 3], False)])
def test_parallel_multiple_in_any_order(multiples, correct):
    calls = [{"math_toolkit.product_of_primes": {"count": 5}},
             {"math_toolkit.sum_of_multiples": {"lower_limit": 1, "upper_limit": 1000, "multiples": multiples}}]
    assert bfcl_check("parallel_multiple", calls, MATH_TOOLKIT, MATH_TOOLKIT_ANSWER)[0] is correct


@pytest.mark.parametrize("x, correct", [("data['sales']", True), ('data["sales"]', False)])
def test_a_variable_where_the_schema_wants_an_array_is_compared_as_written(x, correct):
    calls = [{"linear_regression_fit": {"x": x, "y": "data['future_sales']", "return_residuals": True}},
             {"data_loading": {"file_path": "dataset.csv"}}]
    assert bfcl_check("parallel_multiple", calls, REGRESSION, REGRESSION_ANSWER)[0] is correct


@pytest.mark.parametrize("elements, correct", [
    (["Elderberry", "cherry", "banana", "apple", "date"], True),  # strings where the schema says integer
    ([35, 10, 25, 5, 15], False),
])
def test_array_items_may_have_the_type_of_the_answers_items(elements, correct):
    calls = [{"sort_list": {"elements": elements, "order": "desc"}}]
    assert bfcl_check("simple_python", calls, SORT_LIST, SORT_WORDS_ANSWER)[0] is correct


def test_irrelevance_is_correct_only_without_calls():
    assert bfcl_check("irrelevance", [], BODY_MASS_INDEX, []) == (True, "")
    call = [{"determine_body_mass_index": {"weight": 70.0, "height": 1.75}}]
    assert bfcl_check("irrelevance", call, BODY_MASS_INDEX, []) == (False, "expected no call, got 1")


def test_an_unknown_category_is_an_error():
    with pytest.raises(ValueError, match="unknown BFCL category"):
        bfcl_check("live_simple", [], TRIANGLE_AREA, TRIANGLE_AREA_ANSWER)
