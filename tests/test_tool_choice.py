"""What the planner is shown of the tools when it chooses them per instruction (`tool_choice.py`):
the tools that fit, spelled out, each with a worked example made from its own schema."""

import hashlib
import json
from enum import Enum
from typing import Literal

import numpy as np
from pydantic import BaseModel

from agentrt import Agent, tool
from agentrt.planner import Planner
from agentrt.prompts import PromptLibrary
from agentrt.parameters import identifier
from agentrt.registry import ToolRegistry
from agentrt.testing import ScriptedLLM
from agentrt.tool_choice import ToolChooser, _without_values, example_arguments, example_task, parts_of, signature

from .conftest import plan


class WordEmbedder:
    """Bag of words, hashed: texts that share words are similar. Enough to rank tools in tests."""

    name, dim = "words", 256

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace("_", " ").replace(".", " ").replace(",", " ").split():
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


class Currency(str, Enum):
    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"


class Address(BaseModel):
    street: str
    city: str


@tool
def get_weather(city: str, units: Literal["metric", "imperial"] = "metric") -> str:
    """Current weather in a city.

    Args:
        city: the city, e.g. Lisbon
        units: metric or imperial
    """
    return f"sunny in {city}"


@tool
def convert_currency(amount: float, source: Currency, target: Currency) -> float:
    """Convert an amount of money from one currency to another.

    Args:
        amount: how much, e.g. 120
        source: the currency to convert from
        target: the currency to convert to
    """
    return amount * 0.9


@tool
def ship_to(order_id: str, address: Address) -> str:
    """Change the delivery address of an order.

    Args:
        order_id: the order's id, e.g. "ORD-58213"
        address: where to deliver
    """
    return "ok"


@tool
def lookup_order(order_id: str) -> str:
    """Status of an order.

    Args:
        order_id: the order's id
    """
    return "shipped"


def test_a_signature_spells_out_choices_defaults_and_nested_models():
    assert signature(get_weather) == 'city: string, units: "metric"|"imperial" = "metric"'
    assert signature(convert_currency) == 'amount: number, source: "USD"|"EUR"|"GBP", target: "USD"|"EUR"|"GBP"'
    assert signature(ship_to) == "order_id: string, address: {street: string, city: string}"


def test_example_arguments_come_from_the_descriptions_and_differ_between_choices():
    assert example_arguments(get_weather) == {"city": "Lisbon"}  # optional parameters are left out
    assert example_arguments(convert_currency) == {"amount": 120.0, "source": "EUR", "target": "GBP"}
    assert example_arguments(ship_to) == {"order_id": "ORD-58213", "address": {"street": "street", "city": "city"}}
    assert example_task(get_weather, {"city": "Lisbon"}) == "Current weather in a city: Lisbon"
    for t in (get_weather, convert_currency, ship_to, lookup_order):
        t.validate(example_arguments(t))  # every example is a valid call


def test_the_chooser_ranks_the_tools_that_fit_last_and_chooses_none_when_none_fits():
    chooser = ToolChooser([get_weather, convert_currency, ship_to, lookup_order], WordEmbedder(), top_k=2)
    choice = chooser.choose("what is the weather in Paris, which city is sunny")
    assert [t.name for t in choice.tools][-1] == "get_weather" and len(choice.tools) == 2
    assert chooser.choose("tell me a joke").tools == []


def test_an_instruction_is_cut_into_its_requests_but_not_inside_quotes_or_lists():
    assert parts_of("turn off the lights and set a timer for 20 minutes") == [
        "turn off the lights", "set a timer for 20 minutes"]
    assert parts_of("how much is 2000 pesos in dollars? split that between 4 of us; then log it") == [
        "how much is 2000 pesos in dollars", "split that between 4 of us", "log it"]
    assert parts_of("summarize 'Sales rose. Costs were flat and margins improved.' and post it") == [
        "summarize 'Sales rose. Costs were flat and margins improved.'", "post it"]
    assert parts_of("convert 200 euros, 150 pounds to dollars") == ["convert 200 euros, 150 pounds to dollars"]
    assert parts_of("the factorial of 5,10 and 15, and set a timer") == ["the factorial of 5,10 and 15", "set a timer"]
    assert parts_of("what's Alex's email") == ["what's Alex's email"]


