"""Running a suite: every item through its agent, a record per item, totals for the report.

Records are appended to `REPORT.records.jsonl` as items finish, so a run that is interrupted
keeps them, and running it again with the same report path does only the items left.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from ..agent import Mode
from ..batch import complete_records
from ..errors import AgentrtError, ConfigError
from ..live import progress_bar
from ..llm import LLM, load_llm
from ..memory import ExperienceMemory
from ..schema import FINAL_ANSWER_TOOL
from .suites import Item, Split, Suite, eval_config, suite, tool_calls


def evaluate(
    suite_name: str,
    *,
    split: Split = "dev",
    limit: int | None = None,
    model: LLM | str | None = None,
    mode: Mode = "parallel",
    constrained: bool = True,
    concurrency: int = 1,
    memory: bool = False,
    shard: tuple[int, int] = (1, 1),
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Run the first `limit` items (all by default) of a suite's `split` and return the report:
    settings, totals, and one record per item. With `out`, the report is written there and
    finished items are kept in `out`.records.jsonl, so an interrupted run resumes.
    Item latencies are measured with `concurrency` items at once: keep it 1 to compare them.
    With `memory`, items share an experience memory (kept beside `out`): each item's planner is
    shown the plans of earlier items that went well, as a deployed agent's would be.
    `shard=(k, n)` runs only every n-th item from the k-th: n processes on one machine given
    shards 1 to n and the same `out` share the work and its records, and a run without `shard`
    afterwards runs nothing more and reports every item."""
    if split not in ("dev", "test"):
        raise ConfigError(f"split={split!r}; use 'dev' (tune here) or 'test' (report here)")
    if concurrency < 1 or (limit is not None and limit < 1):
        raise ConfigError(f"concurrency={concurrency} and limit={limit} must be 1 or more")
    k, n = shard
    if not 1 <= k <= n:
        raise ConfigError(f"shard={k}/{n}: give K/N with 1 <= K <= N, e.g. 1/2 and 2/2 for two processes")
    chosen = suite(suite_name)
    if mode not in chosen.modes:
        raise ConfigError(f"Suite {suite_name} runs in {' or '.join(chosen.modes)} mode, not {mode!r}")
    items = chosen.items(split)[:limit][k - 1 :: n]
    llm = model if model is not None and not isinstance(model, str) else load_llm(model)
    settings = {"suite": suite_name, "split": split, "model": llm.name, "mode": mode, "constrained": constrained}
    if memory:  # only then, so records of runs without it keep the header they were written with
        settings["memory"] = True
    store = _RecordStore(Path(f"{out}.records.jsonl"), settings) if out else None
    done = store.load() if store else {}
    todo = [item for item in items if item.id not in done]
    experience = ExperienceMemory(f"{out}.memory.sqlite" if out else ":memory:") if memory else None
    records = {**done, **asyncio.run(_run_items(chosen, todo, llm, mode, constrained, concurrency, store,
                                                 experience))}
    ordered = [records[item.id] for item in items]
    report = {**settings, "agentrt_version": _version(), "items": len(ordered), "limit": limit,
              "shard": f"{k}/{n}", "concurrency": concurrency, "totals": totals(ordered), "records": ordered}
    if out:
        _write_atomically(Path(out), json.dumps(report, indent=1, ensure_ascii=False))
    return report


async def _run_items(
    chosen: Suite, items: list[Item], llm: LLM, mode: Mode, constrained: bool, concurrency: int,
    store: _RecordStore | None, memory: ExperienceMemory | None,
) -> dict[str, dict[str, Any]]:
    gate = asyncio.Semaphore(concurrency)
    records: dict[str, dict[str, Any]] = {}

    async def one(item: Item) -> dict[str, Any]:
        async with gate:
            return {**await run_item(chosen, item, llm, mode, constrained, memory), "concurrency": concurrency}

    with progress_bar() as progress:
        task = progress.add_task(f"{chosen.name}: {len(items)} items", total=len(items))
        # tasks made in item order start in item order (as_completed alone would start them in any)
        tasks = [asyncio.create_task(one(item)) for item in items]
        for finished in asyncio.as_completed(tasks):
            record = await finished
            records[record["id"]] = record
            if store:
                store.append(record)
            right = sum(r["correct"] for r in records.values())
            progress.update(task, advance=1, description=f"{chosen.name}: {right}/{len(records)} correct")
    return records


