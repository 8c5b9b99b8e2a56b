"""A run's trace: its events as JSON Lines, one record per event, in a documented, versioned
schema (`trace_schema()`, kept in docs/trace.schema.json).

Every record has `v` (the schema version), `kind`, and `t` (seconds since the run started); the
rest is the event's own fields (see `events.py`). The run's end is an `answer` record with the
answer and its totals rather than the whole result, which holds the trace itself. Records are
written one line at a time and flushed, so the trace of a run that was killed is readable up to
its last whole line.
"""

from __future__ import annotations

import functools
import json
import operator
import time
from pathlib import Path
from typing import IO, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from .errors import ConfigError
from .events import (
    Answered,
    ApprovalRequested,
    Event,
    ModelCalled,
    PlanMade,
    Replanning,
    RunStarted,
    StepFinished,
    StepStarted,
)
from .jsonl import appended_lines
from .schema import StopReason

TRACE_VERSION = 1


class AnswerRecord(BaseModel):
    """The run's end: its answer, what ended it, and its totals."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["answer"] = "answer"
    run_id: str
    answer: str
    stopped_by: StopReason
    error: str | None = None
    replans: int
    duration_s: float
    prompt_tokens: int
    completion_tokens: int


_TRACED: tuple[type[BaseModel], ...] = (
    RunStarted, PlanMade, ModelCalled, StepStarted, ApprovalRequested, StepFinished, Replanning, AnswerRecord,
)


def _with_header(model: type[BaseModel]) -> type[BaseModel]:
    """`model`'s fields after the header every record has."""
    return create_model(
        f"{model.__name__}Record",
        __base__=model,
        v=(Literal[1], Field(description="trace schema version")),
        t=(float, Field(ge=0, description="seconds since the run started")),
    )


# The record models are made by `create_model`, so their union is built at run time: `A | B | ...`
# of the models, which a type checker sees only as BaseModel.
_RECORD: Any = Annotated[functools.reduce(operator.or_, map(_with_header, _TRACED)), Field(discriminator="kind")]
TraceRecord: TypeAdapter[BaseModel] = TypeAdapter(_RECORD)


def trace_schema() -> dict[str, Any]:
    """The JSON schema of one trace record."""
    schema = TraceRecord.json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"agentrt.trace/{TRACE_VERSION}",
            "title": "agentrt trace record", **schema}


def trace_record(event: Event, started: float) -> dict[str, Any]:
    """The trace record of `event`, `started` being the run's start on the `time.time()` clock."""
    body: BaseModel
    if isinstance(event, Answered):
        result = event.result
        body = AnswerRecord(run_id=result.run_id, answer=result.answer, stopped_by=result.stopped_by,
                            error=result.error, replans=result.replans, duration_s=result.duration_s,
                            prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens)
    else:
        body = event
    return {"v": TRACE_VERSION, "t": round(max(0.0, time.time() - started), 4), **body.model_dump(mode="json")}


class TraceRecorder:
    """Keeps a run's trace records as its events pass, and writes each to `sink` if given."""

    def __init__(self, sink: IO[str] | None = None) -> None:
        self.started = time.time()
        self.records: list[dict[str, Any]] = []
        self.sink = sink

    def __call__(self, event: Event) -> dict[str, Any]:
        """Keep (and write) `event`'s record; returns it."""
        record = trace_record(event, self.started)
        self.records.append(record)
        if self.sink is not None:
            self.sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.sink.flush()
        return record

    def elapsed(self) -> float:
        """Seconds since the run started, on the clock its records' `t` use."""
        return time.time() - self.started


def read_trace(path: str | Path) -> list[dict[str, Any]]:
    """The records of a trace file, checked against the schema. A last line cut short (the run was
    killed while writing it) is left out; any other bad line is a ConfigError naming it."""
    path = Path(path)

    def bad_line(number: int, exc: ValueError) -> None:
        raise ConfigError(f"{path}:{number}: not a JSON trace record ({exc})") from None

    records = []
    try:
        for number, record in appended_lines(path, bad_line):
            if isinstance(record, dict) and record.get("v") not in (None, TRACE_VERSION):
                raise ConfigError(f"{path}:{number}: trace schema version {record.get('v')}; this agentrt reads "
                                  f"version {TRACE_VERSION}")
            try:
                TraceRecord.validate_python(record)
            except ValueError as exc:
                raise ConfigError(f"{path}:{number}: not a valid trace record: {exc}") from None
            records.append(record)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the trace {path}: {exc}") from exc
    if not records:
        raise ConfigError(f"{path} holds no trace records; write one with `agentrt run --trace {path}`")
    return records
