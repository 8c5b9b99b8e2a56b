"""Watch the answer as the model writes it, then see what the run used and cost.

Run: .venv/bin/python examples/live_answer.py ["your question"]
`agent.stream(...)` yields the run's events as they happen; `TextDelta` events carry the answer
(and each think step's reasoning) piece by piece as the model writes it, so a person reads it
while it is written instead of watching a spinner. `result.usage` then says what the run used:
model calls, tokens and seconds, by model and by purpose, tool calls, and with a price table
the cost. `max_tokens` caps a run's tokens: a model call that could pass it is not made.
"""

from __future__ import annotations

import sys

from agentrt import Agent, Answered, TextDelta

# per million tokens, by the model's name: a stand-in price for a small model on your own machine
PRICES = {"smollm2-135m-instruct": {"prompt": 0.02, "completion": 0.06}}


def main(question: str) -> None:
    with Agent(store=":memory:", prices=PRICES, max_tokens=4000) as agent:
        print("answer: ", end="", flush=True)
        for event in agent.stream(question):
            if isinstance(event, TextDelta) and event.source == "answer":
                print(event.text, end="", flush=True)
            elif isinstance(event, Answered):
                usage = event.result.usage
        print()
    print(f"used: {usage.model.calls} model calls, {usage.model.prompt_tokens} prompt and "
          f"{usage.model.completion_tokens} generated tokens in {usage.model.seconds:.1f} s "
          f"(by purpose: {', '.join(f'{p} {s.calls}' for p, s in usage.by_purpose.items())}); "
          f"{usage.tool_calls} tool calls; cost {usage.cost:.8f}")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "Why is the sky blue?")