async def run_item(chosen: Suite, item: Item, llm: LLM, mode: Mode, constrained: bool,
                   memory: ExperienceMemory | None = None) -> dict[str, Any]:
    """One item's record: question, plan, calls, answer, scores, validity, latency and tokens."""
    record: dict[str, Any] = {"id": item.id, "question": item.question, "reference": item.reference}
    # outside the timing: it may build a knowledge base once
    agent = chosen.agent(item, llm, eval_config(mode, constrained))
    agent.memory = memory
    start = time.perf_counter()
    try:
        result = await agent.arun(item.question)
    except AgentrtError as exc:  # no usable plan: the output was not valid
        latency, call = time.perf_counter() - start, exc.model_call
        return {**record, "valid": False, "answer": None, **chosen.score_unusable(item), "plan": None,
                "calls": [], "error": str(exc), "latency_s": latency,
                "prompt_tokens": call.prompt_tokens if call else 0,
                "completion_tokens": call.completion_tokens if call else 0}
    latency = time.perf_counter() - start
    return {
        **record,
        "valid": True,
        "answer": result.answer,
        **chosen.score(item, result),
        "plan": [step.model_dump() for step in result.plan.steps],
        "calls": tool_calls(result, skip=(FINAL_ANSWER_TOOL,)),
        "error": result.error,
        "latency_s": latency,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
    }


def totals(records: list[dict[str, Any]]) -> dict[str, float]:
    """Accuracy, valid-output rate, mean latency and tokens, and the mean of every other score
    over the items that have it.
    Mean latency is over the items that ran alone (`latency_items` of them) when there are any:
    items run several at once wait for each other, so their latencies measure throughput."""
    if not records:
        return {}
    # subtle: a score may belong to some items only (a tool-use suite's no_tool, say): each is
    # averaged over the items that have it
    numeric = [k for k in dict.fromkeys(k for r in records for k, v in r.items() if isinstance(v, (bool, int, float)))
               if k not in ("valid", "correct", "latency_s", "concurrency")]
    means = {k: statistics.mean(float(r[k] or 0) for r in records if k in r) for k in numeric}
    alone = [r for r in records if r.get("concurrency", 1) == 1]
    return {
        "accuracy": statistics.mean(r["correct"] for r in records),
        "valid_rate": statistics.mean(r["valid"] for r in records),
        "mean_latency_s": statistics.mean(r["latency_s"] for r in alone or records),
        "latency_items": len(alone or records),
        **means,
    }


class _RecordStore:
    """Finished items' records, one JSON line each, under a first line naming the settings.
    Shards in other processes may share the file: it is created with its header in one step,
    and each record is appended in one write."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        self.path, self.settings = path, settings

    def load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
            staging.write_text(json.dumps({"settings": self.settings}) + "\n", encoding="utf-8")
            try:
                os.link(staging, self.path)  # fails if another run made the file meanwhile: use theirs
            except FileExistsError:
                pass
            finally:
                staging.unlink()
        header, *records = complete_records(self.path) or [{}]
        if header.get("settings") != self.settings:
            raise ConfigError(
                f"{self.path} holds records of another run (not {self.settings}); "
                "give another --out, or delete it to start over"
            )
        return {record["id"]: record for record in records}

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(descriptor, line)
        finally:
            os.close(descriptor)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def _version() -> str:
    from .. import __version__

    return __version__
