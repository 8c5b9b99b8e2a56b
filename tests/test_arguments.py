"""Arguments written apart from the plan (`arguments.py`): which calls get them, what the model is
asked and under which constraint, and how the answers replace the plan's."""

import asyncio
import json
from typing import Literal

import pytest
from pydantic import BaseModel

from agentrt import Agent, tool
from agentrt.arguments import ArgumentWriter, _referring_back
from agentrt.prompts import PromptLibrary
from agentrt.registry import ToolRegistry
from agentrt.schema import PlanSpec, StepSpec
from agentrt.testing import ScriptedLLM
from agentrt.tool_choice import Call


@tool
def get_weather(city: str, units: Literal["metric", "imperial"] = "metric") -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


@tool
def send_message(to: str, text: str) -> str:
    """Send a text message to a person."""
    return "sent"


def writer(*replies):
    llm = ScriptedLLM(replies)
    return ArgumentWriter(llm, ToolRegistry([get_weather, send_message]), PromptLibrary()), llm


def steps(*calls):
    return PlanSpec(steps=[StepSpec(id=i, tool=name, args=args) for i, (name, args) in enumerate(calls, 1)])


def test_each_call_made_once_gets_its_arguments_from_a_prompt_of_its_own_in_one_batch():
    arguments, llm = writer('{"city":"Paris"}', '{"to":"Ann","text":"$1"}')
    spec = steps(("get_weather", {"city": "city"}), ("send_message", {"to": "to", "text": "$1"}),
                 ("final_answer", {"answer": "$2"}))
    written, calls = asyncio.run(arguments.rewrite("Text Ann the weather in Paris", spec))
    assert [s.args for s in written.steps] == [{"city": "Paris"}, {"to": "Ann", "text": "$1"}, {"answer": "$2"}]
    assert written.steps[1].depends_on == [1]
    assert llm.batch_sizes == [2] and [c.purpose for c in calls] == ["arguments", "arguments"]
    prompt = llm.prompts()[0]
    assert "Task: Text Ann the weather in Paris" in prompt and "get_weather(city: string" in prompt
    assert "send_message" not in prompt  # one tool per prompt


def test_an_argument_that_takes_an_earlier_result_keeps_the_plans_reference():
    arguments, llm = writer('{"to":"Ann","text":"$1"}')
    spec = steps(("get_weather", {"city": "$9"}), ("send_message", {"to": "to", "text": "$1"}))
    assert [s.id for s in arguments.rewritable(spec.steps)] == [2]  # step 1 has nothing left to write
    schema = arguments.request("Text Ann the weather", spec.steps[1]).json_schema
    assert schema["properties"]["text"] == {"const": "$1"}
    assert schema["additionalProperties"] is False


def test_a_rewrite_makes_no_reference_of_its_own():
    class Address(BaseModel):
        street: str
        city: str

    @tool
    def ship(order_id: str, address: Address) -> str:
        """Ship an order to an address."""
        return "shipping"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([ship])
    step = StepSpec(id=2, tool="ship", args={"order_id": "$1", "address": {"street": "x", "city": "y"}})
    properties = arguments.request("ship my order to 1 Elm St, Springfield", step).json_schema["properties"]
    assert properties["order_id"] == {"const": "$1"}  # the plan's
    assert "[$]" not in json.dumps(properties["address"])  # no "$1" for the address: the plan wrote none


def test_a_tool_called_several_times_keeps_the_plans_arguments():
    arguments, llm = writer()
    spec = steps(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"}),
                 ("final_answer", {"answer": "$1 $2"}))
    assert asyncio.run(arguments.rewrite("Weather in Paris and Tokyo", spec)) == (spec, [])
    assert llm.history == []


def test_a_rewrite_cut_off_by_its_token_budget_keeps_the_plans_arguments():
    arguments, llm = writer('{"city":"Par')

    def truncated(requests):
        [generation] = ScriptedLLM.generate(llm, requests)
        return [generation.model_copy(update={"truncated": True})]

    llm.generate = truncated
    spec = steps(("get_weather", {"city": "Lisbon"}))
    written, calls = asyncio.run(arguments.rewrite("Weather in Paris", spec))
    assert written == spec and len(calls) == 1


def test_an_optional_argument_is_written_only_when_the_task_says_it_or_the_plan_gives_its_text():
    @tool
    def find_places(query: str, near: str | None = None, units: Literal["metric", "imperial"] = "metric") -> str:
        """Find places."""
        return "found"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([find_places]), PromptLibrary())

    def written(task, **args):
        return arguments.request(task, StepSpec(id=1, tool="find_places", args={"query": "x", **args})).json_schema

    assert set(written("cafes")["properties"]) == {"query"}
    # the plan's free text is narrowed to the task's; its choice of units is a guess, left out
    assert set(written("cafes near the station", near="the station", units="imperial")["properties"]) == {
        "query", "near"}
    named = written("cafes, in imperial units")
    assert named["properties"]["units"] == {"enum": ["imperial"]} and "units" in named["required"]


