"""Locates the data folders shipped with agentrt (`prompts/`, `tools/`), whether installed from a
wheel or editable from a checkout: both are mapped to subpackages in pyproject.toml."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PROMPTS_DIR = Path(str(files("agentrt.prompt_templates")))
TOOLS_DIR = Path(str(files("agentrt.builtin_tools")))
