"""Pydantic types that cross module boundaries. Plain data: no behaviour beyond validation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

THINK_TOOL = "think"
"""The reserved step tool that asks the language model to reason, instead of calling a tool."""

FINAL_ANSWER_TOOL = "final_answer"
"""The built-in tool whose successful result is the run's answer."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(_Data):
    """One chat message sent to a model."""

    role: Literal["system", "user", "assistant"]
    content: str


class StepSpec(_Data):
    """One planned step: call `tool` with `args`, after the steps in `depends_on`.

    String arguments may hold `$N` references to the result of step N; a value that is exactly
    `"$N"` receives step N's typed result, a longer string receives its text.
    """

    id: int = Field(ge=1)
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[int] = Field(default_factory=list)


class PlanSpec(_Data):
    """A whole plan as the planner emits it."""

    steps: list[StepSpec]


class Passage(_Data):
    """A retrieved chunk of a user document, with where it came from and how well it matched."""

    id: int
    source: str
    title: str
    position: int
    text: str
    score: float


ModelCallPurpose = Literal["plan", "arguments", "think", "answer", "output"]
"""What a model request was for: writing the plan, a planned call's arguments (`arguments.py`), a
`think` step, the joiner's answer, or the answer written as the caller's type (`output.py`)."""


class ModelCall(_Data):
    """What one model request saw and produced, and which model (its `LLM.name`) made it."""

    purpose: ModelCallPurpose
    model: str = ""
    messages: list[Message]
    output: str
    prompt_tokens: int
    completion_tokens: int
    duration_s: float
    passages: list[Passage] = Field(default_factory=list)


StepErrorKind = Literal["arguments", "denied", "not_approved", "retry", "raised", "timeout", "cut_off", "interrupted"]
"""Why a step failed: its arguments did not validate or resolve; a tool policy denied the call, or
no one approved it; the tool asked for a correction (`RetryTool`); it raised, or timed out; the
run's time limit cut it off; or the run stopped while it ran and it was not run again."""


class StepError(_Data):
    """A failed step's error, as data: its kind, the exception a tool raised (if one did), the
    message (which the step's observation repeats for the model), and whether calling the tool
    again with the same arguments could succeed."""

    kind: StepErrorKind
    exception: str | None = None
    message: str
    retryable: bool


class StepResult(_Data):
    """The record of one executed step: what was called, what came back, how long it took, and
    what went wrong when `status` is "error"."""

    id: int
    tool: str
    args: dict[str, Any]
    resolved_args: dict[str, Any] | None = None
    status: Literal["ok", "error"]
    observation: str
    value: Any = None
    model_call: ModelCall | None = None
    passages: list[Passage] = Field(default_factory=list)
    duration_s: float
    error: StepError | None = None
    subrun: RunResult | None = None
    """The run of another agent this step delegated to (`Agent.as_tool`), whose answer is the
    step's observation."""


StopReason = Literal[
    "final_answer", "joiner", "max_steps", "max_replans", "time_limit", "max_tokens", "replan_failed", "join_failed"
]


class Spent(_Data):
    """What some model calls cost: how many, their prompt and generated tokens, their seconds."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


class Usage(_Data):
    """What a run used (`RunResult.usage`): model calls in all, by model and by purpose (plan,
    arguments, think, answer, output); tool calls and their seconds; and, given a price table
    (`Agent(prices=...)`), what the tokens cost."""

    model: Spent = Field(default_factory=Spent)
    by_model: dict[str, Spent] = Field(default_factory=dict)
    by_purpose: dict[str, Spent] = Field(default_factory=dict)
    tool_calls: int = 0
    tool_seconds: float = 0.0
    cost: float | None = None
    """In the price table's currency; None without one."""


class RunResult(_Data):
    """Everything a run produced. `Plan.from_spec(result.plan).graph` gives the networkx graph.

    `plan` holds every step of every planning round; `replans` counts the rounds after the first.
    `stopped_by` says what ended the run: an answer (`final_answer` step or the joiner), a budget,
    or a replan or join decision that could not be used (`error` then says why).
    """

    instruction: str
    answer: str
    plan: PlanSpec
    run_id: str = ""
    """The id the run store keeps it under: `Agent.resume(run_id)` / `agentrt resume RUN_ID`."""
    steps: list[StepResult]
    model_calls: list[ModelCall]
    replans: int = 0
    stopped_by: StopReason
    error: str | None = None
    duration_s: float
    trace: list[dict[str, Any]] = Field(default_factory=list)
    """The run's events as trace records (see `agentrt.trace`): what `agentrt run --trace` writes."""
    output: Any = None
    """With `run(..., output_type=T)`, the answer as a validated `T` (see `agentrt.output`); a
    result read back from the store holds it as JSON data."""
    usage: Usage = Field(default_factory=Usage)
    """Tokens, model and tool calls, seconds and cost of the run (see `Usage`)."""

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens over every model call of the run."""
        return sum(c.prompt_tokens for c in self.model_calls)

    @property
    def completion_tokens(self) -> int:
        """Generated tokens over every model call of the run."""
        return sum(c.completion_tokens for c in self.model_calls)


Permission = Literal["allow", "ask", "deny"]


class ToolPolicy(_Data):
    """Whether a tool may be called (`allow`, `ask` a person first, `deny`: the planner never
    sees it), how long it may run, and how often a failed call is retried."""

    permission: Permission = "allow"
    timeout_s: float | None = Field(default=30.0, gt=0)
    retries: int = Field(default=0, ge=0)


StepResult.model_rebuild()  # its `subrun` is a RunResult, defined after it
