"""Local inference on the CPU with the default model, every figure measured side by side in one run.

1. Decode tokens/s at batch 1 for fp32, bf16 and int4 (the default on CPUs with bf16), next to
   llama.cpp (llama-cpp-python, built by `make llama-server`) on the same GGUF, as ratios; and
   how often each path's greedy output equals fp32's on a fixed prompt set. Then the same decode
   through the agent's own path (the batch queue, a JSON-schema constraint, stop strings,
   streaming on): the `agent path:` line.
2. Batched generation: tokens/s at batch 1, 4 and 8, aggregate and per request.
3. A realistic agent step (the planner's prompt) with and without prefix reuse.
4. Constrained (plan JSON schema) against unconstrained decoding of the same prompt.
5. Fan-out of N sibling reasoning steps on the real model, batched (default) against one at a
   time (`max_batch=1`).

Targets (benchmarks/README.md): int4 decode >= 0.5 of llama.cpp's, the agent path's >= 0.8 of it
(issue [5/7]) and prefix reuse >= 2x, not met, so not claimed; claimed: batching, the constraint's
cost and sibling batching each keep the gain the README reports, with room for noise. Exits 1 if a claimed one misses.

    .venv/bin/python benchmarks/inference.py [--quick]

`--quick` runs every part small (2 agreement prompts, 16 tokens, batches 1 and 4, N=4): it checks
that the benchmark runs, not the README's figures, so no target fails it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from agentrt import Agent
from agentrt.llm import Generation, GenerationRequest, model_source
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.schema import Message
from targets import Targets

ROOT = Path(__file__).resolve().parent.parent
LLAMA_PYTHON = Path(os.environ.get("AGENTRT_LLAMA_SERVER_PYTHON", ROOT / ".venv-llamacpp/bin/python"))
DECODE_TOKENS = 64
STORY = "Write a short story about a robot who learns to paint."
AGREEMENT_PROMPTS = [
    STORY, "What is 17 times 23?", "Name three colours.", "Explain photosynthesis in one sentence.",
    "Translate 'good morning' into French.", "List the planets of the solar system.",
    "Give me a recipe for pancakes.", "Why is the sky blue?", "Write a haiku about autumn.",
    "What is the capital of Norway, and what is it known for?", "Summarise the plot of Hamlet.",
    "How do I reverse a list in Python?",
]
AGREEMENT_TOKENS = 32
LLAMA_TARGET = 0.5  # int4 decode / llama.cpp's: not met, not claimed
AGENT_PATH_TARGET = 0.8  # decode through the agent's own path / llama.cpp's: issue [5/7]'s, not met, not claimed
# a plan-like constraint that keeps the model writing: a JSON object around one long string
STORY_SCHEMA = {"type": "object", "properties": {"story": {"type": "string", "minLength": 4000}}, "required": ["story"]}
AGENT_STOPS = ["\n\nObservation:", "</answer>"]  # never met here: checked at every token all the same
BATCH_TARGETS = {4: 1.5, 8: 2.0}  # aggregate tok/s vs batch 1
PREFIX_TARGET = 2.0  # planner step without prefix reuse / with it: issue [5/7]'s target, not met, not claimed
CONSTRAINT_TARGET = 0.85  # constrained / unconstrained tok/s: the constraint costs no more than noise
# N sibling think steps one at a time / batched; measured 1.47x and 2.14x on a CPU without bf16
# (fp32 path, 2026-11-30), 2.23x and 2.53x with it (int4, 2026-11-23)
SIBLING_TARGETS = {4: 1.3, 8: 1.5}


@dataclass(frozen=True)
class Sizes:
    """How much each part measures: the README's figures come from the defaults."""

    prompts: int = len(AGREEMENT_PROMPTS)  # agreement with fp32
    agreement_tokens: int = AGREEMENT_TOKENS
    decode_tokens: int = DECODE_TOKENS
    new_tokens: int = 64  # per request in the batched generation
    batches: tuple[int, ...] = (1, 4, 8)
    siblings: tuple[int, ...] = (4, 8)


QUICK = Sizes(prompts=2, agreement_tokens=8, decode_tokens=16, new_tokens=16, batches=(1, 4), siblings=(4,))

