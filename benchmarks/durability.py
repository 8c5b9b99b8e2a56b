"""Fault injection: SIGKILL runs and `index` jobs at random points, resume, and check that
nothing was lost, nothing happened twice, and no store or index was ever unreadable.

    .venv/bin/python benchmarks/durability.py                  # 100 runs, 30 index jobs
    .venv/bin/python benchmarks/durability.py --runs 5 --index-jobs 3
    .venv/bin/python benchmarks/durability.py --store postgresql://... --index-jobs 0   # runs in PostgreSQL

Each run is a six-step plan (three parallel `bump` calls, a fourth after them, a calculation, the
answer) whose `bump` tool adds one to a counter in its own SQLite file, keyed by the call's
`idempotency_key()`. The run is killed at a random moment after it starts, then resumed (and
perhaps killed again) until it finishes. Each `index` job adds a new document to a knowledge base
and is killed at a random moment; the base must then open and search, holding either the old
documents or the new ones.

Targets (benchmarks/README.md and docs/durability.md), all claimed: every run finishes with each
side effect exactly once and a readable store after every kill, and every index job leaves a base
that opens and searches, holding the old documents or the new. Exits 1 if one misses.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentrt.llm import GenerationRequest
from targets import Targets

EFFECTS = ("a", "b", "c", "d")
UNREADABLE = "an unreadable store"
PLAN = {"steps": [
    {"id": 1, "tool": "bump", "args": {"name": "a"}, "depends_on": []},
    {"id": 2, "tool": "bump", "args": {"name": "b"}, "depends_on": []},
    {"id": 3, "tool": "bump", "args": {"name": "c"}, "depends_on": []},
    {"id": 4, "tool": "bump", "args": {"name": "d"}, "depends_on": [1, 2, 3]},
    {"id": 5, "tool": "calculator", "args": {"expression": "$1 + $2 + $3 + $4"}, "depends_on": [1, 2, 3, 4]},
    {"id": 6, "tool": "final_answer", "args": {"answer": "$5"}, "depends_on": [5]},
]}


# ---- the processes that get killed ----

def planner_reply(request: GenerationRequest) -> dict:
    """What a model that knows the plan would say: the plan's steps from the number asked for, or,
    asked to judge a plan that a kill cut short while it was being written, to plan the rest."""
    if '"action"' in json.dumps(request.json_schema or {}):
        return {"action": "replan", "reason": "the plan was cut short"}
    first = re.search(r"numbered from (\d+)", request.messages[-1].content)
    return {"steps": [s for s in PLAN["steps"] if s["id"] >= (int(first.group(1)) if first else 1)]}


def run_worker(folder: Path, store: str) -> None:
    """Start the run (no run id yet) or resume it, in the run store `store` (a file in `folder`
    when empty); print `started` once it is under way."""
    from agentrt import Agent, tool
    from agentrt.context import idempotency_key
    from agentrt.events import RunStarted
    from agentrt.testing import ScriptedLLM

    @tool(idempotent=True)
    def bump(name: str) -> int:
        """Add one to the counter `name`, once per call, and return 1.

        Args:
            name: which counter
        """
        time.sleep(random.uniform(0.005, 0.05))
        with sqlite3.connect(folder / "counter.sqlite", isolation_level=None) as db:
            db.execute("CREATE TABLE IF NOT EXISTS effects (key TEXT PRIMARY KEY, name TEXT)")
            db.execute("INSERT OR IGNORE INTO effects VALUES (?, ?)", (idempotency_key(), name))
        time.sleep(random.uniform(0.005, 0.05))
        return 1

    agent = Agent(model=ScriptedLLM([planner_reply] * 20), tools=[bump], store=store or folder / "runs.sqlite",
                  max_replans=10)
    id_file = folder / "run_id"
    if id_file.exists():
        print("started", flush=True)
        result = agent.resume(id_file.read_text())
    else:
        for event in agent.stream("Bump a, b and c, then d, and add them up."):
            if isinstance(event, RunStarted):
                id_file.with_suffix(".tmp").write_text(event.run_id)
                id_file.with_suffix(".tmp").replace(id_file)
                print("started", flush=True)
        result = agent.resume(id_file.read_text())  # finished: gives the stored result back
    print(json.dumps({"answer": result.answer}), flush=True)


def index_worker(folder: Path, generation: int) -> None:
    """Add document number `generation` to the knowledge base and save it."""
    from agentrt.knowledge import KnowledgeBase
    from agentrt.testing import HashingEmbedder

    docs = folder / "docs"
    docs.mkdir(exist_ok=True)
    doc = docs / f"doc{generation}.txt"
    doc.write_text(f"Document {generation}. " + " ".join(f"fact {generation}-{i}." for i in range(40000)))
    kb = KnowledgeBase.open_or_create(folder / "kb", embedder=HashingEmbedder())
    print("started", flush=True)
    kb.add(doc)
    kb.save()
    kb.close()
    print("saved", flush=True)


# ---- the one that kills them ----

def killed_at_random(command: list[str], window_s: float | None) -> tuple[bool, str, float]:
    """Run `command`, and SIGKILL it at a random moment within `window_s` of its `started` line
    (None: let it finish). Returns whether it was killed, its output, and the seconds from its
    `started` line to its next (the work done)."""
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        first = process.stdout.readline()
        started = time.perf_counter()
        if first.strip() == "started" and window_s is not None:
            try:
                process.wait(timeout=random.uniform(0, window_s))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
        second = process.stdout.readline()  # the same buffered reader as the first line
        lasted = time.perf_counter() - started  # until the work was done, not the process
        out = first + second + process.stdout.read()
        process.wait()
        killed = process.returncode == -signal.SIGKILL
        if not killed and process.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read()}")
    return killed, out, lasted


def kill_window(command: list[str]) -> float:
    """How long `command` works after its `started` line, run once to the end: kills land
    uniformly within that, so they fall all through the work rather than mostly after it."""
    return killed_at_random(command, None)[2]


def store_state(folder: Path, store: str) -> str:
    """Where the kill landed, read from the run store (`store`, else the file in `folder`); "an
    unreadable store: ..." if it is not readable."""
    from agentrt import AgentrtError, RunStore

    if not (folder / "run_id").exists():
        return "before the run began"
    try:
        if not store:
            with sqlite3.connect(folder / "runs.sqlite") as db:
                integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
                if integrity != "ok":
                    return f"{UNREADABLE}: {integrity}"
        runs = RunStore(store or folder / "runs.sqlite")
        saved = runs.load((folder / "run_id").read_text())
        runs.close()
    except (sqlite3.DatabaseError, AgentrtError) as exc:
        return f"{UNREADABLE}: {exc}"
    if saved.status == "finished":
        return "after the run finished"
    if not saved.steps:
        return "while planning"
    running = f", {len(saved.interrupted)} running" if saved.interrupted else ""
    return f"with {len(saved.done)} of 6 steps done{running}"


