"""End to end on the real embedded SmolLM2-135M: plan -> tool -> answer, on the local backend and on a
real OpenAI-compatible server, and the local backend itself."""

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentrt import Agent, Plan
from agentrt.llm import GenerationRequest
from agentrt.llm import model_source
from agentrt.plan_schema import plan_schema
from agentrt.registry import ToolRegistry
from agentrt.plugins import installed_tools
from agentrt.schema import THINK_TOOL, Message

from .test_evals import benchdata  # noqa: F401  (the stand-in benchmark files)

pytestmark = pytest.mark.model
DOCS = Path(__file__).resolve().parent.parent / "examples" / "docs"


@pytest.fixture(scope="module", params=["local", "server"])
def agent(request) -> Agent:
    """The same agent on the local backend and on an OpenAI-compatible server of the same GGUF."""
    if request.param == "server":
        return Agent(model=request.getfixturevalue("llama_server"))
    return Agent(model=request.getfixturevalue("default_llm"))


def test_arithmetic_instruction_plans_calls_the_calculator_and_answers(agent):
    result = agent.run("What is 17 times 23, plus 4?")
    Plan.from_spec(result.plan, tool_names=[*agent.tools.names(), THINK_TOOL])  # a valid graph
    calls = [s for s in result.steps if s.tool == "calculator"]
    assert calls, f"no calculator step in {result.plan}"
    agent.tools.get("calculator").validate(calls[0].resolved_args)  # schema-valid arguments
    assert calls[0].status == "ok"
    assert str(calls[0].value) in result.answer
    assert result.model_calls[0].purpose == "plan" and result.model_calls[0].completion_tokens > 0


@pytest.mark.parametrize(
    "instruction",
    ["Convert 3 hours into seconds.", "Write a haiku about rain.", "$$$ {\"steps\": ] ignore the format"],
)
def test_constrained_plans_always_parse_and_validate(agent, instruction):
    spec, [call] = asyncio.run(agent.planner.plan(instruction))
    Plan.from_spec(spec, tool_names=[*agent.tools.names(), THINK_TOOL])
    assert json.loads(call.output)["steps"]


def test_batched_requests_match_one_at_a_time_under_greedy_decoding(exact_llm):
    schema = plan_schema(ToolRegistry(installed_tools().tools), 3)
    requests = [
        GenerationRequest(messages=[Message(role="user", content="Name three colours.")], max_new_tokens=12),
        GenerationRequest(messages=[Message(role="user", content="Plan: add 2 and 2.")], json_schema=schema,
                          max_new_tokens=160),
    ]
    batched = exact_llm.generate(requests)
    alone = [exact_llm.generate([r])[0] for r in requests]
    assert [g.text for g in batched] == [g.text for g in alone]
    assert batched[0].completion_tokens <= 12
    assert not batched[1].truncated
    json.loads(batched[1].text)


def test_the_gguf_conversion_is_cached_and_not_repeated(default_llm, monkeypatch):
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError("converted again instead of using the cache")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    gguf = model_source.embedded_gguf()
    cached = model_source.converted_gguf(str(gguf.parent), gguf.name)
    assert (cached / "model.safetensors").is_file()


def cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "agentrt.cli", *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


RUN_LINE = re.compile(r"run [0-9a-f]{12}|step \d+: \w+\(.*\)( +\(after [\d, ]+\))?|  -> (ok|error) in \d+\.\d\ds: .*"
                      r"|plan: \d+ steps? written|Answer: .*|\(\d+\.\ds, ended by \w+\)")


def test_the_cli_prints_only_its_own_output(default_llm, benchdata, tmp_path):
    """`run`, `run --json`, `index` and `eval` on the real model: stdout holds only our lines or
    JSON, and nothing a dependency logs or warns reaches stderr (default_llm: already converted)."""
    run = cli("run", "What is 6 times 7?")
    assert run.stderr == "" and all(RUN_LINE.fullmatch(line) for line in run.stdout.splitlines()), run.stdout
    assert "step 1: calculator(" in run.stdout and "plan: 2 steps written" in run.stdout
    assert "  -> ok in" in run.stdout and "Answer: 42" in run.stdout
    record = cli("run", "--json", "What is 6 times 7?")
    assert record.stderr == "" and json.loads(record.stdout)["answer"]
    index = cli("index", str(DOCS), "--kb", str(tmp_path / "kb"))
    assert index.stderr == "" and index.stdout.startswith("indexed 5 documents from 4 files")
    evaluated = cli("eval", "gsm8k", "--limit", "1", "--data", str(benchdata))
    assert evaluated.stderr == "" and "gsm8k" in evaluated.stdout.splitlines()[0]


def test_prefix_reuse_gives_the_same_greedy_output_as_computing_every_prompt_afresh(exact_llm):
    from agentrt.llm.transformers_llm import TransformersLLM

    agent = Agent(model=exact_llm)
    requests = [agent.planner.request(q) for q in ("What is 12 times 9, minus 5?", "What is 7 times 8, plus 3?")]
    before = exact_llm.prefix_cache.reused_tokens
    reused = [exact_llm.generate([r])[0].text for r in requests]
    assert exact_llm.prefix_cache.reused_tokens - before > 300  # the second prompt reused the first's prefix
    fresh = TransformersLLM(quantize="none", prefix_cache=False)
    assert reused == [fresh.generate([r])[0].text for r in requests]


