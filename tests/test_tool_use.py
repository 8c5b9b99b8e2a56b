"""The tool-use suite: its data (enough items, tools and domains; every expected call valid, and
the answer each item gives scoring right when a plan makes it), its scoring, and its tools run
by an agent; one item pair on the real default model."""

import asyncio
import json
from collections import Counter

import pytest

from agentrt import agent as agent_module
from agentrt.evals.runner import evaluate, run_item
from agentrt.evals.suites import eval_config, half
from agentrt.jsonl import read_records
from agentrt.evals.tool_use import ANY, CONTAINS, DATA_FILE, KINDS, ToolUse, item_tools, score_calls, summary
from agentrt.evals.tool_use_tools import DOMAINS, TOOLS
from agentrt.testing import ScriptedLLM

from .conftest import plan

ROWS = read_records(DATA_FILE)


def canonical(answer: dict) -> dict:
    """The first acceptable value of each parameter, as a plan would give it ("" leaves it out)."""
    args = {}
    for param, options in answer.items():
        value = options[0]
        if value == "":
            continue
        if value == ANY:
            value = "anything"
        elif isinstance(value, str) and value.startswith(CONTAINS):
            value = value[len(CONTAINS):]
        elif isinstance(value, dict):
            value = {k: v[0] for k, v in value.items() if v[0] != ""}
        args[param] = value
    return args


def answer(suite: ToolUse, item, *steps, constrained: bool = False, thoughts: tuple[str, ...] = ()):
    """The run of `item`'s agent on a plan of `steps` (then final_answer), and its scores;
    `thoughts` answer its think steps."""
    llm = ScriptedLLM([plan(*steps, ("final_answer", {"answer": "done"})), *thoughts])
    result = suite.agent(item, llm, eval_config("parallel", constrained)).run(item.question)
    return result, suite.score(item, result)


def referring(value, earlier: list):
    """`value` with what an earlier step returned written as a reference to it: whole ("$N"), as
    a list's item, or inside a longer text."""
    for n, returned in enumerate(earlier, 1):
        if value == returned:
            return f"${n}"
        if isinstance(value, str) and isinstance(returned, str) and len(returned) > 8 and returned in value:
            return value.replace(returned, f"${n}")
    return [referring(v, earlier) for v in value] if isinstance(value, list) else value


def test_the_data_has_enough_items_tools_and_domains_and_both_halves_the_same_mix():
    assert len(ROWS) >= 300 and len({r["id"] for r in ROWS}) == len(ROWS)
    assert len(TOOLS) >= 40 and len(DOMAINS) >= 8 and all(len(tools) >= 3 for tools in DOMAINS.values())
    kinds = Counter(r["kind"] for r in ROWS)
    assert set(kinds) == set(KINDS) and kinds["none"] >= 0.15 * len(ROWS) and kinds["single"] <= 0.5 * len(ROWS)
    for split in ("dev", "test"):
        rows = half(ROWS, split)
        share = Counter(r["kind"] for r in rows)
        for kind in KINDS:  # every kind in both halves, in about the same share
            assert abs(share[kind] / len(rows) - kinds[kind] / len(ROWS)) < 0.03, (split, kind)
        offered_all = sum(r["tools"] == "all" for r in rows) / len(rows)
        assert 0.25 < offered_all < 0.4
        assert {len(r["tools"]) for r in rows if r["tools"] != "all"} >= {3, 4, 5, 6}
    used = {name for r in ROWS for call in r["expected"] for name in call}
    assert used == set(TOOLS)  # every tool is somebody's right answer


def test_every_expected_call_names_an_offered_tool_and_its_arguments_are_valid():
    for row in ROWS:
        offered = item_tools(row)
        assert (row["kind"] == "none") == (row["expected"] == []), row["id"]
        names = [name for call in row["expected"] for name in call]
        if row["kind"] == "fanout":
            assert len(names) > 1 and len(set(names)) == 1, row["id"]
        if row["kind"] == "multi":
            assert len(set(names)) > 1, row["id"]
        for call in row["expected"]:
            [(name, answer)] = call.items()
            assert name in offered, row["id"]
            schema = TOOLS[name].json_schema()
            # every parameter is listed, a required one never as "" (left out)
            assert set(answer) == set(schema["properties"]), (row["id"], name)
            for param, options in answer.items():
                assert options and not (param in schema.get("required", []) and "" in options), (row["id"], param)
                default = schema["properties"][param].get("default")
                if default is not None:  # leaving a parameter out gives its default: the two are one answer
                    assert ("" in options) == (default in options), (row["id"], param)
            TOOLS[name].validate(canonical(answer))  # raises InvalidArguments naming what is wrong


