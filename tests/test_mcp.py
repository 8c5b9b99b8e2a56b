"""MCP tools against a real MCP server process: tests/mcp_server.py, written with the `mcp` SDK and
started over stdio as users' servers are."""

import asyncio
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from agentrt import Agent
from agentrt.errors import BackendError, ConfigError, InvalidArguments
from agentrt.mcp import MCPServer, MCPToolError, load_mcp_servers
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan

SERVER = str(Path(__file__).with_name("mcp_server.py"))
TOOLS = {"add", "lookup_capital", "echo_env", "server_pid", "slow_add"}


@pytest.fixture(scope="module")
def server():
    with MCPServer(sys.executable, [SERVER], env={"AGENTRT_MCP_GREETING": "hello from the test"}) as started:
        yield started


def by_name(server: MCPServer) -> dict:
    return {t.name: t for t in server.tools()}


def test_tools_arrive_with_the_servers_names_descriptions_and_schemas(server):
    tools = by_name(server)
    assert set(tools) == TOOLS  # the server's "echo-env" is made an identifier
    assert server.name == "test-tools"
    assert {t.source for t in tools.values()} == {"mcp:test-tools"}
    assert tools["add"].description == "Add two integers."
    schema = tools["add"].json_schema()
    assert schema["required"] == ["a", "b"]
    assert {name: p["type"] for name, p in schema["properties"].items()} == {"a": "integer", "b": "integer"}
    assert tools["add"].is_async


def test_calls_reach_the_server_and_return_typed_results(server):
    tools = by_name(server)
    assert asyncio.run(tools["add"].acall({"a": 17, "b": 25})) == 42
    assert asyncio.run(tools["lookup_capital"].acall({"country": "Japan"})) == "Tokyo"
    assert asyncio.run(tools["echo_env"].invoke({"variable": "AGENTRT_MCP_GREETING"})) == "hello from the test"


def test_arguments_are_checked_against_the_servers_schema_before_the_call(server):
    with pytest.raises(InvalidArguments, match="'x' is not of type 'integer'"):
        asyncio.run(by_name(server)["add"].acall({"a": "x", "b": 1}))


def test_an_error_the_tool_reports_is_raised_with_the_servers_text(server):
    with pytest.raises(MCPToolError, match="unknown country 'Atlantis'; known: France"):
        asyncio.run(by_name(server)["lookup_capital"].acall({"country": "Atlantis"}))


def test_one_session_serves_concurrent_calls_from_any_loop_and_thread(server):
    slow_add = by_name(server)["slow_add"]

    async def four_at_once():
        return await asyncio.gather(*(slow_add.acall({"a": i, "b": 1, "seconds": 1.0}) for i in range(4)))

    from_thread = []
    worker = threading.Thread(target=lambda: from_thread.append(asyncio.run(four_at_once())))
    start = time.perf_counter()
    worker.start()
    assert asyncio.run(four_at_once()) == [1, 2, 3, 4]
    worker.join()
    assert from_thread == [[1, 2, 3, 4]]
    assert time.perf_counter() - start < 3.0  # eight one-second calls overlapped


def test_an_agent_runs_a_parallel_plan_of_mcp_tools_and_sees_their_errors(server):
    llm = ScriptedLLM([
        plan(
            ("slow_add", {"a": 17, "b": 25, "seconds": 1.0}),
            ("slow_add", {"a": 1, "b": 2, "seconds": 1.0}),
            ("lookup_capital", {"country": "Atlantis"}),
            ("add", {"a": "$1", "b": "$2"}),
        ),
        answer("45"),
    ])
    result = Agent(model=llm, tools=server.tools(), store=":memory:").run("Add things; find Atlantis.")
    assert [s.status for s in result.steps] == ["ok", "ok", "error", "ok"]
    assert [s.value for s in result.steps[:2]] == [42, 3]
    assert result.steps[3].value == 45  # typed results pass from one MCP step to the next
    assert "lookup_capital failed: MCPToolError: Error executing tool lookup_capital: unknown country 'Atlantis'" \
        in result.steps[2].observation
    assert result.steps[0].duration_s + result.steps[1].duration_s > 1.9
    assert result.duration_s < 1.9  # the two one-second calls ran at once on the one session
    assert result.answer == "45"
    assert "slow_add(a: integer, b: integer, seconds: number)" in llm.prompts()[0]


def test_the_executor_times_out_a_slow_mcp_call_and_the_session_goes_on(server):
    tools = by_name(server)
    llm = ScriptedLLM([plan(("slow_add", {"a": 1, "b": 1, "seconds": 30}), ("add", {"a": 1, "b": 1})),
                       answer("done")])
    result = Agent(model=llm, tools=tools.values(), store=":memory:", tool_timeout_s=0.5).run("Add slowly.")
    assert "slow_add timed out after 0.5 s" in result.steps[0].observation
    assert result.steps[1].value == 2
    assert asyncio.run(tools["add"].acall({"a": 2, "b": 2})) == 4


def test_closing_ends_the_server_process_and_later_calls_say_so():
    server = MCPServer(sys.executable, [SERVER])
    tools = by_name(server)
    pid = asyncio.run(tools["server_pid"].acall({}))
    server.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(BackendError, match="'test-tools' was closed"):
        asyncio.run(tools["add"].acall({"a": 1, "b": 1}))
    server.close()  # a second close does nothing