def test_a_reply_that_is_no_json_object_keeps_the_plans_arguments():
    arguments, llm = writer("Paris, I think")  # a backend that does not enforce the schema
    spec = steps(("get_weather", {"city": "Lisbon"}))
    written, calls = asyncio.run(arguments.rewrite("Weather in Paris", spec))
    assert written == spec and calls[0].output == "Paris, I think"


def test_free_text_and_numbers_are_narrowed_to_the_tasks_own_or_the_plans():
    @tool
    def convert(amount: float, source: Literal["USD", "EUR"], note: str, tags: list[str], count: int = 1) -> str:
        """Convert money."""
        return "done"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([convert]), PromptLibrary())
    step = StepSpec(id=1, tool="convert", args={"amount": 7, "source": "USD", "note": "AAPL", "tags": ["x"]})
    properties = arguments.request("Convert 38.5 'US dollars', then $5 more, for order ORD-1.", step).json_schema[
        "properties"]
    assert properties["amount"] == {"enum": [38.5, 5, 1, 7]}  # the task's numbers, then the plan's
    assert properties["source"] == {"enum": ["USD"]}  # "US dollars" is the standard name of USD
    assert {"ORD-1", "order ORD-1", "AAPL"} <= set(properties["note"]["enum"])
    assert "US dollars" not in properties["note"]["enum"]  # quoted, but the source took its words
    assert not any("Convert" in phrase for phrase in properties["note"]["enum"])  # the words naming the tool
    assert not any("$" in phrase for phrase in properties["note"]["enum"])  # "$5" would read as step 5's result
    assert properties["tags"] == {"type": "array", "items": {"enum": properties["note"]["enum"][:-1] + ["x"]},
                                  "minItems": 1}
    copied = StepSpec(id=1, tool="convert", args={"amount": 2.5, "source": "USD", "note": "note", "tags": []})
    properties = arguments.request("Convert 38.5 dollars", copied).json_schema["properties"]
    assert properties["amount"] == {"enum": [38.5]} and "note" not in properties["note"]["enum"]  # the example's values
    assert "count" not in properties


def test_a_call_made_for_one_request_takes_that_requests_values_even_when_its_tool_repeats():
    arguments, llm = writer('{"city":"Paris"}', '{"city":"Tokyo"}')
    spec = steps(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Paris"}),
                 ("final_answer", {"answer": "$1 $2"}))
    written, calls = asyncio.run(arguments.rewrite("weather in Paris and Tokyo", spec,
                                                        [Call(get_weather, "weather in Paris"), Call(get_weather, "Tokyo")]))
    assert [s.args for s in written.steps[:2]] == [{"city": "Paris"}, {"city": "Tokyo"}]
    second = arguments.request("weather in Paris and Tokyo", spec.steps[1], Call(get_weather, "Tokyo"), repeated=True)
    assert second.json_schema["properties"]["city"]["enum"] == ["Tokyo"]  # the plan's value for it is a guess
    alone = arguments.request("weather in Tokyo", StepSpec(id=1, tool="get_weather", args={"city": "Kyoto"}),
                              Call(get_weather, "Tokyo"))
    assert alone.json_schema["properties"]["city"]["enum"] == ["Tokyo", "Kyoto"]  # a call made once keeps it
    assert "Task: weather in Paris and Tokyo\nThis step: Tokyo" in second.messages[-1].content


def test_a_request_without_numbers_takes_the_whole_tasks():
    @tool
    def set_timer(minutes: int, label: str) -> str:
        """Set a timer."""
        return "set"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([set_timer]), PromptLibrary())
    step = StepSpec(id=2, tool="set_timer", args={"minutes": 1, "label": "x"})
    properties = arguments.request("set a timer for 20 minutes and name it tea", step,
                                   Call(set_timer, "name it tea")).json_schema["properties"]
    assert properties["minutes"] == {"enum": [20]}  # the whole task's one number, for the one number parameter
    assert "20 minutes" not in properties["label"]["enum"] and "tea" in properties["label"]["enum"]


def test_the_tasks_words_settle_a_named_choice_a_flag_and_a_value_of_a_telling_shape():
    @tool
    def cancel(order_id: str, mode: Literal["cool", "heat", "auto"], account: Literal["checking", "savings"],
               source: Literal["USD", "EUR"], target: Literal["USD", "EUR"], language: Literal["it", "de"],
               permanently: bool = False, shuffle: bool = False, notify_attendees: bool = True) -> str:
        """Cancel an order.

        Args:
            order_id: the order's id, e.g. ORD-58213
        """
        return "done"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([cancel]), PromptLibrary())
    step = StepSpec(id=1, tool="cancel", args={"order_id": "x", "mode": "auto", "account": "checking", "source": "USD",
                                               "target": "EUR", "language": "de", "permanently": False,
                                               "shuffle": True, "notify_attendees": True})
    task = "it's ORD-58377 from savings, make it cooler, USD to EUR, delete it permanently and don't shuffle"
    properties = arguments.request(task, step).json_schema["properties"]
    assert properties["order_id"] == {"enum": ["ORD-58377"]}  # the word shaped like the example
    assert properties["mode"] == {"enum": ["cool"]} and properties["account"] == {"enum": ["savings"]}
    assert properties["source"] == {"enum": ["USD"]} and properties["target"] == {"enum": ["EUR"]}  # "USD to EUR"
    assert properties["language"]["enum"] == ["it", "de"]  # "it" is a pronoun here
    assert properties["permanently"] == {"enum": [True]} and properties["shuffle"] == {"enum": [False]}
    assert "notify_attendees" not in properties  # not mentioned: the plan's value is a guess, left out
    plain = arguments.request("cancel my sneakers order", step).json_schema["properties"]
    assert "sneakers order" in plain["order_id"]["enum"]  # no word of the shape: the task's phrases


