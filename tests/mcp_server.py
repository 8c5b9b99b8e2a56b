"""A small real MCP server for tests/test_mcp.py, written with the `mcp` SDK: `python tests/mcp_server.py`.

It speaks MCP over stdio, like the servers users configure, so the tests exercise the protocol,
the process and its pipes rather than a mock.
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima"}

server = MCPServer("test-tools")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def lookup_capital(country: str) -> str:
    """The capital city of a country."""
    if country not in CAPITALS:
        raise ToolError(f"unknown country {country!r}; known: {', '.join(CAPITALS)}")
    return CAPITALS[country]


@server.tool(name="echo-env")
def echo_env(variable: str) -> str:
    """The value of an environment variable of the server process ('' if unset)."""
    return os.environ.get(variable, "")


@server.tool()
def server_pid() -> int:
    """The server's process id, so tests can check that closing ends the process."""
    return os.getpid()


@server.tool()
async def slow_add(a: int, b: int, seconds: float) -> int:
    """Add two integers after waiting `seconds`, so tests can overlap calls."""
    await asyncio.sleep(seconds)
    return a + b


if __name__ == "__main__":
    if "--fail" in sys.argv:  # a server that dies before the handshake, as a misconfigured one does
        sys.exit("mcp_server: cannot start: --fail was given")
    server.run()
