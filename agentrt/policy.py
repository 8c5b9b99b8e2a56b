"""Tool policies from a TOML file: per tool, whether it may be called (`allow`, `ask`, `deny`),
its timeout and its retries.

    [tools.run_python]
    permission = "ask"      # a person approves each call
    timeout_s = 20

    [tools.write_file]
    permission = "deny"     # the planner never sees it
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, checked_tables
from .schema import ToolPolicy


def load_policies(path: str | Path) -> dict[str, ToolPolicy]:
    """The `[tools.NAME]` tables of a policy file, checked; a ConfigError says what is wrong where."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Policy file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Policy file {path} cannot be read as UTF-8 text: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Policy file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - {"tools"})
    tools = data.get("tools", {})
    if unknown or not isinstance(tools, dict):
        raise ConfigError(f"Policy file {path}: only [tools.NAME] tables belong here, not {unknown or 'tools'}")
    return check_policies(tools, where=f"Policy file {path}, ")


def check_policies(policies: Mapping[str, ToolPolicy | Mapping[str, Any]], *, where: str = "") -> dict[str, ToolPolicy]:
    """`ToolPolicy` objects from policies or plain tables of their fields; `where` prefixes errors."""
    return checked_tables(ToolPolicy, policies, lambda name, problems: (
        f'{where}[tools.{name}]: {problems} (keys: permission = "allow" | "ask" | "deny", timeout_s, retries)'))
