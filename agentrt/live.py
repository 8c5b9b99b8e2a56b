"""The terminal view of a run: the plan as a tree whose steps show their state (waiting, running,
done, failed) and time, updating in place, with a spinner while the model works.

`agentrt run` uses it when stdout is a terminal; piped output gets plain lines instead.
`progress_bar` is the bar every other long command shows, on the same terms.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.progress import Progress
from rich.spinner import Spinner
from rich.text import Text
from rich.tree import Tree

from .events import Answered, ApprovalRequested, Event, PlanMade, Replanning, RunStarted, StepFinished, StepStarted
from .schema import RunResult, StepSpec


def progress_bar() -> Progress:
    """A progress bar for long work, on stderr and only on a terminal: piped output, stdout
    above all (a report, `--json`), holds nothing of it."""
    console = Console(stderr=True)
    return Progress(console=console, transient=True, disable=not console.is_terminal)


_STYLE = {"waiting": "dim", "running": "yellow", "done": "green", "failed": "red"}
_MARK = {"waiting": "·", "done": "✓", "failed": "✗"}


@dataclass
class _Step:
    spec: StepSpec
    round: int
    state: str = "waiting"
    started: float | None = None
    seconds: float | None = None
    observation: str = ""


@dataclass
class RunView:
    """What the view knows of the run so far, updated event by event."""

    instruction: str = ""
    run_id: str = ""
    steps: dict[int, _Step] = field(default_factory=dict)
    round: int = 0
    phase: str = "planning"
    result: RunResult | None = None
    started: float = field(default_factory=time.perf_counter)

    def update(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.instruction, self.run_id = event.instruction, event.run_id
        elif isinstance(event, PlanMade):
            for spec in event.steps:
                self.steps.setdefault(spec.id, _Step(spec, event.round))
            self.phase = "running"
        elif isinstance(event, StepStarted):
            step = self.steps.setdefault(event.step.id, _Step(event.step, self.round))
            step.state, step.started = "running", time.perf_counter()
        elif isinstance(event, StepFinished):
            result = event.result
            step = self.steps.setdefault(result.id, _Step(StepSpec(id=result.id, tool=result.tool, args=result.args),
                                                          self.round))
            step.state = "done" if result.status == "ok" else "failed"
            step.seconds, step.observation = result.duration_s, result.observation
            if all(s.state in ("done", "failed") for s in self.steps.values()):
                self.phase = "deciding"
        elif isinstance(event, Replanning):
            self.round, self.phase = event.round, "planning"
        elif isinstance(event, ApprovalRequested):
            self.phase = f"waiting for approval of step {event.step.id}"
        elif isinstance(event, Answered):
            self.result, self.phase = event.result, "done"

    def __rich__(self) -> RenderableType:
        tree = Tree(Text(self.instruction, style="bold"), guide_style="dim")
        branches: dict[int, Tree] = {}
        for step_id in sorted(self.steps):
            step = self.steps[step_id]
            parents = [p for p in step.spec.depends_on if p in branches]
            # a DAG drawn as a tree: each step under its last parent, the others named
            branches[step_id] = (branches[parents[-1]] if parents else tree).add(self._label(step))
        parts: list[RenderableType] = [tree]
        if self.result is not None:
            parts.append(Text(f"Answer: {self.result.answer}", style="bold"))
        else:
            planning = "the model is writing the plan" if self.round == 0 else f"replanning (round {self.round})"
            busy = {"planning": planning, "deciding": "the model is reading the results", "running": "running steps"}
            parts.append(Spinner("dots", Text(f"{busy.get(self.phase, self.phase)}  "
                                              f"{time.perf_counter() - self.started:.0f}s", style="cyan")))
        return Group(*parts)

    @staticmethod
    def _label(step: _Step) -> RenderableType:
        spec = step.spec
        others = [str(p) for p in spec.depends_on[:-1]]
        label = Text.assemble(
            (f"{spec.id} ", "bold"), (spec.tool, _STYLE[step.state]),
            (f"({', '.join(f'{k}={v!r}' for k, v in spec.args.items())})"[:70], ""),
            (f"  after {', '.join(others)}" if others else "", "dim"),
            (f"  replan {step.round}" if step.round else "", "magenta"),
        )
        if step.state == "running":
            elapsed = time.perf_counter() - (step.started or time.perf_counter())
            return Spinner("dots", Text.assemble(label, (f"  running {elapsed:.1f}s", "yellow")))
        seconds = f"  {step.state} {step.seconds:.2f}s" if step.seconds is not None else f"  {step.state}"
        outcome = f"  → {step.observation}"[:90] if step.observation else ""
        return Text.assemble(f"{_MARK[step.state]} ", label, (seconds, _STYLE[step.state]), (outcome, "dim"))
