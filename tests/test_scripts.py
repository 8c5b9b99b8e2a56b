"""Instruction scripts: Markdown with YAML front matter, run instruction by instruction; errors
name the file and line. The example scripts run on the default model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agentrt import ConfigError, TemplateError
from agentrt.script import load_script

EXAMPLES = sorted((Path(__file__).parent.parent / "examples" / "scripts").glob("*.md"))

SCRIPT = """---
max_steps: 5
tools: [my_tools.py]
params:
  city: Oslo
---
# Commentary is ignored

Some prose.

1. How far is {{ city }}
   from Bergen?
2. Halve {{ answer1 }}.
- And {{ answers | length }} answers so far.
"""


def write(tmp_path, text, name="script.md"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_script_holds_settings_params_and_instructions_with_their_lines(tmp_path):
    script = load_script(write(tmp_path, SCRIPT))
    assert script.settings.max_steps == 5 and script.settings.params == {"city": "Oslo"}
    assert script.settings.tools == [str(tmp_path / "my_tools.py")]  # relative to the script
    assert [(i.template, i.line) for i in script.instructions] == [
        ("How far is {{ city }} from Bergen?", 11), ("Halve {{ answer1 }}.", 13),
        ("And {{ answers | length }} answers so far.", 14)]
    assert script.render(0, {"city": "Bergen"}, []) == "How far is Bergen from Bergen?"
    assert script.render(2, {}, ["a", "b"]) == "And 2 answers so far."


@pytest.mark.parametrize(("text", "error", "message"), [
    ("---\nmax_steps: [1\n---\n1. hi\n", ConfigError, r"script.md:2: the front matter is not valid YAML"),
    ("---\nmax_step: 3\n---\n1. hi\n", ConfigError, r"script.md:2: max_step: Extra inputs.*settings: model"),
    ("---\nmax_steps: many\n---\n1. hi\n", ConfigError, r"script.md:2: max_steps: Input should be a valid integer"),
    ("---\nmax_steps: 3\n1. hi\n", ConfigError, r"script.md:1: the front matter .* never ends"),
    ("# Only a title\n", ConfigError, r"holds no instructions: write each as a numbered list item"),
    ("1. Use {{ city\n", TemplateError, r"script.md:1: unexpected end of template"),
])
def test_a_bad_script_is_refused_naming_file_and_line(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        load_script(write(tmp_path, text))


def test_a_variable_that_is_not_defined_yet_names_the_line_and_what_is(tmp_path):
    script = load_script(write(tmp_path, "1. Start.\n\n2. Use {{ answer2 }} and {{ city }}.\n"))
    with pytest.raises(TemplateError, match=r"script.md:3: 'answer2' is undefined; defined here: city, answer1"):
        script.render(1, {"city": "Oslo"}, ["first"])


def test_bad_params_on_the_command_line_are_refused(tmp_path):
    done = subprocess.run([sys.executable, "-m", "agentrt.cli", "run", str(EXAMPLES[0]), "--param", "city"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "--param 'city': write NAME=VALUE" in done.stderr


@pytest.mark.model
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_scripts_run_on_the_default_model(example, tmp_path):
    done = subprocess.run([sys.executable, "-m", "agentrt.cli", "run", str(example), "--store",
                           str(tmp_path / "runs.sqlite")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    count = len(load_script(example).instructions)
    lines = done.stdout.splitlines()
    assert [line.split("]")[0] for line in lines if line.startswith("[")] == [f"[{i}/{count}" for i in range(1, count + 1)]
    assert sum(line.startswith("Answer: ") for line in lines) == count


@pytest.mark.model
def test_params_from_the_command_line_fill_the_instructions_and_json_lists_every_run(tmp_path):
    example = next(e for e in EXAMPLES if e.name == "arithmetic.md")
    done = subprocess.run([sys.executable, "-m", "agentrt.cli", "run", str(example), "--param", "price=20", "--json",
                           "--store", str(tmp_path / "runs.sqlite")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    assert [r["instruction"].split(" times ")[0] for r in runs[:1]] == ["What is 20"]
    assert len(runs) == 3 and runs[1]["instruction"] == f"What is {runs[0]['answer']} plus 4?"
