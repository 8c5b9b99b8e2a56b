"""The trace viewer: the HTML page from scripted traces, and in headless Chromium from a real run."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import jsonschema
import pytest

from agentrt import Agent, tool
from agentrt.schema import RunResult
from agentrt.testing import ScriptedLLM
from agentrt.trace import read_trace, trace_schema
from agentrt.viewer import render_html

from .conftest import answer, plan, replan

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = os.environ.get("AGENTRT_CHROMIUM", "/usr/bin/chromium")
DOCS = Path(__file__).parent.parent / "docs"
SCHEMA_FILE, TRACE_DOC = DOCS / "trace.schema.json", DOCS / "trace.md"
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


@tool
def echo(text: str) -> str:
    """Returns its text: an untrusted observation, for the escaping tests."""
    return text


def replanned_run() -> RunResult:
    """Steps 1-3 in the first plan (3 and 2 use $1), step 4 added by a replan and using $3."""
    llm = ScriptedLLM([
        plan(("calculator", {"expression": "17*23"}), ("think", {"question": "Is $1 odd?"}),
             ("calculator", {"expression": "$1 + 4"})),
        "Yes, 391 is odd.",
        replan("check the sum"),
        plan(("calculator", {"expression": "$3 - 4"}), first=4),
        answer("395"),
    ])
    return Agent(model=llm, store=":memory:").run("What is 17 * 23 + 4?")


def hostile_run() -> RunResult:
    """A run whose instruction and observation try to end the page's script and run their own."""
    llm = ScriptedLLM([plan(("echo", {"text": HOSTILE}), ("final_answer", {"answer": "$1"}))])
    return Agent(model=llm, tools=[echo], store=":memory:").run(f"Say {HOSTILE}")


def nodes(html: str) -> dict[int, str]:
    """Each step's node in the SVG: step id -> its class attribute."""
    return {int(step): cls for cls, step in re.findall(r'<g class="(node[^"]*)" data-step="(\d+)"', html)}


def embedded_data(html: str) -> dict:
    """The step and model-call details the page's script reads."""
    [blob] = re.findall(r'<script type="application/json" id="trace-data">(.*?)</script>', html, re.DOTALL)
    return json.loads(blob)


def test_one_node_per_step_coloured_by_state_with_data_flow_edges():
    result = replanned_run()
    html = render_html(result.trace)
    assert nodes(html) == {1: "node ok", 2: "node ok", 3: "node ok", 4: "node ok replanned"}
    edges = set(re.findall(r'class="edge" data-from="(\d+)" data-to="(\d+)"', html))
    assert edges == {("1", "2"), ("1", "3"), ("3", "4")}
    assert "What is 17 * 23 + 4?" in html and "Answer:</strong> 395" in html


def test_replanned_steps_sit_in_a_band_of_their_own_below_the_plan():
    html = render_html(replanned_run().trace)
    assert '<text class="band-title replan" x="12"' in html and ">replan 1: check the sum</text>" in html
    assert ">replan 1</text>" in html  # the tag on step 4's box
    y = {int(step): int(y) for step, y in re.findall(r'data-step="(\d+)"\s+transform="translate\(\d+,(\d+)\)"', html)}
    assert y[1] < y[2] == y[3] < y[4]


def test_the_details_hold_each_steps_call_output_prompt_and_timing():
    result = replanned_run()
    data = embedded_data(render_html(result.trace))
    calc = data["steps"]["3"]
    assert calc["tool"] == "calculator" and calc["args"] == {"expression": "$1 + 4"}
    assert calc["resolved_args"] == {"expression": "391 + 4"} and calc["observation"] == "395"
    assert calc["depends_on"] == [1] and calc["finished_t"] >= calc["started_t"] >= 0
    think = data["steps"]["2"]
    assert "Is 391 odd?" in think["model_call"]["messages"][-1]["content"]
    assert think["model_call"]["output"] == "Yes, 391 is odd."
    assert [c["purpose"] for c in data["model_calls"]] == ["plan", "answer", "plan", "answer"]
    assert [c["round"] for c in data["model_calls"]] == [0, 0, 1, 1]
    assert data["replan_reasons"] == {"1": "check the sum"}


def test_untrusted_text_cannot_end_the_script_or_inject_markup():
    result = hostile_run()
    html = render_html(result.trace)
    assert html.count("</script>") == 2  # the page's own two script elements
    assert "<script>alert" not in html and "<img" not in html
    assert embedded_data(html)["steps"]["1"]["observation"] == HOSTILE  # intact once parsed


