"""PEFT adapters (LoRA and its kin) applied to a local model as it loads.

On float weights the adapter is merged in, so generation costs what the base model costs. Beside
int4-packed weights a LoRA adapter stays unmerged: re-packing merged weights to 4 bits rounds most
of a trained adapter's small update away (benchmarks/lora_int4.py), while its rank-r matrices cost
little next to the packed matmul. An adapter is a local directory as `PeftModel.save_pretrained`
writes it: nothing here downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelNotFoundError

CONFIG_FILE = "adapter_config.json"
WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")
ADAPTER_NAME = "default"  # peft's name for a lone adapter: its layers are children of that name
SAVE_HINT = "pass the directory that PeftModel.save_pretrained wrote"


def adapter_dir(adapter: str | Path) -> Path:
    """The adapter directory `adapter` names, checked before the (slower) base model loads."""
    path = Path(adapter).expanduser()
    if not path.exists():
        raise ModelNotFoundError(
            f"No adapter at {str(path)!r}: no such directory; {SAVE_HINT} (agentrt never downloads adapters)"
        )
    if not (path / CONFIG_FILE).is_file():
        raise ConfigError(f"{str(path)!r} is not a PEFT adapter directory: it holds no {CONFIG_FILE}; {SAVE_HINT}")
    if not any((path / name).is_file() for name in WEIGHT_FILES):
        raise ConfigError(
            f"The adapter directory {str(path)!r} has {CONFIG_FILE} but no weights "
            f"({' or '.join(WEIGHT_FILES)}); save the adapter again with PeftModel.save_pretrained"
        )
    return path.resolve()


def apply_adapter(model: Any, adapter: Path, model_name: str, *, merge: bool, dtype: Any) -> tuple[Any, str]:
    """`model` (named `model_name` in errors) with the adapter in directory `adapter`, and the
    adapter's kind ("lora", ...). `merge` adds it into the weights, which then become `dtype`;
    otherwise only plain LoRA is accepted, its layers left beside the base layers (for int4 packing,
    which must then keep children named ADAPTER_NAME). ConfigError when the adapter does not fit."""
    try:
        from peft import PeftConfig, PeftModel
        from peft.tuners.lora import LoraLayer
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError as exc:
        raise ConfigError(f"adapter= needs peft ({exc}); run `pip install 'peft>=0.18'`") from exc
    try:
        config = PeftConfig.from_pretrained(str(adapter))
    except (ValueError, KeyError, TypeError) as exc:  # bad JSON, no or unknown peft_type, unknown fields
        raise ConfigError(
            f"Could not read {adapter / CONFIG_FILE} ({exc.__class__.__name__}: {exc}); {SAVE_HINT}, "
            "with a peft version at least as new as the one that saved it"
        ) from exc
    kind = str(config.peft_type.value).lower()
    if config.is_prompt_learning:
        raise ConfigError(
            f"The adapter in {adapter} is {kind}, a prompt-learning method: it adds virtual tokens rather "
            "than weights, so it cannot be merged; use a LoRA adapter (or another tuner peft can merge)"
        )
    try:
        # the model is wrapped first and the weights loaded after, so that peft reports what did not load
        wrapped = PeftModel(model, config, ADAPTER_NAME)
        loaded = wrapped.load_adapter(
            str(adapter), ADAPTER_NAME, key_mapping=getattr(model, "_checkpoint_conversion_mapping", None)
        )
    except (RuntimeError, ValueError) as exc:  # shapes that differ, target modules the model lacks
        raise _mismatch(adapter, config, model_name, str(exc)) from exc
    if loaded.missing_keys or loaded.unexpected_keys:
        unloaded = [*loaded.missing_keys, *loaded.unexpected_keys]
        raise _mismatch(
            adapter, config, model_name,
            f"{len(loaded.missing_keys)} adapter weights the model expects are not in the file and "
            f"{len(loaded.unexpected_keys)} in the file fit no module, e.g. {unloaded[0]}",
        )
    if not merge:
        layers = [m for m in wrapped.modules() if isinstance(m, BaseTunerLayer)]
        if not all(isinstance(m, LoraLayer) and not m.lora_variant for m in layers):
            raise ConfigError(
                f"The adapter in {adapter} ({kind}{', DoRA' if getattr(config, 'use_dora', False) else ''}) "
                "needs the base model's float weights to run, and int4 packing would replace them; "
                "pass quantize='none' to merge it into float weights instead"
            )
        return wrapped.get_base_model(), kind
    merged = wrapped.merge_and_unload()
    # subtle: parameters only, as from_pretrained(dtype=) leaves them: module.to(dtype) would also
    # cast the fp32 rotary-frequency buffers, and positions would no longer match the base model's
    for parameter in merged.parameters():
        parameter.data = parameter.data.to(dtype)
    return merged, kind


def _mismatch(adapter: Path, config: Any, model_name: str, detail: str) -> ConfigError:
    """The error for an adapter that does not fit the model: what differs, and which base it was made for."""
    base = config.base_model_name_or_path or "an unrecorded base model"
    base_class = (getattr(config, "auto_mapping", None) or {}).get("base_model_class")
    made_for = f"{base} ({base_class})" if base_class else base
    first_lines = " ".join(detail.strip().splitlines()[:2])[:400]
    return ConfigError(
        f"The adapter in {adapter} does not fit model {model_name!r}: {first_lines}. It was made for "
        f"{made_for}; load it with that base model (model=...), or train the adapter on this one"
    )
