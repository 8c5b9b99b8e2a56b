"""Conversations (`agentrt/conversation.py`): turns that see the turns before them, kept in the run
store, within a bounded prompt; and a follow-up resolved to the tool the turn before called."""

import subprocess
import sys
from typing import Literal

import pytest

from agentrt import Agent, ConfigError, tool
from agentrt.conversation import Turn
from agentrt.schema import PlanSpec, RunResult, StepResult
from agentrt.testing import ScriptedLLM
from agentrt.tool_choice import ToolChooser, follow_up

from .conftest import answer, plan
from .test_tool_choice import WordEmbedder


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Current weather in a city.

    Args:
        city: the city, e.g. "Paris"
        unit: temperature unit
    """
    return f"{city}: 18 degrees {unit}, light rain"


@tool
def lookup_order(order_id: str) -> str:
    """Status of a customer's order."""
    return f"order {order_id}: shipped"


def weather_turn(city: str) -> list[dict]:
    return [plan(("get_weather", {"city": city}), ("final_answer", {"answer": "$1"}))]


def test_a_turn_sees_the_earlier_turns_instructions_calls_and_answers(tmp_path):
    llm = ScriptedLLM([*weather_turn("Paris"), *weather_turn("London")])
    agent = Agent(model=llm, tools=[get_weather], store=tmp_path / "runs.sqlite")
    chat = agent.conversation()
    first = chat.run("What is the weather in Paris?")
    assert "Earlier in this conversation" not in llm.prompts()[0]
    second = chat.run("And in London?")
    prompt = llm.prompts()[-1]
    assert "User: What is the weather in Paris?" in prompt
    assert 'get_weather({"city": "Paris"}) -> Paris: 18 degrees celsius, light rain' in prompt
    assert f"Answer: {first.answer}" in prompt
    assert [t.instruction for t in chat.turns] == ["What is the weather in Paris?", "And in London?"]
    assert second.answer == "London: 18 degrees celsius, light rain"


def test_think_steps_and_the_joiner_see_the_earlier_turns_too():
    llm = ScriptedLLM([*weather_turn("Paris"), plan(("think", {"question": "Which city did I ask about?"})),
                       "You asked about Paris.", answer("Paris.")])
    agent = Agent(model=llm, tools=[get_weather], store=":memory:")
    chat = agent.conversation()
    chat.run("What is the weather in Paris?")
    assert chat.run("Which city did I ask about?").answer == "Paris."
    think, join = llm.prompts()[-2:]
    assert "User: What is the weather in Paris?" in think and "User: What is the weather in Paris?" in join


def test_a_conversation_continues_after_a_restart_and_an_unknown_one_is_a_clear_error(store_location):
    store = store_location
    with Agent(model=ScriptedLLM(weather_turn("Paris")), tools=[get_weather], store=store) as agent:
        chat = agent.conversation()
        chat.run("What is the weather in Paris?")
    llm = ScriptedLLM(weather_turn("London"))
    with Agent(model=llm, tools=[get_weather], store=store) as agent:
        again = agent.conversation(chat.id)
        assert [t.instruction for t in again.turns] == ["What is the weather in Paris?"]
        again.run("And in London?")
        assert "User: What is the weather in Paris?" in llm.prompts()[0]
        assert len(agent.conversation(chat.id).turns) == 2
        with pytest.raises(ConfigError, match="no conversation 'nope'.*agent.conversation()"):
            agent.conversation("nope")
        assert [(id_, turns) for id_, _, turns in agent.store.conversations()] == [(chat.id, 2)]


def test_a_failed_turn_is_not_seen_by_later_turns():
    llm = ScriptedLLM(["not a plan", *weather_turn("Oslo")])
    agent = Agent(model=llm, tools=[get_weather], store=":memory:")
    chat = agent.conversation()
    with pytest.raises(Exception, match="not valid plan JSON"):
        chat.run("What is the weather in Paris?")
    chat.run("What is the weather in Oslo?")
    assert "Earlier in this conversation" not in llm.prompts()[-1]
    assert [t.instruction for t in agent.conversation(chat.id).turns] == ["What is the weather in Oslo?"]


def test_the_prompt_shows_the_latest_turns_that_fit_and_stays_the_same_size():
    """The context policy: the newest turns within `history_chars`; older ones dropped first."""
    llm = ScriptedLLM()
    agent = Agent(model=llm, tools=[get_weather], store=":memory:")
    chat = agent.conversation(history_chars=400)
    sizes = []
    for n in range(30):
        llm.enqueue(*weather_turn(f"City{n}"))
        chat.run(f"What is the weather in City{n}?")
        sizes.append(len(llm.prompts()[-1]))
    prompt = llm.prompts()[-1]
    assert "City28" in prompt and "City0?" not in prompt and "City20?" not in prompt
    assert max(sizes[10:]) - min(sizes[10:]) < 40  # bounded: each turn's prompt is about the same size
    assert len(chat.turns) == 30 and sum(t.size() for t in chat.shown()) <= 400
    step = StepResult(id=1, tool="get_weather", args={}, status="ok", observation="y" * 5000, duration_s=0.0)
    long = Turn.of(RunResult(instruction="q", answer="x" * 5000, plan=PlanSpec(steps=[]), steps=[step],
                             model_calls=[], stopped_by="final_answer", duration_s=0.0))
    assert long.size() < 700  # a long answer or result is cut, never the whole of it


