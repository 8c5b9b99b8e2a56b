"""Property-based fuzzing of agentrt's input handling, at scale: every target in
tests/fuzz_targets.py runs N hypothesis-generated cases (default 10,000; CI runs a few hundred in
tests/test_fuzz.py). Per target it counts the cases, the errors raised on purpose (by kind) and
any other exception, with a sample. A case past the deadline counts as another exception (a
SIGALRM interrupts it), and an address-space limit turns runaway memory into a MemoryError.

    .venv/bin/python benchmarks/fuzz.py [--cases N] [--deadline-s S] [--memory-limit-gb G]

Prints a Markdown table. Target (benchmarks/README.md), claimed: no other exception, for every
target; exits 1 if any target raised anything but its allowed errors.
"""

from __future__ import annotations

import argparse
import reprlib
import resource
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from targets import Targets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fuzz_targets
from tests.fuzz_targets import TARGETS, Target  # noqa: E402


class Hang(Exception):
    """A case ran past its deadline."""


class _ShortRepr(reprlib.Repr):
    """reprlib, but an int too long for str() is described rather than printed."""

    def __init__(self) -> None:
        super().__init__()
        self.maxstring = self.maxother = 160

    def repr_int(self, x: int, level: int) -> str:
        return f"<int of {x.bit_length()} bits>" if x.bit_length() > 10_000 else super().repr_int(x, level)


@dataclass
class Tally:
    """What one target's cases did."""

    cases: int = 0
    allowed: Counter[str] = field(default_factory=Counter)
    other: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    slowest_s: float = 0.0

    def run(self, target: Target, example: Any, deadline_s: float) -> None:
        """Call the target on one example, under the deadline, and count what happened."""
        self.cases += 1
        start = time.perf_counter()
        failure: Exception | None = None
        signal.setitimer(signal.ITIMER_REAL, deadline_s)
        try:
            target.run(example)
        except target.allowed as exc:
            self.allowed[type(exc).__name__] += 1
        except Exception as exc:  # the bugs this benchmark is looking for
            failure = exc
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elapsed = time.perf_counter() - start
        self.slowest_s = max(self.slowest_s, elapsed)
        if failure is None and elapsed > deadline_s:  # finished, but late
            failure = Hang(f"took {elapsed:.1f} s")
        if failure is not None:
            kind = type(failure).__name__
            self.other[kind] += 1
            self.samples.setdefault(kind, f"{kind}: {str(failure)[:200]!r} on input {_ShortRepr().repr(example)}")


def fuzz(target: Target, cases: int, deadline_s: float) -> Tally:
    """Run `target` until `cases` cases have run: hypothesis may stop short of max_examples, so
    it is asked again, each time from a fresh random seed, for the rest."""
    tally = Tally()
    while tally.cases < cases:
        at_scale = settings(
            max_examples=cases - tally.cases, database=None, deadline=None, phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        at_scale(given(target.inputs)(lambda example: tally.run(target, example, deadline_s)))()
    return tally


def _interrupt(signum: int, frame: Any) -> None:
    raise Hang("interrupted at the deadline")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000, help="cases per target")
    parser.add_argument("--deadline-s", type=float, default=2.0, help="longest a case may take")
    parser.add_argument("--memory-limit-gb", type=float, default=4.0, help="address space for the process")
    args = parser.parse_args()
    limit = int(args.memory_limit_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _interrupt)
    print("| target | cases | allowed errors raised (by kind) | other exceptions | slowest case |")
    print("|---|---|---|---|---|")
    samples = []
    tallies = {}
    started = time.perf_counter()
    for target in TARGETS:
        tally = tallies[target.name] = fuzz(target, args.cases, args.deadline_s)
        kinds = ", ".join(f"{kind} {n}" for kind, n in tally.allowed.most_common()) or "none"
        others = ", ".join(f"{kind} {n}" for kind, n in tally.other.most_common()) or "**0**"
        print(f"| {target.name} | {tally.cases} | {sum(tally.allowed.values())} ({kinds}) | {others} "
              f"| {tally.slowest_s * 1000:.0f} ms |", flush=True)
        samples += [f"- {target.name}: {sample}" for sample in tally.samples.values()]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{time.perf_counter() - started:.0f} s in all; peak RSS {peak_mb:.0f} MB")
    if samples:
        print("\nSamples of other exceptions:\n" + "\n".join(samples))
    print()
    targets = Targets("fuzz")
    for name, tally in tallies.items():
        targets.check(f"{name}: other exceptions in {tally.cases} cases", sum(tally.other.values()), "== 0")
    targets.exit()


if __name__ == "__main__":
    main()
