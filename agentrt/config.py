"""AgentConfig: every setting of an agent that can be written down, declared once.

The options of `agentrt run`, `resume` and `run-batch` are made from its fields (`cli.py`), a
script's front matter is one (plus `params`, `script.py`), and `assemble.py` turns one into an
`Agent`, so a setting means the same wherever it is given. Each field's description is its help
text; `flag` names its command-line option where that differs from the field's name, and `path`
marks a setting that names a file or folder (a script's are relative to the script).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from .database import is_postgres_url
from .schema import ToolPolicy
from .usage import Price


def _setting(default: Any, help: str, *, flag: str | None = None, metavar: str | None = None,
             path: bool = False, was: str | None = None) -> Any:
    """A field of AgentConfig: its default, help text and command-line spelling; `was` is the
    name scripts used for it before, still accepted."""
    extra: JsonDict = {"flag": flag, "metavar": metavar, "path": path}
    alias = AliasChoices(was) if was else None
    factory = list if default == [] else None
    if factory:
        return Field(default_factory=factory, description=help, json_schema_extra=extra, validation_alias=alias)
    return Field(default, description=help, json_schema_extra=extra, validation_alias=alias)


class AgentConfig(BaseModel):
    """The agent's model, tools, knowledge, budgets and stores, as plain data.

    `Agent.from_config(config)` builds the agent; `AgentConfig.model_validate(dict)` reads one
    from a file or a script. A setting left out has the default documented beside it.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str | None = _setting(
        None, "Hugging Face id, local path, GGUF file, or OpenAI-compatible server URL[#MODEL] "
              "(default: embedded SmolLM2-135M)")
    adapter: str | None = _setting(None, "a PEFT (LoRA) adapter to load onto the local model", metavar="DIR",
                                   path=True)
    tools: list[str] = _setting([], "Python file defining @tool functions (repeatable)", metavar="FILE.py", path=True)
    tools_dir: list[str] = _setting([], "folder whose .py files define @tool functions (repeatable; also "
                                        "AGENTRT_TOOLS_DIR)", metavar="DIR", path=True)
    graph: list[str] = _setting([], "load (subject, relation, object) facts and give the agent graph tools "
                                    "(repeatable)", metavar="FACTS.csv|jsonl", path=True)
    mcp: list[str] = _setting([], 'start the MCP servers of a {"mcpServers": {...}} file and use their tools '
                                  "(pip install 'agentrt[mcp]'; repeatable)", metavar="SERVERS.json", path=True)
    builtin_tools: bool = _setting(True, "give the agent agentrt's built-in tools (calculator, final_answer)")
    choose_tools: bool | None = _setting(
        None, "call for each request of the instruction the tool that fits it best, then answer, and write each "
              "call's arguments apart (default: on for a local model)")
    knowledge: str | None = _setting(None, "knowledge base to retrieve passages from: a directory or a "
                                           "postgresql:// URL", flag="--kb", metavar="DIR|URL", path=True, was="kb")
    documents: list[str] = _setting([], "files or folders to index into a knowledge base of this agent's own, "
                                        "removed when it closes (repeatable)", metavar="PATH", path=True)
    top_k: int = _setting(3, "passages per prompt from the knowledge base (0: none)")
    mode: Literal["parallel", "sequential"] = _setting(
        "parallel", "plan all steps and run independent ones together (parallel), or one step at a time")
    max_steps: int = _setting(8, "most steps in the whole run")
    max_replans: int = _setting(1, "most planning rounds after the first")
    time_limit_s: float | None = _setting(None, "wall-clock limit for the whole run", flag="--time-limit",
                                          metavar="SECONDS", was="time_limit")
    max_tokens: int | None = _setting(None, "most model tokens, prompt and generated, in the whole run")
    prices: str | dict[str, Price] | None = _setting(
        None, "price per million prompt and generated tokens, by model name: a TOML file of [models.NAME] tables, "
              "or such a table", flag="--prices", metavar="FILE.toml", path=True)
    tool_timeout_s: float | None = _setting(30.0, "seconds a tool call may take, unless its policy says",
                                            flag="--tool-timeout", metavar="SECONDS")
    tool_retries: int = _setting(0, "retries of a failed call of an idempotent tool, unless its policy says")
    tool_policies: str | dict[str, ToolPolicy] | None = _setting(
        None, "tool permissions (allow/ask/deny), timeouts and retries per tool: a TOML file, or a table by tool name",
        flag="--policy", metavar="FILE.toml", path=True, was="policy")
    prompts_dir: str | None = _setting(None, "directory of templates overriding the built-in prompts",
                                       flag="--prompts", metavar="DIR", path=True, was="prompts")
    constrained: bool = _setting(True, "decode plans under their JSON schema (off: the baseline, for measuring)")
    store: str | None = _setting(None, "run store: a SQLite file or a postgresql:// URL (default: AGENTRT_STORE or "
                                       "the user state dir)", metavar="FILE|URL", path=True)
    workspace: str | None = _setting(None, "give the agent file tools and sandboxed Python confined to DIR",
                                     metavar="DIR", path=True)
    memory: str | None = _setting(None, "experience memory: remember plans that went well, show similar ones to "
                                        "the planner (a SQLite file or a postgresql:// URL)", metavar="FILE|URL",
                                  path=True)

    def relative_to(self, folder: Path) -> Self:
        """The settings that name files, which were written relative to `folder`, made usable from
        anywhere (":memory:" and a postgresql:// URL name no file)."""
        update: dict[str, Any] = {}
        for name in AgentConfig.model_fields:  # a subclass's own fields (a script's params) name no files
            value = getattr(self, name)
            if not spelling(name).path or not value or value == ":memory:" or is_postgres_url(str(value)):
                continue
            if isinstance(value, list):
                update[name] = [str(folder / v) for v in value]
            elif isinstance(value, str):  # not a table of tool policies written out
                update[name] = str(folder / value)
        return self.model_copy(update=update)


class Spelling(NamedTuple):
    """How a setting is written outside Python."""

    flag: str
    """Its command-line option."""
    metavar: str | None
    path: bool
    """Whether it names files or folders."""


def spelling(name: str) -> Spelling:
    """How the setting `name` is written outside Python."""
    extra = AgentConfig.model_fields[name].json_schema_extra
    assert isinstance(extra, dict)  # every field is made by _setting
    flag, metavar = extra["flag"] or "--" + name.replace("_", "-"), extra["metavar"]
    return Spelling(str(flag), str(metavar) if metavar else None, bool(extra["path"]))
