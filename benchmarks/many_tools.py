"""Does planning stay fast, and every prompt inside the model's context window, with 500 tools?
The same instructions planned by `Agent(choose_tools=True)` holding 5 tools and holding 500,
side by side on one model: the 5 are tools of the tool-use suite the instructions need; the 500
are those, the rest of the suite's tools, and every other distinct function of BFCL's data.

    .venv/bin/python benchmarks/many_tools.py            # 8 instructions, about 3 minutes on 2 cores

Targets (issue [2/7]), claimed: the planner's mean latency with 500 tools is at most 2x that with
5, and no prompt with 500 tools is longer than the model's context window (the chooser shows only
the tools that fit; nothing is cut silently). Building the agent, which embeds every tool's
description once, is printed beside them without a target.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from agentrt import Agent
from agentrt.evals.suites import bfcl_tool, data_file
from agentrt.jsonl import read_records
from agentrt.evals.tool_use_tools import TOOLS
from agentrt.llm.transformers_llm import TransformersLLM
from agentrt.registry import Tool
from targets import Targets

INSTRUCTIONS = [  # everyday wording, none naming its tool; written for this benchmark
    "is it going to rain in Glasgow this afternoon",
    "how many yen do I get for 300 dollars",
    "where is my parcel 1Z99988877",
    "put a dentist appointment in my calendar for friday at 2pm",
    "what does 'ephemeral' mean",
    "turn the kitchen lights off and set a timer for 12 minutes",
    "how far is it to walk from Union Station to the Capitol",
    "find restaurants with vegan food near Camden",
]
FEW = ["get_current_weather", "convert_currency", "track_package", "create_event", "define_word"]
MANY = 500
BFCL_FILES = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]


def many_tools() -> list[Tool]:
    """The suite's tools and then BFCL's distinct functions, up to `MANY` in all."""
    tools = dict(TOOLS)
    for category in BFCL_FILES:
        for entry in read_records(data_file(f"bfcl/BFCL_v4_{category}.json")):
            for function in entry["function"]:
                name = function["name"].replace(".", "_")
                if name not in tools and len(tools) < MANY:
                    tools[name] = bfcl_tool(function)
    return list(tools.values())


async def plan_all(agent: Agent) -> tuple[list[float], list[int]]:
    """Seconds to plan each instruction, and each plan's prompt tokens."""
    seconds, prompt_tokens = [], []
    for instruction in INSTRUCTIONS:
        start = time.perf_counter()
        _, calls = await agent.planner.plan(instruction)
        seconds.append(time.perf_counter() - start)
        prompt_tokens.append(calls[0].prompt_tokens or 0)
    return seconds, prompt_tokens


def main() -> None:
    llm = TransformersLLM()
    tools = many_tools()
    if len(tools) < MANY:
        raise SystemExit(f"only {len(tools)} distinct tools found in the suite and BFCL's data; need {MANY}")
    agents = {}
    for label, chosen in (("5 tools", [TOOLS[name] for name in FEW]), (f"{MANY} tools", tools)):
        start = time.perf_counter()
        agents[label] = Agent(model=llm, tools=chosen, choose_tools=True, store=":memory:")
        print(f"  {label}: agent built in {time.perf_counter() - start:.1f} s", flush=True)
    asyncio.run(plan_all(agents["5 tools"]))  # warm up: first calls pay for loading and compiling
    figures = {}
    for _ in range(2):  # interleaved, so a busy moment of the machine falls on both
        for label, agent in agents.items():
            seconds, tokens = asyncio.run(plan_all(agent))
            figures.setdefault(label, ([], []))
            figures[label][0].extend(seconds)
            figures[label][1].extend(tokens)
    window = llm.model.config.max_position_embeddings
    for label, (seconds, tokens) in figures.items():
        print(f"  {label}: plan {statistics.mean(seconds):.2f} s mean, prompt up to {max(tokens)} tokens")
    ratio = statistics.mean(figures[f"{MANY} tools"][0]) / statistics.mean(figures["5 tools"][0])
    targets = Targets("many_tools")
    targets.check(f"planner latency, {MANY} tools / 5 tools", ratio, "<= 2", unit="x")
    targets.check(f"longest prompt with {MANY} tools, tokens", max(figures[f"{MANY} tools"][1]), f"<= {window}")
    print(json.dumps({label: {"mean_s": statistics.mean(s), "max_prompt_tokens": max(t)}
                      for label, (s, t) in figures.items()}))
    targets.exit()


if __name__ == "__main__":
    main()
