"""The knowledge graph: loading facts, every bad-input message, look-ups, paths, and the graph
tools inside real runs (scripted and on the default model)."""

import asyncio
import json
from pathlib import Path

import pytest

from agentrt import Agent, ConfigError, RetryTool
from agentrt.graph import MAX_FACTS, Fact, KnowledgeGraph, graph_tools
from agentrt.testing import ScriptedLLM

from .conftest import plan

FACTS = Path(__file__).parent.parent / "examples" / "facts.csv"


@pytest.fixture
def graph() -> KnowledgeGraph:
    g = KnowledgeGraph()
    g.load(FACTS)
    return g


def tools_by_name(g: KnowledgeGraph) -> dict:
    return {t.name: t for t in graph_tools(g)}


def call(t, **args) -> str:
    return asyncio.run(t.acall(args))


def test_the_example_csv_loads_every_fact_once_and_keeps_the_names_as_written(graph):
    assert len(graph) == 37
    assert "north sea" in graph and "NORTH  SEA" in graph and "Atlantis" not in graph
    assert graph.entity("black_forest") == "Black Forest"
    assert graph.load(FACTS) == 0  # loading the same facts again adds nothing
    assert graph.sources == [str(FACTS), str(FACTS)]


def test_csv_without_header_with_bom_quotes_and_blank_lines(tmp_path):
    path = tmp_path / "facts.csv"
    path.write_bytes('\ufeffFrance,capital,Paris\n\n"Paris, Texas",named after,Paris\r\nKöln,lies on,Rhine\n'.encode())
    g = KnowledgeGraph()
    assert g.load(path) == 3
    assert g.objects("Paris, Texas", "named after") == ["Paris"]
    assert g.entity("köln") == "Köln" and g.entity("France") == "France"  # the BOM is not part of a name


def test_csv_header_in_any_order_with_extra_columns(tmp_path):
    path = tmp_path / "facts.csv"
    path.write_text("Object,source,Subject,Relation\nParis,atlas,France,capital\n", encoding="utf-8")
    g = KnowledgeGraph()
    g.load(path)
    assert g.facts() == [Fact("France", "capital", "Paris")]


