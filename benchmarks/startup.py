"""First start (GGUF -> safetensors conversion) against second start (cached) of the default
model, each in a fresh process over the same empty cache directory, measured in one run.
Reported twice: the model load alone, and the whole start including Python imports.

Target (benchmarks/README.md), claimed: the cached start is >= 3x faster than the first, both
ways. Exits 1 if it misses.

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from targets import Targets

PROBE = """
import time
start = time.perf_counter()
from agentrt.llm.transformers_llm import TransformersLLM
imported = time.perf_counter()
TransformersLLM()
print(time.perf_counter() - imported, time.perf_counter() - start)
"""
RATIO_TARGET = 3  # first start / second start: caching the converted weights pays


def start_seconds(cache: str) -> tuple[float, float]:
    """(model load, whole start) in seconds, in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env={**os.environ, "AGENTRT_CACHE_DIR": cache},
        capture_output=True, text=True, check=True,
    )
    load, whole = map(float, out.stdout.strip().splitlines()[-1].split())
    return load, whole


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        first = start_seconds(cache)
        second = start_seconds(cache)
    print("default model start      first (converts)   second (cached)   ratio")
    for label, i in (("model load", 0), ("with imports", 1)):
        print(f"  {label:<22} {first[i]:10.1f} s {second[i]:15.1f} s {first[i] / second[i]:9.1f}x")
    targets = Targets("startup")
    for label, i in (("model load", 0), ("with imports", 1)):
        targets.check(f"{label}, first / second start", first[i] / second[i], f">= {RATIO_TARGET}", unit="x",
                      fmt=".1f")
    targets.exit()


if __name__ == "__main__":
    main()
