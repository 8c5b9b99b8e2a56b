"""LoRA adapters on the real embedded SmolLM2-135M. The adapters are built here with peft on the
base model itself (nothing downloads). Loaded on float weights an adapter is merged, and must
compute what peft's own adapted model computes; beside int4 weights it runs unmerged and must
follow it as closely as int4 follows fp32; a zero adapter must change nothing."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import LoraConfig, PromptTuningConfig, get_peft_model
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

from agentrt import Agent
from agentrt.errors import ConfigError, ModelNotFoundError
from agentrt.llm import GenerationRequest, load_llm
from agentrt.llm.adapters import apply_adapter
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.schema import Message

pytestmark = pytest.mark.model

PROMPT = [Message(role="user", content="Name three colours.")]
LORA = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]}


def save_adapter(model: Any, config: Any, directory: Path) -> Any:
    """`model` wrapped by peft with `config`, its adapter saved to `directory` as a user's would be."""
    torch.manual_seed(0)
    adapted = get_peft_model(model, config)
    adapted.save_pretrained(directory)
    return adapted


def greedy(llm: TransformersLLM, tokens: int = 16) -> str:
    """`llm`'s greedy completion of PROMPT."""
    return llm.generate([GenerationRequest(messages=PROMPT, max_new_tokens=tokens)])[0].text


@pytest.fixture(scope="module")
def input_ids(exact_llm: TransformersLLM) -> torch.Tensor:
    """PROMPT as the model sees it, as token ids."""
    text = exact_llm.prompt_text(PROMPT)
    return exact_llm.tokenizer(text, return_tensors="pt", add_special_tokens=False).input_ids


@pytest.fixture(scope="module")
def random_adapter(exact_llm: TransformersLLM, input_ids: torch.Tensor,
                   tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.Tensor]:
    """A LoRA adapter with random non-zero A and B on q_proj and v_proj, and the logits of peft's
    own adapted model for `input_ids`: what a merged load must reproduce."""
    directory = tmp_path_factory.mktemp("lora-random")
    adapted = save_adapter(copy.deepcopy(exact_llm.model), LoraConfig(**LORA, init_lora_weights=False), directory)
    with torch.inference_mode():
        return directory, adapted(input_ids).logits


@pytest.fixture(scope="module")
def zero_adapter(exact_llm: TransformersLLM, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter as peft starts training one: B = 0, so it adds nothing to the weights."""
    directory = tmp_path_factory.mktemp("lora-zero")
    save_adapter(copy.deepcopy(exact_llm.model), LoraConfig(**LORA, init_lora_weights=True), directory)
    return directory


@pytest.fixture(scope="module")
def adapted_llm(random_adapter: tuple[Path, torch.Tensor]) -> TransformersLLM:
    """The base model in fp32 with the random adapter merged in."""
    return TransformersLLM(quantize="none", adapter=random_adapter[0])


@pytest.fixture(scope="module")
def adapted_int4(random_adapter: tuple[Path, torch.Tensor]) -> TransformersLLM:
    """The base model packed to int4 with the random adapter's layers beside the packed ones."""
    return TransformersLLM(quantize="int4", adapter=random_adapter[0])


@pytest.fixture(scope="module")
def zero_llm(zero_adapter: Path) -> TransformersLLM:
    """The base model with the zero adapter, on default settings (int4 where the CPU does bf16)."""
    return TransformersLLM(adapter=zero_adapter)


def test_a_merged_adapter_computes_what_peft_computes_and_not_what_the_base_does(
    adapted_llm, exact_llm, random_adapter, input_ids
):
    directory, peft_logits = random_adapter
    with torch.inference_mode():
        merged = adapted_llm.model(input_ids).logits
        base = exact_llm.model(input_ids).logits
    torch.testing.assert_close(merged, peft_logits, atol=1e-4, rtol=1e-4)
    assert (merged - base).abs().max() > 1.0
    assert not [name for name, _ in adapted_llm.model.named_modules() if "lora" in name]  # merged, not wrapped
    assert adapted_llm.name == f"smollm2-135m-instruct+lora:{directory.name}"
    assert adapted_llm.adapter == directory.resolve()


def test_beside_int4_weights_the_adapter_runs_unmerged_and_follows_peft(
    adapted_int4, default_llm, exact_llm, random_adapter, input_ids
):
    peft_top1 = random_adapter[1].argmax(-1)
    with torch.inference_mode():
        adapted = adapted_int4.model(input_ids).logits.argmax(-1)
        int4, fp32 = default_llm.model(input_ids).logits.argmax(-1), exact_llm.model(input_ids).logits.argmax(-1)
    base_agreement = (int4 == fp32).float().mean()
    assert (adapted == peft_top1).float().mean() >= base_agreement - 0.05  # as close as int4 gets to fp32
    assert (int4 == peft_top1).float().mean() < 0.8  # and the adapter does change the answer
    q_proj = adapted_int4.model.model.layers[0].self_attn.q_proj
    assert type(q_proj.base_layer).__name__ == "Int4Linear" and q_proj.lora_A["default"].weight.dtype == torch.float32


def test_generation_follows_the_adapter(adapted_llm, exact_llm, random_adapter):
    first_token = adapted_llm.tokenizer.decode(random_adapter[1][0, -1].argmax()).strip()
    text = greedy(adapted_llm)
    assert first_token and text.startswith(first_token)  # peft's own first greedy token
    assert text != greedy(exact_llm)


def test_a_zero_adapter_leaves_the_model_as_it_was(zero_llm, default_llm, input_ids):
    assert zero_llm.quantize == default_llm.quantize  # int4 still applies by default with an adapter
    with torch.inference_mode():
        assert torch.equal(zero_llm.model(input_ids).logits, default_llm.model(input_ids).logits)
    assert greedy(zero_llm) == greedy(default_llm)


def test_an_agent_runs_on_a_model_with_an_adapter(zero_llm):
    result = Agent(model=zero_llm, store=":memory:").run("What is 17 * 23 + 4?")
    assert result.plan.steps and result.answer.strip()
    assert result.model_calls[0].purpose == "plan"


def test_adapter_paths_that_hold_no_adapter_fail_before_the_model_loads(tmp_path):
    with pytest.raises(ModelNotFoundError, match="No adapter at .*no such directory"):
        TransformersLLM(adapter=tmp_path / "missing")
    with pytest.raises(ConfigError, match="holds no adapter_config.json"):
        TransformersLLM(adapter=tmp_path)
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ConfigError, match="no weights"):
        TransformersLLM(adapter=tmp_path)
    with pytest.raises(ConfigError, match="local models only"):
        load_llm("http://127.0.0.1:9/v1", adapter=tmp_path)


