"""Each benchmark figure printed beside its target, and a run that fails loudly when a claimed one misses.

Why: a benchmark that only prints lets a figure that benchmarks/README.md claims go stale without
anyone noticing (fanout.py once printed seq/par 1.00 for every N under a README that claimed
2.00 to 15.73). So every benchmark checks its figures here, and exits 1 when a target the README
claims as met is missed. A target the README says is not met yet is printed all the same, marked
"not claimed", and never fails the run.

A target is the README's stated target ("seq/par >= 0.9 * N"), never the last measured value:
these machines are shared and figures move by about 10% between runs.

    targets = Targets("fanout")
    targets.check("N=4 fan-out seq / par", 3.98, ">= 3.6")  # N=4 fan-out seq / par: 3.98 (target >= 3.60) ok
    targets.check("int4 / llama.cpp", 0.37, ">= 0.5", claimed=False)  # ... missed, not claimed
    targets.skip("smolagents / agentrt", ">= 10", "`make bench-others` first", claimed=False)
    targets.exit()  # exit 1, naming them, if a claimed target was missed

Does not time anything or keep history: the benchmark measures, this only judges and reports.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable
from typing import NoReturn

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq,
}


class Targets:
    """The targets one benchmark run checked, and which claimed ones it missed. `claims=False` for
    a run not measured the way the README's figures are (inference.py --quick): nothing fails it."""

    def __init__(self, benchmark: str, claims: bool = True) -> None:
        self.benchmark = benchmark
        self.claims = claims
        self.checked = 0
        self.missed: list[str] = []

    def check(self, name: str, value: float, target: str, *, claimed: bool = True, unit: str = "",
              fmt: str | None = None) -> bool:
        """Print `name: value (target ...) ok|MISSED` and return whether `value` meets `target`,
        written as a comparison and a number: ">= 0.9", "<= 2", "== 50". `fmt` formats both
        numbers (default: "d" for an int, ".2f" otherwise)."""
        comparison, bound = _parse(target)
        claimed = claimed and self.claims
        fmt = fmt or ("d" if isinstance(value, int) and isinstance(bound, int) else ".2f")
        met = COMPARISONS[comparison](value, bound)
        verdict = ("ok" if met else "MISSED") if claimed else ("met" if met else "missed") + ", not claimed"
        line = f"{name}: {value:{fmt}}{unit} (target {comparison} {bound:{fmt}}{unit}) {verdict}"
        print(f"  {line}", flush=True)
        self.checked += 1
        if claimed and not met:
            self.missed.append(line)
        return met

    def skip(self, name: str, target: str, why: str, *, claimed: bool = True) -> None:
        """A figure this run could not measure; a claimed one counts as missed, and `why` should
        say how to measure it."""
        comparison, bound = _parse(target)
        claimed = claimed and self.claims
        line = f"{name}: not measured (target {comparison} {bound:g}): {why}"
        print(f"  {line}" + ("" if claimed else ", not claimed"), flush=True)
        if claimed:
            self.missed.append(line)

    def exit(self) -> NoReturn:
        """Exit 1, naming them, if any claimed target was missed; 0 otherwise."""
        sys.stdout.flush()
        if self.missed:
            print(f"\n{self.benchmark}: {len(self.missed)} claimed target(s) MISSED:", file=sys.stderr)
            for line in self.missed:
                print(f"  {line}", file=sys.stderr)
            sys.exit(1)
        claimed = "every claimed target met" if self.claims else "a run smaller than the README's: no target claimed"
        print(f"\n{self.benchmark}: {claimed} ({self.checked} checked)")
        sys.exit(0)


def _parse(target: str) -> tuple[str, float]:
    """">= 0.9" -> (">=", 0.9); an integral bound stays an int ("== 50" -> ("==", 50))."""
    comparison, _, number = target.strip().partition(" ")
    if comparison not in COMPARISONS:
        raise ValueError(f"target {target!r} must start with one of {', '.join(COMPARISONS)}, then a space")
    bound = float(number)
    return comparison, int(bound) if bound.is_integer() and "." not in number else bound
