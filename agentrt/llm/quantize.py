"""Weight-only int4 for decoding on the CPU, with torch's own int4 matmul kernel.

Decoding one token reads every weight once, so on a CPU its speed is set by bytes of weights:
fp32 SmolLM2-135M reads ~540 MB a token. Packed int4 weights read a quarter of bf16's. For a
GGUF whose weights were 4-bit with a scale and minimum per group of 32 (Q4_1, the embedded
default), groups of 32 with asymmetric scales hold exactly the same values, so nothing is lost
beyond what the GGUF already had; activations run in bf16, which the kernel needs to be fast.
"""

from __future__ import annotations

import torch
from torch import nn

GROUP_SIZE = 32


class Int4Linear(nn.Module):
    """A bias-carrying `nn.Linear` replacement whose weight is packed int4, groups of `group_size`
    input features sharing a scale and an offset."""

    def __init__(self, linear: nn.Linear, group_size: int = GROUP_SIZE, dtype: torch.dtype = torch.bfloat16) -> None:
        super().__init__()
        if linear.weight.is_meta:
            # subtle: a layer whose tensors are loaded next (int4_cache) needs only their shapes,
            # and finding the groups on the meta device still costs ~2 ms a layer
            groups = (linear.out_features, linear.in_features // group_size)
            levels = torch.empty(*groups, group_size, device="meta")
            scale, low = torch.empty(groups, device="meta"), torch.empty(groups, device="meta")
        else:
            levels, scale, low = int4_groups(linear.weight.detach(), group_size)
        # the kernel computes (q - 8) * scale + zero, so the offset is stored as the group's middle
        zero = low + 8 * scale
        self.register_buffer("scales_and_zeros", torch.stack([scale, zero], -1).transpose(0, 1).contiguous().to(dtype))
        packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(levels.flatten(1).to(torch.int32), 2)
        self.register_buffer("packed_weight", packed)
        self.bias = linear.bias
        self.group_size, self.in_features, self.out_features = group_size, linear.in_features, linear.out_features
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features).to(self.dtype)
        y = torch.ops.aten._weight_int4pack_mm_for_cpu(rows, self.packed_weight, self.group_size, self.scales_and_zeros)
        y = y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)
        return y + self.bias if self.bias is not None else y


def int4_groups(weight: torch.Tensor, group_size: int = GROUP_SIZE) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(levels 0..15 shaped [out, groups, group_size], scale and minimum per group) such that
    ``levels * scale + minimum`` approximates `weight`: exactly, for weights that came from Q4_1."""
    out_features, in_features = weight.shape
    groups = weight.float().reshape(out_features, in_features // group_size, group_size)
    low, high = groups.amin(-1), groups.amax(-1)
    scale = ((high - low) / 15).clamp(min=torch.finfo(torch.float32).tiny)
    levels = ((groups - low[..., None]) / scale[..., None]).round().clamp(0, 15)
    return levels, scale, low


def quantize_int4(model: nn.Module, group_size: int = GROUP_SIZE, keep: tuple[str, ...] = ("lm_head",)) -> int:
    """Replace `model`'s linear layers by `Int4Linear` in place; returns how many were replaced.

    Layers named in `keep` stay as they are: the output head shares the embedding, which GGUF
    files keep at 8 bits or more. Layers whose width is not a multiple of `group_size` stay too.
    """
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear) and name not in keep and child.in_features % group_size == 0:
                setattr(parent, name, Int4Linear(child, group_size))
                replaced += 1
    return replaced


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is slow."""
    # subtle: torch exposes these checks only privately; a torch without them counts as "no"
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)
