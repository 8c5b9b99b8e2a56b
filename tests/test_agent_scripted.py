"""Orchestration with the scripted model: what the agent does with each kind of model output."""

import pytest

from agentrt import Agent, ConfigError, ModelOutputError, PlanError, RetryTool, tool
from agentrt.testing import ScriptedLLM

from .conftest import answer, plan


@tool
def lookup(city: str) -> int:
    """Population of a city."""
    if city == "Atlantis":
        raise RetryTool("no such city; try a real one")
    if city == "Nowhere":
        raise KeyError(city)
    return {"Oslo": 709_000, "Bergen": 291_000}[city]


def agent_with(*replies, **options) -> tuple[Agent, ScriptedLLM]:
    llm = ScriptedLLM(replies)
    return Agent(model=llm, tools=[lookup], **options), llm


def test_plan_tool_answer_round_trip_keeps_typed_results_between_steps():
    agent, llm = agent_with(plan(
        ("lookup", {"city": "Oslo"}),
        ("lookup", {"city": "Bergen"}),
        ("calculator", {"expression": "$1 - $2"}),
        ("final_answer", {"answer": "Oslo has $3 more people."}),
    ))
    result = agent.run("How many more people live in Oslo than Bergen?")
    assert result.answer == "Oslo has 418000 more people."
    assert [s.value for s in result.steps[:3]] == [709_000, 291_000, 418_000]
    assert result.steps[2].resolved_args == {"expression": "709000 - 291000"}
    assert result.plan.steps[2].depends_on == [1, 2]
    assert result.stopped_by == "final_answer"
    assert llm.pending == 0
    assert "lookup(city: string)" in llm.prompts()[0]


def test_a_failing_tool_becomes_an_observation_that_the_answer_step_sees():
    agent, llm = agent_with(
        plan(("lookup", {"city": "Nowhere"}), ("lookup", {"city": "Atlantis"}), ("calculator", {"expression": "2+"})),
        answer("I could not find it."),
        max_replans=0,  # else the corrections asked for send the run back to the planner
    )
    result = agent.run("Population of Nowhere?")
    assert [s.status for s in result.steps] == ["error"] * 3
    assert "lookup failed: KeyError: 'Nowhere'" in result.steps[0].observation
    assert "lookup asks to retry: no such city" in result.steps[1].observation
    assert "calculator asks to retry" in result.steps[2].observation
    assert result.answer == "I could not find it."
    assert result.stopped_by == "max_replans"
    assert "KeyError" in llm.prompts()[-1]


def test_a_failed_step_carries_its_error_as_data():
    agent, _ = agent_with(
        plan(("lookup", {"city": "Nowhere"}), ("lookup", {"city": "Atlantis"}), ("lookup", {"town": "Oslo"})),
        answer("no answer"), max_replans=0)
    raised, retry, arguments = (s.error for s in agent.run("Population of Nowhere?").steps)
    assert (raised.kind, raised.exception, raised.retryable) == ("raised", "KeyError", False)
    assert raised.message == "lookup failed: KeyError: 'Nowhere'"
    assert (retry.kind, retry.exception, retry.retryable) == ("retry", None, True)
    assert (arguments.kind, arguments.retryable) == ("arguments", False) and "town" in arguments.message


def test_a_tool_that_asks_for_a_correction_sends_the_run_back_to_the_planner_with_it():
    agent, llm = agent_with(
        plan(("lookup", {"city": "Atlantis"})),
        plan(("lookup", {"city": "Oslo"}), ("final_answer", {"answer": "$2"}), first=2),
    )
    result = agent.run("Population of Oslo?")
    assert [s.status for s in result.steps] == ["error", "ok", "ok"]
    assert result.answer == "709000" and result.replans == 1 and result.stopped_by == "final_answer"
    assert "lookup asks to retry: no such city" in llm.prompts()[-1]  # the second plan sees the correction
    assert [c.purpose for c in result.model_calls] == ["plan", "plan"]  # no joiner call in between


