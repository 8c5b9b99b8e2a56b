"""Jinja prompt templates: the built-ins in `agentrt/prompt_templates/`, overridable from a user directory.

Rendering is strict: a variable the template uses but the caller did not pass is a `TemplateError`
naming the template and the variable, never an empty string.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from .errors import TemplateError
from .resources import PROMPTS_DIR


class PromptLibrary:
    """Loads `NAME.j2` templates, first from `override_dir` (if given), then from the built-ins."""

    def __init__(self, override_dir: str | Path | None = None) -> None:
        search = [PROMPTS_DIR]
        if override_dir is not None:
            override = Path(override_dir)
            if not override.is_dir():
                raise TemplateError(f"Prompt override directory {str(override)!r} does not exist")
            search.insert(0, override)
        self._loader = jinja2.FileSystemLoader([str(p) for p in search])
        self._env = jinja2.Environment(
            loader=self._loader,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # templates are read once per library, not stat-ed per render
        )
        # `tojson` escapes <, >, & and ' for HTML; a prompt wants the JSON as it is
        self._env.filters["json"] = functools.partial(json.dumps, ensure_ascii=False)

    def variables(self, name: str) -> set[str]:
        """The variables template `name` reads, and those of the templates it includes, found by
        parsing them."""
        source, _, _ = self._loader.get_source(self._env, f"{name}.j2")
        parsed = self._env.parse(source)
        included = {Path(n).stem for n in jinja2.meta.find_referenced_templates(parsed) if n}
        return jinja2.meta.find_undeclared_variables(parsed).union(*(self.variables(n) for n in included))

    def render(self, name: str, **variables: Any) -> str:
        """Render template `name` (without `.j2`) with `variables`."""
        try:
            template = self._env.get_template(f"{name}.j2")
        except jinja2.TemplateNotFound:
            raise TemplateError(f"No prompt template {name!r}.j2 in {self._loader.searchpath}") from None
        try:
            return template.render(**variables).strip()
        except jinja2.UndefinedError as exc:
            missing = sorted(self.variables(name) - variables.keys())
            raise TemplateError(
                f"Template {name!r} needs variable(s) {missing or exc.message}; "
                f"pass them to render() or remove them from {template.filename}"
            ) from exc