def test_bad_conversation_arguments_are_clear_errors():
    agent = Agent(model=ScriptedLLM(), tools=[get_weather], store=":memory:")
    other = Agent(model=ScriptedLLM(), tools=[get_weather], store=":memory:")
    with pytest.raises(ConfigError, match="history_chars=-1"):
        agent.conversation(history_chars=-1)
    with pytest.raises(ConfigError, match="belongs to another agent"):
        other.run("hi", conversation=agent.conversation())


def test_a_follow_up_no_tool_fits_calls_the_tool_the_turn_before_called():
    chooser = ToolChooser([get_weather, lookup_order], WordEmbedder())
    before = [StepResult(id=1, tool="get_weather", args={"city": "Paris"}, status="ok", observation="18",
                         duration_s=0.0)]
    [call] = chooser.choose("And in London?", before).calls
    assert (call.tool.name, call.part, call.carried) == ("get_weather", "in London", {"city": "Paris"})
    assert chooser.choose("And in London?").calls == []  # with no turn before, nothing to follow up
    assert chooser.choose("Thanks!", before).calls == []  # not a follow-up
    assert [c.tool.name for c in chooser.choose("what about order ORD-7 status", before).calls] == ["lookup_order"]
    assert follow_up("what about 200 euros?") == "200 euros" and follow_up("How about Tokyo") == "Tokyo"
    assert follow_up("and?") == "" and follow_up("Thanks!") is None
    assert follow_up("and what is the time over there in that city now") is None


@pytest.mark.model
def test_on_the_default_model_a_follow_up_calls_the_tool_with_its_new_value(default_llm):
    agent = Agent(model=default_llm, tools=[get_weather, lookup_order], store=":memory:")
    chat = agent.conversation()
    chat.run("What is the weather in Paris right now?")
    follow_up = chat.run("And in London?")
    calls = [(s.tool, s.args) for s in follow_up.steps if s.tool != "final_answer"]
    assert calls == [("get_weather", {"city": "London"})]
    assert "London" in follow_up.answer
    recall = chat.run("Which city did I ask about first?")
    assert [s.tool for s in recall.steps if s.tool not in ("final_answer", "think")] == []


def test_a_turn_that_stopped_resumes_with_the_turns_before_it_in_view(store_location):
    import asyncio

    gate = asyncio.Event()

    @tool(idempotent=True)
    async def slow_weather(city: str) -> str:
        """Current weather in a city, slowly."""
        await gate.wait()
        return f"{city}: 12 degrees"

    store = store_location
    agent = Agent(model=ScriptedLLM([*weather_turn("Paris"), plan(("slow_weather", {"city": "London"}))]),
                  tools=[get_weather, slow_weather], store=store)
    chat = agent.conversation()
    chat.run("What is the weather in Paris?")

    async def stop_in_the_middle() -> str:
        events = chat.astream("And in London, slowly?")
        run_id = ""
        async for event in events:
            run_id = getattr(event, "run_id", run_id)
            if event.kind == "step_started":
                await events.aclose()
                return run_id
        raise AssertionError("the turn never started its step")

    run_id = asyncio.run(stop_in_the_middle())
    gate.set()
    llm = ScriptedLLM([answer("London: 12 degrees.")])
    again = Agent(model=llm, tools=[get_weather, slow_weather], store=store)
    assert again.resume(run_id).answer == "London: 12 degrees."
    assert "User: What is the weather in Paris?" in llm.prompts()[0]
    assert [t.instruction for t in again.conversation(chat.id).turns] == [
        "What is the weather in Paris?", "And in London, slowly?"]


CLI = [sys.executable, "-m", "agentrt.cli"]


def test_agentrt_chat_refuses_an_unknown_conversation_before_loading_a_model(tmp_path):
    out = subprocess.run([*CLI, "chat", "--conversation", "nope", "--store", str(tmp_path / "runs.sqlite")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "has no conversation 'nope'" in out.stderr and "agentrt chat --list" in out.stderr


@pytest.mark.model
def test_agentrt_chat_is_a_conversation_at_the_terminal_that_continues_later(tmp_path):
    tools = tmp_path / "tools.py"
    tools.write_text(CHAT_TOOLS)
    store = ["--store", str(tmp_path / "runs.sqlite"), "--tools", str(tools)]
    first = subprocess.run([*CLI, "chat", *store], input="What is the weather in Paris?\nAnd in London?\n",
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    assert 'get_weather({"city": "Paris"})' in first.stdout and 'get_weather({"city": "London"})' in first.stdout
    conversation = first.stderr.split("conversation ")[1].split(",")[0]
    listed = subprocess.run([*CLI, "chat", "--list", *store[:2]], capture_output=True, text=True, timeout=120)
    assert f"{conversation}  " in listed.stdout and "2 turns" in listed.stdout
    later = subprocess.run([*CLI, "chat", "--conversation", conversation, *store], input="What about Tokyo?\n",
                           capture_output=True, text=True, timeout=600)
    assert "2 turns so far" in later.stderr and 'get_weather({"city": "Tokyo"})' in later.stdout


CHAT_TOOLS = """
from agentrt import tool


@tool
def get_weather(city: str) -> str:
    \"\"\"Current weather in a city.\"\"\"
    return f"{city}: 18 degrees, light rain"
"""
