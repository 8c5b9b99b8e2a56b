"""Tools: `@tool` turns a typed function into a `Tool`; `ToolRegistry` holds them by unique name.

A tool's argument schema is its signature: each parameter's type hint becomes a pydantic field,
the docstring's `Args:` lines become field descriptions. Calling a tool validates its arguments
first. This module does not decide what to do with failures; the executor turns them into
observations.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from .errors import InvalidArguments, ToolDefinitionError
from .plan_schema import inline_refs
from .schema import THINK_TOOL
from .threads import TOOL_THREADS, off_loop

_ARG_LINE = re.compile(r"^\s*(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")

MAX_NESTING = 100
"""How deep arguments may nest (lists and dicts inside each other): deeper ones are refused, so
that checking them, resolving their `$N` references or reporting on them stays well within
Python's recursion limit."""


class Tool:
    """A callable the planner may use: name, description, argument schema, and the function.

    The schema comes from the function's signature (see `@tool`), or is given as JSON schema with
    `parameters` (for tools defined elsewhere, such as benchmark functions or MCP servers): the
    function then receives the checked arguments as keywords.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
        source: str = "python",
        timeout_s: float | None = None,
        retries: int | None = None,
        idempotent: bool = False,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.name):
            raise ToolDefinitionError(f"Tool {self.name!r} must be a Python identifier")
        summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")
        self.description = description or summary
        if not self.description:
            raise ToolDefinitionError(
                f"Tool {self.name!r} has no description: give the function a docstring"
            )
        self.source = source
        # None means "the agent's default"; see Executor.policy_for
        self.timeout_s = timeout_s
        self.retries = retries
        self.idempotent = idempotent
        self.is_async = inspect.iscoroutinefunction(fn)
        if parameters is not None:
            self._schema = parameters
            self._check = _schema_checker(self.name, parameters)
        else:
            args_model = _args_model(fn, self.name, arg_docs)
            try:
                self._schema = args_model.model_json_schema()
            except Exception as exc:  # a type pydantic cannot describe in JSON schema
                raise ToolDefinitionError(
                    f"Tool {self.name!r}: its parameter types have no JSON schema ({exc}); use plain "
                    "types (str, int, float, bool, lists, dicts, enums, pydantic models)"
                ) from exc
            self._check = _model_checker(args_model)
        # computed now, not at the first plan: a recursive type is refused at registration
        self._inlined = inline_refs(self._schema, self.name)

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, source={self.source!r})"

    def json_schema(self) -> dict[str, Any]:
        """JSON schema of the arguments object (computed once; do not mutate it)."""
        return self._schema

    def inlined_schema(self) -> dict[str, Any]:
        """`json_schema()` with every `$ref` replaced by its definition (computed once; do not
        mutate it): what the plan schema nests, and what reading a parameter's type needs."""
        return self._inlined

    def parameter_types(self) -> dict[str, list[str]]:
        """Each parameter's JSON type names (several for a union), for showing to people and models."""
        return {
            name: [prop["type"]] if "type" in prop else [p.get("type", "any") for p in prop.get("anyOf", [])] or ["any"]
            for name, prop in self._schema.get("properties", {}).items()
        }

    def validate(self, args: dict[str, Any]) -> dict[str, Any]:
        """Arguments checked (and, for a signature, coerced to its types); raises
        `InvalidArguments` saying which argument is wrong and why."""
        try:
            _screen(args)
            return self._check(args)
        except InvalidArguments as exc:
            raise InvalidArguments(f"invalid arguments for {self.name}: {exc}") from None

    async def acall(self, args: dict[str, Any]) -> Any:
        """Validate `args`, then call the function."""
        return await self.invoke(self.validate(args))

    async def invoke(self, kwargs: dict[str, Any]) -> Any:
        """Call the function with arguments `validate` returned (a sync one on the daemon tool
        threads, so a tool that hangs past its timeout can neither block the event loop nor the
        process's exit)."""
        if self.is_async:
            return await self.fn(**kwargs)
        return await off_loop(TOOL_THREADS, partial(self.fn, **kwargs))


@overload
def tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    timeout_s: float | None = None,
    retries: int | None = None,
    idempotent: bool = False,
) -> Tool: ...