def test_each_request_calls_the_tool_that_fits_it_and_a_request_none_fits_repeats_the_one_before():
    chooser = ToolChooser([get_weather, convert_currency, ship_to, lookup_order], WordEmbedder(), top_k=2)
    choice = chooser.choose("weather in Paris, which city is sunny, and convert 20 dollars to euros currency")
    assert [(c.tool.name, c.part) for c in choice.calls] == [
        ("get_weather", "weather in Paris, which city is sunny"),
        ("convert_currency", "convert 20 dollars to euros currency")]
    assert {"get_weather", "convert_currency"} <= {t.name for t in choice.tools}
    fan_out = chooser.choose("current weather in a city: Paris, and Tokyo")
    assert [(c.tool.name, c.part) for c in fan_out.calls] == [
        ("get_weather", "current weather in a city: Paris"), ("get_weather", "Tokyo")]
    assert chooser.choose("tell me a joke and a story").calls == []


def test_the_planner_shows_and_allows_only_the_chosen_tools_with_their_examples():
    registry = ToolRegistry([get_weather, convert_currency, ship_to, lookup_order, *Agent(
        model=ScriptedLLM(), store=":memory:").tools])
    chooser = ToolChooser([t for t in registry if t.name != "final_answer"], WordEmbedder(), top_k=2)
    planner = Planner(ScriptedLLM(), registry, PromptLibrary(), max_steps=4, chooser=chooser)
    request = planner.request("what is the weather in Paris, which city is sunny")
    prompt = request.messages[-1].content
    assert "- get_weather(city: string" in prompt and "- final_answer(" in prompt and "ship_to" not in prompt
    last_example = prompt.split("Task: ")[-2]
    assert last_example.startswith("Current weather in a city: Lisbon")
    assert '"tool":"get_weather","args":{"city":"Lisbon"}' in last_example
    def allowed(request, step):
        return {option["properties"]["tool"]["const"] for option in request.json_schema["$defs"][step]["anyOf"]}

    assert allowed(request, "step1") == {"get_weather"}  # the plan calls the best fit, then answers
    assert allowed(request, "step2") == {"final_answer"}
    joke = planner.request("tell me a joke")
    assert joke.messages[-1].content.split("Task: ")[-2].startswith("Why is the sky blue?")  # think goes last
    assert allowed(joke, "step1") == {"final_answer", "think"}  # no tool fits: none is shown or allowed
    sums = planner.request("tell me a joke about 12 and 30")
    assert "calculator" in allowed(sums, "step1")  # arithmetic does not read like the calculator's description
    two = planner.request("the weather in Paris, which city is sunny, then the status of my order ORD-1")
    assert [allowed(two, f"step{k}") for k in (1, 2, 3)] == [{"get_weather"}, {"lookup_order"}, {"final_answer"}]
    assert [plan["minItems"] for plan in two.json_schema["properties"]["steps"]["anyOf"]] == [3]  # then it answers


def test_an_agent_that_chooses_tools_runs_a_plan_of_them(monkeypatch):
    monkeypatch.setattr("agentrt.embeddings.default_embedder", WordEmbedder)
    llm = ScriptedLLM([plan(("get_weather", {"city": "city"}), ("final_answer", {"answer": "$1"})), '{"city":"Paris"}'])
    agent = Agent(model=llm, tools=[get_weather, lookup_order], store=":memory:", choose_tools=True)
    result = agent.run("weather in Paris?")
    assert result.answer == "sunny in Paris" and json.loads(json.dumps(result.plan.model_dump()))


