"""A run's trace as OpenTelemetry spans, after the fact, in the GenAI semantic conventions
(https://opentelemetry.io/docs/specs/semconv/gen-ai/): for users who already run a collector.
Needs the `otel` extra: pip install 'agentrt[otel]'.

One run is one trace:

    invoke_agent agentrt    the run: gen_ai.conversation.id is its run id
      chat {model}          each planner, joiner and `think` step model call, with its tokens
      execute_tool {tool}   each tool step; status ERROR, with error.type, when it failed

Prompts, model outputs, tool arguments and results are content, which the conventions make
opt-in: they are exported only with `capture_content=True`. Attributes of agentrt's own are
named `agentrt.*`. The provider is `agentrt`, whose backend (local or OpenAI-compatible) the
trace does not record; nor does it record why a generation stopped, so outputs say `unknown`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from . import __version__
from .errors import BackendError, ConfigError
from .picture import Record, RunPicture, StepPicture
from .schema import THINK_TOOL

try:
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ImportError as exc:
    raise ConfigError(f"OpenTelemetry export needs the otel extra ({exc.name} is not installed): "
                      "pip install 'agentrt[otel]'") from exc

AGENT = "agentrt"


def export_trace(
    records: Sequence[Record], *, tracer_provider: trace.TracerProvider | None = None, model: str | None = None,
    capture_content: bool = False, started_at: float | None = None,
) -> None:
    """Emit one run's trace records (`RunResult.trace`, `read_trace(path)`) as spans on
    `tracer_provider`, by default the global one.

    `model` names the model in `chat` spans (by default, the one the run's model calls name).
    Records hold seconds since the run started; `started_at` is that start on the `time.time()`
    clock, by default now minus the last record's `t`, which is right for a run just finished.
    """
    runs = [r for r in records if r["kind"] == "run_started"]
    if len(runs) != 1:
        raise ConfigError(f"export_trace takes one run's trace records; these hold {len(runs)} runs")
    run = RunPicture.from_records(records)
    anchor = time.time() - run.last_t if started_at is None else started_at
    tracer = trace.get_tracer(AGENT, __version__, tracer_provider=tracer_provider)
    _export_run(tracer, run, anchor, None, model or _model_of(run.model_calls), capture_content, AGENT)


def _export_run(tracer: trace.Tracer, run: RunPicture, anchor: float, context: Context | None, model: str | None,
                capture_content: bool, agent: str) -> None:
    """One run's spans, its root under `context` (None for the top run); a step that delegated
    to another agent (`Agent.as_tool`) holds that agent's run, exported under the step's span."""

    def at(t: float) -> int:
        return int((anchor + t) * 1e9)

    common = {"gen_ai.provider.name": AGENT, "gen_ai.conversation.id": run.run_id}
    chat_name, chat_common = "chat", {**common, "gen_ai.operation.name": "chat"}
    if model:
        chat_name, chat_common["gen_ai.request.model"] = f"chat {model}", model

    invoked: dict[str, Any] = {**common, **({"gen_ai.request.model": model} if model else {}),
                               "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": agent,
                               "agentrt.resumed": run.resumed}
    root = tracer.start_span(f"invoke_agent {agent}", context=context, kind=SpanKind.INTERNAL, start_time=at(0.0),
                             attributes=invoked)
    if capture_content:
        root.set_attribute("gen_ai.input.messages", _input_messages([{"role": "user", "content": run.instruction}]))
    parent = trace.set_span_in_context(root)
    ends: list[tuple[float, Span]] = []  # children end in time order, which is the order exporters see

    for call in run.model_calls:
        span = tracer.start_span(chat_name, context=parent, kind=SpanKind.INTERNAL,
                                 attributes={**chat_common, "agentrt.purpose": call["purpose"]},
                                 start_time=at(max(0.0, call["t"] - call["duration_s"])))
        span.set_attributes(_chat_attributes(call, capture_content))
        ends.append((call["t"], span))
    for step in run.steps.values():
        started, result = step.began_t(), step.result
        if started is None:  # planned, never started: no span
            continue
        span = _step_span(tracer, parent, step, at(started), chat_name,
                          chat_common if step.tool == THINK_TOOL else common)
        if step.approval_t is not None:
            span.add_event("agentrt.approval_requested", timestamp=at(step.approval_t))
        if result is None:
            _fail(span, "unfinished", "the trace ends before this step finished")
            ends.append((run.last_t, span))
            continue
        if result["model_call"]:
            span.set_attributes(_chat_attributes(result["model_call"], capture_content))
        elif capture_content:
            arguments = result["args"] if result["resolved_args"] is None else result["resolved_args"]
            span.set_attributes({"gen_ai.tool.call.arguments": _json(arguments),
                                 "gen_ai.tool.call.result": _json(result["value"])})
        if result["status"] == "error":
            _fail(span, _error_type(result.get("error")), result["observation"])
        if result.get("subrun"):  # the agent it delegated to: its run, nested under this step
            sub = result["subrun"]
            _export_run(tracer, RunPicture.from_records(sub["trace"]), anchor + started,
                        trace.set_span_in_context(span), _model_of(sub["model_calls"]), capture_content, step.tool)
        ends.append((step.finished_t or run.last_t, span))
    for t, span in sorted(ends, key=lambda pair: pair[0]):
        span.end(at(t))

    events = [(plan["t"], "agentrt.plan", {"agentrt.plan.round": plan["round"],
                                            "agentrt.plan.step_ids": [s["id"] for s in plan["steps"]]})
              for plan in run.plans.values()]
    events += [(replan["t"], "agentrt.replan", {"agentrt.plan.round": replan["round"],
                                                **({"agentrt.replan.reason": replan["reason"]} if capture_content
                                                   else {})})
               for replan in run.replans.values()]
    for t, name, attributes in sorted(events, key=lambda event: event[0]):
        root.add_event(name, attributes, at(t))
    answer = run.answer
    if answer is None:
        _fail(root, "unfinished", "the trace ends before the run answered")
    else:
        root.set_attributes({
            "gen_ai.usage.input_tokens": answer["prompt_tokens"],
            "gen_ai.usage.output_tokens": answer["completion_tokens"],
            "agentrt.replans": answer["replans"], "agentrt.stopped_by": answer["stopped_by"],
        })
        if capture_content:
            root.set_attribute("gen_ai.output.messages", _output_messages(answer["answer"], "stop"))
        if answer["error"]:
            _fail(root, answer["stopped_by"], answer["error"])
    root.end(at(run.last_t))


def _model_of(calls: Sequence[Record]) -> str | None:
    """The model the first of `calls` names, if any (traces before 2026-12-07 name none)."""
    return next((c["model"] for c in calls if c.get("model")), None)


def _step_span(tracer: trace.Tracer, parent: Context, step: StepPicture, start: int, chat_name: str,
               common: dict[str, Any]) -> Span:
    """The span of a step that started at `start`: a chat for a `think` step, else a tool call."""
    attributes = {**common, "agentrt.step.id": step.id, "agentrt.step.depends_on": step.depends_on,
                  "agentrt.plan.round": step.round}
    if step.tool == THINK_TOOL:
        name, attributes = chat_name, {**attributes, "agentrt.purpose": "think"}
    else:
        name, attributes = f"execute_tool {step.tool}", {
            **attributes, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": step.tool,
            "gen_ai.tool.type": "function", "gen_ai.tool.call.id": str(step.id),
        }
    return tracer.start_span(name, context=parent, kind=SpanKind.INTERNAL, attributes=attributes, start_time=start)


def export_to_collector(
    records: Sequence[Record], endpoint: str | None = None, capture_content: bool = False, *,
    model: str | None = None, started_at: float | None = None,
) -> None:
    """Send one run's trace to an OpenTelemetry collector over OTLP/HTTP, and return once it is sent.

    `endpoint` is the collector's traces URL; a bare `http://host:4318` gets `/v1/traces`. By
    default the SDK's own settings apply: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or
    OTEL_EXPORTER_OTLP_ENDPOINT plus `/v1/traces`, else http://localhost:4318/v1/traces (as do its
    OTEL_EXPORTER_OTLP_* headers and timeout). Raises BackendError, naming the endpoint, when the
    collector cannot be reached or does not take the spans.
    """
    if endpoint and urlsplit(endpoint).path in ("", "/"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"
    exporter = _Checked(OTLPSpanExporter(endpoint=endpoint))
    provider = TracerProvider(resource=_resource())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    try:
        export_trace(records, tracer_provider=provider, model=model, capture_content=capture_content,
                     started_at=started_at)
        flushed = provider.force_flush()
    finally:
        provider.shutdown()
    if exporter.failed or not flushed:
        # the exporter resolved the endpoint from the environment when none was given
        where = exporter.exporter._endpoint
        raise BackendError(f"The OpenTelemetry collector at {where} could not be reached or did not take the "
                           "trace; start one there, or give its URL (OTEL_EXPORTER_OTLP_ENDPOINT)")


class _Checked(SpanExporter):
    """Passes spans on to `exporter` and remembers whether any batch failed: the batch processor
    exports on a thread of its own and only logs failures, which the caller must hear of."""

    def __init__(self, exporter: OTLPSpanExporter) -> None:
        self.exporter, self.failed = exporter, False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.exporter.export(spans)
        except Exception:  # some exporter versions raise where a connection is refused
            result = SpanExportResult.FAILURE
        self.failed |= result is not SpanExportResult.SUCCESS
        return result

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def _resource() -> Resource:
    """The SDK's resource from the environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), with
    service.name `agentrt` where the environment names none."""
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: AGENT}))
    return resource


def _chat_attributes(call: Record, capture_content: bool) -> dict[str, Any]:
    """A model call's usage, and with `capture_content` its messages in the conventions' JSON."""
    attributes: dict[str, Any] = {
        "gen_ai.usage.input_tokens": call["prompt_tokens"], "gen_ai.usage.output_tokens": call["completion_tokens"],
        # plans and joiner decisions are JSON; a think step's answer is text
        "gen_ai.output.type": "text" if call["purpose"] == THINK_TOOL else "json",
    }
    if capture_content:
        attributes["gen_ai.input.messages"] = _input_messages(call["messages"])
        attributes["gen_ai.output.messages"] = _output_messages(call["output"], "unknown")
    return attributes


def _input_messages(messages: Sequence[Record]) -> str:
    return _json([{"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]} for m in messages])


def _output_messages(text: str, finish_reason: str) -> str:
    return _json([{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": finish_reason}])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _error_type(error: Record | None) -> str:
    """A failed step's class of error, few-valued as error.type must be: the exception a tool
    raised, `timeout`, or the step error's kind (`_OTHER` for a trace from before steps had one)."""
    if error is None:
        return "_OTHER"
    if error["kind"] in ("timeout", "cut_off"):
        return "timeout"
    return error["exception"] or error["kind"]


def _fail(span: Span, error_type: str, description: str) -> None:
    span.set_status(Status(StatusCode.ERROR, description))
    span.set_attribute("error.type", error_type)
