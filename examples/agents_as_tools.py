"""One agent delegating to others: a front desk that hands weather and money questions to two
specialist agents, each with its own tools, all on one model.

Run: .venv/bin/python examples/agents_as_tools.py ["your question"]
`specialist.as_tool(name, description)` turns an agent into a tool another agent can call: the
call runs the task as the specialist's own run (its tools, its prompts), and its answer comes
back as the step's result. The specialists share the front desk's model object, so their model
calls batch with its calls. The sub-run is kept with the step (`step.subrun`): `agentrt trace
--html` shows it nested, and `result.usage` counts its tokens.
"""

from __future__ import annotations

import sys
from typing import Literal

from agentrt import Agent, tool
from agentrt.llm import load_llm

FORECASTS = {"paris": "light rain, 14 C", "london": "overcast, 11 C", "tokyo": "sunny, 19 C"}
EUROS_PER = {"USD": 0.92, "GBP": 1.17, "EUR": 1.0}


@tool
def get_weather(city: str) -> str:
    """Current weather in a city.

    Args:
        city: the city, e.g. "Paris"
    """
    return f"{city}: {FORECASTS.get(city.strip().lower(), 'clear, 15 C')}"


@tool
def to_euros(amount: float, currency: Literal["USD", "GBP", "EUR"]) -> float:
    """Convert an amount of money into euros.

    Args:
        amount: how much money
        currency: the currency it is in
    """
    return round(amount * EUROS_PER[currency], 2)


def main(questions: list[str]) -> None:
    model = load_llm()  # one model for all three agents
    with (Agent(model, tools=[get_weather], store=":memory:") as meteorologist,
          Agent(model, tools=[to_euros], store=":memory:") as banker,
          Agent(model, store=":memory:", tools=[
              meteorologist.as_tool("ask_meteorologist", "Ask the weather service about the weather in a city"),
              banker.as_tool("ask_banker", "Ask the bank to convert money into euros"),
          ]) as desk):
        for question in questions:
            result = desk.run(question)
            print(f"you: {question}")
            for step in result.steps:
                if step.subrun is not None:
                    calls = [f"{s.tool}({s.args}) -> {s.observation}" for s in step.subrun.steps
                             if s.tool != "final_answer"]
                    print(f"  {step.tool}({step.args['task']!r}) ran: {calls}")
            print(f"  answer: {result.answer}  ({result.usage.model.calls} model calls, "
                  f"{result.usage.model.prompt_tokens + result.usage.model.completion_tokens} tokens in all)")
    model.close()


if __name__ == "__main__":
    main([" ".join(sys.argv[1:])] if sys.argv[1:] else
         ["How much is 40 dollars in euros?", "What's the weather like in Paris right now?",
          "Ask the weather service what the weather is in Tokyo right now."])