def test_pieces_of_one_call_stay_one_call():
    @tool
    def gcd(a: int, b: int) -> int:
        """Greatest common divisor of two numbers."""
        return 1

    chooser = ToolChooser([gcd, get_weather], WordEmbedder())
    choice = chooser.choose("greatest common divisor of 40 and 50")
    assert [(c.tool.name, c.part) for c in choice.calls] == [("gcd", "greatest common divisor of 40 and 50")]
    two = chooser.choose("greatest common divisor of 40 and 50, and greatest common divisor of 12 and 18")
    assert [c.part for c in two.calls] == ["greatest common divisor of 40 and 50",
                                           "greatest common divisor of 12 and 18"]


def test_a_list_of_values_is_one_call_each_unless_the_tool_takes_the_list_or_needs_them_all():
    @tool
    def factorial(number: int) -> int:
        """Factorial of a number."""
        return 1

    @tool
    def mean_of(numbers: list[float]) -> float:
        """Mean of numbers."""
        return 1.0

    @tool
    def triangle_area(a: float, b: float, c: float) -> float:
        """Area of a triangle from its sides."""
        return 1.0

    chooser = ToolChooser([factorial, mean_of, triangle_area], WordEmbedder())
    assert [c.part for c in chooser.choose("factorial of 5,10 and 15").calls] == [
        "factorial of 5", "factorial of 10", "factorial of 15"]
    assert [c.part for c in chooser.choose("mean of numbers 3, 5 and 7").calls] == ["mean of numbers 3, 5 and 7"]
    assert [c.part for c in chooser.choose("area of a triangle with sides 3, 4 and 5").calls] == [
        "area of a triangle with sides 3, 4 and 5"]


def test_the_answer_gives_the_result_of_each_chosen_call(monkeypatch):
    monkeypatch.setattr("agentrt.embeddings.default_embedder", WordEmbedder)
    llm = ScriptedLLM([plan(("get_weather", {"city": "Paris"}), ("lookup_order", {"order_id": "A1"}),
                            ("final_answer", {"answer": "Here: $1"})), '{"city":"Paris"}', '{"order_id":"A1"}'])
    agent = Agent(model=llm, tools=[get_weather, lookup_order], store=":memory:", choose_tools=True)
    result = agent.run("current weather in a city Paris, and status of an order A1")
    assert [s.tool for s in result.steps] == ["get_weather", "lookup_order", "final_answer"]
    assert result.answer == "Here: sunny in Paris\nshipped"


def test_a_one_step_round_leaves_no_room_for_chosen_calls_and_is_planned_freely():
    registry = ToolRegistry([get_weather, lookup_order, *Agent(model=ScriptedLLM(), store=":memory:").tools])
    chooser = ToolChooser([t for t in registry if t.name != "final_answer"], WordEmbedder())
    planner = Planner(ScriptedLLM(), registry, PromptLibrary(), max_steps=1, chooser=chooser)
    request = planner.request("the weather in Paris, which city is sunny, then the status of my order ORD-1")
    assert [plan["minItems"] for plan in request.json_schema["properties"]["steps"]["anyOf"]] == [1]


def test_an_instruction_no_tool_fits_is_planned_as_without_a_chooser(monkeypatch):
    monkeypatch.setattr("agentrt.embeddings.default_embedder", WordEmbedder)
    llm = ScriptedLLM([plan(("calculator", {"expression": "17*23+4"}), ("final_answer", {"answer": "$1"}))])
    agent = Agent(model=llm, tools=[get_weather, lookup_order], store=":memory:", choose_tools=True)
    result = agent.run("What is 17 times 23, plus 4?")
    assert result.answer == "395"
    [call] = result.model_calls  # the plan's own arguments: none written apart
    prompt = call.messages[-1].content
    assert "Call the tool that does what the task asks" not in prompt and "get_weather" not in prompt
    assert prompt.split("Task: ")[-2].startswith("What is 15 times 4, plus 7?")  # the calculator's example last