@overload
def tool(
    fn: None = None,
    *,
    name: str | None = None,
    timeout_s: float | None = None,
    retries: int | None = None,
    idempotent: bool = False,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    timeout_s: float | None = None,
    retries: int | None = None,
    idempotent: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator: `@tool`, or `@tool(name=..., timeout_s=..., retries=...)`, makes a `Tool` from a
    typed, documented function. Set `idempotent=True` for a tool that is safe to call again: only
    such a tool is retried (on exceptions and timeouts, not bad arguments) and re-run when a run
    that stopped in the middle of calling it resumes; others are never repeated unasked."""

    def make(f: Callable[..., Any]) -> Tool:
        return Tool(f, name=name, timeout_s=timeout_s, retries=retries, idempotent=idempotent)

    return make if fn is None else make(fn)


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """First paragraph as the description, and `Args:` entries as {name: description}."""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    arg_docs: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        if line.strip() in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if in_args:
            match = _ARG_LINE.match(line)
            if match:
                arg_docs[match.group(1)] = match.group(2).strip()
            elif line.strip() and not line.startswith((" ", "\t")):
                in_args = False
    return summary, arg_docs


def _args_model(fn: Callable[..., Any], tool_name: str, arg_docs: dict[str, str]) -> type[BaseModel]:
    try:
        hints = get_type_hints(fn)
    except Exception as exc:  # an unresolvable forward reference, say
        raise ToolDefinitionError(f"Tool {tool_name!r}: cannot resolve type hints: {exc}") from exc
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"Tool {tool_name!r}: *{param.name} has no schema; list each argument explicitly"
            )
        if param.name not in hints:
            raise ToolDefinitionError(
                f"Tool {tool_name!r}: parameter {param.name!r} has no type hint; "
                f"annotate it, e.g. `{param.name}: str`"
            )
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=arg_docs.get(param.name)))
    return create_model(
        f"{tool_name}_args", __config__=ConfigDict(extra="forbid", coerce_numbers_to_str=True), **fields
    )


def argument_path(path: tuple[Any, ...]) -> str:
    """Where a value lies inside arguments, as dotted keys (the first six, each clipped), for
    error messages; "arguments" for the arguments themselves."""
    return ".".join(str(key)[:20] for key in path[:6]) + ("…" if len(path) > 6 else "") or "arguments"


def _screen(args: Any) -> None:
    """InvalidArguments for what no schema check can report on: arguments that are not a dict,
    nesting deeper than MAX_NESTING, and ints too long to write out (their error message could
    not show them)."""
    if not isinstance(args, dict):
        raise InvalidArguments(f"arguments: expected an object of named arguments, got {type(args).__name__}")
    pending: list[tuple[Any, tuple[Any, ...]]] = [(args, ())]
    while pending:
        value, path = pending.pop()
        if isinstance(value, int):
            try:
                str(value)
            except ValueError:  # subtle: past sys.get_int_max_str_digits() an int has no repr either
                raise InvalidArguments(
                    f"{argument_path(path)}: an integer of {value.bit_length()} bits is too long") from None
        elif isinstance(value, (dict, list)):
            if len(path) >= MAX_NESTING:
                raise InvalidArguments(f"{argument_path(path)}: nested deeper than {MAX_NESTING} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            pending.extend((child, (*path, key)) for key, child in items)


def _model_checker(args_model: type[BaseModel]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def check(args: dict[str, Any]) -> dict[str, Any]:
        try:
            model = args_model.model_validate(args)
        except ValidationError as exc:
            raise InvalidArguments("; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']} (got {e.get('input')!r})"
                for e in exc.errors()
            )) from None
        return {name: getattr(model, name) for name in type(model).model_fields}

    return check


def _schema_checker(tool_name: str, schema: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    import jsonschema

    try:
        validator = jsonschema.validators.validator_for(schema)(schema)
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ToolDefinitionError(
            f"Tool {tool_name!r}: its parameters are not valid JSON schema: {exc.message}"
        ) from exc

    def check(args: dict[str, Any]) -> dict[str, Any]:
        problems = [f"{'.'.join(map(str, e.absolute_path)) or 'arguments'}: {e.message}"
                    for e in validator.iter_errors(args)]
        if problems:
            raise InvalidArguments("; ".join(problems))
        return dict(args)

    return check


class ToolRegistry:
    """Tools by unique name. Registering a second tool under a taken name is an error."""

    def __init__(self, tools: Iterable[Tool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.register(t)

    def register(self, new: Tool | Callable[..., Any]) -> Tool:
        """Add a tool (a plain function is wrapped with `@tool` first)."""
        new = new if isinstance(new, Tool) else Tool(new)
        if new.name == THINK_TOOL:
            raise ToolDefinitionError(
                f"{THINK_TOOL!r} is reserved for reasoning steps; rename the tool with @tool(name=...)"
            )
        if new.name in self._tools:
            raise ToolDefinitionError(
                f"Two tools are named {new.name!r} (from {self._tools[new.name].source} and "
                f"{new.source}); rename one with @tool(name=...)"
            )
        self._tools[new.name] = new
        return new

    def get(self, name: str) -> Tool:
        """The tool called `name`; a ToolDefinitionError listing the registered ones if none is."""
        try:
            return self._tools[name]
        except KeyError:
            raise ToolDefinitionError(
                f"No tool named {name!r}; registered: {', '.join(sorted(self._tools))}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        """Registered tool names, in registration order."""
        return list(self._tools)


def load_tools_file(path: str | Path, *, source: str | None = None) -> list[Tool]:
    """Import a Python file and return the `Tool` objects it defines at module level."""
    path = Path(path)
    if not path.is_file():
        raise ToolDefinitionError(f"Tool file {str(path)!r} does not exist")
    module_name = f"agentrt_tools_{path.stem}_{abs(hash(path.resolve())):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # Python has no loader for a file of this suffix
        raise ToolDefinitionError(f"Tool file {str(path)!r} is not a Python file: name a .py file of @tool functions")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except ToolDefinitionError as exc:
        raise ToolDefinitionError(f"{path}: {exc}") from exc
    except Exception as exc:
        sys.modules.pop(module_name, None)
        line = _failing_line(exc, path)
        raise ToolDefinitionError(
            f"Tool file {str(path)!r} failed to import at line {line}: {type(exc).__name__}: {exc}"
        ) from exc
    found = [v for v in vars(module).values() if isinstance(v, Tool)]
    for t in found:
        t.source = source or str(path)
    return found


def _failing_line(exc: BaseException, path: Path) -> int | str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    line = frames[-1].lineno if frames else None
    return "?" if line is None else line