def narrower_llama(base: Any) -> tuple[Any, Any]:
    """A Llama of another width: every adapter matrix has the wrong shape."""
    config = copy.deepcopy(base.config)
    config.update({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "head_dim": 16,
                   "num_attention_heads": 4, "num_key_value_heads": 4})
    return AutoModelForCausalLM.from_config(config), LoraConfig(**LORA)


def shallower_llama(base: Any) -> tuple[Any, Any]:
    """The same Llama with 2 layers instead of 30: the adapter lacks weights for the rest."""
    config = copy.deepcopy(base.config)
    config.update({"num_hidden_layers": 2})
    return AutoModelForCausalLM.from_config(config), LoraConfig(**LORA)


def gpt2(base: Any) -> tuple[Any, Any]:
    """Another architecture, whose attention module the base model does not have."""
    return GPT2LMHeadModel(GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=64)), LoraConfig(
        r=4, target_modules=["c_attn"], fan_in_fan_out=True
    )


def prompt_tuning(base: Any) -> tuple[Any, Any]:
    """A prompt-learning adapter: virtual tokens, no weights to merge."""
    return copy.deepcopy(base), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4)


@pytest.mark.parametrize(("make", "message"), [
    (narrower_llama, r"does not fit .*size mismatch.*made for .*\(LlamaForCausalLM\)"),
    (shallower_llama, r"does not fit .*adapter weights the model expects are not in the file"),
    (gpt2, r"does not fit .*c_attn.*made for .*\(GPT2LMHeadModel\)"),
    (prompt_tuning, r"prompt-learning method.*cannot be merged"),
])
def test_an_adapter_for_another_model_is_refused_with_what_it_was_made_for(
    make: Callable[[Any], tuple[Any, Any]], message: str, exact_llm, tmp_path
):
    # apply_adapter is the step TransformersLLM(adapter=) runs once the base model has loaded
    other, config = make(exact_llm.model)
    save_adapter(other, config, tmp_path)
    with pytest.raises(ConfigError, match=message):
        apply_adapter(copy.deepcopy(exact_llm.model), tmp_path, "smollm2-135m-instruct", merge=True, dtype=torch.float32)


def test_an_adapter_that_needs_float_weights_is_refused_beside_int4_with_the_fix(exact_llm, tmp_path):
    save_adapter(copy.deepcopy(exact_llm.model), LoraConfig(**LORA, use_dora=True), tmp_path)
    with pytest.raises(ConfigError, match=r"\(lora, DoRA\) needs the base model's float weights.*quantize='none'"):
        apply_adapter(copy.deepcopy(exact_llm.model), tmp_path, "smollm2-135m-instruct", merge=False,
                      dtype=torch.bfloat16)