def test_codes_are_known_by_their_names_and_the_sides_of_a_conversion_by_the_words_around_them():
    money = Literal["USD", "EUR", "JPY", "CAD"]
    language = Literal["en", "de", "fr", "es"]

    @tool
    def convert(amount: float, from_currency: money, to_currency: money) -> str:
        """Convert money between currencies."""
        return "converted"

    @tool
    def translate(text: str, target_language: language, source_language: language | None = None) -> str:
        """Translate a text."""
        return "translated"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([convert, translate]), PromptLibrary())
    step = StepSpec(id=1, tool="convert", args={"amount": 1, "from_currency": "USD", "to_currency": "EUR"})

    def sides(task):
        properties = arguments.request(task, step).json_schema["properties"]
        return properties["from_currency"]["enum"], properties["to_currency"]["enum"]

    assert sides("how much is 250 euros in US dollars") == (["EUR"], ["USD"])  # the amount's, then after "in"
    assert sides("how many euros is 500 dollars") == (["USD", "CAD"], ["EUR"])  # which dollars: the model's choice
    assert sides("convert 72 to yen") == (["USD", "EUR", "CAD"], ["JPY"])  # the source is any other
    assert sides("USD or EUR?") == (["USD"], ["EUR"])  # no telling word: in reading order
    into = StepSpec(id=1, tool="translate", args={"text": "hello", "target_language": "en"})
    properties = arguments.request("put 'hello' into German", into).json_schema["properties"]
    assert properties["target_language"] == {"enum": ["de"]} and "source_language" not in properties
    schema = arguments.request("put 'hola' from Spanish into German", into).json_schema
    assert schema["properties"]["source_language"] == {"enum": ["es"]} and "source_language" in schema["required"]


def test_free_text_on_one_side_is_what_the_words_around_it_put_there():
    @tool
    def directions(origin: str, destination: str) -> str:
        """Directions between two places."""
        return "turn left"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([directions]), PromptLibrary())
    step = StepSpec(id=1, tool="directions", args={"origin": "x", "destination": "y"})

    def sides(task):
        properties = arguments.request(task, step).json_schema["properties"]
        return properties["origin"]["enum"], properties["destination"]["enum"]

    for task in ("directions from Lyon to Nice", "directions to Nice from Lyon", "directions Lyon to Nice"):
        origins, destinations = sides(task)  # the last: the place before "to" is the source
        assert "Lyon" in origins and "Nice" not in origins and destinations == ["Nice"], task


def test_the_tasks_words_decide_an_optional_parameter_a_unit_and_its_number():
    @tool
    def set_timer(minutes: int, seconds: int = 0, label: str | None = None) -> str:
        """Set a timer."""
        return "set"

    @tool
    def find_food(place: str, price: Literal["any", "cheap"] = "any", open_now: bool = False,
                  currency: Literal["USD", "CAD"] = "USD") -> str:
        """Find somewhere to eat."""
        return "found"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([set_timer, find_food]), PromptLibrary())
    schema = arguments.request("timer 1 min 30 sec", StepSpec(id=1, tool="set_timer", args={"minutes": 2})).json_schema
    assert schema["properties"]["minutes"] == {"enum": [1]} and schema["properties"]["seconds"] == {"enum": [30]}
    assert schema["required"] == ["minutes", "seconds"] and "label" not in schema["properties"]
    schema = arguments.request("somewhere cheap under 20 dollars, open now",
                               StepSpec(id=1, tool="find_food", args={"place": "x"})).json_schema
    assert schema["properties"]["price"] == {"enum": ["cheap"]} and schema["properties"]["open_now"] == {"enum": [True]}
    assert "currency" not in schema["properties"]  # "dollars" does not say which

    @tool
    def remind(message: str, time: str, date: str = "today", room: str | None = None, volume_percent: int = 50) -> str:
        """Set a reminder.

        Args:
            time: when, e.g. 18:00
            date: "today", "tomorrow" or a date
        """
        return "set"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([remind]), PromptLibrary())
    schema = arguments.request("remind me tomorrow 8:15 to take the bins out, 30% loud",
                               StepSpec(id=1, tool="remind", args={"message": "x", "time": "x"})).json_schema
    properties = schema["properties"]
    assert properties["date"] == {"enum": ["tomorrow"]} and properties["volume_percent"] == {"enum": [30]}
    assert properties["time"] == {"enum": ["08:15"]} and "room" not in properties  # no room is named
    assert "take the bins out" in properties["message"]["enum"]
    assert not any(word in phrase for phrase in properties["message"]["enum"] for word in ("tomorrow", "8:15", "remind"))

    @tool
    def control_lights(room: str, action: Literal["on", "off", "dim"]) -> str:
        """Switch or dim the lights of a room."""
        return "done"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([control_lights]), PromptLibrary())
    properties = arguments.request("dim the living room lights", StepSpec(
        id=1, tool="control_lights", args={"room": "room", "action": "on"})).json_schema["properties"]
    assert properties["action"] == {"enum": ["dim"]}
    assert properties["room"] == {"enum": ["living", "living room"]}  # no "dim", "room", nor "the living room"