LLAMA_SCRIPT = """
import json, statistics, sys, time
from llama_cpp import Llama
gguf, prompt, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
llm = Llama(gguf, n_ctx=2048, n_threads=2, verbose=False)
no_eos = {llm.token_eos(): -1e9}
def timed(tokens):
    llm.reset()
    start = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=tokens, temperature=0, logit_bias=no_eos)
    assert out["usage"]["completion_tokens"] == tokens
    return time.perf_counter() - start
timed(4)
rates = [(n - 1) / (timed(n) - timed(1)) for _ in range(3)]
print(json.dumps({"decode_tok_s": statistics.median(rates)}))
"""


def chat(text: str, **fields) -> GenerationRequest:
    return GenerationRequest(messages=[Message(role="user", content=text)], **fields)


def decode_rate(llm: TransformersLLM, prompt: str, n: int = DECODE_TOKENS) -> float:
    """Decode tokens/s at batch 1: n forced tokens, less the time to the first."""
    ids = llm.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(llm.device)

    def timed(tokens: int) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            llm.model.generate(**ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                               top_p=None, top_k=None, temperature=None, pad_token_id=llm.tokenizer.pad_token_id)
        return time.perf_counter() - start

    timed(4)
    return statistics.median((n - 1) / (timed(n) - timed(1)) for _ in range(3))


def agent_path_rate(llm: TransformersLLM, n: int, json_schema: dict | None, stop: list[str]) -> float:
    """Decode tokens/s at batch 1 through the agent's own path: the batch queue and
    `generate_streaming`, with the constraint and stop strings given, on `decode_rate`'s prompt.
    Tokens past the first over the time past the first, like `decode_rate`."""

    def timed(tokens: int) -> tuple[float, int]:
        request = chat(STORY, json_schema=json_schema, stop=stop, max_new_tokens=tokens)
        start = time.perf_counter()
        generation = llm.generate_streaming(request, lambda piece: None)
        return time.perf_counter() - start, generation.completion_tokens

    timed(4)
    rates = []
    for _ in range(3):
        (long_s, long_n), (short_s, short_n) = timed(n), timed(1)
        rates.append((long_n - short_n) / (long_s - short_s))
    return statistics.median(rates)


def greedy_tokens(llm: TransformersLLM, prompts: list[str], tokens: int) -> list[list[int]]:
    outputs = []
    for prompt in prompts:
        ids = llm.tokenizer(llm.prompt_text([Message(role="user", content=prompt)]), return_tensors="pt",
                            add_special_tokens=False)
        with torch.inference_mode():
            out = llm.model.generate(**ids, max_new_tokens=tokens, do_sample=False, top_p=None,
                                     top_k=None, temperature=None, pad_token_id=llm.tokenizer.pad_token_id)
        outputs.append(out[0, ids["input_ids"].shape[1]:].tolist())
    return outputs


def agreement(outputs: list[list[int]], reference: list[list[int]]) -> tuple[int, float]:
    """(outputs identical to the reference, mean share of tokens before the first difference)."""
    same, shares = 0, []
    for out, ref in zip(outputs, reference, strict=True):
        same += out == ref
        prefix = next((i for i, (a, b) in enumerate(zip(out, ref, strict=False)) if a != b), min(len(out), len(ref)))
        shares.append(prefix / max(len(ref), 1))
    return same, statistics.mean(shares)


def llama_cpp_rate(prompt: str, tokens: int) -> float | None:
    if not LLAMA_PYTHON.exists():
        return None
    out = subprocess.run([str(LLAMA_PYTHON), "-c", LLAMA_SCRIPT, str(model_source.embedded_gguf()), prompt,
                          str(tokens)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1])["decode_tok_s"]


@contextlib.contextmanager
def prefix_reuse(llm: TransformersLLM, on: bool) -> Iterator[None]:
    """Prefix reuse on or off for a while, starting from an empty cache either way."""
    assert llm.prefix_cache is not None
    entries = llm.prefix_cache.entries
    llm.prefix_cache.clear()
    llm.prefix_cache.entries = entries if on else 0
    try:
        yield
    finally:
        llm.prefix_cache.entries = entries


