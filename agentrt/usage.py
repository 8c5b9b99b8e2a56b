"""What a run used, and what it cost: tokens by model and by purpose, tool calls, seconds.

A price table gives each model's price per million prompt and generated tokens, by the model's
name (`LLM.name`, as `ModelCall.model` records it), written in Python or a TOML file:

    [models."HuggingFaceTB/SmolLM2-135M-Instruct"]
    prompt = 0.0
    completion = 0.0

A table with a typo (an unknown field, a negative price, a model the agent does not use) is a
`ConfigError` naming it, raised when the agent is made, before any model call.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import ConfigError, checked_tables
from .schema import ModelCall, Spent, StepResult, Usage


class Price(BaseModel):
    """One model's price per million tokens, prompt and generated."""

    model_config = ConfigDict(extra="forbid")

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)


Prices = Mapping[str, Price | Mapping[str, Any]]


def load_prices(prices: Prices | str | Path, models: Sequence[str]) -> dict[str, Price]:
    """The price table `prices` (a mapping by model name, or a TOML file of `[models.NAME]`
    tables), checked against the names of the `models` the agent uses."""
    where = "prices: "
    if isinstance(prices, (str, Path)):
        where = f"Price file {prices}: "
        try:
            data = tomllib.loads(Path(prices).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{where}cannot be read as a TOML file ({exc})") from exc
        if set(data) != {"models"} or not isinstance(data["models"], dict):
            raise ConfigError(f'{where}write one [models."NAME"] table per model, with prompt and completion prices')
        prices = data["models"]
    unknown = sorted(set(prices) - set(models))
    if unknown:
        raise ConfigError(f"{where}{unknown} named, but this agent's model is {list(models)}: "
                          "name each model as LLM.name gives it")
    return checked_tables(Price, prices, lambda name, problems: (
        f"{where}the price of {name!r} is wrong: {problems} (write prompt = X and completion = Y, per million tokens)"))


def usage_of(calls: Sequence[ModelCall], steps: Sequence[StepResult], prices: Mapping[str, Price]) -> Usage:
    """The usage of a run that made `calls` and took `steps`, the model calls of the sub-runs its
    steps delegated to (`StepResult.subrun`) included; its cost when `prices` is not empty (a
    model missing from it costs nothing), plus what the sub-runs cost by their own agents' prices."""
    usage = Usage(tool_calls=sum(1 for s in steps if s.model_call is None),
                  tool_seconds=sum(s.duration_s for s in steps if s.model_call is None))
    for call in calls:
        for spent in (usage.model, usage.by_model.setdefault(call.model, Spent()),
                      usage.by_purpose.setdefault(call.purpose, Spent())):
            _add(spent, Spent(calls=1, prompt_tokens=call.prompt_tokens, completion_tokens=call.completion_tokens,
                              seconds=call.duration_s))
    if prices:
        usage.cost = sum((spent.prompt_tokens * prices[name].prompt + spent.completion_tokens * prices[name].completion)
                         / 1e6 for name, spent in usage.by_model.items() if name in prices)
    for sub in (s.subrun.usage for s in steps if s.subrun is not None):
        _add(usage.model, sub.model)
        for mine, theirs in ((usage.by_model, sub.by_model), (usage.by_purpose, sub.by_purpose)):
            for name, spent in theirs.items():
                _add(mine.setdefault(name, Spent()), spent)
        usage.tool_calls += sub.tool_calls
        if sub.cost is not None:
            usage.cost = (usage.cost or 0.0) + sub.cost
    return usage


def _add(total: Spent, more: Spent) -> None:
    total.calls += more.calls
    total.prompt_tokens += more.prompt_tokens
    total.completion_tokens += more.completion_tokens
    total.seconds += more.seconds
