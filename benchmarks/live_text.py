"""How soon does a person see the answer once the model starts writing it? Streams runs of open
questions on the default model through `Agent.stream`, and for each measures the time from the
model's own first piece of the answer's text (on the model's thread, inside the backend's
streaming callback; for the joiner, the first piece of the answer inside its JSON reply) to the first answer `TextDelta` reaching the caller. The answer streams from
the call that writes it: a `think` step the plan's answer quotes, or the joiner; an answer the
plan wrote out in full is shown when its step runs, and is not measured.

    .venv/bin/python benchmarks/live_text.py [--model ID]

Targets (benchmarks/README.md, issue [4/7]): the median and the largest within 50 ms (claimed).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from agentrt import Agent, RunResult, TextDelta
from agentrt.llm import GenerationRequest
from agentrt.joiner import AnswerText
from agentrt.plan import references
from agentrt.schema import ModelCall
from targets import Targets

QUESTIONS = [
    "Why is the sky blue?", "What causes rain?", "Explain photosynthesis in one sentence.",
    "Why do we have seasons?", "What is a black hole?", "Why do cats purr?", "How do vaccines work?",
    "What makes bread rise?", "Why is the sea salty?", "How does a rainbow form?",
]


def _source(result: RunResult) -> ModelCall | None:
    """The model call that wrote the answer as it streamed: the joiner's, or the think step's
    that the plan's answer quotes; None for an answer the plan wrote out."""
    if result.stopped_by == "joiner":
        return [c for c in result.model_calls if c.purpose == "answer"][-1]
    final = next((s for s in result.steps if s.tool == "final_answer"), None)
    quoted = references(final.args.get("answer", "")) if final is not None else set()
    return next((s.model_call for s in result.steps if s.id in quoted and s.tool == "think"), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model id or path (default: the embedded SmolLM2-135M)")
    args = parser.parse_args()
    targets = Targets("live_text")
    first_piece: dict[str, float] = {}  # a request's prompt -> when the model wrote its first piece
    first_answer: dict[str, float] = {}  # -> when it wrote the first of a joiner reply's answer text

    with Agent(args.model, store=":memory:") as agent:
        generate_streaming = agent.llm.generate_streaming  # type: ignore[attr-defined]

        def timed(request: GenerationRequest, on_text: Callable[[str], None]) -> Any:
            prompt = request.messages[-1].content
            answer_text = AnswerText(lambda text: first_answer.setdefault(prompt, time.perf_counter()))

            def first(piece: str) -> None:
                first_piece.setdefault(prompt, time.perf_counter())
                answer_text(piece)
                on_text(piece)

            return generate_streaming(request, first)

        agent.llm.generate_streaming = timed  # type: ignore[attr-defined]
        gaps = []
        for question in QUESTIONS:
            seen = None
            for event in agent.stream(question):
                if isinstance(event, TextDelta) and event.source == "answer" and seen is None:
                    seen = time.perf_counter()
            result = event.result  # the last event: Answered
            source = _source(result)
            written = first_answer if source is not None and source.purpose == "answer" else first_piece
            started = written.get(source.messages[-1].content) if source is not None else None
            if seen is None or started is None:
                print(f"  {question!r}: its answer was written in the plan, not streamed; not measured")
                continue
            gaps.append((seen - started) * 1000)
            print(f"  {question!r}: first answer text shown {gaps[-1]:.1f} ms after the model wrote it "
                  f"({source.purpose})", flush=True)
    if not gaps:
        targets.skip("first answer text shown, after the model wrote it", "<= 50", "no run streamed its answer")
    else:
        targets.check(f"median over {len(gaps)} runs", statistics.median(gaps), "<= 50", unit=" ms", fmt=".1f")
        targets.check("largest", max(gaps), "<= 50", unit=" ms", fmt=".1f")
    targets.exit()


if __name__ == "__main__":
    main()