def decode_table(sizes: Sizes, targets: Targets) -> None:
    prompts = AGREEMENT_PROMPTS[: sizes.prompts]
    print(f"1. Decode at batch 1, {sizes.decode_tokens} tokens after a {STORY!r} chat prompt; "
          f"agreement with fp32 on {len(prompts)} prompts x {sizes.agreement_tokens} greedy tokens")
    rows, reference = [], None
    for label, options in [("fp32", {"quantize": "none", "dtype": "float32"}),
                           ("bf16", {"quantize": "none", "dtype": "bfloat16"}),
                           ("int4 + bf16 (default)", {})]:
        llm = TransformersLLM(prefix_cache=False, **options)
        prompt = llm.prompt_text([Message(role="user", content=STORY)])
        outputs = greedy_tokens(llm, prompts, sizes.agreement_tokens)
        reference = reference or outputs
        rows.append((label, decode_rate(llm, prompt, sizes.decode_tokens), *agreement(outputs, reference)))
    # the agent's path on the default model, just after its bare decode: the last llm is the default
    free = agent_path_rate(llm, sizes.decode_tokens, None, [])
    full = agent_path_rate(llm, sizes.decode_tokens, STORY_SCHEMA, AGENT_STOPS)
    llama = llama_cpp_rate(prompt, sizes.decode_tokens)
    for label, rate, same, share in rows:
        versus = f"  = {rate / llama:.2f} of llama.cpp" if llama else ""
        print(f"  {label:<22} {rate:6.1f} tok/s{versus}   same output as fp32: {same}/{len(prompts)}, "
              f"mean agreeing prefix {share:.0%}")
    print(f"  {'llama.cpp (Q4_1 GGUF)':<22} {llama:6.1f} tok/s" if llama else
          "  llama.cpp: not built; run `make llama-server` for the comparison")
    bare = rows[-1][1]
    base_rate, against = (llama, "llama.cpp") if llama else (bare, "the bare default model")
    print(f"  {'agent path, free text':<22} {free:6.1f} tok/s = {free / bare:.2f} of the bare model, "
          f"{free / base_rate:.2f} of {against}")
    print(f"agent path: batch 1, queue + JSON-schema constraint + stop strings + streaming, {full:.1f} tok/s "
          f"({full / bare:.2f} of the bare model) = {full / base_rate:.2f} of {against}")
    missing = f"no llama.cpp at {LLAMA_PYTHON}: `make llama-server` builds it"
    for check, rate, target in (("int4 + bf16 (default) decode / llama.cpp's", bare, LLAMA_TARGET),
                                ("agent path decode / llama.cpp's", full, AGENT_PATH_TARGET)):
        if llama:
            targets.check(check, rate / llama, f">= {target}", claimed=False)
        else:
            targets.skip(check, f">= {target}", missing, claimed=False)


def batch_table(llm: TransformersLLM, sizes: Sizes, targets: Targets) -> None:
    print(f"\n2. Batched generation, default model, {sizes.new_tokens} new tokens per request, no prefix reuse")
    topics = ["a robot", "the sea", "a city", "a forest", "a violin", "a mountain", "a train", "the moon"]
    single = None
    with prefix_reuse(llm, on=False):
        for size in sizes.batches:
            requests = [chat(f"Write a short story about {t}.", max_new_tokens=sizes.new_tokens) for t in topics[:size]]
            llm.generate(requests[:1])
            start = time.perf_counter()
            generations: list[Generation] = llm.generate(requests)
            elapsed = time.perf_counter() - start
            aggregate = sum(g.completion_tokens for g in generations) / elapsed
            single = single or aggregate
            print(f"  batch {size}: {aggregate:6.1f} tok/s aggregate = {aggregate / single:.2f}x batch 1, "
                  f"{aggregate / size:5.1f} tok/s per request")
            if size in BATCH_TARGETS:
                targets.check(f"batch {size} aggregate / batch 1", aggregate / single, f">= {BATCH_TARGETS[size]}",
                              unit="x")


def prefix_table(llm: TransformersLLM, targets: Targets) -> None:
    print("\n3. A planning step (the planner's real prompt) after another with the same tools, "
          "with and without prefix reuse")
    agent = Agent(model=llm)
    pairs = [("What is 12 times 9, minus 5?", "What is 7 times 8, plus 3?"),
             ("Convert 3 hours into seconds.", "Convert 2 days into hours."),
             ("Write a haiku about rain.", "Write a haiku about snow.")]
    timings: dict[bool, list[float]] = {True: [], False: []}
    for reuse in (False, True):
        for first, second in pairs:
            with prefix_reuse(llm, on=reuse):
                llm.generate([agent.planner.request(first)])
                [generation] = llm.generate([agent.planner.request(second)])
            timings[reuse].append(generation.duration_s)
    off, on = statistics.mean(timings[False]), statistics.mean(timings[True])
    print(f"  {generation.prompt_tokens}-token prompt: {off:.2f} s without reuse, {on:.2f} s with "
          f"= {off / on:.2f}x faster")
    targets.check("planning step without / with prefix reuse", off / on, f">= {PREFIX_TARGET}", unit="x",
                  claimed=False)