def test_jsonl_facts_with_numbers_and_blank_lines(tmp_path):
    path = tmp_path / "facts.jsonl"
    lines = [{"subject": "Paris", "relation": "population", "object": 2102650},
             {"subject": "Paris", "relation": "lies on", "object": "Seine", "source": "atlas"}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    g = KnowledgeGraph()
    assert g.load(path) == 2
    assert g.objects("paris", "Population") == ["2102650"]


BAD_FILES = [
    ("no_object.csv", b"France,capital,Paris\nGermany,capital\n", r"no_object\.csv:2: no 'object' column"),
    ("header.csv", b"subject,relation\nFrance,capital\n", r"header\.csv:1: the header has no 'object' column"),
    ("empty_field.csv", b"subject,relation,object\nFrance,capital,Paris\nGermany,,Berlin\n",
     r"empty_field\.csv:3: the relation is empty"),
    ("comma.csv", b"Paris,Texas,named after,Paris\n", r"comma\.csv:1: 4 columns, not 3; quote a name"),
    ("bad.jsonl", b'{"subject": "France", "relation": "capital", "object": "Paris"}\n{"subject": "Germany",\n',
     r"bad\.jsonl:2: not JSON \(Expecting property name"),
    ("missing.jsonl", b'{"subject": "France", "relation": "capital"}\n', r"missing\.jsonl:1: no 'object'"),
    ("typed.jsonl", b'{"subject": ["France"], "relation": "capital", "object": "Paris"}\n',
     r"typed\.jsonl:1: a list as 'subject'; give it as a string"),
    ("array.jsonl", b'["France", "capital", "Paris"]\n', r"array\.jsonl:1: a JSON list; write an object"),
    ("blank.jsonl", b'{"subject": "France", "relation": "capital", "object": "  "}\n',
     r"blank\.jsonl:1: the object is empty"),
    ("latin1.csv", "France,capital,Paris\nKöln,lies on,Rhine\n".encode("latin-1"),
     r"latin1\.csv:2: not UTF-8 \(byte 22\); re-save the file as UTF-8"),
    ("binary.csv", b"PK\x03\x04\x00\x00binary", r"binary\.csv: binary content"),
    ("empty.csv", b"subject,relation,object\n\n", r"empty\.csv: no facts"),
    ("facts.txt", b"France,capital,Paris\n", r"facts\.txt: facts are read from \.csv or \.jsonl files, not '\.txt'"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_a_bad_file_is_a_config_error_naming_file_and_line_and_adds_nothing(tmp_path, graph, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        graph.load(path)
    assert len(graph) == 37 and "Köln" not in graph and str(path) not in graph.sources


def test_a_missing_file_and_an_empty_part_are_config_errors(tmp_path):
    g = KnowledgeGraph()
    with pytest.raises(ConfigError, match=r"nothere\.csv: no such file"):
        g.load(tmp_path / "nothere.csv")
    with pytest.raises(ConfigError, match="the object is empty"):
        g.add("France", "capital", " ")


def test_neighbours_by_direction_and_relation(graph):
    assert [str(f) for f in graph.neighbours("Rhine", "flows into", "out")] == ["Rhine —flows into→ North Sea"]
    assert graph.neighbours("rhine", "FLOWS_INTO", "in") == [Fact("Aare", "flows into", "Rhine")]
    assert len(graph.neighbours("Rhine")) == 7 and graph.facts("Rhine") == graph.neighbours("Rhine")
    assert {f.subject for f in graph.neighbours("Germany", "borders", "in")} == {"France"}
    assert graph.objects("Germany", "borders") == ["Netherlands", "Switzerland", "Austria"]
    graph.add("Basel", "twinned with", "basel")  # a fact about itself counts once
    assert graph.neighbours("Basel", "twinned with") == [Fact("Basel", "twinned with", "Basel")]
    with pytest.raises(ConfigError, match="direction='up'"):
        graph.neighbours("Rhine", direction="up")


def test_unknown_names_ask_the_model_to_retry_with_the_closest_known_ones(graph):
    with pytest.raises(RetryTool, match="no entity 'Frnace'; did you mean 'France'"):
        graph.objects("Frnace", "capital")
    with pytest.raises(RetryTool, match="France has no 'capitol' facts as subject; did you mean 'capital'"):
        graph.objects("France", "capitol")
    with pytest.raises(RetryTool, match="no 'population' facts as subject; known: capital, borders$"):
        graph.objects("France", "population")
    # the fact exists the other way round: say so, rather than only that it is missing
    with pytest.raises(RetryTool, match="Paris has no 'capital' facts as subject; but: France —capital→ Paris"):
        graph.objects("Paris", "capital")
    with pytest.raises(RetryTool, match=r"no entity 'Atlantis'; known: France, Paris, .* and 14 more"):
        graph.entity("Atlantis")


def test_paths_follow_facts_either_way_within_max_hops(graph):
    assert [str(f) for f in graph.path("bern", "North Sea")] == [
        "Bern —lies on→ Aare", "Aare —flows into→ Rhine", "Rhine —flows into→ North Sea"]
    assert len(graph.path("Hamburg", "English Channel")) == 4
    assert graph.path("Hamburg", "English Channel", max_hops=3) == []
    graph.add("Atlantis", "sank into", "Atlantic")
    assert graph.path("Atlantis", "Paris") == []
    with pytest.raises(RetryTool, match="the same entity"):
        graph.path("Paris", "paris")


def test_the_tools_return_short_text_and_are_safe_to_repeat(graph):
    tools = tools_by_name(graph)
    assert sorted(tools) == ["graph_facts", "graph_lookup", "graph_path"]
    assert all(t.idempotent and str(FACTS) in t.source for t in tools.values())
    assert call(tools["graph_lookup"], subject="France", relation="capital") == "Paris"
    assert call(tools["graph_lookup"], subject="Rhine", relation="flows through") == "Switzerland, Germany, Netherlands"
    assert call(tools["graph_facts"], entity="Seine") == (
        "Seine —flows through→ France\nSeine —flows into→ English Channel\nParis —lies on→ Seine")
    assert call(tools["graph_facts"], entity="Seine", relation="lies on") == "Paris —lies on→ Seine"
    assert call(tools["graph_path"], source="Berlin", target="North Sea") == (
        "Berlin —lies on→ Spree\nSpree —flows into→ Havel\nHavel —flows into→ Elbe\nElbe —flows into→ North Sea")
    graph.add("Atlantis", "sank into", "Atlantic")
    assert call(tools["graph_path"], source="atlantis", target="paris") == (
        "No chain of at most 4 facts links Atlantis and Paris.")


def test_tool_output_is_bounded_and_says_how_much_was_left_out():
    g = KnowledgeGraph()
    for i in range(MAX_FACTS + 5):
        g.add("Hub", "links to", f"Spoke {i}")
    tools = tools_by_name(g)
    lines = call(tools["graph_facts"], entity="Hub").split("\n")
    assert len(lines) == MAX_FACTS + 1
    assert lines[-1] == "… and 5 more facts; give a relation to narrow them"
    names = call(tools["graph_lookup"], subject="Hub", relation="links to")
    assert names.endswith("Spoke 19\n… and 5 more names") and "Spoke 20" not in names
    assert "built in code" in tools["graph_facts"].source


def test_a_plan_combines_graph_lookups_made_in_parallel(graph):
    llm = ScriptedLLM([plan(
        ("graph_lookup", {"subject": "France", "relation": "capital"}),
        ("graph_lookup", {"subject": "Germany", "relation": "capital"}),
        ("final_answer", {"answer": "$1 and $2"}),
    )])
    result = Agent(model=llm, tools=graph_tools(graph), store=":memory:").run("Capitals of France and Germany?")
    assert result.answer == "Paris and Berlin" and result.stopped_by == "final_answer"
    assert [s.depends_on for s in result.plan.steps] == [[], [], [1, 2]]  # the two look-ups are independent
    prompt = llm.prompts()[0]
    assert "graph_lookup(subject: string, relation: string)" in prompt
    assert "graph_facts(entity: string, relation: string = optional)" in prompt


def test_a_misspelt_entity_reaches_the_planner_with_its_correction(graph):
    llm = ScriptedLLM([
        plan(("graph_lookup", {"subject": "Frnace", "relation": "capital"})),
        plan(("graph_lookup", {"subject": "France", "relation": "capital"}), ("final_answer", {"answer": "$2"}),
             first=2),
    ])
    result = Agent(model=llm, tools=graph_tools(graph), store=":memory:").run("Capital of France?")
    failed, fixed, _ = result.steps
    assert failed.status == "error" and "did you mean 'France'?" in failed.observation
    assert "did you mean 'France'?" in llm.prompts()[-1]  # the replanning prompt shows it
    assert fixed.observation == "Paris" and result.answer == "Paris"


@pytest.mark.model
def test_the_default_model_is_offered_the_graph_tools_and_any_graph_step_uses_the_graph(default_llm, graph):
    result = Agent(model=default_llm, tools=graph_tools(graph), store=":memory:").run(
        "Use graph_lookup to find the capital of France.")
    prompt = result.model_calls[0].messages[-1].content
    assert all(f"- {name}(" in prompt for name in ("graph_facts", "graph_lookup", "graph_path"))
    known = {name for fact in graph.facts() for name in fact}
    for step in (s for s in result.steps if s.tool.startswith("graph_")):
        if step.status == "ok":  # facts or names from the graph, or the graph's own "no chain" answer
            assert any(name in step.observation for name in known), step
        else:  # the model's mistake came back as a correction, not a crash
            assert f"{step.tool} asks to retry" in step.observation or "invalid arguments" in step.observation, step
