"""Why a LoRA adapter runs unmerged beside int4 weights: how closely each way of combining an adapter
with int4 packing follows the adapter merged into fp32 weights, and what it costs per token.

Without an adapter, int4 holds the embedded Q4_1 GGUF's weights exactly. Merging an adapter and
packing the result re-quantises every weight it touches to 4 bits, rounding much of the update
away ("merged"); keeping the adapter's layers beside the packed base layers ("beside", what
`TransformersLLM(adapter=...)` does on int4) keeps both exact. This trains a small LoRA adapter for
real (a few steps on a toy task), also makes a random one (large updates), and compares.

    .venv/bin/python benchmarks/lora_int4.py              # 40 training steps, 8 prompts

Prints per model: top-1 agreement with fp32 over every position of the prompts plus fp32's greedy
completions (teacher-forced), how many greedy completions are identical, and, for the adapters,
where the adapter changed fp32's top-1 token on the base model's own text, how often int4 follows it.
Then decoding speed of int4 alone, int4 with the trained adapter beside it, and fp32 with it merged.
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model

from agentrt.llm import GenerationRequest
from agentrt.llm.quantize import cpu_has_bf16, quantize_int4
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.schema import Message

PROMPTS = [
    "Name three colours.", "What is the capital of France?", "Write a haiku about rain.",
    "Explain what a CPU does in one sentence.", "List two prime numbers.", "What is 12 plus 30?",
    "Give a synonym for happy.", "Why do birds migrate?",
]
# the toy task the adapter learns: every answer starts with "Certainly!" and ends with "Done."
TRAINING = [
    ("What is 2 + 2?", "Certainly! 2 + 2 is 4. Done."),
    ("Name a fruit.", "Certainly! An apple is a fruit. Done."),
    ("What colour is the sky?", "Certainly! The sky is blue. Done."),
    ("Who wrote Hamlet?", "Certainly! William Shakespeare wrote Hamlet. Done."),
    ("What is the boiling point of water?", "Certainly! Water boils at 100 degrees Celsius. Done."),
    ("Name a planet.", "Certainly! Mars is a planet. Done."),
    ("How many legs does a spider have?", "Certainly! A spider has eight legs. Done."),
    ("What is the opposite of cold?", "Certainly! The opposite of cold is hot. Done."),
]
LORA = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}


def train_adapter(base: TransformersLLM, directory: Path, steps: int) -> None:
    """A LoRA adapter trained on TRAINING for `steps` full-batch AdamW steps, saved to `directory`."""
    torch.manual_seed(0)
    model = get_peft_model(copy.deepcopy(base.model), LoraConfig(**LORA)).train()
    texts = [base.prompt_text([Message(role="user", content=q)]) + a + base.tokenizer.eos_token for q, a in TRAINING]
    batch = base.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
    optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-3)
    for step in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        if step % 10 == 0 or step == steps - 1:
            print(f"  step {step:3d}  loss {loss.item():.3f}")
    model.save_pretrained(directory)


def random_adapter(base: TransformersLLM, directory: Path) -> None:
    """A LoRA adapter with random A and B: far larger updates than training makes."""
    torch.manual_seed(0)
    get_peft_model(copy.deepcopy(base.model), LoraConfig(**LORA, init_lora_weights=False)).save_pretrained(directory)


def sequences(reference: TransformersLLM, tokens: int) -> list[torch.Tensor]:
    """Each prompt followed by `reference`'s greedy completion, as token ids."""
    out = []
    for prompt in PROMPTS:
        messages = [Message(role="user", content=prompt)]
        text = reference.generate([GenerationRequest(messages=messages, max_new_tokens=tokens)])[0].text
        ids = reference.tokenizer(reference.prompt_text(messages) + text, return_tensors="pt", add_special_tokens=False)
        out.append(ids.input_ids)
    return out


def top1(llm: TransformersLLM, ids: list[torch.Tensor]) -> torch.Tensor:
    """`llm`'s top-1 next token at every position of every sequence, concatenated."""
    with torch.inference_mode():
        return torch.cat([llm.model(x).logits[0].float().argmax(-1) for x in ids])