def test_invalid_tool_arguments_become_an_observation_naming_the_argument():
    agent, _ = agent_with(plan(("lookup", {"city": 12, "extra": 1})), answer("no answer"))
    [step] = agent.run("Population?").steps
    assert step.status == "error"
    assert "invalid arguments for lookup" in step.observation and "extra" in step.observation


def test_a_child_of_a_failed_step_runs_and_sees_the_failure_and_its_answer_is_not_taken():
    agent, llm = agent_with(
        plan(("lookup", {"city": "Nowhere"}), ("final_answer", {"answer": "Result: $1"})),
        answer("I could not find Nowhere."),
    )
    result = agent.run("Population of Nowhere?")
    assert result.steps[1].observation.startswith("Result: Error: lookup failed")
    assert result.answer == "I could not find Nowhere." and result.stopped_by == "joiner"
    assert "Step 1 failed: you may replan" in llm.prompts()[-1]


def test_think_steps_prompt_the_model_with_their_parents_results():
    agent, llm = agent_with(
        plan(("lookup", {"city": "Oslo"}), ("think", {"question": "Is $1 a lot?"}), ("final_answer", {"answer": "$2"})),
        "Yes, it is a big city.",
    )
    result = agent.run("Is Oslo big?")
    assert result.answer == "Yes, it is a big city."
    think_prompt = llm.prompts()[1]
    assert "step 1 (lookup): 709000" in think_prompt and "Is 709000 a lot?" in think_prompt
    assert [c.purpose for c in result.model_calls] == ["plan", "think"]


def test_max_steps_stops_execution_and_the_model_answers_from_what_ran():
    agent, _ = agent_with(
        plan(*[("calculator", {"expression": f"{i}+1"}) for i in range(4)]), answer("partial"), max_steps=2
    )
    result = agent.run("count")
    assert len(result.steps) == 2
    assert result.stopped_by == "max_steps" and result.answer == "partial"


def test_unparseable_plan_raises_with_the_raw_text_attached():
    agent, _ = agent_with('{"steps": [')
    with pytest.raises(ModelOutputError) as info:
        agent.run("anything")
    assert info.value.raw_text == '{"steps": ['
    assert info.value.model_call.output == '{"steps": [' and info.value.model_call.completion_tokens == 2


def test_a_model_plan_calling_an_unknown_tool_fails_the_run_with_the_models_output():
    agent, _ = agent_with(plan(("weather", {})))
    with pytest.raises(ModelOutputError, match="The model's plan cannot run: .*unknown tool 'weather'") as info:
        agent.run("weather?")
    assert not isinstance(info.value, PlanError)  # the model's fault, not bad input: exit 1, not 2
    assert '"tool": "weather"' in info.value.raw_text.replace('":"', '": "')
    assert info.value.model_call.purpose == "plan"


@pytest.mark.parametrize("instruction", ["", "   \n"])
def test_an_empty_instruction_is_refused_before_the_model_is_called(instruction):
    agent, llm = agent_with()
    with pytest.raises(ConfigError, match="empty"):
        agent.run(instruction)
    assert llm.history == []


def test_run_result_serialises_to_json():
    agent, _ = agent_with(plan(("final_answer", {"answer": "hi"})))
    assert '"answer":"hi"' in agent.run("say hi").model_dump_json()


def test_an_agent_closes_what_it_opened_and_leaves_open_what_it_was_given(tmp_path):
    import sqlite3

    from agentrt import KnowledgeBase, RunStore
    from agentrt.testing import HashingEmbedder

    KnowledgeBase.create(tmp_path / "kb", embedder=HashingEmbedder()).close()
    given = RunStore(tmp_path / "given.sqlite")
    with Agent(model=ScriptedLLM([plan(("final_answer", {"answer": "hi"}))]), store=given,
               knowledge=tmp_path / "kb", top_k=0, memory=tmp_path / "memory.sqlite") as agent:
        assert agent.run("say hi").answer == "hi"
        knowledge, memory = agent.knowledge, agent.memory
    for closed in (knowledge, memory):
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            len(closed)
    assert [run.instruction for run in given.runs()] == ["say hi"]  # the caller's store stays open
    with Agent(model=ScriptedLLM(), store=tmp_path / "own.sqlite") as agent:
        own = agent.store
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        own.runs()
