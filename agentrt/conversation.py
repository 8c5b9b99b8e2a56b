"""Conversations: runs of one agent that see the turns before them.

A follow-up ("And in London?") means nothing alone. Each turn of a conversation is a run shown
the earlier turns (their instructions, the tools they called with the results, their answers) in
the planner's, the think steps' and the joiner's prompts (`conversation.j2`). A follow-up that no
tool fits but that reads as more of the same ("and in London?", "what about 200 euros?") calls
the tool the turn just before called, with the arguments it does not restate carried over
(`tool_choice.ToolChooser.choose`, `arguments.py`): ellipsis across turns resolved as it is
within one instruction ("the weather in Paris, and in Tokyo").

Context policy: a model's context window is finite and a conversation is not. The prompts show
the latest turns that fit in `history_chars` characters (about a quarter as many tokens), newest
first; older turns are dropped, oldest first, and each turn's results and answer are cut to
`TURN_CHARS`. Dropping rather than summarising costs no model call and keeps every turn's prompt
the same size however long the conversation; the whole conversation stays in the run store.

Turns live in the run store, each one a run: `agent.conversation(id)` continues a conversation
after a restart, and a turn that stopped in a crash resumes like any run (`agent.resume`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .schema import FINAL_ANSWER_TOOL, THINK_TOOL, RunResult, StepResult

if TYPE_CHECKING:
    from .agent import Agent
    from .events import Event

TURN_CHARS = 300
"""At most this much of each earlier turn's answer, and of each of its results, is shown."""


@dataclass(frozen=True)
class Turn:
    """One finished turn as later turns see it: what was asked, the tools called for it (with
    their results), and the answer."""

    instruction: str
    answer: str
    calls: tuple[StepResult, ...] = ()

    @classmethod
    def of(cls, result: RunResult) -> Turn:
        """The turn a finished run makes: its successful tool calls, not its reasoning, with the
        answer and each result cut to `TURN_CHARS`."""
        calls = tuple(step.model_copy(update={"observation": _cut(step.observation)}) for step in result.steps
                      if step.status == "ok" and step.tool not in (THINK_TOOL, FINAL_ANSWER_TOOL))
        return cls(result.instruction, _cut(result.answer), calls)

    def size(self) -> int:
        """About how many characters of a prompt this turn takes (`conversation.j2`)."""
        shown = [self.instruction, self.answer, *(f"{c.tool}{c.args}{c.observation}" for c in self.calls)]
        return sum(len(text) + 12 for text in shown)


def _cut(text: str) -> str:
    return text if len(text) <= TURN_CHARS else text[: TURN_CHARS - 3] + "..."


class Conversation:
    """Turns of one agent that see the earlier ones; made by `Agent.conversation`.

    `turns` are the finished turns, oldest first (a turn whose run failed is not among them).
    Turns run one at a time: `run`, `arun`, `stream` and `astream` are the agent's, with this
    conversation's earlier turns in view.
    """

    def __init__(self, agent: Agent, id: str, turns: Sequence[Turn] = (), *, history_chars: int = 1500) -> None:
        self.agent = agent
        self.id = id
        self.turns = list(turns)
        self.history_chars = history_chars

    def shown(self) -> list[Turn]:
        """The turns the next turn's prompts show: the latest that fit in `history_chars`, oldest first."""
        shown: list[Turn] = []
        room = self.history_chars
        for turn in reversed(self.turns):
            room -= turn.size()
            if room < 0:
                break
            shown.append(turn)
        return shown[::-1]

    def remember(self, result: RunResult) -> None:
        """A turn finished: later turns see it."""
        self.turns.append(Turn.of(result))

    def run(self, instruction: str, *, output_type: Any = None) -> RunResult:
        """The next turn: `Agent.run` with the earlier turns in view."""
        return self.agent.run(instruction, output_type=output_type, conversation=self)

    async def arun(self, instruction: str, *, output_type: Any = None) -> RunResult:
        """`run` for callers already inside an event loop."""
        return await self.agent.arun(instruction, output_type=output_type, conversation=self)

    def stream(self, instruction: str, *, output_type: Any = None) -> Iterator[Event]:
        """The next turn's events as they happen (`Agent.stream`)."""
        return self.agent.stream(instruction, output_type=output_type, conversation=self)

    def astream(self, instruction: str, *, output_type: Any = None) -> AsyncGenerator[Event, None]:
        """`stream` for callers already inside an event loop."""
        return self.agent.astream(instruction, output_type=output_type, conversation=self)
