import networkx as nx
import pytest

from agentrt import Plan, PlanError, PlanSpec, StepSpec
from agentrt.plan import references, resolve


def spec(*steps: StepSpec) -> PlanSpec:
    return PlanSpec(steps=list(steps))


def test_plan_graph_has_an_edge_per_dependency_and_orders_parents_first():
    plan = Plan.from_spec(spec(
        StepSpec(id=3, tool="final_answer", args={"answer": "$1 and $2"}, depends_on=[1, 2]),
        StepSpec(id=2, tool="calculator", args={"expression": "2"}),
        StepSpec(id=1, tool="calculator", args={"expression": "1"}),
    ))
    assert isinstance(plan.graph, nx.DiGraph)
    assert set(plan.graph.edges) == {(1, 3), (2, 3)}
    assert [s.id for s in plan.order()] == [1, 2, 3]


@pytest.mark.parametrize(
    "steps, message",
    [
        ([StepSpec(id=1, tool="calculator"), StepSpec(id=1, tool="calculator")], "Step 1 appears twice"),
        ([StepSpec(id=1, tool="calculator", depends_on=[7])], "depends on step 7, which is not in the plan"),
        ([StepSpec(id=1, tool="calculator", depends_on=[2]), StepSpec(id=2, tool="calculator", depends_on=[1])],
         "cycle"),
        ([StepSpec(id=1, tool="weather")], "unknown tool 'weather'"),
        ([StepSpec(id=1, tool="calculator"), StepSpec(id=2, tool="calculator", args={"expression": "$1+1"})],
         "uses $1, but step 1 is not one of its dependencies; add 1 to step 2's depends_on"),
        ([StepSpec(id=1, tool="calculator", args={"expression": "$4"})], "step 4 is not in the plan"),
    ],
)
def test_invalid_plans_fail_before_anything_runs_with_the_step_and_the_fix(steps, message):
    with pytest.raises(PlanError, match=message.replace("$", r"\$").replace("(", r"\(")):
        Plan.from_spec(spec(*steps), tool_names=["calculator", "final_answer"])


def test_references_are_found_inside_nested_arguments():
    assert references({"a": ["$1", {"b": "x $3 y"}], "c": 5}) == {1, 3}


def test_whole_reference_keeps_the_typed_result_and_embedded_reference_becomes_text():
    results = {1: 42, 2: [1, 2]}
    assert resolve({"n": "$1", "s": "got $1 and $2", "l": ["$2"]}, results) == {
        "n": 42, "s": "got 42 and [1, 2]", "l": [[1, 2]]
    }


def test_extending_a_plan_validates_only_new_steps_and_leaves_it_unchanged_on_error():
    plan = Plan.from_spec(spec(StepSpec(id=1, tool="calculator", args={"expression": "1"})))
    with pytest.raises(PlanError, match="uses \\$1, but step 1 is not one of its dependencies"):
        plan.extend(spec(StepSpec(id=2, tool="calculator", args={"expression": "$1"})))
    assert list(plan.graph.nodes) == [1]
    plan.extend(spec(StepSpec(id=3, tool="final_answer", args={"answer": "$2"}, depends_on=[2]),
                     StepSpec(id=2, tool="calculator", args={"expression": "$1"}, depends_on=[1])))
    assert [s.id for s in plan.order()] == [1, 2, 3]
    with pytest.raises(PlanError, match="Step 2 appears twice"):
        plan.extend(spec(StepSpec(id=2, tool="calculator")))
    assert len(plan) == 3


def test_tools_with_enum_and_nested_model_parameters_get_a_self_contained_plan_schema():
    import enum
    import json

    from pydantic import BaseModel

    from agentrt import tool
    from agentrt.plan_schema import plan_schema
    from agentrt.plugins import installed_tools
    from agentrt.registry import ToolRegistry

    class Unit(enum.Enum):
        C = "celsius"
        F = "fahrenheit"

    class Place(BaseModel):
        city: str

    @tool
    def weather(place: Place, unit: Unit = Unit.C) -> str:
        """Weather at a place."""
        return place.city

    text = json.dumps(plan_schema(ToolRegistry([*installed_tools().tools, weather]), 2)["$defs"])
    assert "$ref" not in text and "$defs" not in text  # the tool's own definitions are inlined
    assert '"enum": ["celsius", "fahrenheit"]' in text and '"city"' in text
