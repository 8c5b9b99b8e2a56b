"""A travel assistant: one agent, several tools of your own, questions in plain words.

Run: .venv/bin/python examples/travel_assistant.py ["your question"]
None of the questions names a tool. On a local model (`choose_tools`, on by default there) the
agent cuts each question into the requests it makes, calls for each the tool that fits it
best, writes each call's arguments from its request in a prompt of its own, and answers with
every result; a question no tool fits is left to the model.
"""

from __future__ import annotations

import sys
from typing import Literal, TypeVar

from agentrt import Agent, RetryTool, tool

T = TypeVar("T")
Currency = Literal["USD", "EUR", "GBP", "JPY"]
RATES_TO_USD = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067}
WEATHER = {"lisbon": "sunny, 24 C", "paris": "light rain, 14 C", "tokyo": "cloudy, 19 C"}
UTC_OFFSETS = {"lisbon": 0, "paris": 1, "tokyo": 9, "new york": -5}


@tool
def get_weather(city: str) -> str:
    """Current weather in a city.

    Args:
        city: the city's name, e.g. "Lisbon"
    """
    return _look_up(WEATHER, city, "weather")


@tool
def convert_currency(amount: float, source: Currency, target: Currency) -> float:
    """Convert an amount of money from one currency to another.

    Args:
        amount: how much money, e.g. 100
        source: the currency the amount is in
        target: the currency to convert to
    """
    return round(amount * RATES_TO_USD[source] / RATES_TO_USD[target], 2)


@tool
def local_time_offset(city: str) -> str:
    """The time zone of a city, as its offset from UTC in hours.

    Args:
        city: the city's name, e.g. "Tokyo"
    """
    return f"UTC{_look_up(UTC_OFFSETS, city, 'time zone'):+d}"


def _look_up(table: dict[str, T], city: str, what: str) -> T:
    """`table`'s entry for `city`; an unknown city is a failure the planner can retry with another."""
    key = city.strip().lower()
    if key not in table:
        raise RetryTool(f"no {what} for {city!r}; known cities: {', '.join(table)}")
    return table[key]


QUESTIONS = [
    "What's the weather like in Paris today?",
    "How much is 120 US dollars in euros?",
    "Which time zone is Tokyo in?",
]


def main(questions: list[str]) -> None:
    agent = Agent(tools=[get_weather, convert_currency, local_time_offset])
    for question in questions:
        result = agent.run(question)
        print(f"question: {question}")
        for step in result.steps:
            print(f"  step {step.id}: {step.tool}({step.resolved_args}) -> {step.observation}")
        print(f"answer: {result.answer}")


if __name__ == "__main__":
    main([" ".join(sys.argv[1:])] if sys.argv[1:] else QUESTIONS)
