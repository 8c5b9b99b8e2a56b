"""Exceptions agentrt raises. Three kinds, told apart by what the user should do next.

- `UserError`: the developer misused the API or gave bad input (config, tool, plan, template); fix the input.
- `RunError`: something failed while running (a model produced unusable output); inspect the attached data.
- `RetryTool`: raised *by a tool* to send a correction back to the model; it never escapes a run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from .schema import ModelCall

Table = TypeVar("Table", bound=BaseModel)


class AgentrtWarning(UserWarning):
    """Something the user should know that does not stop the run (a plugin that failed to load)."""


class AgentrtError(Exception):
    """Base class of every error agentrt raises on purpose."""

    model_call: ModelCall | None = None
    """The model call whose output the error is about, when there is one: a failed run still
    counts its tokens and shows it in the trace."""


@contextlib.contextmanager
def about_output_of(call: ModelCall) -> Iterator[None]:
    """An AgentrtError raised inside is about `call`'s output: it leaves carrying `call`."""
    try:
        yield
    except AgentrtError as exc:
        exc.model_call = call
        raise


class UserError(AgentrtError):
    """The caller gave something agentrt cannot use; the message says what and how to fix it."""


class ConfigError(UserError):
    """A setting, argument or instruction is missing or invalid."""


class ModelNotFoundError(UserError):
    """A model id or path could not be resolved to weights on this machine."""


class ToolDefinitionError(UserError):
    """A function cannot become a tool (missing type hints, duplicate name, unloadable file)."""


class PlanError(UserError):
    """The plan cannot run as written."""


class TemplateError(UserError):
    """A prompt template is missing or was rendered without a variable it uses."""


class InvalidArguments(AgentrtError, ValueError):
    """Arguments that do not fit a tool's schema; inside a run this becomes the step's observation."""


class RunError(AgentrtError):
    """Something failed while the agent was running."""


class ModelOutputError(RunError):
    """A model output could not be used; `raw_text` holds exactly what the model produced."""

    def __init__(self, message: str, raw_text: str) -> None:
        super().__init__(f"{message}\n--- raw model output ---\n{raw_text}")
        self.raw_text = raw_text


class OutputValidationError(ModelOutputError):
    """The model's answer did not validate as the `output_type` asked for, even after the error was
    fed back to it; `raw_text` holds its last reply."""


class TokenBudgetSpent(RunError):
    """A model call would have passed the run's token budget (`max_tokens`), so it was not made;
    the run ends with the best answer it has, `stopped_by="max_tokens"`."""


class BackendError(RunError):
    """The model backend failed: its server could not be reached or refused a request."""


class SandboxViolation(RunError):
    """A sandboxed tool was asked to leave its workspace (a path outside it, a socket, a process)."""


class UnsafeResume(RunError):
    """Resuming would re-run a step that was running when its run stopped, and whose tool is not
    idempotent: it may already have had its effect. `step_id` names the step."""

    def __init__(self, message: str, run_id: str, step_id: int) -> None:
        super().__init__(message)
        self.run_id, self.step_id = run_id, step_id


class RetryTool(Exception):
    """Raise inside a tool to tell the model what to correct: the message becomes the step's
    observation, and the run replans (within its budget) with it in view."""


def checked_tables(kind: type[Table], tables: Mapping[str, Table | Mapping[str, Any]],
                   complaint: Callable[[str, str], str]) -> dict[str, Table]:
    """Each of `tables` (by name: a `kind` already, or a plain table of its fields) as a `kind`;
    the first that does not validate is a `ConfigError` saying `complaint(name, problems)`."""
    checked = {}
    for name, table in tables.items():
        try:
            checked[name] = table if isinstance(table, kind) else kind.model_validate(table)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'table'}: {e['msg']}" for e in exc.errors())
            raise ConfigError(complaint(name, problems)) from None
    return checked