def test_numbers_go_to_their_parameters_in_turn_when_the_task_states_as_many():
    @tool
    def triangle(side1: float, side2: float, side3: float) -> float:
        """Area of a triangle."""
        return 6.0

    @tool
    def split_bill(total: float, people: int, tip_percent: float = 0) -> float:
        """Split a bill."""
        return 1.0

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([triangle, split_bill]), PromptLibrary())
    sides = arguments.request("a triangle whose sides are 5 units, 4 units and 3 units", StepSpec(
        id=1, tool="triangle", args={"side1": 1, "side2": 1, "side3": 1})).json_schema["properties"]
    assert [sides[name] for name in ("side1", "side2", "side3")] == [{"enum": [5]}, {"enum": [4]}, {"enum": [3]}]
    bill = arguments.request("15% tip on 80 for 4 people", StepSpec(
        id=1, tool="split_bill", args={"total": 1, "people": 1})).json_schema["properties"]
    assert bill["total"] == {"enum": [80]} and bill["people"] == {"enum": [4]} and bill["tip_percent"] == {"enum": [15]}
    unsure = arguments.request("a triangle with sides 5 and 4", StepSpec(
        id=1, tool="triangle", args={"side1": 1, "side2": 1, "side3": 1})).json_schema["properties"]
    assert unsure["side1"]["enum"][:2] == [5, 4]  # fewer numbers than sides: the model's pick


def test_a_follow_up_offers_the_call_before_and_keeps_what_it_does_not_restate():
    @tool
    def convert(amount: float, source: Literal["USD", "EUR", "GBP"], target: Literal["USD", "EUR", "GBP"]) -> str:
        """Convert money between currencies."""
        return "converted"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([convert, get_weather]), PromptLibrary())
    before = {"amount": 100, "source": "USD", "target": "EUR"}
    step = StepSpec(id=1, tool="convert", args={"amount": 2.5, "source": "EUR", "target": "USD"})
    properties = arguments.request("And 250?", step, Call(convert, "And 250?", before)).json_schema["properties"]
    assert properties["amount"] == {"enum": [250]}  # the part's number replaces the one before
    assert properties["source"] == {"const": "USD"} and properties["target"] == {"const": "EUR"}
    weather = StepSpec(id=1, tool="get_weather", args={"city": "Paris"})
    properties = arguments.request("And in London?", weather, Call(get_weather, "And in London?", {
        "city": "Paris", "units": "imperial"})).json_schema["properties"]
    assert "London" in properties["city"]["enum"] and properties["units"] == {"const": "imperial"}


def test_a_request_that_refers_back_takes_the_result_of_the_call_before():
    @tool
    def translate(text: str, target_language: Literal["de", "fr"]) -> str:
        """Translate a text."""
        return "Guten Morgen"

    @tool
    def set_thermostat(temperature: float) -> str:
        """Set the thermostat."""
        return "set"

    arguments, llm = writer('{"text":"good morning","target_language":"de"}', '{"to":"Sam","text":"$1"}',
                            '{"temperature":"$2"}')
    arguments.registry = ToolRegistry([translate, send_message, set_thermostat])
    spec = steps(("translate", {"text": "x", "target_language": "fr"}), ("send_message", {"to": "x", "text": "x"}),
                 ("set_thermostat", {"temperature": 20}), ("final_answer", {"answer": "$2"}))
    task = "translate 'good morning' to german, text it to Sam and set the thermostat to that"
    opening = [Call(translate, "translate 'good morning' to german"), Call(send_message, "text it to Sam"),
               Call(set_thermostat, "set the thermostat to that")]
    written, _ = asyncio.run(arguments.rewrite(task, spec, opening))
    text_to_sam, thermostat = (request.json_schema["properties"] for request in llm.history[1:])
    assert "$1" in text_to_sam["text"]["enum"] and "Sam" in text_to_sam["to"]["enum"]  # "text $1 to Sam"
    assert thermostat["temperature"] == {"enum": ["$2"]}  # no number of its own: the result before
    assert "This step: text $1 to Sam" in llm.prompts()[1]
    assert written.steps[1].depends_on == [1] and written.steps[2].depends_on == [2]
    clause = arguments.request(task, spec.steps[1], _referring_back(Call(send_message, "say that it rains"), 1))
    assert not any("$" in phrase for phrase in clause.json_schema["properties"]["text"]["enum"])  # no value