def test_a_server_that_dies_makes_calls_fail_with_a_backend_error_naming_it():
    with MCPServer(sys.executable, [SERVER]) as server:
        tools = by_name(server)
        os.kill(asyncio.run(tools["server_pid"].acall({})), signal.SIGKILL)
        with pytest.raises(BackendError, match="server 'test-tools' could not run add: MCPError: Connection closed"):
            asyncio.run(tools["add"].acall({"a": 1, "b": 1}))


def test_a_server_that_fails_to_start_is_a_config_error_with_its_stderr():
    with pytest.raises(ConfigError, match=r"(?s)mcp_server.py --fail` .*cannot start: --fail was given"):
        MCPServer(sys.executable, [SERVER, "--fail"])
    with pytest.raises(ConfigError, match="cannot run /no/such/server: No such file or directory"):
        MCPServer("/no/such/server")


def test_a_server_that_never_answers_is_a_config_error_after_the_start_timeout():
    with pytest.raises(ConfigError, match="did not finish its handshake within 1 s"):
        MCPServer(sys.executable, ["-c", "import time; time.sleep(60)"], start_timeout_s=1)


def test_a_prefix_keeps_two_servers_tools_apart(server):
    with MCPServer(sys.executable, [SERVER], prefix="other.") as other:
        assert {t.name for t in other.tools()} == {f"other_{name}" for name in TOOLS}
        agent = Agent(model=ScriptedLLM(), tools=[*server.tools(), *other.tools()], store=":memory:")
        assert {"add", "other_add"} <= set(agent.tools.names())
        assert asyncio.run(agent.tools.get("other_add").acall({"a": 1, "b": 2})) == 3


def test_a_config_file_starts_each_server_with_its_env_only(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTRT_MCP_SECRET", "not for servers")
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"calc": {
        "command": sys.executable, "args": [SERVER], "env": {"AGENTRT_MCP_GREETING": "hi"}, "cwd": "."}}}))
    [calc] = load_mcp_servers(config, prefixed=True, timeout_s=5)
    with calc:
        tools = by_name(calc)
        assert calc.name == "calc" and set(tools) == {f"calc_{name}" for name in TOOLS}
        assert tools["calc_add"].timeout_s == 5 and tools["calc_add"].source == "mcp:calc"
        echo = tools["calc_echo_env"]
        assert asyncio.run(echo.acall({"variable": "AGENTRT_MCP_GREETING"})) == "hi"
        assert asyncio.run(echo.acall({"variable": "AGENTRT_MCP_SECRET"})) == ""


@pytest.mark.parametrize("config, problem", [
    ("{", "not valid JSON"),
    ({"servers": {}}, 'an "mcpServers" object'),
    ({"mcpServers": {"web": {"url": "http://localhost:1/mcp"}}}, "mcpServers.web: only stdio servers"),
    ({"mcpServers": {"calc": {"command": "x", "arg": ["y"]}}}, r"mcpServers.calc: unknown keys \['arg'\]"),
    ({"mcpServers": {"calc": {"command": "x", "args": "y"}}}, "mcpServers.calc.args: expected a list of strings"),
    ({"mcpServers": {"calc": {"command": "x", "env": {"N": 1}}}}, "mcpServers.calc.env: expected an object"),
    ({"mcpServers": {"calc": {"args": []}}}, "mcpServers.calc.command: expected the program to run"),
])
def test_config_file_errors_name_the_file_and_key(tmp_path, config, problem):
    path = tmp_path / "mcp.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    with pytest.raises(ConfigError, match=f"{path}: .*{problem}"):
        load_mcp_servers(path)


def test_when_one_configured_server_fails_the_others_are_closed(tmp_path):
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {
        "good": {"command": sys.executable, "args": [SERVER]},
        "bad": {"command": sys.executable, "args": [SERVER, "--fail"]},
    }}))
    before = {t for t in threading.enumerate() if t.name.startswith("agentrt-mcp")}
    with pytest.raises(ConfigError, match="--fail was given"):
        load_mcp_servers(config)
    assert {t for t in threading.enumerate() if t.name.startswith("agentrt-mcp")} == before


@pytest.mark.model
def test_the_default_model_plans_with_mcp_tools_against_the_real_server(server, default_llm):
    # without the built-in calculator the model has reason to pick `add`, but the test does not
    # depend on it: it checks what the planner was offered, and that what it chose really ran
    agent = Agent(model=default_llm, tools=server.tools(), store=":memory:",
                  tool_policies={"calculator": {"permission": "deny"}})
    result = agent.run("Add 17 and 25.")
    planner_prompt = "\n".join(m.content for m in result.model_calls[0].messages)
    assert "add(a: integer, b: integer): Add two integers." in planner_prompt
    assert "lookup_capital(country: string)" in planner_prompt
    assert result.stopped_by in ("final_answer", "joiner")
    for step in result.steps:
        if step.tool == "add" and step.status == "ok":  # the sum came from the server
            assert step.value == step.resolved_args["a"] + step.resolved_args["b"]
            if sorted(step.resolved_args.values()) == [17, 25]:
                assert step.observation == "42"
        elif step.tool in TOOLS:
            assert "MCP server 'test-tools'" not in step.observation  # no broken session
