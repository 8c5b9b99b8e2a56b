import asyncio
import textwrap

import pytest

from agentrt import InvalidArguments, Tool, ToolDefinitionError, ToolRegistry, load_tools_file, tool
from agentrt.plugins import installed_tools


@tool
def convert(amount: float, currency: str = "EUR") -> str:
    """Convert an amount of dollars.

    Args:
        amount: how many dollars
        currency (str): ISO code of the target currency
    """
    return f"{amount} {currency}"


def test_signature_and_docstring_become_the_schema():
    schema = convert.json_schema()
    assert convert.description == "Convert an amount of dollars."
    assert schema["properties"]["amount"] == {"type": "number", "description": "how many dollars", "title": "Amount"}
    assert schema["properties"]["currency"]["description"] == "ISO code of the target currency"
    assert schema["required"] == ["amount"]


def test_arguments_are_validated_before_the_call():
    assert asyncio.run(convert.acall({"amount": "2.5"})) == "2.5 EUR"
    with pytest.raises(InvalidArguments, match=r"invalid arguments for convert: amount: .*got 'lots'"):
        asyncio.run(convert.acall({"amount": "lots"}))
    with pytest.raises(InvalidArguments, match="unexpected"):
        asyncio.run(convert.acall({"amount": 1, "unexpected": True}))


def test_a_tool_can_be_defined_by_a_json_schema_and_checks_arguments_against_it():
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
              "required": ["city"], "additionalProperties": False}
    forecast = Tool(lambda **kwargs: kwargs, name="forecast", description="Weather forecast.", parameters=schema)
    assert forecast.json_schema() is schema and forecast.parameter_types() == {"city": ["string"], "days": ["integer"]}
    assert asyncio.run(forecast.acall({"city": "Oslo", "days": 2})) == {"city": "Oslo", "days": 2}
    with pytest.raises(InvalidArguments, match="days: 0 is less than the minimum of 1"):
        forecast.validate({"city": "Oslo", "days": 0})
    with pytest.raises(InvalidArguments, match="'city' is a required property"):
        forecast.validate({})
    with pytest.raises(ToolDefinitionError, match="not valid JSON schema"):
        Tool(lambda: None, name="broken", description="x", parameters={"type": "no-such-type"})


def test_async_functions_become_tools():
    @tool
    async def wait(seconds: float) -> str:
        """Wait a little."""
        await asyncio.sleep(seconds)
        return "done"

    assert wait.is_async
    assert asyncio.run(wait.acall({"seconds": 0})) == "done"


def test_a_parameter_without_type_hint_is_refused_with_the_fix():
    def untyped(x):
        """Does things."""

    with pytest.raises(ToolDefinitionError, match=r"parameter 'x' has no type hint; annotate it"):
        Tool(untyped)


def test_duplicate_tool_names_fail_loudly():
    with pytest.raises(ToolDefinitionError, match="Two tools are named 'convert'"):
        ToolRegistry([convert, convert])


def test_think_is_reserved_for_reasoning_steps():
    @tool(name="think")
    def my_think(q: str) -> str:
        """Think."""
        return q

    with pytest.raises(ToolDefinitionError, match="reserved"):
        ToolRegistry([my_think])


def test_builtins_load_through_the_file_loader():
    registry = ToolRegistry(installed_tools().tools)
    assert {"calculator", "final_answer"} <= set(registry.names())
    assert registry.get("calculator").source == "builtin"


def test_a_tool_file_that_fails_to_import_names_file_and_line(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text(textwrap.dedent("""\
        from agentrt import tool

        x = 1
        raise RuntimeError("boom")
    """))
    with pytest.raises(ToolDefinitionError, match=r"broken.py' failed to import at line 4: RuntimeError: boom"):
        load_tools_file(bad)
    syntax = tmp_path / "syntax.py"
    syntax.write_text("def f(:\n")
    with pytest.raises(ToolDefinitionError, match="at line 1: SyntaxError"):
        load_tools_file(syntax)


def test_a_tool_file_without_type_hints_is_reported_with_its_path(tmp_path):
    untyped = tmp_path / "untyped.py"
    untyped.write_text('from agentrt import tool\n\n@tool\ndef f(x):\n    """Doc."""\n')
    with pytest.raises(ToolDefinitionError, match=r"untyped.py.*parameter 'x' has no type hint"):
        load_tools_file(untyped)


def test_a_tool_whose_argument_type_refers_to_itself_is_refused_when_it_is_made():
    from pydantic import BaseModel

    class Folder(BaseModel):
        name: str
        children: list["Folder"] = []

    with pytest.raises(ToolDefinitionError, match="'make_tree'.*'Folder' refers to itself.*bounded depth"):
        @tool
        def make_tree(root: Folder) -> str:
            """Create a folder tree."""
            return root.name

    with pytest.raises(ToolDefinitionError, match="'nested'.*refers to itself"):
        Tool(lambda **kw: None, name="nested", description="x", parameters={
            "type": "object", "properties": {"n": {"$ref": "#/$defs/N"}},
            "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}})