def test_an_identifier_takes_a_word_of_its_kind_and_a_path_the_words_after_it():
    @tool
    def share(file_path: str, email: str) -> str:
        """Share a file.

        Args:
            file_path: the file, e.g. /Documents/report.pdf
            email: whom to share it with
        """
        return "shared"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([share])
    step = StepSpec(id=1, tool="share", args={"file_path": "x", "email": "x"})
    schema = arguments.request("share /Documents/Work/contract_signed.pdf with tom.h@example.com", step).json_schema
    assert schema["properties"]["file_path"]["enum"] == ["/Documents/Work/contract_signed.pdf"]  # deeper than e.g.
    assert schema["properties"]["email"]["enum"] == ["tom.h@example.com"]
    schema = arguments.request("share /Desktop/untitled folder copy with tom.h@example.com", step).json_schema
    assert schema["properties"]["file_path"]["enum"] == [  # a path may hold spaces, up to a linking word
        "/Desktop/untitled", "/Desktop/untitled folder", "/Desktop/untitled folder copy"]


def test_an_identifier_known_by_its_description_takes_that_kind_and_not_the_plans_made_up_one():
    @tool
    def email(to: str, body: str, cc: str | None = None) -> str:
        """Send an email.

        Args:
            to: the recipient's email address
            body: the message text
            cc: a name or an email address to copy in
        """
        return "sent"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([email])
    step = StepSpec(id=1, tool="email", args={"to": "ann.lee@example.com", "body": "hi", "cc": "Bo"})
    schema = arguments.request("email ann@example.com that I'm late, cc Bo", step).json_schema
    assert schema["properties"]["to"] == {"enum": ["ann@example.com"]}  # not "that", nor the plan's guess
    assert "that" in schema["properties"]["cc"]["enum"]  # "a name or an email address" is either: free text


def test_an_identifier_among_a_descriptions_alternatives_is_taken_when_stated_and_another_parts_value_offered():
    @tool
    def text(to: str, message: str) -> str:
        """Send a text message.

        Args:
            to: a contact's name or a phone number
            message: what to say
        """
        return "sent"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([text, get_weather])
    step = StepSpec(id=1, tool="text", args={"to": "x", "message": "x"})
    properties = arguments.request("send a text to +1 646 555 0107 that I'm here", step).json_schema["properties"]
    assert "+1 646 555 0107" in properties["to"]["enum"] and "here" not in properties["to"]["enum"]
    assert not any("555" in phrase for phrase in properties["message"]["enum"])  # the number's words are taken
    assert "Sam" in arguments.request("text Sam that I'm here", step).json_schema["properties"]["to"]["enum"]
    there = Call(get_weather, "how's the weather there")
    weather = StepSpec(id=2, tool="get_weather", args={"city": "Lisbon"})
    assert "Lisbon" in arguments.request("sunset in Lisbon, and how's the weather there", weather, there).json_schema[
        "properties"]["city"]["enum"]  # what another part said, the plan carries over


def test_a_quote_is_what_to_say_and_a_parameter_it_is_labelled_with_takes_it():
    @tool
    def mail(to: str, body: str, subject: str | None = None) -> str:
        """Send an email to a person."""
        return "sent"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([mail, send_message])
    texted = arguments.request("text mom 'landed safe!'", StepSpec(id=1, tool="send_message", args={
        "to": "x", "text": "x"})).json_schema["properties"]
    assert "mom" in texted["to"]["enum"] and not {"landed", "landed safe", "safe"} & set(texted["to"]["enum"])
    assert "landed safe" in texted["text"]["enum"]
    schema = arguments.request("mail Rita, subject 'Sick day', say I'm ill", StepSpec(id=1, tool="mail", args={
        "to": "x", "body": "x"})).json_schema
    assert schema["properties"]["subject"] == {"enum": ["Sick day"]} and "subject" in schema["required"]
    assert not {"Sick day", "subject", "Sick", "day"} & set(schema["properties"]["body"]["enum"])  # taken


def test_free_text_leaves_out_articles_the_tools_own_words_and_the_plans_recombined_words():
    @tool
    def set_reminder(message: str, time: str) -> str:
        """Remind the user of something at a time."""
        return "set"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([set_reminder])
    step = StepSpec(id=1, tool="set_reminder", args={"message": "9:55 remind standup", "time": "AAPL"})
    properties = arguments.request("remind me at 9:55 about the standup", step).json_schema["properties"]
    assert "the standup" not in properties["message"]["enum"] and "standup" in properties["message"]["enum"]
    assert not any("remind" in p for p in properties["message"]["enum"])  # a start of "reminder"
    assert "9:55 remind standup" not in properties["message"]["enum"]  # the task's words, put together anew
    assert "AAPL" in properties["time"]["enum"]  # what the plan adds to the task's words is offered

    @tool
    def calculate(expression: str) -> str:
        """Evaluate an arithmetic expression."""
        return "42"

    arguments.registry = ToolRegistry([calculate])
    sum_ = StepSpec(id=1, tool="calculate", args={"expression": "6*7"})
    assert "6*7" in arguments.request("What is 6 times 7?", sum_).json_schema["properties"]["expression"]["enum"]