def test_the_answer_of_every_item_scores_right_when_a_plan_makes_it_with_references_for_dependent_values(monkeypatch):
    installed = agent_module.installed_tools()  # looked up once: the 700 agents here need not each scan plugins
    monkeypatch.setattr(agent_module, "installed_tools", lambda builtins=True: installed)
    suite = ToolUse()
    for item in suite.items("dev") + suite.items("test"):
        steps = [(name, canonical(expected)) for call in item.reference for name, expected in call.items()]
        result, scores = answer(suite, item, *steps)
        assert scores["correct"], (item.id, scores["reason"], [s.observation for s in result.steps])
        if item.extra["kind"] != "dependent":
            continue
        # the same plan with each value that an earlier step returned written as its "$N": what a
        # dependent call is scored on is what the step it depends on returned
        earlier = [step.value for step in result.steps]
        referenced = [(name, {param: referring(value, earlier[:i]) for param, value in args.items()})
                      for i, (name, args) in enumerate(steps)]
        assert "$" in json.dumps(referenced), item.id  # a dependent item depends on something
        result, scores = answer(suite, item, *referenced)
        assert scores["correct"], (item.id, scores["reason"], [s.observation for s in result.steps])


def item_of(kind: str, *calls: dict, tools: list[str] | str = "all"):
    """A hand-made item (not from the data file)."""
    return ToolUse().items_from([{"id": "x", "instruction": "?", "tools": tools, "kind": kind,
                                  "expected": list(calls)}])[0]


WEATHER = {"get_current_weather": {"city": ["Oslo"], "units": ["", "metric"]}}
WEATHER_ROME = {"get_current_weather": {"city": ["Rome"], "units": ["", "metric"]}}


def test_right_tool_and_arguments_are_scored_apart_and_calls_in_any_order():
    suite = ToolUse()
    fanout = item_of("fanout", WEATHER, WEATHER_ROME)
    _, scores = answer(suite, fanout, ("get_current_weather", {"city": "rome"}),
                       ("get_current_weather", {"city": "Oslo", "units": "metric"}))  # the default, given
    assert scores["correct"] and scores["right_tool"] and scores["args_right"] and "no_tool" not in scores
    _, scores = answer(suite, fanout, ("get_current_weather", {"city": "Rome", "units": "imperial"}),
                       ("get_current_weather", {"city": "Oslo"}))
    assert scores["right_tool"] and not scores["args_right"] and "units" in scores["reason"]
    _, scores = answer(suite, fanout, ("get_current_weather", {"city": "Oslo"}), ("get_forecast", {"city": "Rome"}))
    assert not scores["right_tool"] and not scores["correct"] and "get_forecast" in scores["reason"]
    _, scores = answer(suite, item_of("single", WEATHER), ("get_current_weather", {"city": "Oslo"}),
                       ("get_current_weather", {"city": "Oslo"}))
    assert not scores["right_tool"] and not scores["correct"]  # a call too many
    # reasoning steps are not tool calls
    _, scores = answer(suite, item_of("single", WEATHER), ("think", {"question": "where?"}),
                       ("get_current_weather", {"city": "Oslo"}), thoughts=("Oslo",))
    assert scores["correct"]


def test_a_no_tool_item_is_right_only_without_a_tool_call():
    suite = ToolUse()
    chat = item_of("none", tools=["get_current_weather", "get_forecast", "set_timer"])
    _, scores = answer(suite, chat, ("think", {"question": "why is the sky blue?"}), thoughts=("Rayleigh",))
    assert scores["correct"] and scores["no_tool"] and "right_tool" not in scores
    _, scores = answer(suite, chat, ("get_forecast", {"city": "Oslo"}))
    assert not scores["correct"] and not scores["no_tool"] and "get_forecast" in scores["reason"]
    assert suite.score_unusable(chat) == {"correct": False, "no_tool": False, "reason": "no usable plan",
                                          "kind": "none", "tool_set": "some"}


