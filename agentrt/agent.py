"""Agent: the facade users embed. Plans, executes and answers; owns nothing else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .executor import Executor
from .joiner import Joiner
from .knowledge import KnowledgeBase
from .llm import LLM, load_llm
from .plan import Plan
from .planner import Planner
from .prompts import PromptLibrary
from .registry import Tool, ToolRegistry, tool
from .schema import THINK_TOOL, Passage, RunResult


def search_knowledge_tool(knowledge: KnowledgeBase, k: int = 3) -> Tool:
    """The built-in `search_knowledge` tool over one knowledge base."""

    @tool(name="search_knowledge")
    def search_knowledge(query: str) -> list[Passage]:
        """Search the user's documents and return the most relevant passages.

        Args:
            query: what to look for, in a few words
        """
        return knowledge.search(query, k)

    search_knowledge.source = f"builtin (knowledge base {knowledge.path})"
    return search_knowledge


def check_instruction(instruction: str) -> None:
    """Reject an instruction no agent could act on, before any model is loaded."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise ConfigError(f"The instruction {instruction!r} is empty; say what the agent should do")


class Agent:
    """An agent over one model and a set of tools.

    `model` is a loaded `LLM` (e.g. `agentrt.testing.ScriptedLLM`), a Hugging Face id or local
    path, or None for the embedded default. The built-in tools are always registered.
    """

    def __init__(
        self,
        model: LLM | str | None = None,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        knowledge: KnowledgeBase | str | Path | None = None,
        top_k: int = 3,
        max_steps: int = 6,
        prompts_dir: str | Path | None = None,
    ) -> None:
        if not 1 <= max_steps <= 9:
            raise ConfigError(f"max_steps={max_steps} is out of range; use 1..9 steps per plan")
        if top_k < 0:
            raise ConfigError(f"top_k={top_k} must be 0 (no passages in prompts) or more")
        prompts = PromptLibrary(prompts_dir)
        self.knowledge = KnowledgeBase.open(knowledge) if isinstance(knowledge, (str, Path)) else knowledge
        self.top_k = top_k
        self.llm: LLM = model if isinstance(model, LLM) else load_llm(model)
        extra = [*tools, search_knowledge_tool(self.knowledge)] if self.knowledge else list(tools)
        self.tools = ToolRegistry.with_builtins(extra)
        self.max_steps = max_steps
        self.planner = Planner(self.llm, self.tools, prompts, max_steps=max_steps)
        self.executor = Executor(self.llm, self.tools, prompts, retrieve=self._retrieve if self.knowledge else None)
        self.joiner = Joiner(self.llm, prompts)

    def _retrieve(self, query: str) -> list[Passage]:
        """Top-k passages for a prompt; none when no knowledge base is given or top_k is 0."""
        if self.knowledge is None or self.top_k == 0:
            return []
        return self.knowledge.search(query, self.top_k)

    def run(self, instruction: str) -> RunResult:
        """Plan, act and answer `instruction`; blocks until done."""
        return asyncio.run(self.arun(instruction))

    async def arun(self, instruction: str) -> RunResult:
        """`run` for callers already inside an event loop."""
        check_instruction(instruction)
        start = time.perf_counter()
        spec, plan_call = self.planner.plan(instruction, self._retrieve(instruction))
        plan = Plan.from_spec(spec, tool_names=[*self.tools.names(), THINK_TOOL])
        results = await self.executor.run(plan, instruction, self.max_steps)
        answer, answer_call = self.joiner.answer(instruction, results)
        stopped_by = "final_answer" if answer_call is None else (
            "max_steps" if len(plan) > len(results) and len(results) == self.max_steps else "answer_model"
        )
        return RunResult(
            instruction=instruction,
            answer=answer,
            plan=spec,
            steps=results,
            model_calls=[plan_call, *(r.model_call for r in results if r.model_call), *filter(None, [answer_call])],
            stopped_by=stopped_by,
            duration_s=time.perf_counter() - start,
        )
