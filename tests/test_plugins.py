"""Tool plugins: the `agentrt.tools` entry-point group (the built-ins load through it too), tool
folders and files; a plugin that fails to load is reported and the others still load. The
entry points come from a real distribution made for the test (a .dist-info on PYTHONPATH)."""

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from agentrt.plugins import installed_tools, local_tools

TOOLS_MODULE = '''
from agentrt import tool

@tool(idempotent=True)
def shout(text: str) -> str:
    """Say `text` in capitals.

    Args:
        text: what to say
    """
    return text.upper()

@tool
def whisper(text: str) -> str:
    """Say `text` in small letters.

    Args:
        text: what to say
    """
    return text.lower()

def make_tools():
    @tool
    def count_words(text: str) -> int:
        """How many words `text` has.

        Args:
            text: the text
        """
        return len(text.split())

    return [count_words]
'''


def make_distribution(site: Path) -> None:
    """A distribution `demo-plugin` whose entry points name a module, a tool, a factory and a
    module that does not exist."""
    site.mkdir(parents=True, exist_ok=True)
    (site / "demo_plugin.py").write_text(TOOLS_MODULE)
    info = site / "demo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[agentrt.tools]\nshout = demo_plugin:shout\nmaking = demo_plugin:make_tools\n"
        "missing = demo_plugin_gone:tools\n")


def agentrt(*args: str, site: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(site), **env}
    return subprocess.run([sys.executable, "-m", "agentrt.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=600)


def test_the_builtins_load_through_the_entry_point_group():
    points = {p.name: p for p in entry_points(group="agentrt.tools")}
    assert {"calculator", "final_answer"} <= set(points) and points["calculator"].dist.name == "agentrt"
    found = installed_tools()
    assert {(t.name, t.source) for t in found.tools} >= {("calculator", "builtin"), ("final_answer", "builtin")}


def test_an_installed_plugin_s_tools_are_listed_and_a_broken_one_is_reported(tmp_path):
    make_distribution(tmp_path / "site")
    listed = agentrt("tools", "--json", site=tmp_path / "site")
    assert listed.returncode == 0, listed.stderr
    tools = json.loads(listed.stdout)
    assert tools["shout"]["source"] == "plugin demo-plugin" and tools["count_words"]["source"] == "plugin demo-plugin"
    assert tools["shout"]["parameters"]["properties"]["text"]["description"] == "what to say"
    assert "whisper" not in tools  # the entry point named one tool of the module, not the module
    assert "calculator" in tools
    assert "entry point missing (demo_plugin_gone:tools) from demo-plugin 1.0 failed to load" in listed.stderr
    assert "ModuleNotFoundError" in listed.stderr


def test_tool_folders_and_files_load_file_by_file(tmp_path):
    folder = tmp_path / "tools"
    folder.mkdir()
    (folder / "good.py").write_text(TOOLS_MODULE)
    (folder / "broken.py").write_text("import nowhere_to_be_found\n")
    (folder / "_private.py").write_text("raise SystemExit('never imported')\n")
    found = local_tools(files=[tmp_path / "absent.py"], directories=[folder])
    assert sorted(t.name for t in found.tools) == ["shout", "whisper"]
    assert [f.source for f in found.failures] == [f"file {folder / 'broken.py'}", f"file {tmp_path / 'absent.py'}"]
    assert "line 1: ModuleNotFoundError" in found.failures[0].error and "does not exist" in found.failures[1].error
    listed = agentrt("tools", site=tmp_path, AGENTRT_TOOLS_DIR=str(folder))
    assert "shout  [" in listed.stdout and "broken.py failed to load" in listed.stderr


@pytest.mark.parametrize(("name", "content", "message"), [
    ("passwd", "root:x:0:0:root:/root:/bin/bash\n", "is not a Python file"),
    ("broken.py", "from agentrt import tool\n\nsettings = {}\nraise ValueError('no API key')\n",
     "failed to import at line 4: ValueError: no API key"),
    ("helpers.py", "def helper():\n    return 1\n", "defines no tools"),
], ids=["not-python", "raises", "no-tools"])
def test_a_tool_file_named_on_the_command_line_loads_or_stops_the_run(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    done = agentrt("run", "hi", "--tools", str(path), site=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("agentrt: error: ") and str(path) in done.stderr and message in done.stderr


def test_a_tool_folder_named_on_the_command_line_stops_the_run_on_a_broken_file(tmp_path):
    folder = tmp_path / "tools"
    folder.mkdir()
    (folder / "good.py").write_text(TOOLS_MODULE)
    (folder / "broken.py").write_text("import nowhere_to_be_found\n")
    done = agentrt("run", "hi", "--tools-dir", str(folder), site=tmp_path)
    assert done.returncode == 2 and "broken.py" in done.stderr and "line 1: ModuleNotFoundError" in done.stderr
    missing = agentrt("run", "hi", "--tools-dir", str(tmp_path / "nope"), site=tmp_path)
    assert missing.returncode == 2 and "not a directory" in missing.stderr


@pytest.mark.model
def test_the_default_model_is_offered_a_plugin_s_tool_and_the_run_goes_on(tmp_path):
    make_distribution(tmp_path / "site")
    script = ("import json, warnings\nfrom agentrt import Agent\nwarnings.simplefilter('ignore')\n"
              "r = Agent(store=':memory:').run('Shout the word hello.')\n"
              "print(json.dumps({'prompt': r.model_calls[0].messages[-1].content, "
              "'steps': [[s.tool, s.status, s.observation] for s in r.steps], 'answer': r.answer}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout.splitlines()[-1])
    assert "shout" in run["prompt"] and "count_words" in run["prompt"] and run["answer"]
    for tool_name, status, observation in run["steps"]:
        if tool_name == "shout" and status == "ok":
            assert observation == observation.upper()


def test_agentrt_tools_lists_graph_and_mcp_tools_with_their_sources(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"calc": {"command": sys.executable,
                                                           "args": [str(repo / "tests" / "mcp_server.py")]}}}))
    listed = agentrt("tools", "--json", "--graph", str(repo / "examples" / "facts.csv"), "--mcp", str(config),
                     site=tmp_path)
    assert listed.returncode == 0, listed.stderr
    tools = json.loads(listed.stdout)
    assert tools["add"]["source"] == "mcp:calc" and "a" in tools["add"]["parameters"]["properties"]
    assert tools["graph_lookup"]["source"].startswith("builtin (knowledge graph")