def test_the_page_references_nothing_outside_itself():
    html = render_html(replanned_run().trace)
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:|//)""", html, re.IGNORECASE)
    assert set(re.findall(r"url\(([^)]*)\)", html)) == {"#arrow"}
    assert "@import" not in html and "http" not in html


def test_a_trace_cut_short_shows_the_running_and_unstarted_steps():
    records = replanned_run().trace
    joined = next(i for i, r in enumerate(records) if r["kind"] == "model_call" and r["call"]["purpose"] == "answer")

    def lost(record: dict) -> bool:
        """Whether the record never got written: the run was killed while step 3 ran, before 2 started."""
        step = (record.get("step") or record.get("result") or {}).get("id")
        return step == 2 or step == 3 and record["kind"] == "step_finished"

    html = render_html([r for r in records[:joined] if not lost(r)])
    assert nodes(html) == {1: "node ok", 2: "node waiting", 3: "node running"}
    assert "No answer: the trace ends at" in html


def test_a_trace_with_no_steps_yet_still_renders():
    [started] = [r for r in replanned_run().trace if r["kind"] == "run_started"]
    html = render_html([started])
    assert nodes(html) == {} and "No answer" in html


def test_the_schema_file_is_the_generated_schema():
    assert json.loads(SCHEMA_FILE.read_text()) == trace_schema(), (
        "docs/trace.schema.json is stale; rewrite it with json.dumps(agentrt.trace.trace_schema(), indent=2)")


def test_the_docs_example_of_each_kind_is_a_valid_record():
    examples = [json.loads(line) for line in TRACE_DOC.read_text().splitlines() if line.startswith('{"v": ')]
    schema = json.loads(SCHEMA_FILE.read_text())
    assert sorted(r["kind"] for r in examples) == sorted(schema["discriminator"]["mapping"])
    for record in examples:
        jsonschema.validate(record, schema)


# The real default model, in a real browser.

@pytest.fixture(scope="module")
def real_run(default_llm, tmp_path_factory) -> tuple[RunResult, Path]:
    """A run of the default model, its trace written to a file and rendered from it."""
    result = Agent(model=default_llm, store=":memory:").run("What is 17 * 23 + 4?")
    folder = tmp_path_factory.mktemp("viewer")
    (folder / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in result.trace))
    html = folder / "trace.html"
    html.write_text(render_html(read_trace(folder / "trace.jsonl")), encoding="utf-8")
    return result, html


@pytest.fixture
def chromium() -> Callable[[Path], AbstractContextManager[Page]]:
    """Opens a file in Debian's Chromium, headless, driven by Playwright (which downloads no browser
    of its own); a script error or a dialog (an injected `alert`) on the page fails the test.
    Playwright's sync API runs an event loop while open: make any agent run before opening."""
    if os.environ.get("AGENTRT_SKIP_BROWSER") == "1":
        pytest.skip("AGENTRT_SKIP_BROWSER=1")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed; run `make browser`", pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}; run `make browser` (or set AGENTRT_CHROMIUM)", pytrace=False)

    @contextmanager
    def open_page(path: Path) -> Iterator[Page]:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page()
            page.set_default_timeout(10_000)
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
            page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
            page.goto(path.as_uri())
            yield page
            browser.close()
        assert problems == []

    return open_page


@pytest.mark.model
def test_every_record_of_a_real_trace_validates_against_the_schema_file(real_run):
    result, _ = real_run
    schema = json.loads(SCHEMA_FILE.read_text())
    for record in result.trace:
        jsonschema.validate(record, schema)


@pytest.mark.model
def test_in_chromium_the_picture_has_a_node_per_step_and_a_click_shows_its_tool_call(chromium, real_run):
    result, html = real_run
    step = next(s for s in result.steps if s.tool != "think")
    with chromium(html) as page:
        assert page.locator("svg g.node").count() == len(result.plan.steps) >= 1
        page.click(f'svg g.node[data-step="{step.id}"]')
        call = page.inner_text('#details [data-field="tool-call"]')
        observation = page.inner_text('#details [data-field="observation"]')
    assert call.startswith(f"{step.tool}(") and call.endswith(")")
    assert json.loads(call[len(step.tool) + 1 : -1]) == step.resolved_args
    assert observation == step.observation


def test_in_chromium_hostile_text_runs_no_script(chromium, tmp_path):
    html = tmp_path / "hostile.html"
    html.write_text(render_html(hostile_run().trace), encoding="utf-8")
    with chromium(html) as page:  # which fails on any alert
        page.click('svg g.node[data-step="1"]')
        observation = page.inner_text('#details [data-field="observation"]')
    assert observation == HOSTILE
