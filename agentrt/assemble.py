"""From a configuration to an agent, and from a script to its answers: the one place where tool
files and folders, fact graphs, MCP servers and documents to index become an `Agent`'s parts, so
that Python callers get exactly what `agentrt run` gets.

What it opens for the agent (MCP servers, a knowledge base of the config's documents, the folder
that holds it) the agent closes with itself (`Agent.close`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import AgentConfig
from .errors import ConfigError, ToolDefinitionError
from .plugins import local_tools
from .registry import Tool
from .script import load_script

if TYPE_CHECKING:
    from .agent import Agent, ApprovalCallback
    from .knowledge import KnowledgeBase
    from .llm import LLM
    from .schema import RunResult


def build_agent(config: AgentConfig, *, llm: LLM | None = None, tools: Iterable[Tool | Callable[..., Any]] = (),
                knowledge: KnowledgeBase | None = None, approve: ApprovalCallback | None = None) -> Agent:
    """The agent `config` describes. `llm`, a loaded model, stands in for `config.model`, and
    `knowledge`, an open knowledge base, for `config.knowledge`; `tools` are added to those the
    config names; `approve` answers `ask` tools."""
    from .agent import Agent

    with contextlib.ExitStack() as held:  # closed here if building fails, else with the agent
        extra = config_tools(config, held)
        if config.documents:
            knowledge = _documents_knowledge(config, held)
        agent = Agent(
            model=llm if llm is not None else config.model, tools=[*tools, *extra],
            knowledge=knowledge if knowledge is not None else config.knowledge,
            approve=approve, **config.model_dump(exclude={"model", "tools", "tools_dir", "graph", "mcp", "knowledge",
                                                          "documents"}),
        )
        agent.hold(held.pop_all())
    agent.config = config
    return agent


def run_script(path: str | Path, params: Mapping[str, Any] | None = None, *,
               config: Mapping[str, Any] | None = None, llm: LLM | None = None) -> list[RunResult]:
    """Run the instructions of the script at `path` in order, on the agent its front matter
    describes; the results in order. `params` override the script's own; `config` overrides its
    settings (as `agentrt run script.md --max-steps 4` does); `llm` stands in for its model."""
    script = load_script(path)
    settings = {**script.settings.model_dump(exclude_unset=True, exclude={"params"}), **(config or {})}
    values = {**script.settings.params, **(params or {})}
    results: list[RunResult] = []
    with build_agent(AgentConfig.model_validate(settings), llm=llm) as agent:
        for index in range(len(script.instructions)):
            results.append(agent.run(script.render(index, values, [r.answer for r in results])))
    return results


def config_tools(config: AgentConfig, held: contextlib.ExitStack) -> list[Tool]:
    """The tools of the config's tool files and folders, graph tools over its fact files, and
    the tools of its MCP servers, whose closing goes to `held`. The user named these files, so
    unlike a plugin found on the way, one that fails to load is an error saying what is wrong."""
    found = local_tools(config.tools, config.tools_dir)
    if found.failures:
        raise ToolDefinitionError("\n".join(f"tool {f.source} failed to load: {f.error}" for f in found.failures))
    return [*found.tools, *_graph_tools(config.graph), *_mcp_tools(config.mcp, held)]


def _graph_tools(paths: list[str]) -> list[Tool]:
    """The graph tools over the facts of the `paths`, if any."""
    if not paths:
        return []
    from .graph import KnowledgeGraph, graph_tools

    graph = KnowledgeGraph()
    for path in paths:
        graph.load(path)
    return graph_tools(graph)


def _mcp_tools(configs: list[str], held: contextlib.ExitStack) -> list[Tool]:
    """The tools of every server of the MCP config files, whose closing goes to `held`."""
    tools: list[Tool] = []
    for config in configs:
        from .mcp import load_mcp_servers

        for server in load_mcp_servers(config):
            held.callback(server.close)
            tools += server.tools()
    return tools


def _documents_knowledge(config: AgentConfig, held: contextlib.ExitStack) -> KnowledgeBase:
    """A knowledge base of the config's documents, in a folder of its own; both go with `held`."""
    if config.knowledge is not None:
        raise ConfigError(f"documents and knowledge={config.knowledge!r} are both given; index the documents into "
                          f"that knowledge base (agentrt index ... --kb {config.knowledge}) or drop one of them")
    from .knowledge import KnowledgeBase

    folder = held.enter_context(tempfile.TemporaryDirectory(prefix="agentrt-documents-"))
    knowledge = KnowledgeBase.create(folder)
    held.callback(knowledge.close)
    knowledge.add(*map(Path, config.documents))
    knowledge.save()
    return knowledge
