"""What a run used and cost (`result.usage`, `agentrt/usage.py`), and the token budget (`max_tokens`)."""

import pytest

from agentrt import Agent, ConfigError, tool
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan


@tool
def lookup(city: str) -> int:
    """Population of a city."""
    return {"Oslo": 709_000}[city]


def test_usage_counts_tokens_by_model_and_purpose_tool_calls_and_the_cost():
    llm = ScriptedLLM([plan(("lookup", {"city": "Oslo"})), answer("709000 people.")])
    agent = Agent(model=llm, tools=[lookup], store=":memory:", prices={"scripted": {"prompt": 2.0, "completion": 10.0}})
    result = agent.run("How many people live in Oslo?")
    usage = result.usage
    assert usage.model.calls == 2 == len(result.model_calls)
    assert usage.model.prompt_tokens == result.prompt_tokens > 0
    assert set(usage.by_purpose) == {"plan", "answer"} and set(usage.by_model) == {"scripted"}
    assert usage.by_purpose["plan"].completion_tokens + usage.by_purpose["answer"].completion_tokens == (
        result.completion_tokens)
    assert usage.tool_calls == 1 and usage.tool_seconds >= 0
    assert usage.cost == pytest.approx((usage.model.prompt_tokens * 2 + usage.model.completion_tokens * 10) / 1e6)
    assert Agent(model=ScriptedLLM([plan(("lookup", {"city": "Oslo"})), answer("x")]), tools=[lookup],
                 store=":memory:").run("Oslo?").usage.cost is None  # no price table, no cost


def test_a_price_table_with_a_typo_is_a_clear_error_before_any_model_call(tmp_path):
    llm = ScriptedLLM()
    with pytest.raises(ConfigError, match=r"\['scripted-v2'\] named, but this agent's model is \['scripted'\]"):
        Agent(model=llm, prices={"scripted-v2": {"prompt": 1, "completion": 1}})
    with pytest.raises(ConfigError, match="the price of 'scripted' is wrong: promt: Extra inputs"):
        Agent(model=llm, prices={"scripted": {"promt": 1, "prompt": 1, "completion": 1}})
    with pytest.raises(ConfigError, match="completion: Input should be greater than or equal to 0"):
        Agent(model=llm, prices={"scripted": {"prompt": 1, "completion": -1}})
    table = tmp_path / "prices.toml"
    table.write_text('[models.scripted]\nprompt = 0.5\ncompletion = 1.5\n')
    assert Agent(model=llm, prices=table).prices["scripted"].completion == 1.5
    table.write_text('[scripted]\nprompt = 0.5\n')
    with pytest.raises(ConfigError, match=r"write one \[models.\"NAME\"\] table per model"):
        Agent(model=llm, prices=table)
    with pytest.raises(ConfigError, match="max_tokens=0 must be 1 or more"):
        Agent(model=llm, max_tokens=0)
    assert llm.history == []


def test_a_model_call_that_could_pass_the_token_budget_is_not_made_and_the_run_ends_with_that_reason():
    llm = ScriptedLLM([plan(("lookup", {"city": "Oslo"})), answer("709000 people.")])
    agent = Agent(model=llm, tools=[lookup], store=":memory:", max_tokens=50)
    result = agent.run("How many people live in Oslo?")
    assert result.stopped_by == "max_tokens" and llm.history == []  # the plan's prompt alone is longer
    assert "max_tokens=50" in result.error and result.usage.model.calls == 0

    llm = ScriptedLLM([plan(("lookup", {"city": "Oslo"})), answer("709000 people.")])
    agent = Agent(model=llm, tools=[lookup], store=":memory:")
    agent.planner.max_new_tokens = 30  # so that what the plan sets aside is about what it takes
    planned = agent.planner.request("How many people live in Oslo?")
    agent.max_tokens = room = llm.count_tokens(planned.messages) + 30 + 20  # the plan, not the answer after it
    result = agent.run("How many people live in Oslo?")
    assert result.stopped_by == "max_tokens" and len(llm.history) == 1 and llm.pending == 1
    assert result.answer == "709000"  # the best answer it has: the last result
    assert result.usage.model.prompt_tokens + result.usage.model.completion_tokens <= room


@pytest.mark.model
def test_usage_and_the_token_budget_on_the_default_model(default_llm):
    agent = Agent(model=default_llm, tools=[lookup], store=":memory:")
    result = agent.run("How many people live in Oslo?")
    usage = result.usage
    assert usage.by_model[default_llm.name].calls == usage.model.calls == len(result.model_calls) >= 1
    assert usage.by_purpose["plan"].prompt_tokens > 100 and usage.model.seconds > 0
    budget = usage.model.prompt_tokens + usage.model.completion_tokens - 1  # one short of what it took
    tight = Agent(model=default_llm, tools=[lookup], store=":memory:", max_tokens=budget).run(
        "How many people live in Oslo?")
    assert tight.stopped_by == "max_tokens"
    assert tight.usage.model.prompt_tokens + tight.usage.model.completion_tokens <= budget
