"""Agent: the facade users embed. Builds what every run shares (model, tools, planner, executor,
joiner) and starts runs; a run's state is a `Run` (`run.py`), driven to its answer by `loop.py`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import sys
import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar

from .arguments import ArgumentWriter
from .budget import Budget
from .choice_meanings import ChoiceMeanings
from .config import AgentConfig
from .context import RUN_BUDGET, RUN_ID
from .conversation import Conversation, Turn
from .errors import AgentrtError, AgentrtWarning, ConfigError, UnsafeResume
from .events import Answered, ApprovalRequested, Event, RunStarted
from .executor import Executor, failed_result
from .joiner import Joiner
from .knowledge import KnowledgeBase
from .llm import LLM, load_llm
from .loop import Crew, Mode, drive
from .memory import ExperienceMemory
from .output import TypedOutput
from .planner import Planner
from .plugins import installed_tools
from .policy import check_policies, load_policies
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry, tool
from .run import CURRENT_RUN, Approver, Emit, Run, nobody
from .schema import (
    FINAL_ANSWER_TOOL,
    THINK_TOOL,
    Passage,
    RunResult,
    StepSpec,
    ToolPolicy,
)
from .store import RunStore, new_run_id
from .threads import MODEL_THREADS, TOOL_THREADS, off_loop
from .tool_choice import ToolChooser
from .usage import Prices, load_prices
from .workspace import workspace_tools

Unfinished = Literal["raise", "rerun", "fail"]
DELEGATE_TIMEOUT_S = 600.0
"""How long an agent tool's sub-run may take when its agent has no time limit of its own."""
_RUNNING: ContextVar[tuple[Agent, ...]] = ContextVar("agentrt_running_agents", default=())
"""The agents whose runs enclose the code running now, outermost first (`Agent.as_tool`)."""
ApprovalCallback = Callable[[ApprovalRequested], bool | Awaitable[bool]]


def search_knowledge_tool(knowledge: KnowledgeBase, k: int = 3) -> Tool:
    """The built-in `search_knowledge` tool over one knowledge base."""

    @tool(name="search_knowledge", idempotent=True)
    def search_knowledge(query: str) -> list[Passage]:
        """Search the user's documents and return the most relevant passages.

        Args:
            query: what to look for, in a few words
        """
        return knowledge.search(query, k)

    search_knowledge.source = f"builtin (knowledge base {knowledge.location})"
    return search_knowledge


T = TypeVar("T")


def _blocking(awaitable: Awaitable[T]) -> T:
    """`asyncio.run(awaitable)`, its value handed out beside the task rather than as its result.

    subtle: restoring the SIGINT handler, asyncio.run formats its finished main task twice (the
    signal module tries the handler, a partial naming the task, as an enum member, and the failed
    lookup's message holds its repr), and a finished task's repr holds its result's: a whole
    RunResult, about a millisecond of pydantic reprs a run (benchmarks/fanout.py, part 2)."""
    box: list[T] = []

    async def main() -> None:
        box.append(await awaitable)

    asyncio.run(main())
    return box[0]


def _runs_locally(llm: LLM) -> bool:
    """Whether `llm` is the in-process transformers backend (without importing torch to find out:
    a loaded one has imported its module already)."""
    module = sys.modules.get("agentrt.llm.transformers_llm")
    return module is not None and isinstance(llm, module.TransformersLLM)


