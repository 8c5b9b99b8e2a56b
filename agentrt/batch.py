"""Instruction files for `agentrt run-batch`: JSON Lines in, one result record per line out.

Each input line is `{"instruction": "...", "id": ...}` (`id` optional: the line number by
default). Results are appended as runs finish, so an interrupted batch keeps what it finished,
and running it again with the same output file skips those instructions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import AgentrtError, ConfigError
from .jsonl import appended_lines
from .schema import RunResult


class BatchItem(BaseModel):
    """One instruction of a batch file."""

    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1)
    id: str | int | None = None


def read_batch(path: str | Path) -> list[BatchItem]:
    """The items of a JSON Lines instruction file, each with an id; errors name file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # JSON strings may hold \u2028 raw
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the instruction file {path}: {exc}") from exc
    items: list[BatchItem] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = BatchItem.model_validate_json(line)
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise ConfigError(
                f"{path}:{number}: {problem['msg']} at {'.'.join(map(str, problem['loc'])) or 'the line'}; "
                'each line must be {"instruction": "...", "id": optional}'
            ) from exc
        items.append(item if item.id is not None else item.model_copy(update={"id": number}))
    ids = [item.id for item in items]
    repeated = sorted({str(i) for i in ids if ids.count(i) > 1})
    if repeated:
        raise ConfigError(f"{path}: ids must be unique; repeated: {', '.join(repeated)}")
    if not items:
        raise ConfigError(f"{path} holds no instructions")
    return items


def complete_records(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects on a results file's lines, in order, leaving out a line cut short when a
    run was killed (its item runs again); none if the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    return [record for _, record in appended_lines(path) if isinstance(record, dict)]


def finished_ids(path: str | Path) -> set[str | int]:
    """Ids that already have a successful record in a results file (none if it does not exist)."""
    return {record["id"] for record in complete_records(path) if "answer" in record}


def result_record(item: BatchItem, outcome: RunResult | AgentrtError) -> dict[str, Any]:
    """The results-file line for one finished item."""
    if isinstance(outcome, AgentrtError):
        return {"id": item.id, "instruction": item.instruction, "failed": str(outcome)}
    return {
        "id": item.id,
        "instruction": item.instruction,
        "answer": outcome.answer,
        "stopped_by": outcome.stopped_by,
        "error": outcome.error,
        "steps": len(outcome.steps),
        "duration_s": round(outcome.duration_s, 3),
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
    }
