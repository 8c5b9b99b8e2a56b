"""OpenTelemetry export: a run's trace records become GenAI-convention spans, in memory and over
OTLP/HTTP to a real (local) endpoint."""

import importlib
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentrt import Agent, BackendError, ConfigError, tool
from agentrt.otel import export_to_collector, export_trace
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan, replan

CONTENT_KEYS = {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.call.arguments",
                "gen_ai.tool.call.result", "agentrt.replan.reason"}


@tool
def lookup(city: str) -> int:
    """Population of a city."""
    time.sleep(0.02)  # long enough for a span to have a measurable length
    return {"Oslo": 709_000, "Bergen": 291_000}[city]


def run(*replies, instruction="How many more people live in Oslo than Bergen?"):
    return Agent(model=ScriptedLLM(replies), tools=[lookup], store=":memory:").run(instruction)


def spans_of(records, **options):
    """The finished spans of `records`, root (the last to end) first."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    export_trace(records, tracer_provider=provider, **options)
    spans = list(memory.get_finished_spans())
    return [spans[-1], *spans[:-1]]


@pytest.fixture(scope="module")
def oslo():
    """A run with a planner call, two tool steps, a think step, a failing tool step and a joiner call."""
    return run(
        plan(("lookup", {"city": "Oslo"}), ("lookup", {"city": "Bergen"}), ("calculator", {"expression": "$1 - $2"}),
             ("think", {"question": "Is $3 a lot?"}), ("lookup", {"city": "Atlantis"})),
        "Yes, quite a lot.",
        answer("418000 more."),
    )


def test_a_run_is_one_tree_of_agent_chat_and_tool_spans(oslo):
    root, *children = spans_of(oslo.trace, model="SmolLM2-135M")
    assert root.name == "invoke_agent agentrt" and root.parent is None
    assert sorted(s.name for s in children) == sorted(
        ["chat SmolLM2-135M"] * 3 + ["execute_tool lookup"] * 3 + ["execute_tool calculator"])
    for span in children:
        assert span.parent.span_id == root.context.span_id
        assert span.context.trace_id == root.context.trace_id


def test_spans_carry_the_genai_attributes_and_the_runs_token_totals(oslo):
    root, *children = spans_of(oslo.trace, model="SmolLM2-135M")
    assert dict(root.attributes) == {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.provider.name": "agentrt", "gen_ai.agent.name": "agentrt",
        "gen_ai.conversation.id": oslo.run_id, "gen_ai.request.model": "SmolLM2-135M", "agentrt.resumed": False,
        "gen_ai.usage.input_tokens": oslo.prompt_tokens, "gen_ai.usage.output_tokens": oslo.completion_tokens,
        "agentrt.replans": 0, "agentrt.stopped_by": "joiner",
    }
    chats = [s for s in children if s.attributes["gen_ai.operation.name"] == "chat"]
    assert [s.attributes["agentrt.purpose"] for s in chats] == ["plan", "think", "answer"]
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in chats) == oslo.prompt_tokens > 0
    assert sum(s.attributes["gen_ai.usage.output_tokens"] for s in chats) == oslo.completion_tokens > 0
    assert {s.attributes["gen_ai.request.model"] for s in chats} == {"SmolLM2-135M"}
    think = chats[1]
    assert think.attributes["agentrt.step.id"] == 4 and think.attributes["agentrt.step.depends_on"] == (3,)
    tools = {s.attributes["agentrt.step.id"]: s for s in children
             if s.attributes["gen_ai.operation.name"] == "execute_tool"}
    assert sorted(tools) == [1, 2, 3, 5]
    calculator = tools[3].attributes
    assert calculator["gen_ai.tool.name"] == "calculator" and calculator["gen_ai.tool.call.id"] == "3"
    assert calculator["agentrt.step.depends_on"] == (1, 2) and calculator["agentrt.plan.round"] == 0
    assert all(s.attributes["gen_ai.conversation.id"] == oslo.run_id for s in children)


def test_a_failing_tool_span_has_error_status_and_the_exceptions_name(oslo):
    spans = {s.attributes.get("agentrt.step.id"): s for s in spans_of(oslo.trace)[1:]}
    failed = spans[5]
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == "KeyError"
    assert "lookup failed: KeyError: 'Atlantis'" in failed.status.description
    assert all(spans[i].status.status_code == StatusCode.UNSET and "error.type" not in spans[i].attributes
               for i in (1, 2, 3, 4))


def test_content_is_left_out_unless_asked_for(oslo):
    spans = spans_of(oslo.trace)
    exported = json.dumps([dict(s.attributes) for s in spans] + [dict(e.attributes) for s in spans for e in s.events])
    assert not CONTENT_KEYS & {k for s in spans for k in s.attributes}
    for secret in ("Oslo than Bergen", "Atlantis'}", "Yes, quite a lot", "418000 more"):
        assert secret not in exported


def test_content_follows_the_conventions_message_format_when_asked_for(oslo):
    root, *children = spans_of(oslo.trace, capture_content=True)
    assert json.loads(root.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": oslo.instruction}]}]
    assert json.loads(root.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "418000 more."}], "finish_reason": "stop"}]
    steps = {s.attributes.get("agentrt.step.id"): s.attributes for s in children}
    assert json.loads(steps[3]["gen_ai.tool.call.arguments"]) == {"expression": "709000 - 291000"}
    assert json.loads(steps[3]["gen_ai.tool.call.result"]) == 418000
    [think_output] = json.loads(steps[4]["gen_ai.output.messages"])
    assert think_output["parts"] == [{"type": "text", "content": "Yes, quite a lot."}]
    planner = next(s for s in children if s.attributes.get("agentrt.purpose") == "plan")
    [prompt] = json.loads(planner.attributes["gen_ai.input.messages"])
    assert prompt["role"] == "user" and oslo.instruction in prompt["parts"][0]["content"]


def test_span_times_come_from_the_records_and_lie_within_the_run(oslo):
    started_at = 1_700_000_000.0
    root, *children = spans_of(oslo.trace, started_at=started_at)
    ns = lambda t: int((started_at + t) * 1e9)  # noqa: E731
    assert root.start_time == ns(0.0) and root.end_time == ns(oslo.trace[-1]["t"])
    for span in children:
        assert root.start_time <= span.start_time <= span.end_time <= root.end_time
    begun = {r["step"]["id"]: r["t"] for r in oslo.trace if r["kind"] == "step_started"}
    ended = {r["result"]["id"]: r["t"] for r in oslo.trace if r["kind"] == "step_finished"}
    for span in children:
        if (step := span.attributes.get("agentrt.step.id")) is not None:
            assert (span.start_time, span.end_time) == (ns(begun[step]), ns(ended[step]))
    steps = {s.attributes["agentrt.step.id"]: s for s in children if "agentrt.step.id" in s.attributes}
    assert steps[3].start_time >= max(steps[1].end_time, steps[2].end_time)  # $1 - $2 waits for both
    assert steps[4].start_time >= steps[3].end_time
    assert all(steps[i].end_time - steps[i].start_time >= 15_000_000 for i in (1, 2, 5))  # lookup sleeps 20 ms


def test_by_default_the_run_is_taken_to_have_just_finished(oslo):
    before = time.time_ns()
    root = spans_of(oslo.trace)[0]
    assert before <= root.end_time <= time.time_ns()
    assert root.end_time - root.start_time == pytest.approx(oslo.trace[-1]["t"] * 1e9, abs=1_000)


def test_replans_are_events_of_the_run_and_steps_know_their_round():
    result = run(plan(("lookup", {"city": "Atlantis"})), replan("Atlantis is not a city"),
                 plan(("lookup", {"city": "Oslo"}), first=2), answer("709000"))
    root, *children = spans_of(result.trace, capture_content=True)
    assert [(e.name, e.attributes["agentrt.plan.round"]) for e in root.events] == [
        ("agentrt.plan", 0), ("agentrt.replan", 1), ("agentrt.plan", 1)]
    assert root.events[1].attributes["agentrt.replan.reason"] == "Atlantis is not a city"
    assert root.attributes["agentrt.replans"] == 1
    rounds = {s.attributes["agentrt.step.id"]: s.attributes["agentrt.plan.round"]
              for s in children if "gen_ai.tool.name" in s.attributes}
    assert rounds == {1: 0, 2: 1}
    assert "agentrt.replan.reason" not in spans_of(result.trace)[0].events[1].attributes


def test_a_run_that_ended_in_error_has_an_error_root():
    result = run(plan(("lookup", {"city": "Oslo"})), "this is not a decision")
    assert result.stopped_by == "join_failed" and result.error
    root = spans_of(result.trace)[0]
    assert root.status.status_code == StatusCode.ERROR and root.attributes["error.type"] == "join_failed"
    assert root.status.description == result.error


def test_a_trace_cut_short_leaves_the_run_and_its_running_step_unfinished(oslo):
    cut = next(i for i, r in enumerate(oslo.trace) if r["kind"] == "step_started") + 1
    root, *others, step = spans_of(oslo.trace[:cut])
    # steps start while the plan streams, so the plan's chat span may or may not be closed yet
    assert step.name == "execute_tool lookup" and [s.name for s in others] in ([], ["chat scripted"])
    for span in (root, step):
        assert span.status.status_code == StatusCode.ERROR and span.attributes["error.type"] == "unfinished"
    assert step.end_time == root.end_time


def test_a_step_with_no_started_record_is_placed_by_its_duration(oslo):
    records = [r for r in oslo.trace if r["kind"] != "step_started"]
    spans = {s.attributes.get("agentrt.step.id"): s for s in spans_of(records, started_at=0.0)}
    finished = next(r for r in records if r["kind"] == "step_finished" and r["result"]["id"] == 1)
    assert spans[1].end_time == int(finished["t"] * 1e9)
    assert spans[1].end_time - spans[1].start_time == pytest.approx(finished["result"]["duration_s"] * 1e9, abs=1_000)


def test_records_of_two_runs_are_refused(oslo):
    with pytest.raises(ConfigError, match="one run's trace records; these hold 2 runs"):
        export_trace(oslo.trace + oslo.trace, tracer_provider=TracerProvider())


def test_without_opentelemetry_the_import_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    monkeypatch.delitem(sys.modules, "agentrt.otel")
    with pytest.raises(ConfigError, match=r"pip install 'agentrt\[otel\]'"):
        importlib.import_module("agentrt.otel")


@pytest.mark.model
def test_a_real_model_run_exports_its_plan_tools_and_tokens(default_llm):
    result = Agent(model=default_llm, store=":memory:").run("What is 17 * 23 + 4?")
    root, *children = spans_of(result.trace, model=default_llm.name)
    assert root.name == "invoke_agent agentrt" and root.attributes["gen_ai.conversation.id"] == result.run_id
    chats = [s for s in children if s.name == f"chat {default_llm.name}"]
    assert chats[0].attributes["agentrt.purpose"] == "plan" and chats[0].attributes["gen_ai.usage.output_tokens"] > 0
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in chats) == result.prompt_tokens
    assert sum(s.attributes["gen_ai.usage.output_tokens"] for s in chats) == result.completion_tokens
    tools = sorted((s.attributes["agentrt.step.id"], s.attributes["gen_ai.tool.name"])
                   for s in children if s.name.startswith("execute_tool "))
    assert tools == [(s.id, s.tool) for s in result.steps if s.tool != "think"]
    assert "calculator" in {name for _, name in tools}
    for span in children:
        assert span.parent.span_id == root.context.span_id
        assert root.start_time <= span.start_time <= span.end_time <= root.end_time


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def collector():
    """A local HTTP endpoint that records each OTLP POST and answers with `status`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    server.received, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_export_to_collector_posts_the_spans_as_otlp_protobuf(oslo, collector):
    export_to_collector(oslo.trace, f"http://127.0.0.1:{collector.server_port}", model="SmolLM2-135M")
    [(path, content_type, body)] = collector.received
    assert path == "/v1/traces" and content_type == "application/x-protobuf" and body
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "agentrt"
    names = [s.name for scope in resource_spans.scope_spans for s in scope.spans]
    assert sorted(names) == sorted(["invoke_agent agentrt"] + ["chat SmolLM2-135M"] * 3
                                   + ["execute_tool lookup"] * 3 + ["execute_tool calculator"])


def test_export_to_collector_takes_the_endpoint_from_the_environment(oslo, collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.server_port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "my-agents")
    export_to_collector(oslo.trace)
    [(path, _, body)] = collector.received
    resource = ExportTraceServiceRequest.FromString(body).resource_spans[0].resource
    assert path == "/v1/traces"
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == "my-agents"


def test_a_collector_that_refuses_the_spans_is_a_backend_error(oslo, collector):
    collector.status = 400
    endpoint = f"http://127.0.0.1:{collector.server_port}/v1/traces"
    with pytest.raises(BackendError, match=endpoint):
        export_to_collector(oslo.trace, endpoint)


def test_an_unreachable_collector_is_a_backend_error_naming_it_quickly(oslo, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
    started = time.monotonic()
    with pytest.raises(BackendError, match=f"http://127.0.0.1:{port}/v1/traces"):
        export_to_collector(oslo.trace, f"http://127.0.0.1:{port}")
    assert time.monotonic() - started < 5
