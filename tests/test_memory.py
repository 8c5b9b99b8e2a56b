"""Experience memory: plans of runs that went well are remembered, and the planner is shown the
most similar ones as worked examples."""

import pytest

from agentrt import Agent, ConfigError
from agentrt.evals.runner import evaluate
from agentrt.memory import ExperienceMemory, went_well
from agentrt.testing import HashingEmbedder, ScriptedLLM

from .conftest import answer, plan
from .test_evals import benchdata  # noqa: F401  (the stand-in benchmark files)

DOUBLE = plan(("calculator", {"expression": "21*2"}), ("final_answer", {"answer": "$1"}))


def run(memory, instruction, reply=DOUBLE):
    llm = ScriptedLLM([reply, answer("gave up")])
    return Agent(model=llm, memory=memory, store=":memory:", max_replans=0).run(instruction), llm


def test_only_runs_that_went_well_are_remembered():
    memory = ExperienceMemory(embedder=HashingEmbedder())
    good, _ = run(memory, "Double 21.")
    failed, _ = run(memory, "Double twenty-one.", plan(("calculator", {"expression": "2*"}),
                                                         ("final_answer", {"answer": "$1"})))
    assert went_well(good) and not went_well(failed) and len(memory) == 1


def test_the_planner_sees_the_most_similar_past_plans_but_never_its_own():
    memory = ExperienceMemory(embedder=HashingEmbedder(), k=1, min_similarity=0.1)
    run(memory, "Double the number 21 please.")
    run(memory, "Why is the sky blue?", plan(("think", {"question": "why"}), ("final_answer", {"answer": "$1"})))
    _, llm = run(memory, "Double the number 35 please.")
    prompt = llm.prompts()[0]
    assert "Task: Double the number 21 please.\nPlan: " in prompt and '"21*2"' in prompt
    assert "Why is the sky blue?\nPlan: {\"steps\":[{\"id\":1,\"tool\":\"think\"" not in prompt.split("Task: Double")[1]
    assert [e.instruction for e in memory.recall("Double the number 21 please.")] == ["Double the number 35 please."]


def test_memories_last_in_their_database_and_bad_settings_are_refused(store_location, tmp_path):
    first = ExperienceMemory(store_location, embedder=HashingEmbedder(), min_similarity=0)
    run(first, "Double 21.")
    run(first, "Double 21 again.")  # a run of the same instruction replaces its memory
    run(first, "Double 21 again.")
    first.close()
    again = ExperienceMemory(store_location, embedder=HashingEmbedder(), min_similarity=0)  # another process, say
    assert len(again) == 2
    recalled = again.recall("Double 22.")
    assert {e.instruction for e in recalled} == {"Double 21.", "Double 21 again."}
    assert recalled[0].plan.steps[0].args == {"expression": "21*2"} and recalled[0].similarity > recalled[1].similarity
    with pytest.raises(ConfigError, match="k=0"):
        ExperienceMemory(k=0)
    (tmp_path / "bad.sqlite").write_bytes(b"no database" * 50)
    with pytest.raises(ConfigError, match="not a readable experience memory"):
        ExperienceMemory(tmp_path / "bad.sqlite")


def test_an_eval_with_memory_keeps_one_memory_across_items_beside_its_report(benchdata, tmp_path):  # noqa: F811
    first = plan(("calculator", {"expression": "3*12-5"}), ("final_answer", {"answer": "$1"}))
    llm = ScriptedLLM([first, plan(("final_answer", {"answer": "240"}))])
    out = tmp_path / "report.json"
    report = evaluate("gsm8k", model=llm, memory=True, out=out)
    assert report["memory"] is True and len(llm.history) == 2
    kept = ExperienceMemory(f"{out}.memory.sqlite", min_similarity=-1)
    assert len(kept) == 2 and kept.recall(report["records"][1]["question"])[0].plan.steps[0].args == {
        "expression": "3*12-5"}


@pytest.mark.model
def test_the_default_model_plans_with_a_remembered_plan_in_view(default_llm, tmp_path):
    memory = ExperienceMemory(tmp_path / "memory.sqlite")
    agent = Agent(model=default_llm, memory=memory, store=":memory:")
    first = agent.run("What is 17 * 23 + 4?")
    second = agent.run("What is 18 * 23 + 4?")
    if went_well(first):
        assert len(memory) >= 1 and "Task: What is 17 * 23 + 4?" in second.model_calls[0].messages[-1].content
    assert second.answer
