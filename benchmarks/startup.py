"""First start (GGUF -> safetensors conversion) against second start (cached) of the default
model, each in a fresh process over the same empty cache directory, measured in one run.

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

PROBE = (
    "import time; t = time.perf_counter(); "
    "from agentrt.llm.transformers_llm import TransformersLLM; TransformersLLM(); "
    "print(time.perf_counter() - t)"
)


def start_seconds(cache: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**os.environ, "AGENTRT_CACHE_DIR": cache},
        capture_output=True, text=True, check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        first = start_seconds(cache)
        second = start_seconds(cache)
    print(f"default model start, first (converts): {first:.1f} s")
    print(f"default model start, second (cached):  {second:.1f} s")
    print(f"ratio first/second: {first / second:.1f}x")


if __name__ == "__main__":
    main()