def test_a_time_of_day_is_written_on_the_clock_the_parameter_shows_and_a_channel_by_its_hash():
    @tool
    def remind(message: str, time: str) -> str:
        """Remind the user of something.

        Args:
            message: what to remind the user of
            time: when, 24-hour HH:MM, e.g. 18:00
        """
        return "set"

    @tool
    def post(channel: str, message: str) -> str:
        """Post a message in a chat channel.

        Args:
            channel: channel name, e.g. "general"
            message: the text to post
        """
        return "posted"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([remind, post])
    step = StepSpec(id=1, tool="remind", args={"message": "meds", "time": "x"})
    times = [("8pm", "20:00"), ("8 a.m.", "08:00"), ("noon", "12:00"), ("9:55", "09:55"), ("18:30", "18:30")]
    for said, written in times:
        properties = arguments.request(f"remind me at {said} to take my meds", step).json_schema["properties"]
        assert properties["time"] == {"enum": [written]}
        assert properties["message"] == {"enum": ["take", "take my meds", "meds"]}  # not "me", "8pm", "at 8pm"
    posted = arguments.request("post $1 in #random", StepSpec(id=2, tool="post", args={"channel": "x", "message": "x"}),
                               Call(post, "post $1 in #random", refers_to=1)).json_schema["properties"]
    assert posted == {"channel": {"enum": ["#random"]}, "message": {"enum": ["$1"]}}


def test_a_day_is_one_its_description_names_and_an_optional_one_the_task_does_not_say_is_left_out():
    @tool
    def remind(message: str, date: str = "today") -> str:
        """Remind the user of something.

        Args:
            message: what to remind the user of
            date: "today", "tomorrow", a weekday such as "friday", or a date such as 2025-05-14
        """
        return "set"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([remind])
    guessed = StepSpec(id=1, tool="remind", args={"message": "x", "date": "8am"})
    properties = arguments.request("remind me at 8am to take my meds", guessed).json_schema["properties"]
    assert "date" not in properties  # the plan's guess: the task says no day
    properties = arguments.request("on wednesday remind me to stretch", guessed).json_schema["properties"]
    assert properties["date"] == {"enum": ["wednesday"]}  # a weekday, as "friday" is


def test_an_earlier_result_referred_to_takes_its_place_among_the_numbers():
    @tool
    def split_bill(total: float, people: int, tip_percent: float = 0) -> str:
        """Split a bill."""
        return "split"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([split_bill])
    split = Call(split_bill, "split $1 between 4 of us", refers_to=1)
    properties = arguments.request("split $1 between 4 of us", StepSpec(id=2, tool="split_bill", args={
        "total": 1, "people": 1}), split).json_schema["properties"]
    assert properties == {"total": {"enum": ["$1"]}, "people": {"enum": [4]}}
    # the plan put the result as the tip: the words put it where it goes, and the plan's tip goes
    misplaced = StepSpec(id=2, tool="split_bill", args={"total": 4, "people": 4, "tip_percent": "$1"})
    properties = arguments.request("split $1 between 4 of us", misplaced, split).json_schema["properties"]
    assert properties == {"total": {"enum": ["$1"]}, "people": {"enum": [4]}}
    # an optional number the task does not state is the plan's guess, and left out
    guessed = StepSpec(id=2, tool="split_bill", args={"total": 2000, "people": 4, "tip_percent": 0.05})
    properties = arguments.request("split $1 between 4 of us", guessed, split).json_schema["properties"]
    assert properties == {"total": {"enum": ["$1"]}, "people": {"enum": [4]}}
    stated = arguments.request("split $1 between 4 of us with a 15% tip", guessed, Call(
        split_bill, "split $1 between 4 of us with a 15% tip", refers_to=1)).json_schema["properties"]
    assert stated["tip_percent"] == {"enum": [15]}


def test_an_argument_a_lookup_serves_takes_its_result_whatever_the_plan_wrote():
    @tool
    def find_contact(name: str) -> str:
        """Look up a contact; returns their email address."""
        return "ann@example.com"

    @tool
    def email_file(path: str, email: str) -> str:
        """Email a file to someone."""
        return "sent"

    arguments, llm = writer('{"name":"Ann"}', '{"path":"/cv.pdf","email":"$1"}')
    arguments.registry = ToolRegistry([find_contact, email_file])
    spec = steps(("find_contact", {"name": "x"}), ("email_file", {"path": "$1", "email": "Ann"}),
                 ("final_answer", {"answer": "$2"}))
    task = "email /cv.pdf to Ann"
    opening = [Call(find_contact, task), Call(email_file, task, inputs={"email": 0})]
    written, _ = asyncio.run(arguments.rewrite(task, spec, opening))
    properties = llm.history[1].json_schema["properties"]
    assert properties["email"] == {"const": "$1"}  # not the plan's "Ann"
    assert properties["path"] == {"enum": ["/cv.pdf"]}  # the plan's "$1" was the contact, not the file
    assert written.steps[1].args == {"path": "/cv.pdf", "email": "$1"} and written.steps[1].depends_on == [1]


