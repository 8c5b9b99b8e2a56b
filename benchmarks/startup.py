"""Start-up of the default model and of the README's main job, each in fresh processes.

1. First start (GGUF -> safetensors conversion) against second start (cached) of the default
   model, each in a fresh process over the same empty cache directory, measured in one run.
   Reported twice: the model load alone, and the whole start including Python imports.
2. The whole `agentrt run "What is 17 times 23, plus 4?"` process, timed from outside (median
   of 3, after one warm-up run over the same cache), with its peak resident memory (the
   kernel's high-water mark for that process, from `os.wait4`).

Targets (benchmarks/README.md): the cached start is >= 3x faster than the first, both ways
(claimed); the whole run peaks at <= 800 MiB resident (claimed where the CPU computes bf16, so
the default model runs packed to int4; its fp32 weights alone are 540 MB) and takes <= 4 s (not
claimed). Exits 1 if a claimed one misses.

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentrt.llm.quantize import cpu_has_bf16
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
INSTRUCTION = "What is 17 times 23, plus 4?"
ANSWER = "Answer: 395"
# the console script's own two lines, so that the run measures this checkout's agentrt
AGENTRT = "import sys; from agentrt.cli import main; sys.exit(main())"
RUNS = 3
RUN_TARGET_S = 4  # the whole `agentrt run` process, cached model
PEAK_TARGET_MIB = 800
REPO = Path(__file__).resolve().parents[1]


def start_seconds(env: dict[str, str]) -> tuple[float, float]:
    """(model load, whole start) in seconds, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    load, whole = map(float, out.stdout.strip().splitlines()[-1].split())
    return load, whole


def whole_run(env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one `agentrt run` process, measured from outside."""
    with tempfile.TemporaryFile("w+") as output:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-c", AGENTRT, "run", INSTRUCTION], env=env,
                                   stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        # subtle: wait4 gives this child's own high-water mark; RUSAGE_CHILDREN would give the
        # largest of every child so far, the converting first start included
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    if process.returncode != 0 or ANSWER not in text:
        raise SystemExit(f"`agentrt run {INSTRUCTION!r}` exited {process.returncode} without {ANSWER!r}:\n{text}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "AGENTRT_CACHE_DIR": tmp, "AGENTRT_STORE": str(Path(tmp) / "runs.db"),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        first = start_seconds(env)
        second = start_seconds(env)
        whole_run(env)  # warm-up: anything the run caches beside the converted model
        runs = [whole_run(env) for _ in range(RUNS)]
    print("default model start      first (converts)   second (cached)   ratio")
    for label, i in (("model load", 0), ("with imports", 1)):
        print(f"  {label:<22} {first[i]:10.1f} s {second[i]:15.1f} s {first[i] / second[i]:9.1f}x")
    print(f"\nagentrt run {INSTRUCTION!r}, cached model, {RUNS} runs after a warm-up:")
    for wall, peak in runs:
        print(f"  {wall:5.1f} s wall, {peak:5.0f} MiB peak resident")
    targets = Targets("startup")
    for label, i in (("model load", 0), ("with imports", 1)):
        targets.check(f"{label}, first / second start", first[i] / second[i], f">= {RATIO_TARGET}", unit="x",
                      fmt=".1f")
    targets.check(f"agentrt run, median of {RUNS}", statistics.median(w for w, _ in runs), f"<= {RUN_TARGET_S}",
                  unit=" s", fmt=".1f", claimed=False)
    targets.check(f"agentrt run, peak resident, median of {RUNS}", statistics.median(p for _, p in runs),
                  f"<= {PEAK_TARGET_MIB}", unit=" MiB", fmt=".0f", claimed=cpu_has_bf16())
    targets.exit()


if __name__ == "__main__":
    main()