def test_the_agent_chooses_tools_by_default_for_a_local_model_only(monkeypatch):
    monkeypatch.setattr("agentrt.embeddings.default_embedder", WordEmbedder)
    assert Agent(model=ScriptedLLM(), tools=[get_weather], store=":memory:").planner.chooser is None
    assert Agent(model=ScriptedLLM(), tools=[get_weather], store=":memory:", choose_tools=True).planner.chooser


def test_a_part_no_tool_fits_repeats_the_call_before_only_when_it_reads_as_a_value():
    chooser = ToolChooser([get_weather, lookup_order], WordEmbedder())
    two = chooser.choose("current weather in a city Paris and Tokyo")
    assert [(c.tool.name, c.part) for c in two.calls] == [("get_weather", "current weather in a city Paris"),
                                                           ("get_weather", "Tokyo")]
    assert [c.after for c in two.calls] == [None, "current weather in a city Paris"]  # what "Tokyo" leaves unsaid
    one = chooser.choose("current weather in a city Paris, then tell me what you found out")
    assert [(c.tool.name, c.part) for c in one.calls] == [("get_weather", "current weather in a city Paris")]


def test_a_few_words_after_a_preposition_are_more_of_the_call_before_however_well_another_tool_fits():
    @tool
    def get_showtimes(movie: str, city: str) -> str:
        """Showtimes of a movie in a city, e.g. in new york."""
        return "19:00"

    chooser = ToolChooser([get_weather, get_showtimes], WordEmbedder())
    two = chooser.choose("current weather in a city Paris and in new york")
    assert [(c.tool.name, c.part) for c in two.calls] == [("get_weather", "current weather in a city Paris"),
                                                           ("get_weather", "in new york")]
    assert chooser.choose("in new york").calls[0].tool.name == "get_showtimes"  # first, it is the request
    converted = ToolChooser([convert_currency, get_weather], WordEmbedder()).choose("convert 50 usd to eur and to gbp")
    assert [c.part for c in converted.calls] == ["convert 50 usd to eur", "to gbp"]  # a call each, not one


def test_an_identifier_a_request_names_but_does_not_state_is_looked_up_first():
    @tool
    def find_order(item: str) -> str:
        """Find the user's latest order of an item; returns the order id."""
        return "ORD-11111"

    @tool
    def cancel_order(order_id: str) -> str:
        """Cancel an order.

        Args:
            order_id: the order's id, e.g. ORD-58213
        """
        return "cancelled"

    @tool
    def reorder(order_id: str) -> str:
        """Place an order again; returns the new order id."""  # needs an id itself: never a lookup
        return "ORD-22222"

    chooser = ToolChooser([reorder, find_order, cancel_order], WordEmbedder())
    looked_up = chooser.choose("cancel my sneakers order").calls
    assert [(c.tool.name, c.inputs) for c in looked_up] == [("find_order", {}), ("cancel_order", {"order_id": 0})]
    assert looked_up[0].part == "cancel my sneakers order"  # the lookup serves the same request
    assert [(c.tool.name, c.inputs) for c in chooser.choose("cancel order ORD-12345").calls] == [
        ("cancel_order", {})]  # stated: nothing to look up
    assert [(c.tool.name, c.inputs) for c in chooser.choose("find my sneakers order and cancel order").calls] == [
        ("find_order", {}), ("cancel_order", {"order_id": 0})]  # an earlier call already returns it


def test_an_identifier_is_known_by_its_name_or_format_and_looks_like_its_kind_or_its_example():
    order_id = identifier("order_id", {"type": "string", "description": "the order's id, e.g. ORD-58213"})
    assert order_id is not None and order_id.search("cancel ORD-58377") and not order_id.search("cancel order 3")
    path = identifier("file_path", {"type": "string", "description": "e.g. /Documents/report.pdf"})
    assert path is not None and path.search("share /Documents/Work/contract_signed.pdf") and not path.search("my cv")
    email = identifier("to", {"type": "string", "format": "email"})
    assert email is not None and email.search("mail dana.k@example.com") and not email.search("mail Dana")
    assert identifier("city", {"type": "string"}) is None
    assert identifier("link_id", {"type": "string", "enum": ["a1", "b2"]}) is None  # a choice, not an identifier
    described = identifier("to", {"type": "string", "description": "the recipient's email address"})
    assert described is not None and described.search("mail dana.k@example.com")  # the description says so
    assert identifier("to", {"type": "string", "description": "a name or a phone number"}) is None  # either