def test_text_patterns_accept_what_they_describe_and_leave_literal_values_as_bfcl_compares_them():
    expected = [{"send_email": {"to": ["sam@example.com"], "body": ["~keys mat"], "subject": ["", ANY],
                                "cc": [""]}}]
    ok = {"to": "Sam@example.com ", "body": "The keys are under the MAT."}
    assert score_calls("single", [{"send_email": ok}], expected)["correct"]  # BFCL: case and spaces aside
    assert score_calls("single", [{"send_email": {**ok, "subject": "Keys"}}], expected)["correct"]
    assert not score_calls("single", [{"send_email": {**ok, "body": "keys are in the car"}}], expected)["correct"]
    assert not score_calls("single", [{"send_email": {**ok, "cc": ["x@example.com"]}}], expected)["correct"]


def test_an_async_tool_and_a_nested_model_argument_run_through_the_agent_and_are_scored_on_their_values():
    suite = ToolUse()
    address = {"street": ["42 Wallaby Way"], "city": ["Sydney"], "postal_code": ["2000"],
               "country": ["Australia", "AU"], "apartment": [""]}
    item = item_of("multi", {"get_current_weather": {"city": ["Sydney"], "units": ["imperial"]}},
                   {"update_shipping_address": {"order_id": ["ORD-58166"], "address": [address]}},
                   tools=["get_current_weather", "update_shipping_address", "track_package"])
    given = {"street": "42 Wallaby Way", "city": "Sydney", "postal_code": "2000", "country": "Australia"}
    result, scores = answer(suite, item, ("get_current_weather", {"city": "Sydney", "units": "imperial"}),
                            ("update_shipping_address", {"order_id": "ORD-58166", "address": given}),
                            constrained=True)
    weather, shipping, _ = result.steps
    assert TOOLS["get_current_weather"].is_async and weather.value["temperature"] == 66.2  # 19 °C in °F
    assert shipping.status == "ok" and shipping.value == "ORD-58166 will ship to 42 Wallaby Way, Sydney 2000"
    assert shipping.resolved_args["address"] == {**given, "apartment": None}  # checked, as data
    assert scores["correct"], scores["reason"]
    _, scores = answer(suite, item, ("get_current_weather", {"city": "Sydney", "units": "imperial"}),
                       ("update_shipping_address", {"order_id": "ORD-58166", "address": {**given, "city": "Perth"}}))
    assert scores["right_tool"] and not scores["correct"]


def test_an_items_planner_sees_its_tools_and_final_answer_only():
    suite = ToolUse()
    row = next(r for r in ROWS if r["tools"] != "all")
    item = suite.items_from([row])[0]
    agent = suite.agent(item, ScriptedLLM(), eval_config("parallel", True))
    assert agent.plannable.names() == ["final_answer", *item_tools(row)] and "calculator" in agent.tools.names()
    every = suite.items_from([{**row, "tools": "all"}])[0]
    assert len(suite.agent(every, ScriptedLLM(), eval_config("parallel", True)).plannable) == len(TOOLS) + 1


def test_the_suite_runs_in_the_eval_harness_and_the_summary_averages_each_score_over_its_items():
    first, second = ToolUse().items("dev")[:2]
    assert {first.extra["kind"], second.extra["kind"]} == {"single", "none"}  # the file's first two
    single = first if first.extra["kind"] == "single" else second
    [(name, expected)] = single.reference[0].items()
    chat = second if first is single else first
    offered = chat.extra["tools"][0]  # a tool the no-tool item offers, called with arguments some item expects
    call = next(c[offered] for r in ROWS for c in r["expected"] if offered in c)
    replies = {single.id: plan((name, canonical(expected)), ("final_answer", {"answer": "done"})),
               chat.id: plan((offered, canonical(call)), ("final_answer", {"answer": "done"}))}
    llm = ScriptedLLM([replies[item.id] for item in (first, second)])
    report = evaluate("tool-use", model=llm, limit=2, constrained=False)
    assert [r["correct"] for r in report["records"]] == [item is single for item in (first, second)]
    assert all(r["valid"] for r in report["records"])
    totals = summary(report["records"])
    assert totals["correct"] == 0.5 and totals["right_tool"] == 1.0 and totals["no_tool"] == 0.0
    assert totals["by_kind"]["single"] == 1.0 and totals["by_kind"]["multi"] is None
    assert totals["seconds_per_item"] > 0 and totals["items"] == 2


@pytest.mark.model
def test_two_items_run_on_the_default_model_and_are_scored(default_llm):
    suite = ToolUse()
    items = suite.items("dev")[:2]
    records = [asyncio.run(run_item(suite, item, default_llm, "parallel", True)) for item in items]
    for record in records:
        assert isinstance(record["correct"], bool) and record["latency_s"] > 0
        assert ("no_tool" in record) == (record["kind"] == "none")
    assert summary(records)["items"] == 2