def run_problem(folder: Path, answer: str) -> str | None:
    """What is wrong with a finished run (side effects not each exactly once, or a wrong answer), if anything."""
    with sqlite3.connect(folder / "counter.sqlite") as db:
        effects = collections.Counter(name for (name,) in db.execute("SELECT name FROM effects"))
    if effects != collections.Counter(EFFECTS) or json.loads(answer)["answer"] != "4":
        return f"side effects {dict(effects)}, answer {answer!r}: expected each once, 4"
    return None


def durable_runs(runs: int, store: str) -> tuple[collections.Counter[str], int, float, float, list[str]]:
    """(where the kills landed, processes started, seconds, the kill window, what went wrong in which run),
    the runs kept in `store` (each in a file of its own when empty)."""
    landed: collections.Counter[str] = collections.Counter()
    problems: list[str] = []
    processes = 0
    with tempfile.TemporaryDirectory() as tmp:
        window_s = kill_window([sys.executable, __file__, "--worker", "run", tmp, store])
    start = time.perf_counter()
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            command = [sys.executable, __file__, "--worker", "run", str(folder), store]
            for attempt in range(20):
                processes += 1
                # the first attempt is always killed if it is still going; later ones half the time
                killed, out, _ = killed_at_random(command, window_s if attempt == 0 or random.random() < 0.5 else None)
                if not killed:
                    problem = run_problem(folder, out.splitlines()[-1])
                    break
                where = store_state(folder, store)
                landed[where.partition(":")[0]] += 1
                if where.startswith(UNREADABLE):
                    problem = f"after kill {attempt + 1}, {where}"
                    break
            else:
                problem = "not finished after 20 attempts"
            if problem:
                problems.append(f"run {run + 1}: {problem}")
    return landed, processes, time.perf_counter() - start, window_s, problems