def test_an_email_address_a_request_only_names_is_looked_up_first():
    @tool
    def find_contact(name: str) -> str:
        """Look up someone in the user's contacts; returns their email address."""
        return "rita@example.com"

    @tool
    def send_email(to: str, body: str) -> str:
        """Send an email.

        Args:
            to: the recipient's email address
            body: the message text
        """
        return "sent"

    chooser = ToolChooser([find_contact, send_email], WordEmbedder())
    calls = chooser.choose("email my landlord that the heating is broken and the boiler makes a loud noise").calls
    assert [(c.tool.name, c.inputs) for c in calls] == [("find_contact", {}), ("send_email", {"to": 0})]
    # "and the boiler ..." fits no tool: more of the request it follows, so its words reach the body
    assert calls[-1].part == "email my landlord that the heating is broken and the boiler makes a loud noise"


def test_a_request_like_a_tools_worked_example_calls_it_though_its_whole_text_fits_less():
    # the whole texts must fit perfectly here, so only the examples' requests can let a tool be called
    chooser = ToolChooser([get_weather, convert_currency], WordEmbedder(), min_fit=0.99)
    example = example_task(get_weather, example_arguments(get_weather))
    assert [c.tool.name for c in chooser.choose(example.lower()).calls] == ["get_weather"]
    assert chooser.choose("tell me a joke").calls == []
    assert ToolChooser([get_weather], WordEmbedder(), min_fit=0.99, min_example_fit=1.01).choose(example).calls == []


def test_what_a_request_says_to_tell_is_a_value_not_what_to_do():
    @tool
    def send_text(to: str, message: str) -> str:
        """Send a text to a person."""
        return "sent"

    @tool
    def move_meeting(title: str, time: str) -> str:
        """Move a meeting on the calendar to a new time."""
        return "moved"

    # by bag of words the whole request fits move_meeting best (0.31 against 0.26), what to tell
    # left out it fits send_text alone (0.28 against 0)
    chooser = ToolChooser([send_text, move_meeting], WordEmbedder(), min_fit=0.25)
    told = chooser.choose("text Carla that the meeting moved to 3pm")
    assert [(c.tool.name, c.part) for c in told.calls] == [("send_text", "text Carla that the meeting moved to 3pm")]
    assert [c.tool.name for c in chooser.choose("move the meeting to 3pm").calls] == ["move_meeting"]


def test_a_parts_tool_is_also_matched_without_its_values_once_some_tool_is_called():
    @tool
    def stock_price(symbol: str) -> float:
        """Latest price of a stock.

        Args:
            symbol: the ticker
        """
        return 1.0

    # by bag of words "price of MSFT NFLX TSLA" fits stock_price at 0.36, "price of" at 0.57
    chooser = ToolChooser([stock_price, convert_currency], WordEmbedder(), min_part_fit=0.5)
    both = chooser.choose("price of MSFT NFLX TSLA? and convert 100 EUR to USD")
    assert [(c.tool.name, c.part) for c in both.calls] == [("stock_price", "price of MSFT NFLX TSLA"),
                                                            ("convert_currency", "convert 100 EUR to USD")]
    assert ToolChooser([stock_price], WordEmbedder(), min_fit=0.5).choose("price of MSFT NFLX TSLA").calls == []
    assert _without_values("I sent ORD-5 to a@b.com. Then Paris, via /tmp/x and #ops") == "I sent to Then via and"
