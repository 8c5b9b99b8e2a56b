"""The trace viewer's example for the docs: runs the default model on instructions until one plans
at least MIN_STEPS steps, then writes its trace, the viewer page and a screenshot of the page with
a tool step clicked (headless Debian Chromium, `make browser`).

    .venv/bin/python benchmarks/trace_screenshot.py

Writes docs/trace-example.jsonl, docs/trace-example.html and docs/trace-viewer.png.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from playwright.sync_api import sync_playwright

from agentrt import Agent
from agentrt.schema import RunResult
from agentrt.trace import read_trace
from agentrt.viewer import render_html

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM = os.environ.get("AGENTRT_CHROMIUM", "/usr/bin/chromium")
MIN_STEPS = 3
# The 135M model mostly plans calculator + final_answer; these have drawn longer plans from it.
CANDIDATES = [
    "A shirt costs 40 dollars and is discounted by 25 percent. What is the new price?",
    "Compute 12*7, 15*3 and 9*9 with the calculator, then give all three results.",
    "What is 17 times 23, plus 4?",
]


def pick_run() -> RunResult:
    """The first candidate's run with at least MIN_STEPS steps, else the one with the most."""
    agent = Agent(store=":memory:")
    runs = []
    for instruction in CANDIDATES:
        result = agent.run(instruction)
        print(f"{len(result.plan.steps)} steps, {result.replans} replans: {instruction}")
        if len(result.plan.steps) >= MIN_STEPS:
            return result
        runs.append(result)
    return max(runs, key=lambda r: len(r.plan.steps))


def main() -> None:
    result = pick_run()
    trace, page_file, picture = DOCS / "trace-example.jsonl", DOCS / "trace-example.html", DOCS / "trace-viewer.png"
    trace.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.trace), encoding="utf-8")
    page_file.write_text(render_html(read_trace(trace)), encoding="utf-8")
    clicked = next((s for s in result.steps if s.tool not in ("think", "final_answer")), result.steps[0])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(page_file.as_uri())
        page.click(f'svg g.node[data-step="{clicked.id}"]')
        page.screenshot(path=str(picture))
        browser.close()
    print(f"wrote {trace.name}, {page_file.name} and {picture.name} ({picture.stat().st_size // 1024} KB), "
          f"step {clicked.id} ({clicked.tool}) clicked")


if __name__ == "__main__":
    main()
