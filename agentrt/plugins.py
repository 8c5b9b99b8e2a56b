"""Where tools come from: the `agentrt.tools` entry-point group (agentrt's own built-ins are
registered there too, so they load the way a plugin does), tool directories, and tool files.

A plugin that fails to load is reported with its name and error, and the others still load.
An entry point may name a `Tool`, a list of them, a module (its module-level tools), or a
function taking no arguments that returns tools:

    [project.entry-points."agentrt.tools"]
    weather = "my_package.tools:weather"
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from .errors import AgentrtError, ToolDefinitionError
from .registry import Tool, load_tools_file

ENTRY_POINT_GROUP = "agentrt.tools"
TOOLS_DIR_VARIABLE = "AGENTRT_TOOLS_DIR"


@dataclass
class PluginFailure:
    """A tool source that could not be loaded: which, and why."""

    source: str
    error: str


@dataclass
class Discovered:
    """Tools found, in the order found, and the sources that failed."""

    tools: list[Tool] = field(default_factory=list)
    failures: list[PluginFailure] = field(default_factory=list)

    def extend(self, other: Discovered) -> None:
        self.tools += other.tools
        self.failures += other.failures


def installed_tools(builtins: bool = True) -> Discovered:
    """What every agent gets: each installed plugin's tools (agentrt's own built-ins included
    unless `builtins` is False), then those of the `.py` files in `AGENTRT_TOOLS_DIR` (folders
    separated like PATH)."""
    found = entry_point_tools(builtins)
    found.extend(local_tools(directories=[d for d in os.environ.get(TOOLS_DIR_VARIABLE, "").split(os.pathsep) if d]))
    return found


def local_tools(files: Sequence[str | Path] = (), directories: Sequence[str | Path] = ()) -> Discovered:
    """Tools of each `.py` file in `directories`, then of each of `files`. A file named in `files`
    that defines no tool is a failure too: it was named for its tools (a folder may hold helpers)."""
    found = Discovered()
    for directory in directories:
        found.extend(directory_tools(directory))
    for path in files:
        found.extend(_guarded(f"file {path}", lambda path=path: _named_file_tools(Path(path))))
    return found


def _named_file_tools(path: Path) -> list[Tool]:
    tools = load_tools_file(path)
    if not tools:
        raise ToolDefinitionError(
            f"{path} defines no tools: decorate its functions with @tool (from agentrt import tool) at module level"
        )
    return tools


def entry_point_tools(builtins: bool = True) -> Discovered:
    """Tools of every entry point in the `agentrt.tools` group, in name order; agentrt's own only
    with `builtins`."""
    found = Discovered()
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: (p.dist.name if p.dist else "", p.name)):
        if not builtins and point.dist is not None and point.dist.name == "agentrt":
            continue
        found.extend(_guarded(_describe(point), lambda point=point: _tools_of(point.load(), point)))
    return found


def directory_tools(directory: str | Path) -> Discovered:
    """Tools of every `.py` file in `directory` (not those starting with `_`), file by file."""
    folder = Path(directory)
    if not folder.is_dir():
        return Discovered(failures=[PluginFailure(f"directory {folder}", "not a directory")])
    found = Discovered()
    for path in sorted(folder.glob("*.py")):
        if not path.name.startswith("_"):
            found.extend(_guarded(f"file {path}", lambda path=path: load_tools_file(path)))
    return found


def _guarded(source: str, load: Any) -> Discovered:
    try:
        return Discovered(tools=list(load()))
    except Exception as exc:  # a broken plugin is reported; the others still load
        message = str(exc) if isinstance(exc, AgentrtError) else f"{type(exc).__name__}: {exc}"
        return Discovered(failures=[PluginFailure(source, message)])


def _describe(point: EntryPoint) -> str:
    where = f" from {point.dist.name} {point.dist.version}" if point.dist else ""
    return f"entry point {point.name} ({point.value}){where}"


def _tools_of(loaded: Any, point: EntryPoint) -> list[Tool]:
    """The tools an entry point's object stands for, each labelled with where it came from."""
    if isinstance(loaded, types.ModuleType):
        tools = [v for v in vars(loaded).values() if isinstance(v, Tool)]
    elif isinstance(loaded, Tool):
        tools = [loaded]
    elif isinstance(loaded, Iterable):
        tools = list(loaded)
    elif callable(loaded):
        made = loaded()
        tools = [made] if isinstance(made, Tool) else list(made)
    else:
        tools = []
    if not tools or not all(isinstance(t, Tool) for t in tools):
        raise ToolDefinitionError(
            f"{point.value} is not a Tool, a list of tools, a module of tools, or a function returning tools"
        )
    ours = point.dist is not None and point.dist.name == "agentrt"
    for t in tools:
        t.source = "builtin" if ours else f"plugin {point.dist.name if point.dist else point.value}"
    return tools
