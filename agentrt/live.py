"""The terminal views of a run, both drawn from its picture (`picture.py`): the plan as a tree
whose steps show their state (waiting, running, done, failed) and time, updating in place, with a
spinner while the model works; and plain lines, one event at a time.

`agentrt run` draws the tree when stdout is a terminal; piped output gets plain lines instead.
`progress_bar` is the bar every other long command shows, on the same terms.
"""

from __future__ import annotations

import json

from rich.console import Console, Group, RenderableType
from rich.progress import Progress
from rich.spinner import Spinner
from rich.text import Text
from rich.tree import Tree

from .picture import Record, RunPicture, StepPicture
from .trace import TraceRecorder


def progress_bar() -> Progress:
    """A progress bar for long work, on stderr and only on a terminal: piped output, stdout
    above all (a report, `--json`), holds nothing of it."""
    console = Console(stderr=True)
    return Progress(console=console, transient=True, disable=not console.is_terminal)


_STYLE = {"waiting": "dim", "running": "yellow", "ok": "green", "error": "red"}
_MARK = {"waiting": "·", "ok": "✓", "error": "✗"}
_WORD = {"waiting": "waiting", "running": "running", "ok": "done", "error": "failed"}


class RunView:
    """A run's picture drawn as a tree, as it stands whenever rich redraws it; `recorder` is the
    clock the picture's times are on."""

    def __init__(self, picture: RunPicture, recorder: TraceRecorder) -> None:
        self.picture, self.recorder = picture, recorder
        self.answer_so_far = ""
        """The answer as the model has written it so far (`TextDelta`), shown until the run ends."""

    def __rich__(self) -> RenderableType:
        picture = self.picture
        tree = Tree(Text(picture.instruction, style="bold"), guide_style="dim")
        branches: dict[int, Tree] = {}
        for step_id in sorted(picture.steps):
            step = picture.steps[step_id]
            parents = [p for p in step.depends_on if p in branches]
            # a DAG drawn as a tree: each step under its last parent, the others named
            branches[step_id] = (branches[parents[-1]] if parents else tree).add(self._label(step))
        parts: list[RenderableType] = [tree]
        if picture.answer is not None:
            parts.append(Text(f"Answer: {picture.answer['answer']}", style="bold"))
        elif self.answer_so_far:
            parts.append(Text(f"Answer: {self.answer_so_far}", style="bold"))
        else:
            phase = "the model is writing the plan" if picture.phase() == "planning" else picture.phase()
            parts.append(Spinner("dots", Text(f"{phase}  {self.recorder.elapsed():.0f}s", style="cyan")))
        return Group(*parts)

    def _label(self, step: StepPicture) -> RenderableType:
        others = [str(p) for p in step.depends_on[:-1]]
        label = Text.assemble(
            (f"{step.id} ", "bold"), (step.tool, _STYLE[step.state]),
            (f"({', '.join(f'{k}={v!r}' for k, v in step.args.items())})"[:70], ""),
            (f"  after {', '.join(others)}" if others else "", "dim"),
            (f"  replan {step.round}" if step.round else "", "magenta"),
        )
        if step.result is None and step.started_t is not None:
            elapsed = self.recorder.elapsed() - step.started_t
            return Spinner("dots", Text.assemble(label, (f"  running {elapsed:.1f}s", "yellow")))
        word = _WORD[step.state]
        seconds = f"  {word} {step.result['duration_s']:.2f}s" if step.result else f"  {word}"
        outcome = f"  → {step.result['observation']}"[:90] if step.result and step.result["observation"] else ""
        return Text.assemble(f"{_MARK[step.state]} ", label, (seconds, _STYLE[step.state]), (outcome, "dim"))


def plain_lines(record: Record, picture: RunPicture) -> list[str]:
    """Plain, pipe-friendly lines for one trace record of a run, once `picture` has folded it in.
    Steps start while the plan is still being written, so each step is shown when it starts and
    the plan's size when it is done."""
    kind = record["kind"]
    if kind == "run_started":
        return [f"{'resumed' if record['resumed'] else 'run'} {record['run_id']}"]
    if kind == "step_started":
        step = picture.steps[record["step"]["id"]]
        after = f"  (after {', '.join(map(str, step.depends_on))})" if step.depends_on else ""
        return [f"step {step.id}: {step.tool}({json.dumps(step.args)}){after}"]
    if kind == "step_finished":
        result = record["result"]
        mark = "ok" if result["status"] == "ok" else "FAILED"
        lines = [f"  -> {mark} in {result['duration_s']:.2f}s: {result['observation']}"]
        return lines + [f"     passage {p['score']:.2f} {p['title']} ({p['source']})" for p in result["passages"]]
    if kind == "plan":
        which = "plan" if record["round"] == 0 else f"replan {record['round']}"
        return [f"{which}: {len(record['steps'])} steps written"]
    if kind == "replan":
        return [f"replanning: {record['reason']}"]
    if kind == "answer":
        return [*plan_passages(picture), *answer_lines(record)]
    return []


def plan_passages(picture: RunPicture) -> list[str]:
    """The passages retrieved for the instruction, as the first planner call saw them."""
    plans = [c for c in picture.model_calls if c["purpose"] == "plan"]
    passages = plans[0]["passages"] if plans else []
    return [f"plan passage {p['score']:.2f} {p['title']} ({p['source']})" for p in passages]


def answer_lines(answer: Record) -> list[str]:
    """The answer and what ended the run, from its `answer` record."""
    note = f"; {answer['error']}" if answer["error"] else ""
    return [f"Answer: {answer['answer']}", f"({answer['duration_s']:.1f}s, ended by {answer['stopped_by']}{note})"]
