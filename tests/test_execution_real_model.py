"""Replanning, budgets and timeouts with the real default model making the decisions."""

import threading
import time

import pytest

from agentrt import Agent, tool

pytestmark = pytest.mark.model


@tool(timeout_s=0.5)
def square(number: float) -> float:
    """Square a number (a slow remote service)."""
    threading.Event().wait(30)  # never answers in time
    return number * number


class ReplanOnce:
    """The real model for everything, except that the joiner's first decision is "replan"."""

    name = "real model, first join scripted"

    def __init__(self, llm):
        self.llm = llm
        self.replanned = False

    def generate(self, requests):
        from agentrt.llm import Generation

        request = requests[0]
        if not self.replanned and "action" in str(request.json_schema):
            self.replanned = True
            text = '{"action":"replan","reason":"step 1 timed out"}'
            return [Generation(text=text, prompt_tokens=0, completion_tokens=0, duration_s=0.0)]
        return self.llm.generate(requests)


def test_a_hanging_tool_times_out_and_the_model_still_answers(default_llm):
    start = time.perf_counter()
    result = Agent(model=default_llm, tools=[square], max_replans=0).run("Use square to square 12.")
    assert time.perf_counter() - start < 60
    hung = [s for s in result.steps if s.tool == "square"]
    assert hung and hung[0].observation == "Error: square timed out after 0.5 s"
    assert result.answer and result.stopped_by in ("joiner", "max_replans", "final_answer")


def test_partial_replanning_keeps_the_finished_step_and_numbers_new_ones_after_it(default_llm):
    agent = Agent(model=ReplanOnce(default_llm), tools=[square], max_replans=1)
    result = agent.run("Use square to square 12.")
    assert result.replans == 1
    first_round = result.model_calls[0].output
    assert '"id":1' in first_round and result.plan.steps[0].tool == "square"
    assert result.steps[0].status == "error"  # the finished (failed) step is kept, not re-run
    new_ids = [s.id for s in result.plan.steps[1:]]
    assert new_ids and new_ids[0] == 2 and new_ids == sorted(new_ids)
    assert [c.purpose for c in result.model_calls].count("plan") == 2


def test_the_step_budget_ends_a_run_with_an_answer_and_names_the_budget(default_llm):
    result = Agent(model=default_llm, max_steps=1).run("What is 17 times 23, plus 4?")
    assert len(result.plan.steps) == 1  # the planner is only offered the budget that is left
    assert len(result.steps) == 1 and result.steps[0].status == "ok"
    assert result.stopped_by == "max_steps" and result.answer.strip()
    assert "<" not in result.answer  # an answer, not a template placeholder


def test_the_time_limit_bounds_planning_too(default_llm):
    start = time.perf_counter()
    result = Agent(model=default_llm, time_limit_s=0.5).run("What is 17 times 23, plus 4?")
    assert time.perf_counter() - start < 3
    assert result.stopped_by == "time_limit" and result.steps == []
