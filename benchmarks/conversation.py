"""Does a long conversation stay within the model's context window, and do follow-ups still
resolve at its end? Runs one conversation of 50 turns on the default model (five rounds of ten
everyday turns: new questions, follow-ups like "And in London?", thanks, a question about the
conversation itself; each round ends with a question and its follow-up), with three tools
written for it, and measures every model call's prompt.

    .venv/bin/python benchmarks/conversation.py [--turns N] [--model ID]

Targets (benchmarks/README.md, issue [4/7]): no model call's prompt plus its new tokens passes
the model's context window (claimed); the prompts of the last ten turns are at most 1.5x the
size of the first ten's (claimed: the context policy keeps them bounded); the last turn, a
follow-up, calls the tool with its new value (claimed); follow-ups of a turn that made its call
call the same tool with the new value (claimed >= 0.9); all follow-ups, tool turns with exactly
the expected call, and no-tool turns that call none (shown: a follow-up of a turn that called
no tool cannot be right, and "Is it raining in Tokyo?" is one such turn, issue [2/7]).
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Literal

from agentrt import Agent, tool
from targets import Targets

CITIES = ["Paris", "London", "Tokyo", "Berlin", "Madrid", "Oslo", "Rome", "Lisbon", "Vienna", "Dublin"]


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather in a city.

    Args:
        city: the city, e.g. "Paris"
        unit: temperature unit
    """
    return f"{city}: light rain, 14 degrees {unit}"


@tool
def convert_currency(amount: float, source: Literal["USD", "EUR", "GBP", "JPY"],
                     target: Literal["USD", "EUR", "GBP", "JPY"]) -> str:
    """Convert an amount of money from one currency to another.

    Args:
        amount: how much money
        source: the currency it is in
        target: the currency wanted
    """
    return f"{amount} {source} = {round(amount * 0.92, 2)} {target}"


@tool
def lookup_order(order_id: str) -> str:
    """Status of a customer's order.

    Args:
        order_id: the order's id, e.g. ORD-58213
    """
    return f"order {order_id}: shipped yesterday, arriving Thursday"


Call = tuple[str, dict[str, Any]] | None  # the expected tool call, or None for no tool
Turn = tuple[str, Call, bool]  # instruction, expected call, whether it is a follow-up


def rounds(count: int) -> list[Turn]:
    """`count` turns: rounds of ten, each with its own cities, amounts and orders."""
    turns: list[Turn] = []
    for r in range(count // 10 + 1):
        a, b, c, d = (CITIES[(4 * r + i) % len(CITIES)] for i in range(4))
        amount, again, order, other = 100 + 10 * r, 250 + 10 * r, f"ORD-5837{r}", f"ORD-1044{r}"
        turns += [
            (f"Is it raining in {c}?", ("get_weather", {"city": c}), False),
            (f"What about {d}?", ("get_weather", {"city": d}), True),
            (f"Convert {amount} USD to EUR.", ("convert_currency", {"amount": amount, "source": "USD",
                                                                   "target": "EUR"}), False),
            (f"And {again}?", ("convert_currency", {"amount": again, "source": "USD", "target": "EUR"}), True),
            ("Thanks, that helps.", None, False),
            (f"Where is my order {order}?", ("lookup_order", {"order_id": order}), False),
            (f"How about {other}?", ("lookup_order", {"order_id": other}), True),
            ("Which city did I ask about first?", None, False),
            (f"What is the weather in {a} right now?", ("get_weather", {"city": a}), False),
            (f"And in {b}?", ("get_weather", {"city": b}), True),
        ]
    return turns[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--model", help="model id or path (default: the embedded SmolLM2-135M)")
    args = parser.parse_args()
    targets = Targets("conversation")
    with Agent(args.model, tools=[get_weather, convert_currency, lookup_order], store=":memory:") as agent:
        config = getattr(getattr(agent.llm, "model", None), "config", None)
        window = getattr(config, "max_position_embeddings", None)
        chat = agent.conversation()
        turns = rounds(args.turns)
        prompts: list[int] = []  # the largest prompt of each turn, in tokens
        longest = 0  # the largest prompt plus its new tokens, over every call
        right = {"follow-up": [0, 0], "follow-up of a right turn": [0, 0], "tool": [0, 0], "no tool": [0, 0]}
        last_right = before_right = False
        start = time.perf_counter()
        for number, (instruction, expected, follow_up) in enumerate(turns, 1):
            result = chat.run(instruction)
            made = [(s.tool, s.args) for s in result.steps if s.tool not in ("final_answer", "think")]
            ok = made == ([expected] if expected else [])
            kind = "follow-up" if follow_up else "tool" if expected else "no tool"
            for counted in [kind] + (["follow-up of a right turn"] if follow_up and before_right else []):
                right[counted][0] += ok
                right[counted][1] += 1
            last_right = before_right = ok
            prompts.append(max(c.prompt_tokens for c in result.model_calls))
            longest = max([longest, *(c.prompt_tokens + c.completion_tokens for c in result.model_calls)])
            print(f"{number:2d} {'ok ' if ok else 'BAD'} {instruction!r} -> {made}  "
                  f"({prompts[-1]} prompt tokens, {len(chat.shown())} turns shown)", flush=True)
        elapsed = time.perf_counter() - start
    print(f"\n{len(turns)} turns in {elapsed:.0f} s ({elapsed / len(turns):.1f} s per turn)")
    if window:
        targets.check(f"longest prompt + new tokens, of a {window}-token window", longest, f"<= {window}")
    else:
        targets.skip("longest prompt + new tokens", "<= the window", "the model states no context window")
    tenth = max(1, len(prompts) // 5)
    first, last = sum(prompts[:tenth]) / tenth, sum(prompts[-tenth:]) / tenth
    targets.check("prompt tokens, last turns / first turns", last / first, "<= 1.5")
    targets.check("the last turn (a follow-up) resolved", int(last_right), "== 1")
    for kind, (good, total) in right.items():
        if total:
            claimed = kind == "follow-up of a right turn"
            targets.check(f"{kind} turns right ({good}/{total})", good / total, ">= 0.9" if claimed else ">= 0",
                          claimed=claimed)
    targets.exit()


if __name__ == "__main__":
    main()
