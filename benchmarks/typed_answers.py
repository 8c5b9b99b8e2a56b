"""Does the default model always write a valid typed answer? Runs every instruction of
benchmarks/instructions.txt (written for the plan-validity benchmark, none from a benchmark's
test half) once through the agent, then writes its answer as each of five output types
(`agentrt.output.TypedOutput`, as `run(..., output_type=T)` does), the five of one run as one
batch, and checks every one validates.

    .venv/bin/python benchmarks/typed_answers.py [--limit N] [--model ID]

Target (benchmarks/README.md), claimed: 250 of 250 valid (issue [4/7]: 50 instructions x 5
output types, 100% valid). Exits 1 if one is not.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agentrt import Agent, AgentrtError, RunResult
from agentrt.output import TypedOutput
from agentrt.prompts import PromptLibrary
from targets import Targets

HERE = Path(__file__).parent


class Summary(BaseModel):
    answer: str = Field(description="the answer in a few words")
    confident: bool = Field(description="whether the steps' results support it")


class Kind(enum.Enum):
    NUMBER = "number"
    FACT = "fact"
    OPINION = "opinion"
    REFUSAL = "refusal"


TYPES = {"int": int, "Summary": Summary, "yes/no": Literal["yes", "no"], "list[str]": list[str], "Kind": Kind}


async def typed(writers: dict[str, TypedOutput], result: RunResult) -> dict[str, bool]:
    """Whether each writer's answer for `result` validates (it raises otherwise)."""

    async def valid(writer: TypedOutput) -> bool:
        try:
            await writer.write(result.instruction, result.steps, result.answer)
            return True
        except AgentrtError as exc:
            print(f"    {writer.name}: {str(exc).splitlines()[0]}")
            return False

    outcomes = await asyncio.gather(*(valid(w) for w in writers.values()))
    return dict(zip(writers, outcomes, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--model")
    args = parser.parse_args()
    start = time.perf_counter()
    instructions = (HERE / "instructions.txt").read_text().splitlines()[: args.limit]
    with Agent(model=args.model, store=":memory:") as agent:
        writers = {name: TypedOutput(t, agent.llm, PromptLibrary()) for name, t in TYPES.items()}
        valid = dict.fromkeys(TYPES, 0)
        for n, instruction in enumerate(instructions, 1):
            result = agent.run(instruction)
            outcomes = asyncio.run(typed(writers, result))
            for name, ok in outcomes.items():
                valid[name] += ok
            print(f"[{n}/{len(instructions)}] {sum(outcomes.values())}/{len(TYPES)} valid :: {instruction[:60]}")
    print(f"\nmodel: {agent.llm.name}; {time.perf_counter() - start:.0f} s")
    for name, count in valid.items():
        print(f"  {name:10} {count}/{len(instructions)} valid")
    targets = Targets("typed_answers")
    targets.check(f"typed answers that validate, of {len(instructions) * len(TYPES)}", sum(valid.values()),
                  f"== {len(instructions) * len(TYPES)}")
    targets.exit()


if __name__ == "__main__":
    main()
