"""A run's trace as one self-contained HTML page: the plan DAG as an SVG picture, and what each
step and model call saw and produced, one click away (`agentrt trace FILE --html out.html`).

The page loads nothing: CSS, script and data are inline, so it opens offline in any browser. The
layout is computed here, not in the browser, so the picture needs no JavaScript library.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2
import networkx as nx

from .picture import RunPicture, StepPicture

NODE_W, NODE_H = 210, 54
GAP_X, GAP_Y = 32, 54
PAD = 20


def _layers(run: RunPicture, graph: nx.DiGraph) -> dict[int, int]:
    """Each step's layer, top to bottom: below every step it uses, and below every step of earlier
    planning rounds, so a replan's steps form a band of their own under the plan they extend."""
    layer: dict[int, int] = {}
    round_start = 0
    for plan_round in sorted({s.round for s in run.steps.values()}):
        members = [n for n in nx.topological_sort(graph) if run.steps[n].round == plan_round]
        for node in members:
            layer[node] = max([round_start] + [layer[p] + 1 for p in graph.predecessors(node) if p in layer])
        round_start = max(layer[n] for n in members) + 1
    return layer


def _layout(run: RunPicture, graph: nx.DiGraph) -> dict[int, tuple[int, int]]:
    """Top-left corner of each step's box. Within a layer, steps sit under the mean position of
    their parents (ties by id), which keeps most edges short and uncrossed."""
    layer_of = _layers(run, graph)
    slot: dict[int, float] = {}
    for depth in range(max(layer_of.values(), default=-1) + 1):
        row = [n for n in layer_of if layer_of[n] == depth]
        key = {n: sum(slot[p] for p in graph.predecessors(n)) / max(1, graph.in_degree(n)) for n in row}
        row.sort(key=lambda n: (key[n], n))
        slot.update({n: i - (len(row) - 1) / 2 for i, n in enumerate(row)})
    widest = max((sum(1 for n in layer_of if layer_of[n] == d) for d in set(layer_of.values())), default=1)
    centre = PAD + (widest * (NODE_W + GAP_X) - GAP_X) / 2
    return {n: (round(centre + slot[n] * (NODE_W + GAP_X) - NODE_W / 2), PAD + 24 + layer_of[n] * (NODE_H + GAP_Y))
            for n in layer_of}


