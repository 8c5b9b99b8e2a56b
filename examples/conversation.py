"""A conversation: follow-up turns that lean on the turns before them.

Run: .venv/bin/python examples/conversation.py
Each `chat.run(...)` is one turn. The second asks only "And in London?": the conversation shows
the earlier turn to the model, and a follow-up that no tool fits calls the tool the turn before
called, with the new value. The third asks about the conversation itself. Turns are kept in the
run store, so `agent.conversation(chat.id)` would continue this one after a restart.
"""

from __future__ import annotations

from typing import Literal

from agentrt import Agent, tool

FORECASTS = {"paris": "light rain, 14 C", "london": "overcast, 11 C", "tokyo": "sunny, 19 C"}


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather in a city.

    Args:
        city: the city, e.g. "Paris"
        unit: temperature unit
    """
    return f"{city}: {FORECASTS.get(city.strip().lower(), 'clear, 15 C')}"


def main() -> None:
    with Agent(tools=[get_weather], store=":memory:") as agent:
        chat = agent.conversation()
        for question in ("What is the weather in Paris right now?", "And in London?",
                         "Which city did I ask about first?"):
            result = chat.run(question)
            calls = [f"{s.tool}({s.args}) -> {s.observation}" for s in result.steps
                     if s.tool not in ("final_answer", "think")]
            print(f"you: {question}\n  calls: {calls}\n  answer: {result.answer}")


if __name__ == "__main__":
    main()