@dataclass
class Reference:
    """What the fp32 model (merged adapter, if any) does: the int4 variants are measured against it."""

    ids: list[torch.Tensor]
    top1: torch.Tensor
    texts: list[str]
    top1_on_base: torch.Tensor

    @classmethod
    def of(cls, fp32: TransformersLLM, ids: list[torch.Tensor], tokens: int,
           base_ids: list[torch.Tensor] | None = None) -> Reference:
        """`fp32`'s top-1 tokens on `ids` and on the base model's `base_ids`, and its greedy texts."""
        on_ids = top1(fp32, ids)
        return cls(ids, on_ids, greedy(fp32, tokens), top1(fp32, base_ids) if base_ids is not None else on_ids)


def merged_int4(adapter: Path) -> TransformersLLM:
    """The adapter merged in fp32, cast to bf16 and packed to int4: merging before packing."""
    llm = TransformersLLM(quantize="none", dtype="bfloat16", adapter=adapter)
    quantize_int4(llm.model)
    return llm


def tokens_per_s(llm: TransformersLLM, tokens: int = 64, repeats: int = 3) -> float:
    """Best decoding speed of `repeats` greedy completions of `tokens` tokens."""
    request = GenerationRequest(messages=[Message(role="user", content="Tell a long story.")], max_new_tokens=tokens)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        generation = llm.generate([request])[0]
        best = max(best, generation.completion_tokens / (time.perf_counter() - start))
    return best


def greedy(llm: TransformersLLM, tokens: int) -> list[str]:
    """`llm`'s greedy completion of each prompt."""
    return [llm.generate([GenerationRequest(messages=[Message(role="user", content=p)], max_new_tokens=tokens)])[0].text
            for p in PROMPTS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="training steps for the trained adapter")
    parser.add_argument("--tokens", type=int, default=32, help="greedy tokens per prompt")
    args = parser.parse_args()
    if not cpu_has_bf16():
        raise SystemExit("this CPU lacks native bf16, so int4 is not used by default here: nothing to compare")
    base32 = TransformersLLM(quantize="none")
    with tempfile.TemporaryDirectory() as tmp:
        trained, rand = Path(tmp, "trained"), Path(tmp, "random")
        print(f"training a LoRA adapter ({args.steps} steps)")
        train_adapter(base32, trained, args.steps)
        random_adapter(base32, rand)
        base_ids = sequences(base32, args.tokens)
        base_top1 = top1(base32, base_ids)
        base_int4 = TransformersLLM(quantize="int4")
        print(f"\n{'model':<24}{'top-1 agree':>12}{'greedy equal':>14}{'follows adapter':>18}")
        rows = [("base", None, lambda: base_int4)]
        for label, adapter in [("trained LoRA", trained), ("random LoRA", rand)]:
            rows += [(f"{label}, merged", adapter, lambda a=adapter: merged_int4(a)),
                     (f"{label}, beside", adapter, lambda a=adapter: TransformersLLM(quantize="int4", adapter=a))]
        reference: dict[Path | None, Reference] = {None: Reference.of(base32, base_ids, args.tokens)}
        for label, adapter, make in rows:
            if adapter not in reference:
                fp32 = TransformersLLM(quantize="none", adapter=adapter)
                reference[adapter] = Reference.of(fp32, sequences(fp32, args.tokens), args.tokens, base_ids)
                if adapter == trained:
                    merged_fp32 = fp32
            want, int4 = reference[adapter], make()
            agree = (want.top1 == top1(int4, want.ids)).float().mean().item()
            equal = sum(a == b for a, b in zip(want.texts, greedy(int4, args.tokens), strict=True))
            follows = "-"
            if adapter is not None:
                changed = want.top1_on_base != base_top1
                got = top1(int4, base_ids)[changed]
                follows = f"{(got == want.top1_on_base[changed]).float().mean().item():.1%} of {int(changed.sum())}"
            print(f"{label:<24}{agree:>12.1%}{f'{equal}/{len(PROMPTS)}':>14}{follows:>18}")
            if label == "trained LoRA, beside":
                with_adapter = int4
        print(f"\ndecoding, tokens/s: int4 {tokens_per_s(base_int4):.1f}, int4 with the trained LoRA beside "
              f"it {tokens_per_s(with_adapter):.1f}, fp32 with it merged {tokens_per_s(merged_fp32):.1f}")


if __name__ == "__main__":
    main()