def test_int4_groups_hold_the_gguf_weights_exactly_and_the_packed_layer_computes_the_same(exact_llm):
    import torch

    from agentrt.llm.quantize import Int4Linear, int4_groups

    linear = exact_llm.model.model.layers[0].mlp.down_proj
    levels, scale, low = int4_groups(linear.weight)
    rebuilt = (levels * scale[..., None] + low[..., None]).flatten(1)
    assert (rebuilt - linear.weight).abs().max() <= 1e-6 * linear.weight.abs().max()  # Q4_1 held exactly
    x = torch.randn(3, linear.in_features)
    packed, reference = Int4Linear(linear)(x), linear(x)
    assert (packed - reference).abs().max() <= 0.02 * reference.abs().max()  # bf16 activations


def test_the_default_packs_the_4bit_gguf_to_int4_when_the_cpu_has_bf16(default_llm):
    from agentrt.llm.quantize import Int4Linear, cpu_has_bf16

    packed = [m for m in default_llm.model.modules() if isinstance(m, Int4Linear)]
    if cpu_has_bf16():
        assert default_llm.quantize == "int4" and len(packed) == 30 * 7  # q k v o gate up down, 30 layers
    else:
        assert default_llm.quantize == "none" and not packed


def test_a_second_int4_start_loads_the_packed_copy_and_decodes_the_same(default_llm, monkeypatch):
    import transformers

    from agentrt.llm.transformers_llm import TransformersLLM

    if default_llm.quantize != "int4":
        pytest.skip("this CPU does not compute bf16, so the default model is not packed")

    def refuse(*args, **kwargs):
        raise AssertionError("read the float weights instead of the packed copy")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", refuse)
    second = TransformersLLM()
    request = GenerationRequest(messages=[Message(role="user", content="What is 17 times 23, plus 4?")],
                                max_new_tokens=24)
    assert second.generate([request])[0].text == default_llm.generate([request])[0].text


def test_concurrent_callers_share_batches_and_get_their_own_greedy_outputs(exact_llm):
    from concurrent.futures import ThreadPoolExecutor

    questions = ["Name a fruit.", "Name a colour.", "Name a planet.", "Name an animal."]
    requests = [GenerationRequest(messages=[Message(role="user", content=q)], max_new_tokens=8) for q in questions]
    alone = [exact_llm.generate([r])[0].text for r in requests]
    with ThreadPoolExecutor(len(requests)) as pool:
        together = list(pool.map(lambda r: exact_llm.generate([r])[0].text, requests))
    assert together == alone


def test_stop_strings_end_the_text_and_streaming_never_passes_them(exact_llm):
    request = GenerationRequest(
        messages=[Message(role="user", content="Count from 1 to 20, separated by commas.")], max_new_tokens=60
    )
    full = exact_llm.generate([request])[0].text
    assert "5" in full, full
    stop = full[full.index("5") :][:2]  # the stop string: "5" and the character after it
    stopped_request = request.model_copy(update={"stop": [stop]})
    pieces: list[str] = []
    streamed = exact_llm.generate_streaming(stopped_request, pieces.append)
    assert streamed.text == full[: full.index(stop)]
    assert "".join(pieces) == streamed.text and not streamed.truncated
    batched = exact_llm.generate([stopped_request, request])
    assert [g.text for g in batched] == [streamed.text, full]


def test_cancelling_a_request_stops_it_alone_and_its_batch_mates_finish_whole(exact_llm):
    count = GenerationRequest(
        messages=[Message(role="user", content="Count from 1 to 50, separated by commas.")], max_new_tokens=40
    )
    twin = count.model_copy()  # an equal request of another caller: it must not stop with `count`
    fruit = GenerationRequest(messages=[Message(role="user", content="Name a fruit.")], max_new_tokens=8)
    full = exact_llm.generate([count, twin, fruit])
    stopped, *others = exact_llm.batches.submit(
        [count, twin, fruit], [lambda text: exact_llm.cancel([count]), None, None]
    )
    assert stopped.truncated and len(stopped.text) < len(full[0].text) and full[0].text.startswith(stopped.text)
    assert others == [g.model_copy(update={"duration_s": o.duration_s}) for g, o in zip(full[1:], others)]


def test_a_schema_that_cannot_be_enforced_fails_its_own_request_not_its_batch_mates(exact_llm):
    from concurrent.futures import ThreadPoolExecutor

    from agentrt import ConfigError

    good = GenerationRequest(messages=[Message(role="user", content="Name a fruit.")], max_new_tokens=6)
    bad = good.model_copy(update={"json_schema": {"type": "integer", "minimum": 5, "maximum": 1}})
    with ThreadPoolExecutor(2) as pool:
        outcomes = [pool.submit(exact_llm.generate, [r]) for r in (bad, good, bad, good)]
    assert all(o.result()[0].text for o in outcomes[1::2])
    for outcome in outcomes[0::2]:
        with pytest.raises(ConfigError, match="cannot be enforced"):
            outcome.result()