def check_instruction(instruction: str) -> None:
    """Reject an instruction no agent could act on, before any model is loaded."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise ConfigError(f"The instruction {instruction!r} is empty; say what the agent should do")


class Agent:
    """An agent over one model and a set of tools.

    `model` is a loaded `LLM` (e.g. `agentrt.testing.ScriptedLLM`), a Hugging Face id or local
    path, or None for the embedded default; `adapter` is a PEFT (LoRA) adapter directory to load
    onto a local model. The built-in tools (calculator, final_answer) come too unless
    `builtin_tools=False`; installed plugins' tools always do. `Agent.from_config` builds one from
    an `AgentConfig`, tool files, graphs, MCP servers and documents included.

    `mode="parallel"` (the default) plans all foreseeable steps at once and runs independent ones
    concurrently; `mode="sequential"` asks the model for one step at a time (ReAct-style).
    Budgets: `max_steps` steps in all, `max_replans` planning rounds after the first,
    `time_limit_s` seconds and `max_tokens` model tokens (prompt and generated; a call that could
    pass it is not made) for the whole run. A run that exhausts one still returns an answer.
    `result.usage` says what a run used; with `prices` (per million tokens by model name, a dict
    or TOML file: see `usage.py`) also what it cost.
    `constrained=False` lets the model write plans and decisions without the JSON-schema
    constraint: a baseline for measuring what the constraint is worth, not for use.

    Every run is written to `store` as it goes (a `RunStore`, its SQLite path or its
    postgresql:// URL; by default `AGENTRT_STORE` or the user state directory; ":memory:" keeps
    nothing), so `resume` can finish it after a crash, in this process or any other that opens
    the same store. `tool_policies` (a dict, or a TOML file: see `policy.py`) sets per
    tool whether it may be called (`allow`, `ask`, `deny`), its timeout and retries;
    `approve(request)` answers `ask` (else streamed runs wait for the `ApprovalRequested` event's
    `approve()`/`deny()`, and other runs refuse the call).
    `workspace=DIR` adds `read_file`, `write_file`, `list_files` and a sandboxed `run_python`,
    none of which can reach outside DIR (see `workspace.py`, `sandbox.py`). With `memory` (an
    `ExperienceMemory`, its SQLite path or its postgresql:// URL), runs that went well are
    remembered and the planner is shown the plans of the most similar ones as examples.

    An agent opened from names and paths (the model, `store`, `knowledge`, `memory`) holds them
    open: `close()` or `with Agent(...) as agent:` releases them; objects passed in stay the
    caller's to close.

    `choose_tools` (on by default for a local model, off for a server's): each request of the
    instruction that a tool fits calls the tool that fits it best, each call's arguments are
    written apart, and a request no tool fits is not forced into one (`tool_choice.py`). A small
    local model picks tools badly on its own; a large served one plans better free.
    """

    def __init__(
        self,
        model: LLM | str | None = None,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        knowledge: KnowledgeBase | str | Path | None = None,
        top_k: int = 3,
        mode: Mode = "parallel",
        max_steps: int = 8,
        max_replans: int = 1,
        time_limit_s: float | None = None,
        tool_timeout_s: float | None = 30.0,
        tool_retries: int = 0,
        tool_policies: Mapping[str, ToolPolicy | Mapping[str, Any]] | str | Path | None = None,
        prompts_dir: str | Path | None = None,
        constrained: bool = True,
        store: RunStore | str | Path | None = None,
        approve: ApprovalCallback | None = None,
        workspace: str | Path | None = None,
        memory: ExperienceMemory | str | Path | None = None,
        adapter: str | Path | None = None,
        choose_tools: bool | None = None,
        builtin_tools: bool = True,
        max_tokens: int | None = None,
        prices: Prices | str | Path | None = None,
    ) -> None:
        if max_steps < 1 or max_replans < 0:
            raise ConfigError(f"max_steps={max_steps} must be 1 or more and max_replans={max_replans} 0 or more")
        if max_tokens is not None and max_tokens < 1:
            raise ConfigError(f"max_tokens={max_tokens} must be 1 or more (or None: no token budget)")
        if top_k < 0:
            raise ConfigError(f"top_k={top_k} must be 0 (no passages in prompts) or more")
        if mode not in ("parallel", "sequential"):
            raise ConfigError(f"mode={mode!r}; use 'parallel' or 'sequential'")
        prompts = self._prompts = PromptLibrary(prompts_dir)
        self.knowledge = KnowledgeBase.open(knowledge) if isinstance(knowledge, (str, Path)) else knowledge
        self.top_k = top_k
        self.mode: Mode = mode
        self.max_steps, self.max_replans, self.time_limit_s = max_steps, max_replans, time_limit_s
        self.max_tokens = max_tokens
        if isinstance(model, (str, type(None))):
            self.llm: LLM = load_llm(model, adapter=adapter)
        elif adapter is not None:
            raise ConfigError(f"adapter={str(adapter)!r} needs a model id or path to load it onto, not the loaded "
                              f"{model!r}; pass TransformersLLM(..., adapter=...) instead")
        elif callable(getattr(model, "generate", None)):
            self.llm = model
        else:
            raise ConfigError(
                f"model={model!r} is neither a model id or path nor an object with a batched "
                "generate(requests) method (see agentrt.llm.LLM)"
            )
        self.prices = load_prices(prices, [self.llm.name]) if prices is not None else {}
        tool_policies = (load_policies(tool_policies) if isinstance(tool_policies, (str, Path))
                         else check_policies(tool_policies or {}, where="tool_policies: "))
        extra = [*tools, search_knowledge_tool(self.knowledge)] if self.knowledge else list(tools)
        if workspace is not None:
            extra += workspace_tools(workspace)
        installed = installed_tools(builtins=builtin_tools)
        self.tool_failures = installed.failures
        for failure in installed.failures:
            warnings.warn(f"tool plugin {failure.source} failed to load: {failure.error}", AgentrtWarning,
                          stacklevel=2)
        self.tools = ToolRegistry([*installed.tools, *extra])
        unknown = sorted(set(tool_policies or {}) - set(self.tools.names()))
        if unknown:
            raise ConfigError(f"tool_policies names unknown tools {unknown}; registered: {self.tools.names()}")
        self.store = store if isinstance(store, RunStore) else RunStore(store)
        self.memory = ExperienceMemory(memory) if isinstance(memory, (str, Path)) else memory
        # what this agent opened, and so closes (`close`)
        self._opened: list[Any] = [
            opened for opened, given in ((self.llm, model), (self.knowledge, knowledge), (self.store, store),
                                         (self.memory, memory))
            if opened is not None and opened is not given and callable(getattr(opened, "close", None))]
        self.approve = approve
        self.config: AgentConfig | None = None
        """The config this agent was built from (`from_config`), which `submit` sends to workers."""
        self.executor = Executor(
            self.llm, self.tools, prompts,
            retrieve=self._retrieve if self.knowledge else None,
            default_policy=ToolPolicy(timeout_s=tool_timeout_s, retries=tool_retries),
            policies=tool_policies,
        )
        # the planner never sees a denied tool, so no text can get a plan to call it
        self.plannable = ToolRegistry(t for t in self.tools if self.executor.policy_for(t).permission != "deny")
        chooser = arguments = None
        if choose_tools is None:
            choose_tools = _runs_locally(self.llm)
        if choose_tools:
            from .embeddings import default_embedder

            embedder = default_embedder()
            chooser = ToolChooser([t for t in self.plannable if t.name != FINAL_ANSWER_TOOL], embedder)
            arguments = ArgumentWriter(self.llm, self.plannable, prompts, meanings=ChoiceMeanings(embedder))
        self.planner = Planner(self.llm, self.plannable, prompts, max_steps=max_steps, constrained=constrained,
                               chooser=chooser, arguments=arguments)
        self.joiner = Joiner(self.llm, prompts, constrained=constrained)
        self._crew = Crew(self.planner, self.executor, self.joiner, mode)

    @classmethod
    def from_config(cls, config: AgentConfig, *, llm: LLM | None = None,
                    tools: Iterable[Tool | Callable[..., Any]] = (), knowledge: KnowledgeBase | None = None,
                    approve: ApprovalCallback | None = None) -> Agent:
        """The agent `config` describes, exactly as `agentrt run` builds it (see `assemble.build_agent`)."""
        from .assemble import build_agent

        return build_agent(config, llm=llm, tools=tools, knowledge=knowledge, approve=approve)

    def hold(self, *resources: Any) -> None:
        """Close each of `resources` (anything with a `close()`) when the agent closes."""
        self._opened.extend(resources)

    def close(self) -> None:
        """Release what the agent opened itself (a model it loaded, its run store, a knowledge base
        or experience memory it opened from a path) and what it was given to `hold` (the MCP
        servers and documents of `from_config`). The agent is unusable afterwards."""
        while self._opened:
            self._opened.pop().close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _retrieve(self, query: str) -> list[Passage]:
        """Top-k passages for a prompt; none when no knowledge base is given or top_k is 0."""
        if self.knowledge is None or self.top_k == 0:
            return []
        return self.knowledge.search(query, self.top_k)

    def conversation(self, id: str | None = None, *, history_chars: int = 1500) -> Conversation:
        """A new conversation, or with `id` the stored one to continue: each of its turns
        (`chat.run(...)`) sees the earlier ones, the latest that fit in `history_chars`
        characters of prompt (see `agentrt.conversation`). Raises `ConfigError` for an id the
        run store does not have."""
        if history_chars < 0:
            raise ConfigError(f"history_chars={history_chars} must be 0 (no earlier turns shown) or more")
        if id is None:
            id = new_run_id()
            self.store.start_conversation(id)
            return Conversation(self, id, history_chars=history_chars)
        turns = [Turn.of(result) for result in self.store.turns(id)]
        return Conversation(self, id, turns, history_chars=history_chars)

    def as_tool(self, name: str, description: str, *, max_depth: int = 3) -> Tool:
        """This agent as a tool another agent's planner can call: `name(task)` runs `task` as a
        sub-run of this agent (its own tools, prompts and model: pass the same model object to
        both agents to share it and its batching) and returns its answer.

        The sub-run works within what is left of the calling run's time limit and token budget
        (its tokens count against the caller's), asks the caller's approver for `ask` tools when
        this agent has no `approve` of its own, and is cancelled with the calling step. Its whole
        `RunResult` is kept as the step's `subrun`, which the trace, the viewer, the
        OpenTelemetry export and `result.usage` show nested. A call that would run an agent
        within its own run (an agent that delegates to itself, directly or not), or nest runs
        past `max_depth`, fails its step with an error that says so, before any model call."""
        if max_depth < 1:
            raise ConfigError(f"max_depth={max_depth} must be 1 or more")

        async def delegate(task: str) -> RunResult:
            return await self._delegated(name, task, max_depth)

        delegate.__doc__ = f"""{description}

        Args:
            task: what to do, in plain words, with every value it needs
        """
        return Tool(delegate, name=name, description=description, source=f"agent ({self.llm.name})",
                    timeout_s=self.time_limit_s or DELEGATE_TIMEOUT_S)

    async def _delegated(self, name: str, task: str, max_depth: int) -> RunResult:
        """A sub-run of `task` for the agent tool `name`, under the calling run, if any."""
        caller, running = CURRENT_RUN.get(), _RUNNING.get()
        if self in running:
            raise ConfigError(f"agent tool {name} would run its agent inside its own run: the agent delegates to "
                              "itself, directly or through others; give it other agents' tools only")
        if len(running) > max_depth:
            raise ConfigError(f"agent tool {name} would nest runs {len(running) + 1} deep, past its "
                              f"max_depth={max_depth}; give as_tool a larger max_depth if the nesting is meant")
        approve = caller.approve if caller is not None and self.approve is None else self._approver(None)
        run = self._new_run(task, approve)
        if caller is not None:
            left = caller.budget.time_left()
            if left is not None:
                run.budget.time_limit_s = min(run.budget.time_limit_s or left, left)
            if caller.budget.max_tokens is not None:
                rest = caller.budget.max_tokens - caller.budget.tokens_used
                run.budget.max_tokens = min(run.budget.max_tokens or rest, rest)
        result = await self._run(run)
        if caller is not None:
            caller.budget.tokens_used += result.usage.model.prompt_tokens + result.usage.model.completion_tokens
        return result

    def run(self, instruction: str, *, output_type: Any = None, conversation: Conversation | None = None) -> RunResult:
        """Plan, act and answer `instruction`; blocks until done. With `output_type` (a pydantic
        model, dataclass, TypedDict, Literal, Enum, list or plain type), `result.output` is the
        answer as a validated instance of it (see `agentrt.output`). With `conversation` (from
        `Agent.conversation`), the run is its next turn and sees the turns before it."""
        return _blocking(self.arun(instruction, output_type=output_type, conversation=conversation))

    async def arun(self, instruction: str, *, output_type: Any = None, conversation: Conversation | None = None,
                   run_id: str | None = None) -> RunResult:
        """`run` for callers already inside an event loop. `run_id` is the id to store the run
        under (a queued run's, chosen when it was submitted); by default a new one."""
        return await self._run(self._new_run(instruction, self._approver(None), output_type=output_type,
                                             conversation=conversation, run_id=run_id))

    def submit(self, instruction: str, *, queue: str | None = None) -> str:
        """Queue a run of `instruction` for a worker (`agentrt worker`) to take; its run id, under
        which this agent's run store keeps it once it starts (`store.load(run_id)`). `queue` is
        the PostgreSQL URL of the run queue (default `AGENTRT_QUEUE`); see `agentrt.workers`.
        The worker rebuilds this agent from its config, so it must come from `Agent.from_config`."""
        return self.submit_many([instruction], queue=queue)[0]

    def submit_many(self, instructions: Sequence[str], *, queue: str | None = None) -> list[str]:
        """`submit` for many instructions at once; their run ids, in order."""
        from .workers import RunQueue

        if self.config is None:
            raise ConfigError("This agent was built from Python objects, which a worker cannot rebuild; build it "
                              "with Agent.from_config(AgentConfig(...)), tools given as files, to submit its runs")
        return RunQueue(queue).submit_many(instructions, self.config)

    def resume(self, run_id: str, *, unfinished: Unfinished = "raise") -> RunResult:
        """Finish a stored run from its last finished step (a finished run's result comes back
        as it was). Finished tool calls are never repeated. A step that was running when the run
        stopped runs again if its tool is idempotent (or it is a `think` step); otherwise
        `unfinished` decides: "raise" `UnsafeResume` naming the step, "rerun" it, or "fail" it
        (the planner then sees it failed)."""
        return _blocking(self.aresume(run_id, unfinished=unfinished))

    async def aresume(self, run_id: str, *, unfinished: Unfinished = "raise") -> RunResult:
        """`resume` for callers already inside an event loop."""
        if unfinished not in ("raise", "rerun", "fail"):
            raise ConfigError(f"unfinished={unfinished!r}; use 'raise', 'rerun' or 'fail'")
        saved = self.store.load(run_id)
        if saved.result is not None:
            return saved.result
        failed = []
        for step in saved.interrupted:
            safe = step.tool == THINK_TOOL or self.tools.get(step.tool).idempotent
            if safe or unfinished == "rerun":
                continue  # it has no result, so it runs again
            if unfinished == "raise":
                raise UnsafeResume(
                    f"Step {step.id} of run {saved.id} ({step.tool} with {step.args}) was running when the run "
                    f"stopped, and {step.tool} is not idempotent: it may already have had its effect. Check, "
                    "then resume with unfinished='rerun' to call it again or 'fail' to record it as failed "
                    f"(agentrt resume {saved.id} --rerun | --fail)", saved.id, step.id)
            failed.append(failed_result(step, "interrupted",
                                        f"interrupted; not re-run, since {step.tool} is not idempotent"))
        journal = self.store.reopen(saved.id)
        for result in failed:
            saved.done[result.id] = result
            journal.step_finished(result)
        talk = self.store.conversation_of(saved.id)
        conversation = None if talk is None else Conversation(
            self, talk, [Turn.of(turn) for turn in self.store.turns(talk, before=saved.id)])
        run = Run.from_saved(saved, journal, self._budget(), self._approver(None), self._crew.tool_names(),
                             conversation)
        return await self._run(run)

    def _budget(self) -> Budget:
        """A fresh budget with this agent's limits."""
        return Budget(self.max_steps, self.max_replans, self.time_limit_s, self.max_tokens)

    def _new_run(self, instruction: str, approve: Approver, listener: Emit = nobody, *, output_type: Any = None,
                 conversation: Conversation | None = None, run_id: str | None = None) -> Run:
        """A run of `instruction` from the start (the next turn of `conversation`, if given),
        begun in the store under `run_id` (default: a new id)."""
        check_instruction(instruction)
        if conversation is not None and conversation.agent is not self:
            raise ConfigError(f"Conversation {conversation.id} belongs to another agent; continue it there, or "
                              "with this agent's conversation(id) if both share a run store")
        typed = TypedOutput(output_type, self.llm, self._prompts) if output_type is not None else None
        run_id = run_id or new_run_id()
        journal = self.store.begin(run_id, instruction, conversation.id if conversation else None)
        return Run(run_id, instruction, self._budget(), journal, approve, listener, typed=typed,
                   conversation=conversation, earlier=conversation.shown() if conversation else ())

    def _approver(self, emit: Emit | None) -> Approver:
        """How this run decides `ask` tools: the `approve` callback, else the stream's consumer
        (`emit` given), else no one, which refuses."""

        async def decide(step: StepSpec, arguments: dict[str, Any]) -> tuple[bool, str]:
            request = ApprovalRequested.waiting(step, arguments)
            if self.approve is not None:
                verdict = (await self.approve(request) if inspect.iscoroutinefunction(self.approve)
                           else await off_loop(TOOL_THREADS, self.approve, request))
                return bool(verdict), "the approve callback refused it"
            if emit is None:
                return False, "no one could be asked (give Agent(approve=...) or use Agent.stream)"
            emit(request)
            return await request.decision()

        return decide

    def run_many(self, instructions: Sequence[str], *, concurrency: int = 8) -> list[RunResult | AgentrtError]:
        """Run every instruction, up to `concurrency` at once on this agent's one model; the
        results in order. A run that fails gives its error in its place; the others go on."""
        async def collect() -> list[RunResult | AgentrtError]:
            outcomes = dict([pair async for pair in self.arun_many(instructions, concurrency=concurrency)])
            return [outcomes[index] for index in range(len(instructions))]

        return _blocking(collect())

    async def arun_many(
        self, instructions: Sequence[str], *, concurrency: int = 8
    ) -> AsyncIterator[tuple[int, RunResult | AgentrtError]]:
        """`run_many` as the runs finish: (index into `instructions`, result or error) pairs.

        Runs share the model: their calls that wait while it is busy go to it as one batch (the
        local backend), or are in flight together for a server's continuous batching.
        """
        if concurrency < 1:
            raise ConfigError(f"concurrency={concurrency} must be 1 or more")
        gate = asyncio.Semaphore(concurrency)

        async def one(index: int, instruction: str) -> tuple[int, RunResult | AgentrtError]:
            async with gate:
                try:
                    return index, await self.arun(instruction)
                except AgentrtError as exc:
                    return index, exc

        tasks = [asyncio.create_task(one(i, text)) for i, text in enumerate(instructions)]
        try:
            for finished in asyncio.as_completed(tasks):
                yield await finished
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def astream(self, instruction: str, *, output_type: Any = None,
                      conversation: Conversation | None = None) -> AsyncGenerator[Event, None]:
        """The run's events as they happen; the last is `Answered`, carrying the `RunResult`.
        Leaving the loop early cancels the run, and any model call it has in progress."""
        queue: asyncio.Queue[Event | BaseException] = asyncio.Queue()
        run = self._new_run(instruction, self._approver(queue.put_nowait), queue.put_nowait, output_type=output_type,
                            conversation=conversation)
        task = asyncio.create_task(self._run(run))

        def forward_failure(finished: asyncio.Task[RunResult]) -> None:
            failure = None if finished.cancelled() else finished.exception()
            if failure is not None:
                queue.put_nowait(failure)

        task.add_done_callback(forward_failure)
        try:
            while True:
                event = await queue.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                if isinstance(event, Answered):
                    return
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def stream(self, instruction: str, *, output_type: Any = None,
               conversation: Conversation | None = None) -> Iterator[Event]:
        """`astream` for synchronous callers: a plain iterator over the run's events."""
        loop = asyncio.new_event_loop()
        events = self.astream(instruction, output_type=output_type, conversation=conversation)
        try:
            while True:
                try:
                    yield loop.run_until_complete(events.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(events.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _run(self, run: Run) -> RunResult:
        """Take `run` from where it stands to its answer; every step and round is written to the
        store as it happens."""
        run_token, budget_token, current = RUN_ID.set(run.id), RUN_BUDGET.set(run.budget), CURRENT_RUN.set(run)
        running = _RUNNING.set((*_RUNNING.get(), self))
        try:
            run.emit(RunStarted(run_id=run.id, instruction=run.instruction, resumed=run.resumed))
            if self.knowledge is not None:  # a search may block, so off the loop; no knowledge base, no thread hop
                run.passages = await off_loop(MODEL_THREADS, self._retrieve, run.instruction)
            if self.memory is not None:
                run.experiences = await off_loop(MODEL_THREADS, self.memory.recall, run.instruction)
            end = await drive(run, self._crew)
            output = None
            if run.typed is not None:
                output, calls = await run.typed.write(run.instruction, run.history(), end.answer)
                for call in calls:
                    run.called(call)
        except BaseException as exc:  # recorded, then raised as it was: cancellation included
            run.journal.failed(f"{type(exc).__name__}: {exc}")
            raise
        finally:
            RUN_ID.reset(run_token)
            RUN_BUDGET.reset(budget_token)
            CURRENT_RUN.reset(current)
            _RUNNING.reset(running)
        run.say_answer(end.answer)
        result = run.result(end.answer, end.stopped_by, end.error, output, self.prices)
        if run.conversation is not None:
            run.conversation.remember(result)
        if self.memory is not None:
            await off_loop(MODEL_THREADS, self.memory.remember, result)
        answered = Answered(result=result)
        run.trace(answered)
        result.trace = run.trace.records
        await run.journal.durable(run.journal.finished(result))
        run.listener(answered)
        return result
