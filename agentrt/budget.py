"""Run budgets: how many steps, replans, seconds and model tokens a run may still use. Plain bookkeeping."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Budget:
    """Limits of one run and what it has used so far."""

    max_steps: int
    max_replans: int
    time_limit_s: float | None = None
    max_tokens: int | None = None
    steps_used: int = 0
    replans_used: int = 0
    tokens_used: int = 0
    """Prompt and generated tokens of the run's model calls, and those set aside for calls in flight."""
    started: float = field(default_factory=time.perf_counter)

    def steps_left(self) -> int:
        return max(0, self.max_steps - self.steps_used)

    def replans_left(self) -> int:
        return max(0, self.max_replans - self.replans_used)

    def time_left(self) -> float | None:
        """Seconds before the run's deadline, or None without one."""
        if self.time_limit_s is None:
            return None
        return max(0.0, self.time_limit_s - (time.perf_counter() - self.started))

    def out_of_time(self) -> bool:
        left = self.time_left()
        return left is not None and left <= 0
