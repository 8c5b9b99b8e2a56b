"""Built-in `final_answer`: the step that hands the run's answer back to the user."""

from __future__ import annotations

from agentrt import tool


@tool(idempotent=True)
def final_answer(answer: str) -> str:
    """Give the final answer to the user; use $N to insert the result of step N.

    Args:
        answer: the answer text, e.g. "The total is $2."
    """
    return answer
