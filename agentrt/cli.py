"""`agentrt` command line: thin over the Python API; each command calls it and prints."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, get_args, get_origin

from .config import AgentConfig, spelling
from .errors import AgentrtError, AgentrtWarning, ConfigError, UnsafeResume, UserError
from .events import (
    Answered,
    ApprovalRequested,
    Event,
    RunStarted,
    TextDelta,
)
from .plugins import PluginFailure, installed_tools
from .registry import ToolRegistry

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live

    from .agent import Agent, Unfinished
    from .output import JsonSchema
    from .schema import RunResult


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `agentrt` command; returns the exit status (2: bad input, 1: run failure)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _quiet_dependencies()
    try:
        return args.command(args)
    except AgentrtError as exc:
        print(f"agentrt: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UserError) else 1
    except BrokenPipeError:  # `agentrt tools | head`: the reader has all it wanted
        # subtle: stdout is pointed at /dev/null so that Python's flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process that SIGPIPE ended


def _quiet_dependencies() -> None:
    """Keep what the libraries under us warn or log off the user's terminal: it is meant for their
    developers, and it would break the plan view and `--json` output. Our own warnings
    (`AgentrtWarning`) still show; the test suite turns deprecations into failures, so we find
    out first."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # read when transformers is imported
    if not sys.warnoptions:  # the user's own -W or PYTHONWARNINGS decides instead
        warnings.filterwarnings("ignore")
        warnings.filterwarnings("default", category=AgentrtWarning)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentrt", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="plan, act and answer one instruction, or run a script of them")
    run.add_argument("instruction", help="what the agent should do, in plain language; or a script FILE.md "
                                         "(settings in YAML front matter, instructions as a numbered list)")
    run.add_argument("--param", metavar="NAME=VALUE", action="append", default=[],
                     help="a script parameter, used in its instructions as {{ NAME }} (repeatable)")
    run.add_argument("--json", action="store_true",
                     help="print only the whole run record (a list, for a script), as JSON")
    run.add_argument("--trace", metavar="FILE.jsonl", help="write the run's trace here as it happens (JSON Lines)")
    run.add_argument("--output-schema", metavar="FILE.json",
                     help="print only the answer, as JSON that validates against this JSON schema")
    _add_agent_options(run)
    run.set_defaults(command=_run)

    resume = commands.add_parser("resume", help="finish a run that stopped (crash, kill, Ctrl-C) from its last step")
    resume.add_argument("run_id", metavar="RUN_ID", help="the run's id, or the start of it (see `agentrt runs`)")
    unfinished = resume.add_mutually_exclusive_group()
    unfinished.add_argument("--rerun", action="store_true",
                            help="call again a step that was running when the run stopped, even if its tool "
                                 "is not idempotent (default: ask, or refuse without a terminal)")
    unfinished.add_argument("--fail", action="store_true", help="record such a step as failed instead")
    resume.add_argument("--json", action="store_true", help="print only the whole run record, as JSON")
    _add_agent_options(resume)
    resume.set_defaults(command=_resume)

    chat = commands.add_parser("chat", help="talk with an agent, turn by turn: each turn sees the ones before it")
    chat.add_argument("--conversation", metavar="ID", help="continue this stored conversation (default: a new one)")
    chat.add_argument("--list", action="store_true", help="list the most recent conversations in the run store")
    _add_agent_options(chat)
    chat.set_defaults(command=_chat, json=False)

    runs = commands.add_parser("runs", help="list the most recent runs in the run store")
    runs.add_argument("-n", type=int, default=20, help="how many (default 20)")
    runs.add_argument("--store", metavar="FILE|URL", help=AgentConfig.model_fields["store"].description)
    runs.set_defaults(command=_runs)

    batch = commands.add_parser("run-batch", help="run many instructions at once, sharing one model")
    batch.add_argument("file", metavar="FILE.jsonl", help='one {"instruction": ..., "id": optional} per line')
    batch.add_argument("--concurrency", type=int, default=8, help="runs at once (default 8)")
    batch.add_argument("--out", metavar="RESULTS.jsonl",
                       help="append one result per line as runs finish; instructions already there are "
                            "skipped, so an interrupted batch resumes (default: print to stdout)")
    _add_agent_options(batch)
    batch.set_defaults(command=_run_batch)

    submit = commands.add_parser("submit", help="queue runs for workers (agentrt worker) to take; prints their "
                                                "run ids")
    submit.add_argument("instructions", nargs="*", metavar="INSTRUCTION", help="what the agent should do")
    submit.add_argument("--file", metavar="FILE.jsonl",
                        help='also queue the instruction of each {"instruction": ...} line of this file')
    submit.add_argument("--queue", metavar="URL", help="PostgreSQL URL of the run queue (default: AGENTRT_QUEUE)")
    _add_agent_options(submit)
    submit.set_defaults(command=_submit)

    worker = commands.add_parser("worker", help="take queued runs and run them; a run whose worker died is taken "
                                                "over and resumed")
    worker.add_argument("--queue", metavar="URL", help="PostgreSQL URL of the run queue (default: AGENTRT_QUEUE)")
    worker.add_argument("--concurrency", type=int, default=4, help="runs at once, 2 or more (default 4)")
    worker.add_argument("--takeover-after", type=float, default=30.0, metavar="SECONDS",
                        help="take over a run whose worker sent no heartbeat for this long (default 30)")
    worker.add_argument("--drain", action="store_true", help="exit once the queue is empty (default: wait for more)")
    unfinished = worker.add_mutually_exclusive_group()
    unfinished.add_argument("--rerun", action="store_true",
                            help="in a run taken over, call again a step that was running when its worker died, "
                                 "even if its tool is not idempotent (default: leave such a run failed in the queue)")
    unfinished.add_argument("--fail", action="store_true", help="record such a step as failed instead")
    worker.set_defaults(command=_worker)

    evaluate = commands.add_parser("eval", help="run a public benchmark suite and score it by its authors' rules")
    evaluate.add_argument("suite", help="bfcl-simple-python, bfcl-multiple, bfcl-parallel, bfcl-parallel-multiple, "
                                        "bfcl-irrelevance, gsm8k, hotpotqa or hotpotqa-comparison")
    evaluate.add_argument("--split", choices=["dev", "test"], default="dev",
                          help="first half of the data (tune here, the default) or second half (report here)")
    evaluate.add_argument("--limit", type=int, help="only the first N items of the split")
    evaluate.add_argument("--model", help="as for run (default: embedded SmolLM2-135M)")
    evaluate.add_argument("--mode", choices=["parallel", "sequential"], default="parallel")
    evaluate.add_argument("--unconstrained", action="store_true",
                          help="decode plans without the JSON-schema constraint (the baseline)")
    evaluate.add_argument("--memory", action="store_true",
                          help="share an experience memory across items: each planner sees earlier items' plans "
                               "that went well")
    evaluate.add_argument("--concurrency", type=int, default=1,
                          help="items at once (default 1, which keeps latencies comparable)")
    evaluate.add_argument("--shard", type=parse_shard, default=(1, 1), metavar="K/N",
                          help="only every N-th item from the K-th: N processes with shards 1/N to N/N and "
                               "the same --out share the work; a run without --shard then reports it all")
    evaluate.add_argument("--out", metavar="REPORT.json",
                          help="write the report here; finished items are kept beside it, so a rerun resumes")
    evaluate.add_argument("--data", metavar="DIR",
                          help="the benchmark files (also AGENTRT_BENCHDATA; default ../shared/benchdata): a folder "
                               "of bfcl/, gsm8k/, hotpotqa/, llmcompiler/, or for BFCL its authors' bfcl_eval/data")
    evaluate.set_defaults(command=_eval)

    index = commands.add_parser("index", help="add documents (files or folders) to a knowledge base")
    index.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to index")
    index.add_argument("--kb", metavar="DIR|URL", required=True,
                       help="knowledge base directory or postgresql:// URL (created if new)")
    index.add_argument("--embedder", help="Hugging Face encoder id or path (default: all-MiniLM-L6-v2)")
    index.add_argument("--chunk-size", type=int, default=800, help="characters per chunk (default 800)")
    index.add_argument("--chunk-overlap", type=int, default=100, help="characters repeated between chunks")
    index.set_defaults(command=_index)

    search = commands.add_parser("search", help="show the passages a knowledge base returns for a query")
    search.add_argument("query")
    search.add_argument("--kb", metavar="DIR|URL", required=True, help="knowledge base directory or postgresql:// URL")
    search.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    search.add_argument("--json", action="store_true")
    search.set_defaults(command=_search)

    trace = commands.add_parser("trace", help="show a run's trace: summary, HTML viewer, or OpenTelemetry export")
    trace.add_argument("file", metavar="FILE.jsonl", help="a trace written by `agentrt run --trace`")
    trace.add_argument("--html", metavar="OUT.html", help="write the self-contained viewer: the plan as a picture, "
                                                        "each step's prompt, passages, output and timing")
    trace.add_argument("--otel", action="store_true",
                       help="send the run as spans to an OpenTelemetry collector (pip install 'agentrt[otel]')")
    trace.add_argument("--otel-endpoint", metavar="URL",
                       help="OTLP/HTTP endpoint (default: OTEL_EXPORTER_OTLP_ENDPOINT or localhost:4318)")
    trace.add_argument("--otel-content", action="store_true",
                       help="include prompts, outputs and tool arguments in the spans (off by default)")
    trace.set_defaults(command=_trace)

    tools = commands.add_parser("tools", help="list registered tools with their argument schemas")
    tools.add_argument("--json", action="store_true", help="print the schemas as JSON")
    _add_agent_options(tools, _TOOL_SETTINGS + ("builtin_tools",))
    tools.set_defaults(command=_tools)
    return parser