def constraint_table(llm: TransformersLLM, targets: Targets) -> None:
    print("\n4. The same planner prompt, constrained by the plan schema and not (same number of tokens)")
    agent = Agent(model=llm)
    rates: dict[str, list[float]] = {"constrained": [], "unconstrained": []}
    for instruction in ("What is 12 times 9, minus 5?", "Convert 3 hours into seconds.", "Write a haiku about rain."):
        request = agent.planner.request(instruction)
        with prefix_reuse(llm, on=False):
            [constrained] = llm.generate([request])
            free = request.model_copy(update={"json_schema": None, "max_new_tokens": constrained.completion_tokens})
            [unconstrained] = llm.generate([free])
        rates["constrained"].append(constrained.completion_tokens / constrained.duration_s)
        rates["unconstrained"].append(unconstrained.completion_tokens / unconstrained.duration_s)
    c, u = statistics.mean(rates["constrained"]), statistics.mean(rates["unconstrained"])
    print(f"  {c:.1f} vs {u:.1f} tok/s (ratio {c / u:.2f}), prompt prefill included, no prefix reuse")
    targets.check("constrained / unconstrained tok/s", c / u, f">= {CONSTRAINT_TARGET}")


class FixedPlan:
    """The real model for every call but the plan, which is N sibling think steps and an answer."""

    def __init__(self, llm: TransformersLLM, n: int) -> None:
        self.llm, self.name = llm, llm.name
        questions = [f"In one sentence, what is {t} used for?" for t in
                     ["a hammer", "a kettle", "a compass", "a ladder", "a lamp", "a spoon", "a saw", "a rope"][:n]]
        steps = [{"id": i, "tool": "think", "args": {"question": q}} for i, q in enumerate(questions, 1)]
        refs = " ".join(f"${i}" for i in range(1, n + 1))
        self.plan = json.dumps({"steps": [*steps, {"id": n + 1, "tool": "final_answer", "args": {"answer": refs}}]})

    def generate(self, requests: list[GenerationRequest]) -> list[Generation]:
        if requests[0].json_schema and "steps" in requests[0].json_schema.get("properties", {}):
            return [Generation(text=self.plan, prompt_tokens=0, completion_tokens=0, duration_s=0.0)]
        return self.llm.generate(requests)


def fanout_table(llm: TransformersLLM, sizes: Sizes, targets: Targets) -> None:
    print("\n5. N sibling think steps on the real model (the plan is fixed), batched vs one at a time")
    unbatched = TransformersLLM(max_batch=1)
    for n in sizes.siblings:
        walls = {}
        for label, model in (("batched", llm), ("one at a time", unbatched)):
            with prefix_reuse(model, on=False):
                start = time.perf_counter()
                result = Agent(model=FixedPlan(model, n), max_steps=n + 1).run("Say what each tool is for.")
                walls[label] = time.perf_counter() - start
            assert [s.status for s in result.steps] == ["ok"] * (n + 1), result.steps
        print(f"  N={n}: batched {walls['batched']:.1f} s, one at a time {walls['one at a time']:.1f} s "
              f"= {walls['one at a time'] / walls['batched']:.2f}x faster batched")
        targets.check(f"N={n} one at a time / batched", walls["one at a time"] / walls["batched"],
                      f">= {SIBLING_TARGETS[n]}", unit="x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every part small: checks that it runs, not the figures")
    quick = parser.parse_args().quick
    sizes = QUICK if quick else Sizes()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU\n")
    targets = Targets("inference", claims=not quick)
    decode_table(sizes, targets)
    default = TransformersLLM()
    batch_table(default, sizes, targets)
    prefix_table(default, targets)
    constraint_table(default, targets)
    fanout_table(default, sizes, targets)
    targets.exit()


if __name__ == "__main__":
    main()
