"""The int4-packed copy of a converted model, kept beside it, so that a start loads the packed
weights as they are instead of reading the float weights and packing them again.

Why: packing SmolLM2-135M takes ~1 s of every start on an idle CPU (ten times that when other
work shares its cores), and reading its fp32 weights to pack them lifts the process's peak memory
by ~0.5 GiB. The packed layout is torch's CPU int4 kernel's own, which depends on the torch
version and on the CPU's vector width, and the tensors' names are transformers', so the file's
name holds all of them: another version or CPU packs again, into a file of its own.

Does not pack (`quantize.py` does) nor decide whether to (`transformers_llm.py` does).
"""

from __future__ import annotations

import os
import tempfile
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .quantize import quantize_int4

if TYPE_CHECKING:
    from transformers import GenerationMixin, PreTrainedModel

    class CausalLM(PreTrainedModel, GenerationMixin):
        """What `AutoModelForCausalLM.from_pretrained` returns, as the type checker sees it."""


def packed_file(converted: Path, dtype: torch.dtype) -> Path:
    """Where the packed copy of the model converted into `converted` lives, for this torch,
    transformers and CPU, with its other tensors in `dtype`."""
    import transformers

    key = "-".join([str(dtype).removeprefix("torch."), f"torch{torch.__version__}",
                    f"transformers{transformers.__version__}", torch.backends.cpu.get_cpu_capability()])
    return converted / f"int4-{key}.safetensors"


def save(model: nn.Module, path: Path) -> None:
    """Write `model`'s tensors (packed layers, float ones, buffers) to `path`, atomically."""
    from safetensors.torch import save_file

    handle, staging_name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(handle)
    staging = Path(staging_name)
    try:
        save_file({name: tensor.contiguous() for name, tensor in _tensors(model).items()}, staging)
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def load(location: str, path: Path, dtype: torch.dtype) -> CausalLM | None:
    """The model in `location`, packed as `quantize_int4` packs it by default, with the tensors
    `path` holds, without reading its float weights; None when `path` does not hold exactly the
    tensors this model has (names and shapes)."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig

    config = AutoConfig.from_pretrained(location, local_files_only=True)
    # subtle: on the meta device nothing is allocated or initialised: every tensor comes from the file
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        quantize_int4(model)
    tensors, expected = load_file(path), _tensors(model)
    if tensors.keys() != expected.keys() or any(tensors[n].shape != t.shape for n, t in expected.items()):
        return None
    for name, tensor in tensors.items():
        owner, _, attribute = name.rpartition(".")
        module = model.get_submodule(owner)
        setattr(module, attribute, nn.Parameter(tensor) if isinstance(getattr(module, attribute), nn.Parameter)
                else tensor)
    model.tie_weights()  # the output head shares the embedding, which the file holds once
    model.generation_config = GenerationConfig.from_pretrained(location, local_files_only=True)
    return model.eval()


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer by name, those computed rather than saved (rotary frequencies)
    included; a tied parameter once."""
    return dict(chain(model.named_parameters(), model.named_buffers()))