_TOOL_SETTINGS = ("tools", "tools_dir", "graph", "mcp")


def _add_agent_options(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """An option for each `AgentConfig` setting (or each of `names`), from its declaration: its
    help, flag and type. Options not given stay out of the parsed arguments (`_config`)."""
    for name, info in AgentConfig.model_fields.items():
        if names is not None and name not in names:
            continue
        value = info.get_default(call_default_factory=True)
        shown = isinstance(value, (int, float, str)) and not isinstance(value, bool)
        default = f" (default {value})" if shown else ""
        options: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": f"{info.description}{default}"}
        kinds = [k for k in get_args(info.annotation) or (info.annotation,) if k is not type(None)]
        if kinds == [bool]:
            options["action"] = argparse.BooleanOptionalAction
        elif get_origin(info.annotation) is list:
            options.update(action="append", metavar=spelling(name).metavar)
        elif get_origin(info.annotation) is Literal:
            options["choices"] = kinds
        else:
            options.update(type=kinds[0], metavar=spelling(name).metavar or ("N" if kinds[0] is int else None))
        parser.add_argument(spelling(name).flag, **options)


def _config(args: argparse.Namespace, under: Mapping[str, Any] | None = None) -> AgentConfig:
    """The settings given on the command line, over those of `under` (a script's)."""
    given = {name: getattr(args, name) for name in AgentConfig.model_fields if hasattr(args, name)}
    return AgentConfig.model_validate({**(under or {}), **given})


def _agent(config: AgentConfig, pause: Live | None = None) -> Agent:
    """The agent `config` describes; `pause` is the live view an approval question stops."""
    from .agent import Agent

    return Agent.from_config(config, approve=functools.partial(_ask_at_terminal, pause=pause))


def _report(failures: Sequence[PluginFailure]) -> None:
    for failure in failures:
        print(f"agentrt: warning: tool plugin {failure.source} failed to load: {failure.error}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .agent import check_instruction
    from .script import is_script, load_script

    script = load_script(args.instruction) if is_script(args.instruction) else None
    if script is None:
        check_instruction(args.instruction)
        if args.param:
            raise ConfigError(f"--param is for scripts (FILE.md), and {args.instruction!r} is not one")
        config = _config(args)
    else:
        params = {**script.settings.params, **_params(args.param)}
        config = _config(args, under=script.settings.model_dump(exclude_unset=True, exclude={"params"}))
    output_type = _output_schema(args.output_schema) if args.output_schema else None
    quiet = args.json or output_type is not None
    console = Console()
    live = _live(console) if console.is_terminal and not quiet else None
    with console.status("loading the model and tools", spinner="dots") if live else _nothing():
        agent = _agent(config, pause=live)
    stream = functools.partial(agent.stream, output_type=output_type)
    trace = open(args.trace, "w", encoding="utf-8") if args.trace else None
    try:
        if script is None:
            result = _run_one(stream, args.instruction, args, live, trace, quiet=output_type is not None)
            if result is not None and output_type is not None:
                print(json.dumps(result.output, ensure_ascii=False))
            return 0 if result else 130
        results: list[RunResult] = []
        for index in range(len(script.instructions)):
            instruction = script.render(index, params, [r.answer for r in results])
            if not quiet:
                print(f"[{index + 1}/{len(script.instructions)}] {instruction}", flush=True)
            result = _run_one(stream, instruction, args, live, trace, quiet=quiet)
            if result is None:
                return 130
            if output_type is not None and not args.json:
                print(json.dumps(result.output, ensure_ascii=False), flush=True)
            results.append(result)
        if args.json:
            print(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
        return 0
    finally:
        if trace:
            trace.close()


def _run_one(stream: Callable[[str], Iterator[Event]], instruction: str, args: argparse.Namespace,
             live: Live | None, trace: IO[str] | None, *, quiet: bool = False) -> RunResult | None:
    """One run (`stream`'s: an agent's or a conversation's), shown live in a terminal or as plain
    lines (or only its record, with --json; nothing if `quiet`), its trace written as it goes;
    None if the person pressed Ctrl-C."""
    from .live import RunView, answer_lines, plain_lines
    from .picture import RunPicture
    from .trace import TraceRecorder

    recorder, picture = TraceRecorder(trace), RunPicture()
    view = RunView(picture, recorder) if live else None
    run_id = result = None
    said = ""  # the answer as streamed so far
    try:
        if live is not None and view is not None:
            live.update(view, refresh=True)
            live.start()
        for event in stream(instruction):
            if isinstance(event, TextDelta):  # streamed only: not a trace record
                if event.source == "answer":
                    said += event.text
                    if view is not None:
                        view.answer_so_far = said
                    elif not (quiet or args.json):
                        print(("Answer: " if said == event.text else "") + event.text, end="", flush=True)
                continue
            run_id = event.run_id if isinstance(event, RunStarted) else run_id
            result = event.result if isinstance(event, Answered) else result
            record = recorder(event)
            picture.update(record)
            if view or quiet:
                continue
            if args.json:
                if result is not None:
                    print(result.model_dump_json(indent=2))
            else:
                lines = plain_lines(record, picture)
                if said and record["kind"] == "answer":  # the answer is on the screen already
                    print()
                    lines = [line for line in lines if not line.startswith("Answer: ")]
                for line in lines:
                    print(line, flush=True)
    except KeyboardInterrupt:
        if run_id:
            print(f"\ninterrupted; finish it with: agentrt resume {run_id}", file=sys.stderr)
        return None
    finally:
        if live:
            live.stop()
    if view and picture.answer:
        print(answer_lines(picture.answer)[-1])
    return result


def _chat(args: argparse.Namespace) -> int:
    """A terminal conversation: each line is a turn, shown as `run` shows a run; Ctrl-D leaves."""
    from datetime import datetime

    from rich.console import Console

    from .store import RunStore

    if args.list or args.conversation:
        store = RunStore(_config(args).store)
        try:
            if args.conversation:
                store.turns(args.conversation)  # an unknown id: said before the model loads
            for conversation, created, turns in store.conversations() if args.list else ():
                print(f"{conversation}  {datetime.fromtimestamp(created).strftime('%Y-%m-%d %H:%M')}  {turns} turns")
        finally:
            store.close()
        if args.list:
            return 0
    console = Console()
    live = _live(console) if console.is_terminal else None
    with console.status("loading the model and tools", spinner="dots") if live else _nothing():
        agent = _agent(_config(args), pause=live)
    with agent:
        chat = agent.conversation(args.conversation)
        print(f"conversation {chat.id}, {len(chat.turns)} turns so far; continue it later with: "
              f"agentrt chat --conversation {chat.id}", file=sys.stderr)
        while True:
            try:
                line = input("you> " if sys.stdin.isatty() else "")
            except (EOFError, KeyboardInterrupt):
                print(file=sys.stderr)
                return 0
            if line.strip():
                _run_one(chat.stream, line.strip(), args, live, None)


def _live(console: Console) -> Live:
    from rich.live import Live

    return Live(console=console, refresh_per_second=8, transient=False)


def _output_schema(path: str) -> JsonSchema:
    """The JSON schema in the file at `path`, as an output type; a ConfigError if it is missing,
    not JSON, or not JSON schema."""
    from .output import JsonSchema

    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--output-schema {path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise ConfigError(f"--output-schema {path}: not JSON ({exc})") from None
    if not isinstance(schema, dict):
        raise ConfigError(f"--output-schema {path}: a JSON schema is an object, not {type(schema).__name__}")
    return JsonSchema(schema, name=path)


def _params(pairs: Sequence[str]) -> dict[str, str]:
    """--param NAME=VALUE pairs."""
    bad = [p for p in pairs if "=" not in p or not p.split("=", 1)[0].strip()]
    if bad:
        raise ConfigError(f"--param {bad[0]!r}: write NAME=VALUE, e.g. --param city=Oslo")
    return {name.strip(): value for name, value in (p.split("=", 1) for p in pairs)}


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _resume(args: argparse.Namespace) -> int:
    agent = _agent(_config(args))
    unfinished: Unfinished = "rerun" if args.rerun else "fail" if args.fail else "raise"
    try:
        result = agent.resume(args.run_id, unfinished=unfinished)
    except UnsafeResume as exc:
        if not sys.stdin.isatty():
            raise
        from rich.prompt import Confirm

        print(exc, file=sys.stderr)
        again = Confirm.ask(f"Call step {exc.step_id} again?", default=False)
        result = agent.resume(args.run_id, unfinished="rerun" if again else "fail")
    _show_result(result, args.json)
    return 0


def _submit(args: argparse.Namespace) -> int:
    from .batch import read_batch
    from .workers import RunQueue

    instructions = [*args.instructions, *(item.instruction for item in (read_batch(args.file) if args.file else []))]
    if not instructions:
        raise ConfigError("agentrt submit needs an instruction, or --file FILE.jsonl of them")
    for run_id in RunQueue(args.queue).submit_many(instructions, _config(args)):
        print(run_id)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from .database import hide_password
    from .workers import RunQueue

    queue = RunQueue(args.queue)
    print(f"agentrt worker: taking runs from {hide_password(queue.url)}, {args.concurrency} at once; "
          "Ctrl-C finishes those under way and stops", file=sys.stderr, flush=True)
    queue.work(concurrency=args.concurrency, takeover_after_s=args.takeover_after, drain=args.drain,
               unfinished="rerun" if args.rerun else "fail" if args.fail else "raise")
    return 0


def _runs(args: argparse.Namespace) -> int:
    from datetime import datetime

    from .store import RunStore

    for run in RunStore(args.store).runs(args.n):
        when = datetime.fromtimestamp(run.created).strftime("%Y-%m-%d %H:%M")
        note = f"  ({run.error.splitlines()[0][:80]})" if run.status == "failed" and run.error else ""
        print(f"{run.id}  {when}  {run.status:<8}  {run.instruction[:60]}{note}")
    return 0


def _show_result(result: RunResult, as_json: bool) -> None:
    """Print a finished run: its passages, answer and ending, or its whole record as JSON."""
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    from .live import answer_lines, plan_passages
    from .picture import RunPicture
    from .trace import trace_record

    picture = RunPicture.from_records(result.trace)
    answer = picture.answer or trace_record(Answered(result=result), started=0.0)  # a result made by hand
    print("\n".join([*plan_passages(picture), *answer_lines(answer)]))


def _ask_at_terminal(request: ApprovalRequested, pause: Live | None = None) -> bool:
    """Whether the person at the terminal allows a call of an `ask` tool; no terminal, no call.
    `pause` is a live view to stop while the question has the screen."""
    call = f"{request.step.tool}({json.dumps(request.arguments, ensure_ascii=False)})"
    if not sys.stdin.isatty():
        print(f"denied {call}: no terminal to ask at (allow the tool in the --policy file to run it "
              "unattended)", file=sys.stderr)
        return False
    from rich.prompt import Confirm

    if pause is not None:
        pause.stop()
    try:
        return Confirm.ask(f"Step {request.step.id} wants to call {call}. Allow?", default=False)
    finally:
        if pause is not None:
            pause.start()


def _run_batch(args: argparse.Namespace) -> int:
    import asyncio
    import time

    from .batch import finished_ids, read_batch, result_record
    from .live import progress_bar

    items = read_batch(args.file)
    done = finished_ids(args.out) if args.out else set()
    todo = [item for item in items if item.id not in done]
    if not todo:
        print(f"nothing to run: all {len(items)} instructions are already in {args.out}", file=sys.stderr)
        return 0
    agent = _agent(_config(args))
    out = open(args.out, "a", encoding="utf-8") if args.out else sys.stdout
    failed = 0
    start = time.perf_counter()

    async def run_all() -> None:
        nonlocal failed
        with progress_bar() as progress:
            task = progress.add_task(f"{len(todo)} runs, {args.concurrency} at once", total=len(todo))
            async for index, outcome in agent.arun_many([i.instruction for i in todo], concurrency=args.concurrency):
                record = result_record(todo[index], outcome)
                failed += "failed" in record
                print(json.dumps(record, ensure_ascii=False), file=out, flush=True)
                progress.advance(task)

    try:
        asyncio.run(run_all())
    finally:
        if out is not sys.stdout:
            out.close()
    elapsed = time.perf_counter() - start
    skipped = f", {len(items) - len(todo)} already in {args.out}" if len(todo) < len(items) else ""
    print(f"{len(todo)} runs in {elapsed:.1f}s ({len(todo) - failed} answered, {failed} failed){skipped}",
          file=sys.stderr)
    return 1 if failed else 0


def parse_shard(text: str) -> tuple[int, int]:
    """The `--shard K/N` option (of `agentrt eval` and benchmarks/eval_table.py) as (K, N)."""
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N, e.g. 1/2 and 2/2 for two processes")
    return int(k), int(n)


def _eval(args: argparse.Namespace) -> int:
    from .evals.runner import evaluate
    from .evals.suites import DATA_VARIABLE

    if args.data:
        os.environ[DATA_VARIABLE] = args.data  # where every suite looks for its files

    report = evaluate(args.suite, split=args.split, limit=args.limit, model=args.model, mode=args.mode,
                      constrained=not args.unconstrained, concurrency=args.concurrency, memory=args.memory,
                      shard=args.shard, out=args.out)
    print(f"{report['suite']} ({report['split']} half, {report['items']} items, {report['mode']} mode, "
          f"{'constrained' if report['constrained'] else 'unconstrained'}, model {report['model']})")
    for name, value in report["totals"].items():
        print(f"  {name:<18} {value:.3f}")
    return 0


def _index(args: argparse.Namespace) -> int:
    from .knowledge import KnowledgeBase
    from .live import progress_bar

    kb = KnowledgeBase.open_or_create(
        args.kb, embedder=args.embedder, chunk_size=args.chunk_size, chunk_overlap=args.chunk_overlap
    )
    with progress_bar() as progress:
        task = progress.add_task("embedding chunks", total=None)
        report = kb.add(*map(Path, args.paths),
                        progress=lambda done, total: progress.update(task, completed=done, total=total))
    if report.documents == 0:
        if len(kb) == 0:  # leave no empty knowledge base behind
            kb.destroy()
        else:
            kb.close()
        reasons = "".join(f"\n  {s.source}: {s.reason}" for s in report.skipped)
        raise ConfigError(f"No readable documents in {', '.join(args.paths)}{reasons or ' (empty)'}")
    kb.save()
    print(f"indexed {report.documents} documents from {report.files} files into {report.chunks} chunks; "
          f"{len(kb)} chunks in {kb.location} ({kb.index_kind()} index)")
    if report.skipped:
        print(f"skipped {len(report.skipped)}:")
        for skipped in report.skipped:
            print(f"  {skipped.source}: {skipped.reason}")
    return 0


def _search(args: argparse.Namespace) -> int:
    from .knowledge import KnowledgeBase

    kb = KnowledgeBase.open(args.kb)
    try:
        passages = kb.search(args.query, args.k)
    finally:
        kb.close()
    if args.json:
        print(json.dumps([p.model_dump() for p in passages], indent=2, ensure_ascii=False))
    for p in [] if args.json else passages:
        print(f"{p.score:.3f}  {p.title}  ({p.source}#{p.position})\n       {p.text[:300]}")
    return 0


def _trace(args: argparse.Namespace) -> int:
    from .trace import read_trace

    records = read_trace(args.file)
    if args.html:
        from .viewer import render_html

        Path(args.html).write_text(render_html(records), encoding="utf-8")
        print(f"wrote {args.html}: open it in any browser, offline")
    if args.otel:
        from .otel import export_to_collector

        export_to_collector(records, args.otel_endpoint, capture_content=args.otel_content)
        print(f"sent {len(records)} records as spans to {args.otel_endpoint or 'the OTLP endpoint'}")
    if not (args.html or args.otel):
        kinds = Counter(r["kind"] for r in records)
        end = next((r for r in reversed(records) if r["kind"] == "answer"), None)
        print(f"{args.file}: {len(records)} records over {records[-1]['t']:.1f}s "
              f"({', '.join(f'{n} {k}' for k, n in kinds.items())})")
        print(f"Answer: {end['answer']}" if end else "no answer: the run was cut short")
    return 0


def _tools(args: argparse.Namespace) -> int:
    from .assemble import config_tools

    config = _config(args)
    installed = installed_tools(builtins=config.builtin_tools)
    with contextlib.ExitStack() as held:  # the MCP servers asked about stop once listed
        registry = ToolRegistry([*installed.tools, *config_tools(config, held)])
    _report(installed.failures)
    if args.json:
        print(json.dumps({t.name: {"source": t.source, "description": t.description,
                                   "parameters": t.json_schema()} for t in registry}, indent=2))
        return 0
    for t in registry:
        print(f"{t.name}  [{t.source}]\n  {t.description}")
        properties = t.json_schema().get("properties", {})
        for name, kinds in t.parameter_types().items():
            described = properties[name].get("description")
            print(f"    {name}: {' | '.join(kinds)}" + (f"  {described}" if described else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