def test_numbers_are_read_with_separators_magnitudes_and_words_and_percentages_as_the_parameter_asks():
    @tool
    def mortgage(loan_amount: float, rate: float, years: int, fee_percent: float = 0.0) -> str:
        """Monthly payment of a loan.

        Args:
            rate: the annual interest rate as a decimal
            fee_percent: the fee in percent
        """
        return "paid"

    arguments = ArgumentWriter(ScriptedLLM(), ToolRegistry([mortgage]), PromptLibrary())
    step = StepSpec(id=1, tool="mortgage", args={"loan_amount": 1, "rate": 1, "years": 1, "fee_percent": 1})
    properties = arguments.request("a loan of $400,000 at 4% over 15 years, fee 2%", step).json_schema["properties"]
    assert properties["loan_amount"]["enum"][:4] == [400000, 4, 0.04, 15]  # not 400 and 0; 4% either way
    assert 4 not in properties["rate"]["enum"] and 0.04 in properties["rate"]["enum"]
    assert 0.02 not in properties["fee_percent"]["enum"] and 2 in properties["fee_percent"]["enum"]
    assert properties["years"] == {"enum": [15]}  # counted in its unit
    properties = arguments.request("$1.2M at 09:30 over twenty years", step).json_schema["properties"]
    assert properties["loan_amount"]["enum"][:2] == [1200000, 20] and properties["years"] == {"enum": [20]}


Money = Literal["USD", "EUR", "GBP", "JPY", "CAD"]


@tool
def convert_money(amount: float, from_currency: Money, to_currency: Money) -> float:
    """Convert an amount of money from one currency to another.

    Args:
        amount: how much money
        from_currency: currency code of the amount, e.g. USD
        to_currency: currency code to convert into
    """
    per_usd = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CAD": 0.73}
    return round(amount * per_usd[from_currency] / per_usd[to_currency], 2)


@tool
def translate_text(text: str, target_language: Literal["en", "de", "fr", "es"]) -> str:
    """Translate a text into another language.

    Args:
        text: the text to translate
        target_language: language code to translate into
    """
    return {"de": "Danke", "fr": "Merci", "es": "Gracias"}.get(target_language, text)


@tool
def start_timer(minutes: int, seconds: int = 0) -> str:
    """Start a countdown timer."""
    return f"timer set for {minutes} min {seconds} s"


@tool
def send_text(to: str, message: str) -> str:
    """Send a text message to a contact."""
    return f"sent to {to}"


@pytest.mark.model
def test_on_the_default_model_codes_sides_units_and_a_result_referred_back_reach_the_calls(default_llm):
    agent = Agent(model=default_llm, tools=[convert_money, translate_text, start_timer, send_text], store=":memory:")

    def calls(instruction):
        mine = {"convert_money", "translate_text", "start_timer", "send_text"}
        return [(step.tool, step.resolved_args) for step in agent.run(instruction).steps if step.tool in mine]

    [(tool_name, args)] = calls("how much is 250 euros in US dollars?")
    assert tool_name == "convert_money" and args == {"amount": 250, "from_currency": "EUR", "to_currency": "USD"}
    [(tool_name, args)] = calls("set a timer: 1 min 30 sec")
    assert tool_name == "start_timer" and args == {"minutes": 1, "seconds": 30}
    made = calls("translate 'thank you' into German and text it to Sam")
    assert made[0][0] == "translate_text" and made[0][1]["target_language"] == "de"
    assert made[1] == ("send_text", {"to": "Sam", "message": "Danke"})  # the translation, not the task's words


@tool
def find_parcel(description: str) -> str:
    """Find the user's parcel whose contents match a description; returns the parcel id."""
    return "PCL-4471" if "lamp" in description.lower() else "PCL-1000"


@tool
def redirect_parcel(parcel_id: str, pickup_point: str) -> str:
    """Have a parcel held at a pickup point instead of delivered.

    Args:
        parcel_id: the parcel's id, e.g. PCL-2093
        pickup_point: where to hold it, e.g. "Main Street post office"
    """
    return f"{parcel_id} held at {pickup_point}"


@pytest.mark.model
def test_on_the_default_model_an_id_the_task_does_not_state_is_looked_up_first(default_llm):
    agent = Agent(model=default_llm, tools=[find_parcel, redirect_parcel], store=":memory:")
    result = agent.run("send my lamp parcel to the pickup point on Elm Street instead")
    made = [(step.tool, step.resolved_args) for step in result.steps if step.tool in ("find_parcel", "redirect_parcel")]
    assert [name for name, _ in made] == ["find_parcel", "redirect_parcel"]
    assert "lamp" in made[0][1]["description"].lower()
    assert made[1][1]["parcel_id"] == "PCL-4471"  # what the lookup returned, not a made-up id


def test_a_call_whose_part_says_only_what_differs_takes_the_rest_from_the_call_before():
    @tool
    def get_forecast(city: str, day: str) -> str:
        """The weather forecast for a city.

        Args:
            city: the city
            day: "today", "tomorrow" or a weekday such as "friday"
        """
        return "rain"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([get_forecast])
    task = "What's the forecast for Paris today and tomorrow?"
    spec = steps(("get_forecast", {"city": "Paris", "day": "today"}), ("get_forecast", {"city": "Paris", "day": "x"}))
    first = Call(get_forecast, "What's the forecast for Paris today")
    second = arguments.request(task, spec.steps[1], Call(get_forecast, "tomorrow?", after=first.part),
                               repeated=True).json_schema["properties"]
    assert second["day"] == {"enum": ["tomorrow"]}
    assert "Paris" in second["city"]["enum"] and "tomorrow" not in second["city"]["enum"]
    alone = arguments.request(task, spec.steps[1], Call(get_forecast, "tomorrow?"), repeated=True)
    assert alone.json_schema["properties"]["city"] == {"enum": ["tomorrow"]}  # what it was: no other words