def _clip(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis: SVG text does not wrap."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(step: StepPicture) -> str:
    """The line under a box's title: what the step produced, or why there is nothing yet."""
    if step.result is None:
        return "no result in the trace" if step.state == "running" else "not started"
    return _clip(step.result["observation"], 28)


def _edge_path(parent: tuple[int, int], child: tuple[int, int], lane: float) -> str:
    """A curve from the bottom of the parent's box to the top of the child's. One that skips
    layers runs down the `lane` right of every box instead, so it crosses no box on its way."""
    x1, y1 = parent[0] + NODE_W / 2, parent[1] + NODE_H
    x2, y2 = child[0] + NODE_W / 2, child[1] - 3
    if y2 - y1 <= GAP_Y:
        bend = (y2 - y1) / 2
        return f"M{x1:g},{y1:g} C{x1:g},{y1 + bend:g} {x2:g},{y2 - bend:g} {x2:g},{y2:g}"
    turn = GAP_Y - 6  # each turn takes the whole gap between layers
    return (f"M{x1:g},{y1:g} C{x1:g},{y1 + turn:g} {lane:g},{y1:g} {lane:g},{y1 + turn:g} L{lane:g},{y2 - turn:g} "
            f"C{lane:g},{y2:g} {x2:g},{y2 - turn:g} {x2:g},{y2:g}")


def _picture(run: RunPicture) -> dict[str, Any]:
    """The SVG's geometry: boxes, edge paths, one band per planning round, and the canvas size."""
    graph = run.graph()
    at = _layout(run, graph)
    lane = max((x for x, _ in at.values()), default=0) + NODE_W + GAP_X / 2
    width = max(260, round(lane + GAP_X / 2 + PAD))
    nodes = [{"step": step, "x": at[n][0], "y": at[n][1], "title": _clip(f"{n} · {step.tool}", 22),
              "label": _label(step)} for n, step in run.steps.items()]
    edges = [{"parent": parent, "child": child, "d": _edge_path(at[parent], at[child], lane)}
             for parent, child in graph.edges]
    bands = []
    for plan_round in sorted({s.round for s in run.steps.values()}):
        ys = [at[n][1] for n, s in run.steps.items() if s.round == plan_round]
        reason = run.replans[plan_round]["reason"] if plan_round in run.replans else ""
        title = "plan" if plan_round == 0 else f"replan {plan_round}" + (f": {reason}" if reason else "")
        bands.append({"round": plan_round, "y": min(ys) - 28, "height": max(ys) - min(ys) + NODE_H + 36,
                      "title": _clip(title, (width - 24) // 6)})
    height = max((y for _, y in at.values()), default=0) + NODE_H + PAD + 10
    return {"nodes": nodes, "edges": edges, "bands": bands, "width": width, "height": height}


def _details(run: RunPicture) -> dict[str, Any]:
    """What the page's script shows on a click: every step's record, and the run's model calls."""
    steps = {}
    for step in run.steps.values():
        result = step.result or {}
        steps[step.id] = {
            "id": step.id, "tool": step.tool, "state": step.state, "round": step.round,
            "args": step.args, "resolved_args": result.get("resolved_args"), "depends_on": sorted(step.parents()),
            "observation": result.get("observation"), "model_call": result.get("model_call"),
            "passages": result.get("passages", []), "duration_s": result.get("duration_s"),
            "started_t": step.started_t, "finished_t": step.finished_t, "approval": step.approval,
            "subrun": _subrun(result["subrun"]) if result.get("subrun") else None,
        }
    return {"steps": steps, "model_calls": run.model_calls,
            "replan_reasons": {plan_round: replan["reason"] for plan_round, replan in run.replans.items()}}


def _subrun(result: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a run a step delegated to (`Agent.as_tool`): its task, steps (each
    with its own sub-run, if it delegated too) and answer."""
    details = _details(RunPicture.from_records(result["trace"]))
    return {"instruction": result["instruction"], "answer": result["answer"], "stopped_by": result["stopped_by"],
            "steps": list(details["steps"].values())}


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no `<`, `>` or `&` can end it or open a comment, since
    observations are untrusted text."""
    text = json.dumps(value, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text


def render_html(records: list[dict[str, Any]]) -> str:
    """One self-contained HTML page showing the run the trace `records` tell, whole or cut short."""
    run = RunPicture.from_records(records)
    return _TEMPLATE.render(run=run, totals=run.totals(), picture=_picture(run), node_w=NODE_W, node_h=NODE_H,
                            data=_script_json(_details(run)))


_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string("""\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agentrt trace: {{ run.instruction }}</title>
<style>
  :root { --ok: #2f9e5b; --error: #d64545; --running: #d9950b; --waiting: #8a94a6; --ink: #1d2330;
          --muted: #5f6b7d; --line: #dde2ea; --panel: #f7f9fc; }
  * { box-sizing: border-box; }
  body { margin: 0; height: 100vh; display: flex; flex-direction: column;
         font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); }
  header { padding: 14px 20px; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0 0 4px; font-size: 17px; font-weight: 600; }
  header .answer { margin: 0 0 6px; max-height: 4.4em; overflow: auto; }
  header .answer.missing { color: var(--running); }
  .totals { color: var(--muted); font-size: 13px; }
  .totals span + span::before { content: " · "; }
  main { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(280px, 1fr) minmax(360px, 1.1fr); }
  #dag { overflow: auto; padding: 8px; border-right: 1px solid var(--line); }
  #dag svg { display: block; margin: 0 auto; }
  .legend { color: var(--muted); font-size: 12px; padding: 4px 8px 8px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; }
  .band { fill: var(--panel); stroke: var(--line); }
  .band.replan { fill: #fff8ea; stroke: #f0d9a8; stroke-dasharray: 5 4; }
  .band-title { fill: var(--muted); font-size: 11px; }
  .band-title.replan { fill: #a06a00; }
  .edge { fill: none; stroke: #9aa5b5; stroke-width: 1.5; }
  .node { cursor: pointer; }
  .node rect { fill: #fff; stroke-width: 2; }
  .node.ok rect { stroke: var(--ok); fill: #eef8f2; }
  .node.error rect { stroke: var(--error); fill: #fdeeee; }
  .node.running rect { stroke: var(--running); fill: #fff6e3; }
  .node.waiting rect { stroke: var(--waiting); fill: #f3f4f7; }
  .node.replanned rect { stroke-dasharray: 6 4; }
  .node:hover rect, .node:focus rect { filter: brightness(0.96); }
  .node.selected rect { stroke-width: 3.5; }
  .node:focus { outline: none; }
  .node .title { font-weight: 600; font-size: 13px; }
  .node .sub { fill: var(--muted); font-size: 12px; }
  .node .tag { fill: #a06a00; font-size: 10px; }
  #details { overflow: auto; padding: 14px 20px; background: var(--panel); }
  #details h2 { margin: 0 0 10px; font-size: 16px; }
  #details h3 { margin: 16px 0 6px; font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
                color: var(--muted); }
  #details pre { margin: 0; padding: 8px 10px; background: #fff; border: 1px solid var(--line); border-radius: 6px;
                 white-space: pre-wrap; word-break: break-word;
                 font: 12.5px/1.4 ui-monospace, Menlo, Consolas, monospace; }
  #details details { margin: 6px 0; }
  #details summary { cursor: pointer; color: var(--muted); }
  #details dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
  #details dt { color: var(--muted); }
  #details dd { margin: 0; }
  .badge { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-size: 12px;
           vertical-align: 2px; }
  .badge.ok { background: var(--ok); } .badge.error { background: var(--error); }
  .badge.running { background: var(--running); } .badge.waiting { background: var(--waiting); }
  .passage { margin: 6px 0; }
  .passage .source { color: var(--muted); font-size: 12px; }
  .hint { color: var(--muted); }
  .subrun { border-left: 3px solid var(--line); padding-left: 10px; margin: 4px 0; }
</style>
</head>
<body>
<header>
  <h1>{{ run.instruction or "(no instruction in the trace)" }}</h1>
  {% if run.answer %}
  <p class="answer"><strong>Answer:</strong> {{ run.answer.answer }}</p>
  {% else %}
  <p class="answer missing">No answer: the trace ends at {{ "%.1f"|format(run.last_t) }} s, before the run did.</p>
  {% endif %}
  <div class="totals">
    <span>{{ run.steps|length }} step{{ "" if run.steps|length == 1 else "s" }}</span>
    <span>{{ totals.replans }} replan{{ "" if totals.replans == 1 else "s" }}</span>
    <span>{{ "%.1f"|format(totals.duration_s) }} s</span>
    <span>{{ totals.prompt_tokens }} prompt + {{ totals.completion_tokens }} generated tokens</span>
    {% if run.answer %}<span>stopped by {{ run.answer.stopped_by }}</span>{% endif %}
    {% if run.answer and run.answer.error %}<span>error: {{ run.answer.error }}</span>{% endif %}
    <span>run {{ run.run_id }}</span>
  </div>
</header>
<main>
  <section id="dag">
    <div class="legend">
      <i style="background: var(--ok)"></i>ok <i style="background: var(--error)"></i>error
      <i style="background: var(--running)"></i>running <i style="background: var(--waiting)"></i>not started
      · dashed: added by a replan<br>Click a step for its details, the background for the planner and joiner.
    </div>
    <svg width="{{ picture.width }}" height="{{ picture.height }}"
         viewBox="0 0 {{ picture.width }} {{ picture.height }}" role="img"
         aria-label="plan of {{ run.steps|length }} steps">
      <defs>
        <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
          <path d="M0,0 L10,5 L0,10 z" fill="#9aa5b5"/>
        </marker>
      </defs>
      {% for band in picture.bands %}
      <rect class="band{{ ' replan' if band.round else '' }}" x="4" y="{{ band.y }}" width="{{ picture.width - 8 }}"
            height="{{ band.height }}" rx="8"/>
      <text class="band-title{{ ' replan' if band.round else '' }}" x="12" y="{{ band.y + 14 }}">{{ band.title }}</text>
      {% endfor %}
      {% for edge in picture.edges %}
      <path class="edge" data-from="{{ edge.parent }}" data-to="{{ edge.child }}" d="{{ edge.d }}"
            marker-end="url(#arrow)"/>
      {% endfor %}
      {% for node in picture.nodes %}
      <g class="node {{ node.step.state }}{{ ' replanned' if node.step.round else '' }}" data-step="{{ node.step.id }}"
         transform="translate({{ node.x }},{{ node.y }})" tabindex="0" role="button"
         aria-label="step {{ node.step.id }}: {{ node.step.tool }}, {{ node.step.state }}">
        <rect width="{{ node_w }}" height="{{ node_h }}" rx="8"/>
        <text class="title" x="12" y="21">{{ node.title }}</text>
        {% if node.step.round %}
        <text class="tag" x="{{ node_w - 10 }}" y="16" text-anchor="end">replan {{ node.step.round }}</text>
        {% endif %}
        <text class="sub" x="12" y="41">{{ node.label }}</text>
      </g>
      {% endfor %}
    </svg>
  </section>
  <section id="details" aria-live="polite"></section>
</main>
<script type="application/json" id="trace-data">{{ data|safe }}</script>
<script>
"use strict";
// Every string from the trace goes in through textContent, never as markup: it is untrusted.
const data = JSON.parse(document.getElementById("trace-data").textContent);
const panel = document.getElementById("details");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([key, value]) => node.setAttribute(key, value));
  children.forEach((child) => node.append(child));
  return node;
}
const pre = (text, attrs) => el("pre", attrs, text);
const json = (value) => (JSON.stringify(value).length > 60 ? JSON.stringify(value, null, 2) : JSON.stringify(value));
const seconds = (value) => (value == null ? "–" : value.toFixed(3) + " s");

function section(title, ...children) {
  panel.append(el("h3", {}, title), ...children);
}

function facts(pairs) {
  return el("dl", {}, ...pairs.flatMap(([key, value]) => [el("dt", {}, key), el("dd", {}, String(value))]));
}

function passages(list) {
  return el("div", {}, ...list.map((p) => el("div", { class: "passage" },
    el("div", { class: "source" }, `${p.source} · ${p.title} · chunk ${p.position} · score ${p.score.toFixed(3)}`),
    pre(p.text))));
}

function modelCall(call, open) {
  const prompt = el("details", open ? { open: "" } : {},
    el("summary", {}, `prompt: ${call.messages.length} message(s)`),
    ...call.messages.map((m) => el("div", {}, el("div", { class: "hint" }, m.role), pre(m.content))));
  const parts = [prompt, el("div", { class: "hint" }, "output"), pre(call.output, { "data-field": "model-output" }),
    facts([["tokens", `${call.prompt_tokens} prompt + ${call.completion_tokens} generated`],
           ["time", seconds(call.duration_s)]])];
  if (call.passages.length) parts.push(el("div", { class: "hint" }, "passages"), passages(call.passages));
  return el("div", {}, ...parts);
}

function subrun(run) {
  // a run another agent made for this step: its steps, each with the run it delegated to, if any
  const steps = run.steps.map((s) => el("div", { class: "subrun-step" },
    pre(`${s.id} · ${s.tool}(${json(s.resolved_args ?? s.args)}) -> ${s.observation ?? s.state}`),
    ...(s.subrun ? [subrun(s.subrun)] : [])));
  return el("div", { class: "subrun", "data-field": "subrun" }, pre(`task: ${run.instruction}`), ...steps,
            pre(`answer: ${run.answer}  (ended by ${run.stopped_by})`));
}

function showStep(id) {
  const step = data.steps[id];
  const badge = el("span", { class: `badge ${step.state}` }, step.state);
  panel.replaceChildren(el("h2", {}, `Step ${step.id} · ${step.tool} `, badge));
  const call = `${step.tool}(${json(step.resolved_args ?? step.args)})`;
  section(step.resolved_args ? "Tool call" : "Tool call, as planned", pre(call, { "data-field": "tool-call" }));
  if (step.resolved_args && json(step.resolved_args) !== json(step.args)) section("As planned", pre(json(step.args)));
  if (step.approval) section("Approval requested for", pre(json(step.approval)));
  if (step.observation != null) section("Observation", pre(step.observation, { "data-field": "observation" }));
  if (step.model_call) section("Model call", modelCall(step.model_call, true));
  // a think step's passages are shown with its model call
  if (step.passages.length && !step.model_call) section("Passages", passages(step.passages));
  if (step.subrun) section(`Delegated to ${step.tool}: its run`, subrun(step.subrun));
  section("Timing", facts([
    ["status", step.state], ["planned in", step.round ? `replan ${step.round}` : "the first plan"],
    ["uses steps", step.depends_on.join(", ") || "none"], ["started at", seconds(step.started_t)],
    ["finished at", seconds(step.finished_t)], ["took", seconds(step.duration_s)],
  ]));
}

function showRun() {
  const hint = "Click a step in the plan for its tool call, output and timing.";
  panel.replaceChildren(el("h2", {}, "Run"), el("p", { class: "hint" }, hint));
  Object.entries(data.replan_reasons).forEach(([round, reason]) => section(`Replan ${round}: why`, pre(reason)));
  data.model_calls.forEach((call) => {
    const planner = call.round ? `Planner, replan ${call.round}` : "Planner";
    const who = { plan: planner, arguments: `${planner}: a call's arguments`,
                  output: "The answer as the type asked for" }[call.purpose] || "Joiner";
    section(`${who} at ${seconds(call.t)}`, modelCall(call, false));
  });
}

const nodes = document.querySelectorAll("g.node");
function select(node) {
  nodes.forEach((other) => other.classList.toggle("selected", other === node));
  if (node) showStep(node.dataset.step); else showRun();
}
nodes.forEach((node) => {
  node.addEventListener("click", (event) => { event.stopPropagation(); select(node); });
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); select(node); }
  });
});
document.getElementById("dag").addEventListener("click", () => select(null));
showRun();
</script>
</body>
</html>
""")
