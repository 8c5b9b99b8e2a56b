"""`agentrt` command line: thin over the Python API; each command calls it and prints."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .errors import AgentrtError, UserError
from .registry import Tool, ToolRegistry, load_tools_file
from .schema import RunResult


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except AgentrtError as exc:
        print(f"agentrt: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UserError) else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentrt", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="plan, act and answer one instruction")
    run.add_argument("instruction", help="what the agent should do, in plain language")
    run.add_argument("--model", help="Hugging Face id or local path (default: embedded SmolLM2-135M)")
    run.add_argument("--max-steps", type=int, default=6, help="most steps in a plan (1-9, default 6)")
    run.add_argument("--prompts", metavar="DIR", help="directory of templates overriding prompts/")
    run.add_argument("--json", action="store_true", help="print the whole run record as JSON")
    _add_tools_option(run)
    run.set_defaults(command=_run)

    tools = commands.add_parser("tools", help="list registered tools with their argument schemas")
    tools.add_argument("--json", action="store_true", help="print the schemas as JSON")
    _add_tools_option(tools)
    tools.set_defaults(command=_tools)
    return parser


def _add_tools_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tools", metavar="FILE.py", action="append", default=[],
        help="Python file defining @tool functions (repeatable)",
    )


def _user_tools(paths: Sequence[str]) -> list[Tool]:
    return [t for path in paths for t in load_tools_file(path)]


def _run(args: argparse.Namespace) -> int:
    from .agent import Agent, check_instruction

    check_instruction(args.instruction)
    tools = _user_tools(args.tools)
    agent = Agent(model=args.model, tools=tools, max_steps=args.max_steps, prompts_dir=args.prompts)
    result = agent.run(args.instruction)
    print(result.model_dump_json(indent=2) if args.json else _describe_run(result))
    return 0


def _describe_run(result: RunResult) -> str:
    lines = ["Plan:"]
    for step in result.plan.steps:
        after = f"  (after {', '.join(map(str, step.depends_on))})" if step.depends_on else ""
        lines.append(f"  {step.id}. {step.tool}({json.dumps(step.args)}){after}")
    lines.append("Steps:")
    for record in result.steps:
        mark = "ok" if record.status == "ok" else "FAILED"
        lines.append(f"  {record.id}. {record.tool} [{mark}, {record.duration_s:.2f}s] -> {record.observation}")
    lines.append(f"Answer: {result.answer}")
    lines.append(f"({result.duration_s:.1f}s, ended by {result.stopped_by})")
    return "\n".join(lines)


def _tools(args: argparse.Namespace) -> int:
    registry = ToolRegistry.with_builtins(_user_tools(args.tools))
    if args.json:
        print(json.dumps({t.name: {"source": t.source, "description": t.description,
                                   "parameters": t.json_schema()} for t in registry}, indent=2))
        return 0
    for t in registry:
        print(f"{t.name}  [{t.source}]\n  {t.description}")
        for name, prop in t.json_schema().get("properties", {}).items():
            kind = prop.get("type") or " | ".join(p.get("type", "?") for p in prop.get("anyOf", []))
            print(f"    {name}: {kind}" + (f"  {prop['description']}" if "description" in prop else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
