"""Embed agentrt in a Python program with a tool of your own.

Run: .venv/bin/python examples/custom_tool.py ["your question"]
The model (the embedded SmolLM2-135M by default) plans which tools to call; the calculator and
final_answer are built in, `lookup_price` is ours. The question need not name the tool: on a
local model the agent picks the tools that fit it (`choose_tools`, see the README).
"""

from __future__ import annotations

import sys

from agentrt import Agent, RetryTool, tool

PRICES = {"apple": 0.5, "bread": 2.25, "coffee": 4.0}


@tool
def lookup_price(item: str) -> float:
    """Price in euros of one unit of a grocery item.

    Args:
        item: the item's name, e.g. "apple"
    """
    key = item.strip().lower().rstrip("s")
    if key not in PRICES:
        raise RetryTool(f"unknown item {item!r}; known items: {', '.join(PRICES)}")
    return PRICES[key]


def main(instruction: str) -> None:
    agent = Agent(tools=[lookup_price])
    result = agent.run(instruction)
    for step in result.steps:
        print(f"step {step.id}: {step.tool}({step.resolved_args}) -> {step.observation}")
    print("answer:", result.answer)


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "How much does bread cost?")
