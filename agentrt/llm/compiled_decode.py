"""The decode step compiled by transformers' compile path: what `generate` is told, and what a
thread that calls it needs first.

transformers compiles the forward pass it calls once per new token (never the prefill) when the
KV cache is static; its default, `torch.compile(mode="reduce-overhead")`, replays the step as
CUDA graphs, which is what makes a small batch's decode run at the memory's speed instead of at
Python's. gpt-fast compiles its decode step the same way.

Does not choose when to compile (`transformers_llm.py` does) nor hold the caches (`static_kv.py`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import CompileConfig


def generate_options(compile: bool | CompileConfig, on_cuda: bool) -> dict[str, Any]:
    """`generate`'s keyword arguments for `compile`: False decodes eagerly; True is transformers'
    default config (CUDA graphs); a `CompileConfig` is used as it is, on any device."""
    from transformers import CompileConfig

    if compile is False:
        return {"disable_compile": True}  # generate would otherwise compile on its own on accelerators
    config = compile if isinstance(compile, CompileConfig) else CompileConfig()
    if not on_cuda:
        # transformers' own switch to compile on any device (which it describes as for tests)
        config._compile_all_devices = True  # type: ignore[assignment]
    return {"compile_config": config}


def prepare_thread() -> None:
    """Set up this thread's CUDA graph trees, for a compiled step called from a thread of ours.

    subtle: torch before 2.13 sets up the per-thread state of its CUDA graph trees on the main
    thread (and autograd's) only, and a step compiled with mode="reduce-overhead" called from
    another thread fails `assert torch._C._is_key_in_tls(...)` (pytorch#123177; torch 2.13 sets
    it up on first use, #184357). This does what 2.13 does; a thread that has it is left alone."""
    import torch
    from torch._inductor import cudagraph_trees

    local = cudagraph_trees.local
    if hasattr(local, "tree_manager_containers") or torch._C._is_key_in_tls("tree_manager_containers"):
        return
    local.tree_manager_containers = {}
    local.tree_manager_locks = defaultdict(threading.Lock)
    torch._C._stash_obj_in_tls("tree_manager_containers", local.tree_manager_containers)
    torch._C._stash_obj_in_tls("tree_manager_locks", local.tree_manager_locks)
