"""Instruction scripts: a Markdown file whose YAML front matter holds the settings and whose
numbered (or bulleted) list holds the instructions, run in order. An instruction may use script
parameters and earlier answers as Jinja variables; everything else in the file is commentary.

    ---
    model: null               # the embedded default
    tools: [my_tools.py]      # paths relative to the script
    max_steps: 6
    params:
      city: Oslo              # agentrt run trip.md --param city=Bergen overrides it
    ---
    # A trip

    1. How many hours is the train from {{ city }} to Bergen?
    2. How many minutes is {{ answer1 }} hours?

`answer1`, `answer2`, ... are the answers so far (`answers` is their list). Errors name the file
and line: a YAML mistake, an unknown setting, a variable that is neither a parameter nor an
earlier answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import Field, ValidationError

from .config import AgentConfig
from .errors import ConfigError, TemplateError

_ITEM = re.compile(r"^(?:\d+[.)]|[-*+])\s+(\S.*)$")


class ScriptSettings(AgentConfig):
    """What a script's front matter may set: any `AgentConfig` setting (as `agentrt run`'s
    options), plus `params` with their default values."""

    params: dict[str, str | int | float | bool] = Field(default_factory=dict)


@dataclass
class Instruction:
    """One instruction as written (a Jinja template) and the line it starts on."""

    template: str
    line: int


@dataclass
class Script:
    """A parsed script: its settings (paths made relative to the working directory) and
    instructions."""

    path: Path
    settings: ScriptSettings
    instructions: list[Instruction] = field(default_factory=list)

    def render(self, index: int, params: dict[str, Any], answers: list[str]) -> str:
        """Instruction `index` (0-based) with parameters and the answers so far filled in."""
        instruction = self.instructions[index]
        variables = {**params, "answers": answers, **{f"answer{i}": a for i, a in enumerate(answers, 1)}}
        try:
            text = _JINJA.from_string(instruction.template).render(variables)
        except jinja2.UndefinedError as exc:
            known = ", ".join([*params, *(f"answer{i}" for i in range(1, len(answers) + 1))]) or "none"
            raise TemplateError(f"{self.path}:{instruction.line}: {exc.message}; defined here: {known} "
                                "(give a parameter with --param NAME=VALUE or under params:)") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{self.path}:{instruction.line}: {exc}") from None
        if not text.strip():
            raise ConfigError(f"{self.path}:{instruction.line}: the instruction is empty once filled in")
        return text.strip()


_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def is_script(argument: str) -> bool:
    """Whether `agentrt run ARGUMENT` names a script rather than giving an instruction."""
    return argument.endswith(".md") and Path(argument).is_file()


def load_script(path: str | Path) -> Script:
    """Parse the script at `path`; a ConfigError or TemplateError says what is wrong where."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the script {path}: {exc}") from None
    lines = text.split("\n")
    front, body_start = _front_matter(path, lines)
    settings = _settings(path, front, lines)
    script = Script(path=path, settings=settings.relative_to(path.parent))
    for number, line in enumerate(lines[body_start:], body_start + 1):
        item = _ITEM.match(line)
        if item:
            script.instructions.append(Instruction(item.group(1), number))
        elif script.instructions and line.startswith(("  ", "\t")) and line.strip():
            script.instructions[-1].template += " " + line.strip()  # a continued item
    if not script.instructions:
        raise ConfigError(f"{path} holds no instructions: write each as a numbered list item (`1. ...`)")
    for instruction in script.instructions:
        try:
            _JINJA.parse(instruction.template)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{path}:{instruction.line}: {exc.message}") from None
    return script


def _front_matter(path: Path, lines: list[str]) -> tuple[dict[str, Any], int]:
    """The YAML between a first line `---` and the next `---`, and the line after it (0-based)."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise ConfigError(f"{path}:1: the front matter that starts with --- never ends; close it with ---") from None
    try:
        front = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 2}" if mark else str(path)
        raise ConfigError(f"{where}: the front matter is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(front, dict):
        raise ConfigError(f"{path}:2: the front matter must be `setting: value` lines")
    return front, end + 1


def _settings(path: Path, front: dict[str, Any], lines: list[str]) -> ScriptSettings:
    try:
        return ScriptSettings.model_validate(front)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else ""
        line = next((i for i, text in enumerate(lines, 1) if re.match(rf"\s*{re.escape(key)}\s*:", text)), 2)
        hint = f"; settings: {', '.join(ScriptSettings.model_fields)}" if error["type"] == "extra_forbidden" else ""
        raise ConfigError(f"{path}:{line}: {key}: {error['msg']}{hint}") from None
