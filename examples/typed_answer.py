"""Get the answer as a typed value your program can use, not as text.

Run: .venv/bin/python examples/typed_answer.py ["your question"]
`run(..., output_type=Price)` ends with the answer written as JSON under Price's schema; on the
local model that JSON is decoded under the schema, so `result.output` is always a valid Price,
even from the embedded 135M model.
"""

from __future__ import annotations

import sys

from pydantic import BaseModel, Field

from agentrt import Agent, tool

PRICES = {"apple": 0.5, "bread": 2.25, "coffee": 4.0}


@tool
def lookup_price(item: str) -> float:
    """Price in euros of one unit of a grocery item.

    Args:
        item: the item's name, e.g. "apple"
    """
    return PRICES.get(item.strip().lower().rstrip("s"), 0.0)


class Price(BaseModel):
    item: str = Field(description="what was priced")
    euros: float = Field(description="its price in euros")


def main(instruction: str) -> None:
    with Agent(tools=[lookup_price]) as agent:
        result = agent.run(instruction, output_type=Price)
    price: Price = result.output
    print(f"answer: {price.item} costs {price.euros:.2f} euros  ({price!r})")


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "How much does coffee cost?")
