"""MCP tools: the tools of Model Context Protocol servers, started over stdio, as agentrt tools.

`MCPServer(command, args)` starts one server process, holds one client session to it, and
`tools()` gives the server's tools as `Tool`s with its own descriptions and JSON schemas.
`load_mcp_servers(path)` starts every server of an `{"mcpServers": {...}}` file, the format of
Claude Desktop and Cursor. Tools keep the server's names (made into Python identifiers); give
`prefix=` when two servers, or a server and agentrt, name a tool alike.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import re
import shlex
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .errors import BackendError, ConfigError, RunError, ToolDefinitionError
from .registry import Tool

try:
    import anyio
    from mcp import ClientSession, StdioServerParameters, types
    from mcp.client.stdio import stdio_client
except ImportError as exc:
    raise ConfigError(f"MCP tools need the mcp extra ({exc.name} is not installed): "
                      "pip install 'agentrt[mcp]'") from exc

STDERR_TAIL_BYTES = 2000
"""How much of a server's stderr an error message quotes: enough for a traceback's end."""


class MCPToolError(RunError):
    """An MCP tool reported that its call failed; the message is the server's own text, which the
    agent shows the model as the step's observation."""


class MCPServer:
    """A stdio MCP server process and one client session to it, whose tools are agentrt `Tool`s.

    The session lives on an event loop thread of its own, so its tools can be awaited from any
    event loop or thread (an agent's executor uses several). `env` adds to the few variables the
    SDK passes on (PATH, HOME, ...): the rest of this process's environment is not given to the
    server. `name` defaults to the name the server gives itself. Each tool's `timeout_s` is
    `timeout_s` (None: the agent's default). The server's stderr is kept, and quoted in errors.
    Close it, or use `with`, to end the process; servers still open at exit are closed then.
    """

    def __init__(
        self,
        command: str,
        args: Sequence[str] = (),
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        prefix: str = "",
        timeout_s: float | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.command = [command, *args]
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")
        self._stop = asyncio.Event()
        self._session: ClientSession | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"agentrt-mcp-{Path(command).name}",
                                         daemon=True)
        self._thread.start()
        atexit.register(self.close)
        params = StdioServerParameters(command=command, args=list(args), env=dict(env or {}), cwd=cwd)
        ready: Future[tuple[types.InitializeResult, list[types.Tool]]] = Future()
        self._main = asyncio.run_coroutine_threadsafe(self._serve(params, start_timeout_s, ready), self._loop)
        try:
            info, listed = ready.result()
        except Exception as exc:
            timed_out = isinstance(_leaf(exc), TimeoutError)
            problem = (f"did not finish its handshake within {start_timeout_s:g} s" if timed_out
                       else f"failed to start: {_reason(exc)}") + self._stderr_tail()
            self.close()
            raise ConfigError(f"MCP server `{shlex.join(self.command)}` {problem}") from exc
        self.name = name or info.server_info.name
        self.timeout_s = timeout_s
        try:
            self._tools = _named_tools(self, listed, prefix)
        except ToolDefinitionError:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"MCPServer({self.name!r}, command={shlex.join(self.command)!r})"

    def __enter__(self) -> MCPServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def tools(self) -> list[Tool]:
        """The server's tools, as it listed them when it started."""
        return list(self._tools)

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        """Call the server's tool `name` (its own name, not agentrt's) from any event loop: its
        structured result if it has one (a lone `result` field, as SDK servers wrap a plain
        return value, unwrapped), else its text. A failure the tool reports raises MCPToolError;
        a broken session or a refused request, BackendError."""
        if self._session is None:
            raise BackendError(f"MCP server {self.name!r} was closed; start it again to call {name}")
        call = asyncio.run_coroutine_threadsafe(self._session.call_tool(name, arguments), self._loop)
        try:
            result = await asyncio.wrap_future(call)
        except Exception as exc:  # the connection broke, or the server refused the request
            tail = self._stderr_tail() if self._session else ""
            raise BackendError(f"MCP server {self.name!r} could not run {name}: {_reason(exc)}{tail}") from exc
        if result.is_error:
            raise MCPToolError(_text(result.content) or f"{name} failed and the server gave no message")
        value = result.structured_content
        if isinstance(value, dict) and value.keys() == {"result"}:
            return value["result"]
        return _text(result.content) if value is None else value

    def close(self) -> None:
        """End the session and the server process (closing its stdin, then signals if it stays);
        calls after this raise BackendError. Closing again does nothing."""
        atexit.unregister(self.close)
        if self._loop.is_closed():
            return
        self._session = None
        self._loop.call_soon_threadsafe(self._stop.set)
        try:
            self._main.result(timeout=15)  # the SDK's shutdown waits 2 s, signals, then waits 2 s more
        except BaseException:  # how the session ended is of no use to someone closing it
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._stderr.close()

    async def _serve(self, params: StdioServerParameters, start_timeout_s: float,
                     ready: Future[tuple[types.InitializeResult, list[types.Tool]]]) -> None:
        """Hold the process and session open until `close`; `ready` gets the handshake and the
        tool list, or the exception that prevented them."""
        try:
            async with stdio_client(params, errlog=self._stderr) as streams, ClientSession(*streams) as session:
                # subtle: anyio's own timeout, not a cancel from outside, so that the SDK's shielded
                # shutdown still ends the process
                with anyio.fail_after(start_timeout_s):
                    info = await session.initialize()
                    listed = await _list_tools(session)
                self._session = session
                ready.set_result((info, listed))
                await self._stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def _stderr_tail(self) -> str:
        """The end of the server's stderr, as a paragraph to append to an error message."""
        fd = self._stderr.fileno()
        size = os.fstat(fd).st_size
        # pread leaves the file offset alone: the server writes through it
        tail = os.pread(fd, STDERR_TAIL_BYTES, max(0, size - STDERR_TAIL_BYTES)).decode("utf-8", "replace").strip()
        return f"\n--- the end of the server's stderr ---\n{tail}" if tail else " (it wrote nothing to stderr)"