def durable_index(jobs: int) -> tuple[collections.Counter[str], float, float, list[str], int]:
    """(what each job left, seconds, the kill window, what went wrong after which job, jobs that left
    a base that opened, searched and held the old or the new documents)."""
    from agentrt.knowledge import KnowledgeBase
    from agentrt.testing import HashingEmbedder

    outcomes: collections.Counter[str] = collections.Counter()
    problems: list[str] = []
    sound = 0
    with tempfile.TemporaryDirectory() as tmp:
        # twice the first job's time: later jobs save a bigger base, and some should finish unkilled
        window_s = 2 * kill_window([sys.executable, __file__, "--worker", "index", tmp, "0"])
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        committed = 0  # documents the base holds for sure
        for generation in range(jobs):
            killed, _, _ = killed_at_random(
                [sys.executable, __file__, "--worker", "index", str(folder), str(generation)], window_s)
            try:
                kb = KnowledgeBase.open(folder / "kb", embedder=HashingEmbedder())  # must open, whatever happened
                searches = bool(kb.search("Document fact", 3))
                held = len(kb.sources())
                kb.close()
            except Exception as exc:  # the failure this benchmark looks for: report it, and go on
                problems.append(f"index job {generation}: the base does not open and search: {exc!r}")
                break
            before = len(problems)
            if not searches and committed:
                problems.append(f"index job {generation}: the base no longer searches")
            if held not in (committed, committed + 1) or (not killed and held != committed + 1):
                problems.append(f"index job {generation}: base holds {held} documents, expected "
                                f"{committed} or {committed + 1}")
            sound += len(problems) == before
            outcomes[f"{'killed' if killed else 'not killed'}, base holds the {'new' if held > committed else 'old'} "
                     "documents"] += 1
            committed = held
    return outcomes, time.perf_counter() - start, window_s, problems, sound


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--index-jobs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--store", default="", metavar="URL",
                        help="keep every run in this run store (a postgresql:// URL, say) instead of a SQLite "
                             "file of its own")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, folder, *rest = args.worker
        run_worker(Path(folder), rest[0]) if kind == "run" else index_worker(Path(folder), int(rest[0]))
        return
    random.seed(args.seed)
    targets = Targets("durability")
    landed, processes, run_s, window_s, problems = durable_runs(args.runs, args.store)
    verdict = ("every run finished, every side effect exactly once, every store readable" if not problems else
               f"{len(problems)} run(s) FAILED")
    print(f"{args.runs} runs, {processes} processes, {sum(landed.values())} SIGKILLs within {window_s:.2f} s "
          f"of start, {run_s:.0f} s: {verdict}")
    print("| where the kill landed | kills |\n|---|---|")
    for where, count in sorted(landed.items(), key=lambda kv: -kv[1]):
        print(f"| {where} | {count} |")
    for problem in problems:
        print(f"  {problem}")
    targets.check(f"runs finished with each side effect once and readable stores, of {args.runs}",
                  args.runs - len(problems), f"== {args.runs}")
    if args.index_jobs:
        outcomes, index_s, window_s, problems, sound = durable_index(args.index_jobs)
        verdict = ("the knowledge base opened and searched after every one" if not problems else
                   f"{len(problems)} problem(s)")
        print(f"\n{args.index_jobs} index jobs, kills within {window_s:.2f} s of start, {index_s:.0f} s: {verdict}")
        print("| outcome | jobs |\n|---|---|")
        for outcome, count in sorted(outcomes.items()):
            print(f"| {outcome} | {count} |")
        for problem in problems:
            print(f"  {problem}")
        targets.check(f"index jobs after which the base opened and searched, of {args.index_jobs}",
                      sound, f"== {args.index_jobs}")
    targets.exit()


if __name__ == "__main__":
    main()
