"""One configuration: AgentConfig declares every setting once; the command line, scripts and
Python (`Agent.from_config`, `run_script`) all read it and build the same agent."""

from __future__ import annotations

import glob
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentrt import Agent, AgentConfig, run_script
from agentrt.cli import _parser
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan

TOOLS = '''
from agentrt import tool

@tool
def population(city: str) -> int:
    """Population of a city."""
    return {"Oslo": 709000, "Bergen": 291000}[city]
'''

SCRIPT = """---
tools: [tools.py]
documents: [docs]
max_steps: 3
store: ":memory:"
params:
  city: Oslo
---
1. How many people live in {{ city }}?
2. Is {{ answer1 }} many?
"""


@pytest.fixture
def script(tmp_path):
    (tmp_path / "tools.py").write_text(TOOLS)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "oslo.md").write_text("# Oslo\n\nOslo is the capital of Norway.")
    path = tmp_path / "trip.md"
    path.write_text(SCRIPT)
    return path


def test_every_setting_is_an_option_of_run_resume_and_run_batch():
    parser = _parser()
    for command in ("run", "resume", "run-batch"):
        sub = parser._subparsers._group_actions[0].choices[command]
        dests = {action.dest for action in sub._actions}
        assert set(AgentConfig.model_fields) <= dests, command


def test_command_line_options_become_the_config_and_override_the_scripts():
    from agentrt.cli import _config

    args = _parser().parse_args(["run", "x", "--kb", "kb/", "--time-limit", "5", "--no-choose-tools",
                                 "--tools", "a.py", "--tools", "b.py"])
    config = _config(args, under={"max_steps": 3, "time_limit_s": 60})
    assert (config.knowledge, config.time_limit_s, config.choose_tools) == ("kb/", 5.0, False)
    assert config.tools == ["a.py", "b.py"] and config.max_steps == 3  # the script's, not given on the line
    assert _config(_parser().parse_args(["run", "x"])) == AgentConfig()


def test_scripts_may_still_use_the_option_names_kb_time_limit_policy_and_prompts():
    config = AgentConfig.model_validate({"kb": "kb/", "time_limit": 9, "policy": "p.toml", "prompts": "tpl/"})
    assert (config.knowledge, config.time_limit_s, config.tool_policies, config.prompts_dir) == (
        "kb/", 9, "p.toml", "tpl/")


def test_an_unknown_setting_is_refused_by_name():
    with pytest.raises(ValidationError, match="max_step"):
        AgentConfig.model_validate({"max_step": 3})


def test_a_config_builds_the_agent_the_command_line_would_with_its_tool_files(tmp_path):
    (tmp_path / "tools.py").write_text(TOOLS)
    config = AgentConfig(tools=[str(tmp_path / "tools.py")], max_steps=3, builtin_tools=False, store=":memory:")
    with Agent.from_config(config, llm=ScriptedLLM([plan(("population", {"city": "Bergen"})), answer("291000")])) \
            as agent:
        assert agent.tools.names() == ["population"]  # no calculator, no final_answer
        result = agent.run("How many people live in Bergen?")
    assert result.steps[0].value == 291000 and agent.max_steps == 3


def test_run_script_runs_a_script_from_python_and_removes_its_documents_knowledge_base(script):
    before = set(glob.glob(str(Path(tempfile.gettempdir()) / "agentrt-documents-*")))
    llm = ScriptedLLM([plan(("population", {"city": "Bergen"})), answer("291000"),
                       plan(("think", {"question": "Is 291000 many?"})), "Yes.", answer("Yes.")])
    results = run_script(script, {"city": "Bergen"}, llm=llm)
    assert [r.instruction for r in results] == ["How many people live in Bergen?", "Is 291000 many?"]
    assert results[0].steps[0].value == 291000
    assert "Oslo is the capital" in llm.prompts()[0]  # the documents were indexed and retrieved
    assert set(glob.glob(str(Path(tempfile.gettempdir()) / "agentrt-documents-*"))) == before


def test_run_script_takes_overrides_of_the_scripts_settings(script):
    llm = ScriptedLLM([plan(("population", {"city": "Oslo"})), answer("709000")])
    with pytest.raises(ValidationError, match="max_steps"):
        run_script(script, config={"max_steps": "many"}, llm=llm)


@pytest.mark.model
def test_run_script_on_the_default_model_answers_each_instruction_with_the_scripts_tool(script, tmp_path):
    results = run_script(script, {"city": "Oslo"}, config={"store": str(tmp_path / "runs.sqlite")})
    assert len(results) == 2 and all(r.answer.strip() for r in results)
    assert [s.tool for s in results[0].steps if s.status == "ok"][:1] == ["population"]
    assert "709000" in results[0].answer
    assert results[1].instruction == f"Is {results[0].answer} many?"


def test_agentrt_tools_lists_a_tool_file_and_can_leave_the_built_ins_out(tmp_path):
    (tmp_path / "tools.py").write_text(TOOLS)
    done = subprocess.run([sys.executable, "-m", "agentrt.cli", "tools", "--tools", str(tmp_path / "tools.py"),
                           "--no-builtin-tools"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("population") and "calculator" not in done.stdout


def test_output_cut_short_by_its_reader_ends_the_command_quietly():
    """`agentrt tools | head -1`: no traceback when the reader closes the pipe early."""
    script = ("import agentrt.cli as cli\n"
              "def closed(args): raise BrokenPipeError(32, 'Broken pipe')\n"
              "cli._tools = closed\n"
              "raise SystemExit(cli.main(['tools']))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 141 and done.stderr == ""