def load_mcp_servers(
    path: str | Path, *, prefixed: bool = False, timeout_s: float | None = None
) -> list[MCPServer]:
    """Start every server of a JSON file of the form `{"mcpServers": {NAME: {"command": ...,
    "args": [...], "env": {...}, "cwd": ...}}}` (Claude Desktop's and Cursor's; a relative `cwd`
    is relative to the file). With `prefixed`, tool names start with `NAME_`. If one server fails
    to start, those already started are closed."""
    path = Path(path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    entries = config.get("mcpServers") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(f'{path}: expected an object with an "mcpServers" object of servers by name')
    servers: list[MCPServer] = []
    try:
        for name, entry in entries.items():
            servers.append(MCPServer(**_server_options(path, name, entry), name=name,
                                     prefix=f"{name}_" if prefixed else "", timeout_s=timeout_s))
    except BaseException:
        for server in servers:
            server.close()
        raise
    return servers


def _server_options(path: Path, name: str, entry: Any) -> dict[str, Any]:
    """`MCPServer` arguments from one `mcpServers` entry, checked; errors name the file and key."""
    where = f"{path}: mcpServers.{name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object with a command")
    if "url" in entry or entry.get("type", "stdio") != "stdio":
        raise ConfigError(f"{where}: only stdio servers (a command to run) are supported, not URLs")
    unknown = sorted(set(entry) - {"command", "args", "env", "cwd", "type"})
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}; the keys are command, args, env, cwd")
    command, args, env, cwd = entry.get("command"), entry.get("args", []), entry.get("env", {}), entry.get("cwd")
    if not isinstance(command, str) or not command:
        raise ConfigError(f"{where}.command: expected the program to run, as a string")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ConfigError(f"{where}.args: expected a list of strings")
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ConfigError(f"{where}.env: expected an object of string values")
    if cwd is not None and not isinstance(cwd, str):
        raise ConfigError(f"{where}.cwd: expected a directory, as a string")
    return {"command": command, "args": args, "env": env, "cwd": path.parent / cwd if cwd else None}


async def _list_tools(session: ClientSession) -> list[types.Tool]:
    """Every tool the server lists, page after page."""
    listed: list[types.Tool] = []
    cursor: str | None = None
    while True:
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        listed += page.tools
        cursor = page.next_cursor
        if not cursor:
            return listed


def _named_tools(server: MCPServer, listed: list[types.Tool], prefix: str) -> list[Tool]:
    """agentrt tools for the server's tools; two whose names become the same identifier are an error."""
    tools: list[Tool] = []
    originals: dict[str, str] = {}
    for spec in listed:
        name = re.sub(r"\W", "_", prefix + spec.name, flags=re.ASCII)
        name = f"_{name}" if name[:1].isdigit() else name
        if name in originals:
            raise ToolDefinitionError(
                f"MCP server {server.name!r}: tools {originals[name]!r} and {spec.name!r} would both be "
                f"named {name!r}; agentrt tool names are Python identifiers"
            )
        originals[name] = spec.name
        tools.append(_as_tool(server, spec, name))
    return tools


def _as_tool(server: MCPServer, spec: types.Tool, name: str) -> Tool:
    """One server tool as an agentrt `Tool`; idempotent when the server marks it read-only or
    idempotent, so the agent may retry it and re-run it on resume."""

    async def call(**arguments: Any) -> Any:
        return await server.call_tool(spec.name, arguments)

    hints = spec.annotations
    description = (spec.description or "").strip() or spec.title or f"The {spec.name} tool of MCP server {server.name}"
    try:
        return Tool(
            call,
            name=name,
            description=description,
            parameters=spec.input_schema,
            source=f"mcp:{server.name}",
            timeout_s=server.timeout_s,
            idempotent=bool(hints and (hints.read_only_hint or hints.idempotent_hint)),
        )
    except ToolDefinitionError as exc:
        raise ToolDefinitionError(f"MCP server {server.name!r}: {exc}") from exc


def _text(content: Sequence[types.ContentBlock]) -> str:
    """A result's content as text: text blocks and text resources as they are, others named."""
    parts = []
    for block in content:
        text = getattr(block, "text", None)
        if text is None:
            text = getattr(getattr(block, "resource", None), "text", None)
        parts.append(text if isinstance(text, str) else f"[{block.type} content]")
    return "\n".join(parts)


def _leaf(exc: BaseException) -> BaseException:
    """The exception under the anyio task groups' single-exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _reason(exc: BaseException) -> str:
    """What went wrong, as `Type: message`, or for a command that cannot run, why."""
    exc = _leaf(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot run {exc.filename or 'it'}: {exc.strerror}; check the command and PATH"
    return f"{type(exc).__name__}: {exc}"
