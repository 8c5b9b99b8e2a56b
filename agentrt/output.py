"""Typed answers: a run's answer as a validated instance of the type the caller asked for.

`agent.run(instruction, output_type=T)` ends with one more model call, which writes the answer
(and what the steps found) as JSON under `T`'s JSON schema: decoded under that schema on the
local backend, so it always validates, even from the 135M model; sent as `response_format` to a
server, whose reply is checked, fed back once if it does not validate, and then refused with an
`OutputValidationError` carrying the raw text. `T` is anything pydantic validates: a model, a
dataclass, a `TypedDict`, a `Literal` or `Enum`, `list[...]`, `int`, `float`, `bool`, `str`;
or `JsonSchema(schema)`, a JSON schema itself (what `agentrt run --output-schema` reads), whose
answer is the JSON data, checked against it with `jsonschema`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .errors import ConfigError, OutputValidationError
from .llm import LLM, ask, prompt_request
from .plan_schema import MAX_STRING_CHARS
from .prompts import PromptLibrary
from .schema import ModelCall, StepResult


@dataclass(frozen=True)
class JsonSchema:
    """An output type written as JSON schema: the answer is JSON data that validates against
    `schema`; `name` is what errors call it. A schema that is not valid JSON schema is a
    `ConfigError` when this is made."""

    schema: dict[str, Any]
    name: str = "answer"

    def __post_init__(self) -> None:
        import jsonschema

        try:
            jsonschema.validators.validator_for(self.schema).check_schema(self.schema)
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"The {self.name} schema is not valid JSON schema: {exc.message}") from None

    def validator(self) -> Callable[[str], Any]:
        """Parses a reply as JSON and checks it against the schema; raises ValueError saying
        where it is wrong."""
        import jsonschema

        checker = jsonschema.validators.validator_for(self.schema)(self.schema)

        def validate(raw: str) -> Any:
            data = json.loads(raw)
            problems = [f"{'.'.join(map(str, e.absolute_path)) or 'the value'}: {e.message}"
                        for e in checker.iter_errors(data)]
            if problems:
                raise ValueError("; ".join(problems))
            return data

        return validate


class TypedOutput:
    """Writes a run's answer as an instance of `output_type`."""

    def __init__(self, output_type: Any, llm: LLM, prompts: PromptLibrary, *, max_new_tokens: int = 512) -> None:
        self.validate: Callable[[str], Any]
        if isinstance(output_type, JsonSchema):
            self.schema, self.validate = _bounded(output_type.schema), output_type.validator()
            self.name = output_type.name
        else:
            try:
                adapter: TypeAdapter[Any] = TypeAdapter(output_type)
                self.schema, self.validate = _bounded(adapter.json_schema()), adapter.validate_json
            except Exception as exc:  # pydantic's errors for a type it cannot describe vary by type
                raise ConfigError(f"output_type={output_type!r} has no JSON schema ({exc}); use a pydantic model, "
                                  "dataclass, TypedDict, Literal, Enum, list or a plain type") from None
            self.name = getattr(output_type, "__name__", str(output_type))
        self.described = {"fields": _fields(self.schema), "type_description": _kind(self.schema)}
        self.llm, self.prompts, self.max_new_tokens = llm, prompts, max_new_tokens

    async def write(self, instruction: str, results: list[StepResult], answer: str) -> tuple[Any, list[ModelCall]]:
        """The answer as a validated instance, and the model calls that wrote it (two when the
        first reply did not validate and the correction was fed back)."""
        prompt = self.prompts.render(
            "output", instruction=instruction, answer=answer, **self.described,
            steps=[{"id": r.id, "tool": r.tool, "observation": r.observation} for r in results if r.status == "ok"],
        )
        calls: list[ModelCall] = []
        problem = ""
        for attempt in (1, 2):
            text = prompt if attempt == 1 else f"{prompt}\n\nYour reply was:\n{calls[-1].output}\n{problem}"
            [reply] = await ask(self.llm, "output", [prompt_request(text, self.max_new_tokens, self.schema)])
            calls.append(reply.call)
            raw = reply.whole(f"The {self.name} answer", f"ask for a smaller type (at most {self.max_new_tokens} "
                              "tokens of JSON)")
            try:
                return self.validate(raw), calls
            except (ValidationError, ValueError) as exc:
                why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
                problem = f"It is not a valid {self.name}: {why}. Write it again, as JSON only."
        error = OutputValidationError(f"The answer is not a valid {self.name}: {problem}", calls[-1].output)
        error.model_call = calls[-1]
        raise error


NUMBER_BOUND = 10**15


def _bounded(node: Any) -> Any:
    """The schema with every number that has no bounds bounded by ±NUMBER_BOUND, which caps its
    digits, every string by MAX_STRING_CHARS, and every object with named fields closed to
    others: decoding under a schema, a small model will otherwise write `1712000000...`, one
    sentence after another, or invented fields, until it runs out of tokens."""
    if isinstance(node, list):
        return [_bounded(item) for item in node]
    if not isinstance(node, dict):
        return node
    bounded = {key: _bounded(value) for key, value in node.items()}
    if node.get("type") in ("integer", "number"):
        bounded.setdefault("minimum", -NUMBER_BOUND)
        bounded.setdefault("maximum", NUMBER_BOUND)
    elif node.get("type") == "string" and "enum" not in node and "const" not in node:
        bounded["maxLength"] = min(node.get("maxLength", MAX_STRING_CHARS), MAX_STRING_CHARS)
    elif node.get("type") == "object" and "properties" in node:
        bounded.setdefault("additionalProperties", False)
    return bounded


def _fields(schema: dict[str, Any]) -> list[dict[str, str]]:
    """An object schema's properties as a small model reads them best: a name, a kind and what it
    is, one line each; none for a schema that is not an object."""
    definitions = schema.get("$defs", {})
    return [{"name": name, "type": _kind(prop, definitions), "description": prop.get("description", "")}
            for name, prop in schema.get("properties", {}).items()]


def _kind(schema: dict[str, Any], definitions: dict[str, Any] | None = None) -> str:
    """A schema in a few words: `number`, `one of "red", "blue"`, `list of integer`, ..."""
    definitions = schema.get("$defs", {}) if definitions is None else definitions
    if "$ref" in schema:
        return _kind(definitions.get(schema["$ref"].rsplit("/", 1)[-1], {}), definitions)
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return "one of " + ", ".join(json.dumps(v) for v in values)
    if "anyOf" in schema:
        return " or ".join(_kind(option, definitions) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_kind(schema.get('items', {}), definitions)}"
    if schema.get("type") == "object" and "properties" in schema:
        return "object with " + ", ".join(f'"{name}"' for name in schema["properties"])
    return str(schema.get("type", "value"))
