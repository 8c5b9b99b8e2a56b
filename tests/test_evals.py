"""The evaluation harness: suites, records, resuming, and an end-to-end run on the default model.

The benchmark files here are small stand-ins written for these tests in the benchmarks' own
formats (no item is copied from any benchmark), so the suite runs wherever the shared data is not.
"""

import json
import shutil
import subprocess
import sys

import pytest

from agentrt import ConfigError
from agentrt.batch import complete_records
from agentrt.evals.runner import evaluate
from agentrt.evals.suites import bfcl_json_schema, eval_config, half, suite
from agentrt.testing import ScriptedLLM

from .conftest import plan

PARALLEL = [
    {"id": "parallel_0", "question": [[{"role": "user", "content": "What is the weather in Oslo and in Rome?"}]],
     "function": [{"name": "weather.get", "description": "Current weather in a city.",
                   "parameters": {"type": "dict", "properties": {
                       "city": {"type": "string", "description": "the city"},
                       "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "unit"}},
                       "required": ["city"]}}]},
    {"id": "parallel_1", "question": [[{"role": "user", "content": "Weather in Paris and Lima?"}]],
     "function": [{"name": "weather.get", "description": "Current weather in a city.",
                   "parameters": {"type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]},
]
ANSWERS = [
    {"id": "parallel_0", "ground_truth": [{"weather.get": {"city": ["Oslo"], "unit": ["", "celsius"]}},
                                          {"weather.get": {"city": ["Rome"], "unit": ["", "celsius"]}}]},
    {"id": "parallel_1", "ground_truth": [{"weather.get": {"city": ["Paris"]}}, {"weather.get": {"city": ["Lima"]}}]},
]
GSM8K = [
    {"question": "Ada has 3 boxes of 12 pencils and gives away 5 pencils. How many pencils does she have left?",
     "answer": "She had 3*12=<<3*12=36>>36 pencils.\n36-5=<<36-5=31>>31 are left.\n#### 31"},
    {"question": "A train travels 60 km each hour for 4 hours. How far does it travel?",
     "answer": "60*4=<<60*4=240>>240\n#### 240"},
]
PARAGRAPHS = [
    {"pid": 0, "title": "Ada Lovelace", "text": "Ada Lovelace was an English mathematician born in 1815."},
    {"pid": 1, "title": "Alan Turing", "text": "Alan Turing was an English mathematician born in 1912."},
]
HOTPOT = [{"id": "q1", "question": "Who was born first, Ada Lovelace or Alan Turing?", "answer": "Ada Lovelace",
           "type": "comparison", "level": "hard",
           "supporting_facts": {"title": ["Ada Lovelace", "Alan Turing"], "sent_id": [0, 0]},
           "context": {"title": ["Ada Lovelace", "Alan Turing"], "sentences": [["..."], ["..."]]}}]
COMPARISON = [{"id": "q1", "question": HOTPOT[0]["question"], "answer": "Ada Lovelace", "level": "hard"},
              {"id": "not-in-the-sample", "question": "?", "answer": "?", "level": "hard"}]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def benchdata(tmp_path, monkeypatch):
    root = tmp_path / "benchdata"
    write_jsonl(root / "bfcl" / "BFCL_v4_parallel.json", PARALLEL * 2)  # 4 entries: dev is the first two
    write_jsonl(root / "bfcl" / "possible_answer" / "BFCL_v4_parallel.json", ANSWERS * 2)
    write_jsonl(root / "gsm8k" / "test.jsonl", GSM8K * 2)
    write_jsonl(root / "hotpotqa" / "corpus_paragraphs.jsonl", PARAGRAPHS)
    write_jsonl(root / "hotpotqa" / "hotpot_dev_distractor_sample500.jsonl", HOTPOT * 2)
    (root / "llmcompiler").mkdir()
    (root / "llmcompiler" / "hotpotqa_comparison.json").write_text(json.dumps(COMPARISON * 2))
    (root / "README.md").write_text("stand-in benchmark data for tests\n")
    monkeypatch.setenv("AGENTRT_BENCHDATA", str(root))
    return root


def test_the_data_may_be_the_bfcl_authors_own_folder_and_a_missing_file_is_named(benchdata, tmp_path, monkeypatch):
    authors = tmp_path / "gorilla" / "bfcl_eval" / "data"  # BFCL_v4_*.json beside possible_answer/
    shutil.copytree(benchdata / "bfcl", authors)
    monkeypatch.setenv("AGENTRT_BENCHDATA", str(authors))
    assert [item.reference for item in suite("bfcl-parallel").items("dev")] == [a["ground_truth"] for a in ANSWERS]
    with pytest.raises(ConfigError, match=r"Missing benchmark file .*gsm8k/test\.jsonl; point `agentrt eval --data"):
        suite("gsm8k").items("dev")
    (authors / "possible_answer" / "BFCL_v4_parallel.json").unlink()
    with pytest.raises(ConfigError, match=r"possible_answer/BFCL_v4_parallel\.json: BFCL keeps the expected calls"):
        suite("bfcl-parallel").items("dev")


def weather_plan(*cities):
    return plan(*[("weather_get", {"city": c}) for c in cities], ("final_answer", {"answer": "done"}))


def test_dev_is_the_first_half_and_test_the_second():
    assert half([1, 2, 3, 4, 5], "dev") == [1, 2, 3] and half([1, 2, 3, 4, 5], "test") == [4, 5]


def test_bfcl_types_become_json_schema():
    converted = bfcl_json_schema({"type": "dict", "properties": {
        "x": {"type": "float"}, "pair": {"type": "tuple", "items": {"type": "integer"}},
        "anything": {"type": "any"}, "type": {"type": "string"}}})
    assert converted == {"type": "object", "properties": {
        "x": {"type": "number"}, "pair": {"type": "array", "items": {"type": "integer"}},
        "anything": {}, "type": {"type": "string"}}}


def test_bfcl_parallel_calls_are_scored_order_free_and_run_by_the_parallel_executor(benchdata):
    llm = ScriptedLLM([weather_plan("Rome", "Oslo"), weather_plan("Paris")])
    report = evaluate("bfcl-parallel", model=llm)
    first, second = report["records"]
    assert first["correct"] and first["calls"] == [{"weather_get": {"city": "Rome"}}, {"weather_get": {"city": "Oslo"}}]
    assert not second["correct"] and "2" in second["reason"]  # one call where two were expected
    assert report["totals"]["accuracy"] == 0.5 and report["totals"]["valid_rate"] == 1.0
    assert report["split"] == "dev" and report["items"] == 2 and report["agentrt_version"]


def test_a_bfcl_planner_may_call_only_the_entrys_functions_as_in_bfcl(benchdata):
    bfcl = suite("bfcl-parallel")
    agent = bfcl.agent(bfcl.items("dev")[0], ScriptedLLM(), eval_config("parallel", True))
    assert agent.plannable.names() == ["final_answer", "weather_get"]
    assert "calculator" in agent.tools.names()  # installed, but hidden from the planner


def test_an_unusable_plan_is_an_invalid_output_not_a_crash(benchdata):
    report = evaluate("bfcl-parallel", model=ScriptedLLM(["no plan here", "nor here"]))
    assert [r["valid"] for r in report["records"]] == [False, False]
    assert "not valid plan JSON" in report["records"][0]["error"]
    assert report["records"][0]["completion_tokens"] == 3  # what the unusable plan cost still counts


def test_an_unusable_output_still_reports_every_score_and_retrieval_recall(benchdata):
    gsm8k = evaluate("gsm8k", model=ScriptedLLM(["no plan here", "nor here"]))
    assert gsm8k["totals"]["last_number"] == 0.0  # reported, not left out for want of a plan
    [record] = evaluate("hotpotqa", model=ScriptedLLM(["no plan here"]), limit=1)["records"]
    assert not record["valid"] and record["f1"] == 0.0
    assert record["recall@2"] == 1.0  # retrieval does not depend on the model's output


def test_for_irrelevance_an_output_that_does_not_decode_counts_as_no_call_so_it_is_right(benchdata):
    root = benchdata / "bfcl"
    write_jsonl(root / "BFCL_v4_irrelevance.json", PARALLEL[:1] * 2)
    [record] = evaluate("bfcl-irrelevance", model=ScriptedLLM(["I would rather chat."]))["records"]
    assert not record["valid"] and record["correct"]


def test_the_unconstrained_baseline_sends_no_schema(benchdata):
    llm = ScriptedLLM([weather_plan("Oslo", "Rome")])
    evaluate("bfcl-parallel", model=llm, limit=1, constrained=False)
    assert llm.history[0].json_schema is None


def test_an_interrupted_eval_resumes_without_rerunning_finished_items(benchdata, tmp_path):
    out = tmp_path / "report.json"
    evaluate("bfcl-parallel", model=ScriptedLLM([weather_plan("Oslo", "Rome")]), limit=1, out=out)
    llm = ScriptedLLM([weather_plan("Paris", "Lima")])  # only the second item may reach the model
    report = evaluate("bfcl-parallel", model=llm, out=out)
    assert len(llm.history) == 1 and [r["correct"] for r in report["records"]] == [True, True]
    assert json.loads(out.read_text())["totals"]["accuracy"] == 1.0
    with pytest.raises(ConfigError, match="records of another run"):
        evaluate("bfcl-parallel", model=ScriptedLLM(), mode="parallel", constrained=False, out=out)


def test_shards_split_the_items_and_a_run_without_shard_reports_them_all(benchdata, tmp_path):
    out = tmp_path / "report.json"
    second = evaluate("bfcl-parallel", model=ScriptedLLM([weather_plan("Paris", "Lima")]), shard=(2, 2), out=out)
    first = evaluate("bfcl-parallel", model=ScriptedLLM([weather_plan("Oslo", "Rome")]), shard=(1, 2), out=out)
    assert [r["id"] for r in first["records"] + second["records"]] == ["parallel_0", "parallel_1"]
    report = evaluate("bfcl-parallel", model=ScriptedLLM(), out=out)  # nothing is left to run
    assert report["shard"] == "1/1" and [r["correct"] for r in report["records"]] == [True, True]
    with pytest.raises(ConfigError, match="shard=3/2"):
        evaluate("bfcl-parallel", model=ScriptedLLM(), shard=(3, 2))


def test_shards_in_other_processes_share_one_records_file_without_losing_a_line(tmp_path):
    path = tmp_path / "report.json.records.jsonl"
    writer = ("import sys; from pathlib import Path; from agentrt.evals.runner import _RecordStore\n"
              "store = _RecordStore(Path(sys.argv[1]), {'suite': 'x'}); store.load()\n"
              "for i in range(100): store.append({'id': sys.argv[2] + str(i), 'text': 'x' * 20000})")
    shards = [subprocess.Popen([sys.executable, "-c", writer, str(path), tag]) for tag in "ab"]
    assert [shard.wait(timeout=120) for shard in shards] == [0, 0]
    header, *records = complete_records(path)
    assert header == {"settings": {"suite": "x"}} and len({r["id"] for r in records}) == 200


def test_mean_latency_counts_only_items_that_ran_alone_when_some_did(benchdata, tmp_path):
    out = tmp_path / "report.json"
    evaluate("bfcl-parallel", model=ScriptedLLM([weather_plan("Oslo", "Rome")]), limit=1, out=out)
    report = evaluate("bfcl-parallel", model=ScriptedLLM([weather_plan("Paris", "Lima")]), concurrency=2, out=out)
    alone, together = report["records"]
    assert (alone["concurrency"], together["concurrency"]) == (1, 2)
    assert report["totals"]["latency_items"] == 1 and report["totals"]["mean_latency_s"] == alone["latency_s"]


def test_gsm8k_scores_the_exact_rule_and_the_last_number_rule(benchdata):
    llm = ScriptedLLM([plan(("calculator", {"expression": "3*12-5"}), ("final_answer", {"answer": "$1"})),
                       plan(("final_answer", {"answer": "It travels 240.0 km"}))])
    first, second = evaluate("gsm8k", model=llm)["records"]
    assert first["correct"] and first["last_number"]
    assert not second["correct"] and second["last_number"]  # "240.0 km" is no exact "#### 240"


def test_comparison_questions_outside_the_local_sample_are_left_out_and_search_finds_titles(benchdata):
    items = suite("hotpotqa-comparison").items("dev")
    assert [i.id for i in items] == ["q1"]
    search = suite("hotpotqa-comparison").search_tool
    assert "1815" in search.fn(entity="ada lovelace") and "Could not find" in search.fn(entity="Grace Hopper")


def test_unknown_suites_and_modes_are_refused(benchdata):
    with pytest.raises(ConfigError, match="No suite 'bfcl'"):
        evaluate("bfcl", model=ScriptedLLM())
    with pytest.raises(ConfigError, match="runs in parallel mode"):
        evaluate("bfcl-parallel", model=ScriptedLLM(), mode="sequential")


@pytest.mark.model
def test_eval_cli_runs_bfcl_gsm8k_and_hotpotqa_on_the_default_model(benchdata, tmp_path):
    for name in ("bfcl-parallel", "gsm8k", "hotpotqa"):
        out = tmp_path / f"{name}.json"
        run = subprocess.run([sys.executable, "-m", "agentrt.cli", "eval", name, "--limit", "1", "--out", str(out)],
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        report = json.loads(out.read_text())
        [record] = report["records"]
        assert record["valid"] and record["plan"] and record["completion_tokens"] > 0
        assert "accuracy" in run.stdout and report["model"] == "smollm2-135m-instruct"
        if name == "bfcl-parallel":  # the entry's function is all it may call
            assert {step["tool"] for step in record["plan"]} <= {"weather_get", "think", "final_answer"}
    assert report["records"][0]["recall@2"] == 1.0  # both gold paragraphs of the two-paragraph corpus
