"""The int4-packed copy of a converted model: loaded, it is the very model that packing afresh
gives (every tensor, the tied head, the generation settings, the logits); a file that does not
fit the model is not used. On a tiny random Llama, so no real model is needed."""

from itertools import chain
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from agentrt.llm import int4_cache
from agentrt.llm.quantize import Int4Linear, quantize_int4


def tiny_llama(folder: Path, layers: int = 2) -> Path:
    """A random Llama with tied embeddings saved as transformers saves one, in bf16's range."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=layers,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def packed_afresh(folder: Path) -> torch.nn.Module:
    """What `TransformersLLM` does without a packed copy: load in bf16, then pack."""
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).eval()
    quantize_int4(model)
    return model


def test_the_packed_copy_loads_as_the_very_model_that_packing_afresh_gives(tmp_path):
    folder = tiny_llama(tmp_path / "model")
    fresh = packed_afresh(folder)
    path = int4_cache.packed_file(folder, torch.bfloat16)
    int4_cache.save(fresh, path)
    loaded = int4_cache.load(str(folder), path, torch.bfloat16)

    assert loaded is not None and not loaded.training
    assert sum(isinstance(m, Int4Linear) for m in loaded.modules()) == 2 * 7  # q k v o gate up down
    mine, theirs = (dict(chain(m.named_parameters(), m.named_buffers())) for m in (loaded, fresh))
    assert mine.keys() == theirs.keys()  # the rotary frequencies, which no checkpoint holds, included
    assert all(torch.equal(mine[name], theirs[name]) and mine[name].dtype == theirs[name].dtype for name in mine)
    assert loaded.lm_head.weight is loaded.model.embed_tokens.weight
    assert loaded.generation_config.to_dict() == fresh.generation_config.to_dict()
    ids = torch.tensor([[1, 5, 9, 42, 7]])
    with torch.inference_mode():
        assert torch.equal(loaded(ids).logits, fresh(ids).logits)


def test_a_packed_copy_of_another_model_is_not_used(tmp_path):
    folder = tiny_llama(tmp_path / "model")
    other = tiny_llama(tmp_path / "deeper", layers=3)
    path = tmp_path / "packed.safetensors"
    int4_cache.save(packed_afresh(other), path)
    assert int4_cache.load(str(folder), path, torch.bfloat16) is None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_the_file_is_named_for_what_its_layout_depends_on(tmp_path, dtype):
    import transformers

    name = int4_cache.packed_file(tmp_path, dtype).name
    assert str(dtype).removeprefix("torch.") in name and torch.__version__ in name
    assert transformers.__version__ in name and torch.backends.cpu.get_cpu_capability() in name