def test_a_call_made_again_takes_what_it_does_not_restate_from_the_call_before():
    @tool
    def set_reminder(message: str, time: str) -> str:
        """Set a reminder.

        Args:
            message: what to remind the user of
            time: the time of day, HH:MM, e.g. 18:00
        """
        return "set"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([set_reminder])
    task = "remind me at 8am to take my meds, and again at 8pm"
    step = StepSpec(id=2, tool="set_reminder", args={"message": "again", "time": "20:00"})
    again = Call(set_reminder, "again at 8pm", after="remind me at 8am to take my meds")
    properties = arguments.request(task, step, again, repeated=True).json_schema["properties"]
    assert properties["time"] == {"enum": ["20:00"]}
    assert "take my meds" in properties["message"]["enum"] and "again" not in properties["message"]["enum"]
    assert not any("8am" in phrase for phrase in properties["message"]["enum"])  # the call before's time
    eggs = Call(set_reminder, "again at 8pm", after="remind me at 8am to buy 2 eggs")
    properties = arguments.request("remind me at 8am to buy 2 eggs, and again at 8pm", step, eggs,
                                   repeated=True).json_schema["properties"]
    assert "buy 2 eggs" in properties["message"]["enum"]  # a number that is no time stays with the text


def test_what_a_request_says_to_write_after_that_is_the_text_whole():
    arguments, _ = writer()
    step = StepSpec(id=1, tool="send_message", args={"to": "to", "text": "package"})
    task = "send a text to Sam that the package is at the front desk"
    properties = arguments.request(task, step).json_schema["properties"]
    assert properties["text"] == {"enum": ["the package is at the front desk"]}
    assert "Sam" in properties["to"]["enum"]
    found = arguments.request("weather in the city that Sam named", StepSpec(id=1, tool="get_weather", args={"city": "x"}))
    assert len(found.json_schema["properties"]["city"]["enum"]) > 1  # no verb of saying: "that" says nothing here

    @tool
    def page(person: str, words: str) -> str:
        """Page someone."""
        return "paged"

    @tool
    def remind(message: str, time: str) -> str:
        """Remind the user of something."""
        return "set"

    # no side: the text parameter named for the message writes what is said, else the last required one
    cases = [(page, "text Carla that the meeting moved to 3pm", "words", "person"),
             (remind, "remind me at 5pm that the laundry is done", "message", "time")]
    for told_by, task, writer_of_it, other in cases:
        arguments.registry = ToolRegistry([told_by])
        properties = arguments.request(task, StepSpec(id=1, tool=told_by.name, args={})).json_schema["properties"]
        said = task.split(" that ")[1]
        assert properties[writer_of_it] == {"enum": [said]} and said not in properties[other].get("enum", [])


def test_hours_count_for_a_parameter_in_minutes_when_no_minutes_are_stated():
    @tool
    def find_free_slot(date: str, duration_minutes: int) -> str:
        """Find a free slot in the user's calendar."""
        return "10:00"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([find_free_slot])
    step = StepSpec(id=1, tool="find_free_slot", args={"date": "wednesday", "duration_minutes": 30})
    for task, minutes in [("find me a free hour on wednesday", 60), ("find a 2 hour block on saturday", 120),
                          ("find 45 minutes on friday", 45)]:
        assert arguments.request(task, step).json_schema["properties"]["duration_minutes"] == {"enum": [minutes]}


def test_converting_the_result_of_the_call_before_starts_from_what_that_call_converted_to():
    money = Literal["USD", "JPY", "KRW"]

    @tool
    def convert(amount: float, from_currency: money, to_currency: money) -> str:
        """Convert an amount of money from one currency to another."""
        return "1"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([convert])
    task = "what's 100 dollars in yen, then convert that to won"
    step = StepSpec(id=2, tool="convert", args={"amount": "$1", "from_currency": "USD", "to_currency": "KRW"})
    first = "what's 100 dollars in yen"
    chained = Call(convert, "convert $1 to won", refers_to=1, after=first)
    properties = arguments.request(task, step, chained, repeated=True).json_schema["properties"]
    assert properties["from_currency"] == {"enum": ["JPY"]} and properties["to_currency"] == {"enum": ["KRW"]}
    again = Call(convert, "and 50 to won", after=first)  # no result referred to: the words' own source
    assert arguments.request(task, step, again, repeated=True).json_schema["properties"]["from_currency"] != {
        "enum": ["JPY"]}


def test_the_word_that_turns_a_flag_on_is_no_part_of_free_text():
    @tool
    def play_music(query: str, shuffle: bool = False) -> str:
        """Play a song, artist or playlist."""
        return "playing"

    arguments, _ = writer()
    arguments.registry = ToolRegistry([play_music])
    step = StepSpec(id=1, tool="play_music", args={"query": "x", "shuffle": True})
    properties = arguments.request("put on Taylor Swift, shuffle", step).json_schema["properties"]
    assert properties["shuffle"] == {"enum": [True]}
    assert "Taylor Swift" in properties["query"]["enum"]
    assert not any("shuffle" in value for value in properties["query"]["enum"])
