"""The tool-use loop driven through the real SDK client against the offline Claude."""

import copy
from typing import Annotated, Literal

import api_replies as api
import pytest
from anthropic import Anthropic, beta_tool
from anthropic.lib.tools import ToolError
from api_replies import ScriptedAPI, sync_client
from pydantic import Field

from helpers.offline import OfflineClaude
from helpers.replies import MaxTokensError, RefusalError
from helpers.tools import (
    ToolLoopLimitError,
    ToolLoopResult,
    answer_tool_calls,
    run_tool_loop,
    tool_definitions,
)

MODEL = "claude-haiku-5-5"
calls: list[tuple[str, dict]] = []


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather in a city.

    Args:
        city: The city name, e.g. Paris.
        unit: The temperature unit.
    """
    calls.append(("get_weather", {"city": city, "unit": unit}))
    if city == "Atlantis":
        raise LookupError(f"no weather station in {city}")
    return f"18 degrees {unit} and sunny in {city}"


def get_time(city: str) -> str:
    """Get the local time in a city."""
    calls.append(("get_time", {"city": city}))
    return f"14:05 in {city}"


def calculate(expression: str) -> int:
    """Evaluate an arithmetic expression such as 12 * 7."""
    calls.append(("calculate", {"expression": expression}))
    left, right = expression.split("*")
    return int(left) * int(right)


def get_forecast(city: str, days: Annotated[int, Field(ge=1, le=7)]) -> str:
    """Get the weather forecast for a city, up to 7 days ahead."""
    calls.append(("get_forecast", {"city": city, "days": days}))
    return f"{days} sunny days in {city}"


@pytest.fixture(autouse=True)
def forget_calls() -> None:
    calls.clear()


@pytest.fixture
def client(server: OfflineClaude) -> Anthropic:
    return Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def loop(client: Anthropic, text: str, tools: list, **kwargs) -> ToolLoopResult:
    return run_tool_loop(client, model=MODEL, messages=ask(text), tools=tools, max_tokens=500, **kwargs)


def sent_tool_results(server: OfflineClaude, request: int) -> list[dict]:
    """The tool_result blocks of the last user turn of one request the server received."""
    last = server.requests[request].body["messages"][-1]
    assert last["role"] == "user"
    return last["content"]


def test_definitions_come_from_signatures_and_docstrings():
    weather, calc = tool_definitions([get_weather, calculate])
    assert weather["name"] == "get_weather"
    assert weather["description"] == "Get the current weather in a city."
    schema = weather["input_schema"]
    assert schema["required"] == ["city"]
    assert schema["properties"]["city"]["type"] == "string"
    assert schema["properties"]["city"]["description"] == "The city name, e.g. Paris."
    assert schema["properties"]["unit"]["enum"] == ["celsius", "fahrenheit"]
    assert schema["properties"]["unit"]["default"] == "celsius"
    assert calc["input_schema"]["required"] == ["expression"]
    forecast = tool_definitions([get_forecast])[0]["input_schema"]["properties"]["days"]
    assert (forecast["type"], forecast["minimum"], forecast["maximum"]) == ("integer", 1, 7)


def test_decorated_tools_keep_their_own_name_and_duplicates_are_refused():
    renamed = beta_tool(get_time, name="local_time")
    assert [d["name"] for d in tool_definitions([get_weather, renamed])] == ["get_weather", "local_time"]
    with pytest.raises(ValueError, match="two tools are named 'get_time'"):
        tool_definitions([get_time, get_time])


def test_the_loop_ends_with_text_quoting_every_result(client, server):
    result = loop(client, "What's the weather in Paris, and what is 12 * 7?", [get_weather, get_time, calculate])
    assert (result.message.stop_reason, result.iterations, len(server.requests)) == ("end_turn", 2, 2)
    text = result.message.content[0].text
    assert "18 degrees celsius and sunny in Paris" in text
    assert 'calculate(expression="12 * 7") returned: 84' in text
    assert calls == [("get_weather", {"city": "Paris", "unit": "celsius"}), ("calculate", {"expression": "12 * 7"})]
    assert [m["role"] for m in result.messages] == ["user", "assistant", "user", "assistant"]


def test_a_reply_that_needs_no_tool_ends_after_one_request(client, server):
    result = loop(client, "Hello!", [get_weather])
    assert (result.iterations, result.message.content[0].text) == (1, "Hello! How can I help you today?")
    assert calls == [] and len(server.requests) == 1


def test_parallel_calls_are_answered_in_one_user_turn(client, server):
    result = loop(client, "Weather in Paris and Tokyo?", [get_weather])
    asked = [b for b in result.messages[1]["content"] if b.type == "tool_use"]
    assert [b.input["city"] for b in asked] == ["Paris", "Tokyo"]
    results = sent_tool_results(server, 1)
    assert [r["tool_use_id"] for r in results] == [b.id for b in asked]
    assert [r["content"] for r in results] == [f"18 degrees celsius and sunny in {c}" for c in ("Paris", "Tokyo")]
    assert len(server.requests) == 2


def test_a_raising_tool_becomes_an_error_result_and_the_loop_goes_on(client, server):
    result = loop(client, "Weather in Paris and Atlantis?", [get_weather])
    paris, atlantis = sent_tool_results(server, 1)
    assert "is_error" not in paris
    assert atlantis["is_error"] is True
    assert atlantis["content"] == "Error: get_weather raised LookupError: no weather station in Atlantis"
    assert result.message.stop_reason == "end_turn"
    assert "get_weather reported an error" in result.message.content[0].text
    assert "sunny in Paris" in result.message.content[0].text


def test_a_tool_error_is_sent_exactly_as_the_tool_wrote_it(client, server):
    def get_stock_price(ticker: str) -> str:
        """Get the latest stock price for a ticker."""
        raise ToolError(f"the market data feed is down; try {ticker} later")

    loop(client, "What is the stock price of ACME?", [get_stock_price])
    (only,) = sent_tool_results(server, 1)
    assert (only["content"], only["is_error"]) == ("the market data feed is down; try ACME later", True)


def test_an_unknown_tool_name_becomes_an_error_result_the_api_accepts(client):
    conversation = ask("What time is it in Tokyo?")
    reply = client.messages.create(model=MODEL, max_tokens=300, tools=tool_definitions([get_weather, get_time]),
                                   messages=conversation)
    turn = answer_tool_calls(reply, [get_weather])  # get_time is gone from the registry
    (only,) = turn["content"]
    assert only["is_error"] is True
    assert only["content"] == "Error: there is no tool named 'get_time'; available tools: get_weather."
    assert calls == []
    final = client.messages.create(model=MODEL, max_tokens=300, tools=tool_definitions([get_weather]),
                                   messages=[*conversation, reply.to_param(), turn])
    assert "get_time reported an error" in final.content[0].text


def test_arguments_that_do_not_fit_become_an_error_result(client, server):
    result = loop(client, "What's the forecast for Paris for the next 10 days?", [get_forecast])
    (only,) = sent_tool_results(server, 1)
    assert only["is_error"] is True
    assert only["content"] == ("Error: invalid arguments for get_forecast: days: Input should be less than or "
                               "equal to 7.")
    assert calls == []  # the function never ran
    assert result.message.stop_reason == "end_turn"


def test_max_iterations_stops_after_exactly_that_many_requests(client, server):
    with pytest.raises(ToolLoopLimitError, match="after 3 requests") as caught:
        loop(client, "What's the weather in Paris?", [get_weather, get_time], max_iterations=3,
             tool_choice={"type": "any"})
    assert len(server.requests) == 3
    assert len(calls) == 2  # the last reply's calls are left for the caller
    error = caught.value
    assert error.message.stop_reason == "tool_use"
    assert error.messages[-1]["role"] == "assistant" and len(error.messages) == 6


def test_the_callers_messages_are_not_mutated(client):
    conversation = ask("Weather in Paris and Tokyo?")
    before = copy.deepcopy(conversation)
    result = run_tool_loop(client, model=MODEL, messages=conversation, tools=[get_weather], max_tokens=500)
    assert conversation == before
    assert result.messages is not conversation and len(result.messages) == 4


def test_arguments_the_loop_owns_are_refused_before_sending(client, server):
    with pytest.raises(TypeError, match="managed by run_tool_loop"):
        loop(client, "Hello", [get_weather], stream=True)
    with pytest.raises(ValueError, match="at least 1"):
        loop(client, "Hello", [get_weather], max_iterations=0)
    assert server.requests == []


# ---- every reply the API can send, in its exact shape, through httpx2.MockTransport ----

def weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"14 degrees in {city}"


def scripted_loop(scripted, **kwargs) -> ToolLoopResult:
    with sync_client(scripted) as client:
        return run_tool_loop(client, model=MODEL, messages=ask("Weather in Lyon?"), tools=[weather_tool],
                             max_tokens=64, **kwargs)


weather_tool = beta_tool(weather, name="get_weather")


def test_an_empty_text_block_beside_a_tool_use_is_not_sent_back():
    scripted = ScriptedAPI(api.EMPTY_TEXT_AND_TOOL_USE, api.text("14 degrees in Lyon."))
    result = scripted_loop(scripted)
    assert result.message.content[0].text == "14 degrees in Lyon." and len(scripted.bodies) == 2
    sent = scripted.bodies[1]["messages"]
    assert sent[1] == {"role": "assistant", "content": [api.WEATHER_CALL]}  # 400 before: text blocks non-empty
    assert sent[2]["content"] == [{"type": "tool_result", "tool_use_id": api.TOOL_USE_ID,
                                   "content": "14 degrees in Lyon"}]


def test_thinking_goes_back_unchanged_and_first():
    scripted = ScriptedAPI(api.THINKING_AND_TOOL_USE, api.text("Done."))
    scripted_loop(scripted, thinking={"type": "adaptive"})
    assert scripted.bodies[1]["messages"][1]["content"] == [api.THINKING, api.WEATHER_CALL]


@pytest.mark.parametrize("cut", [api.CUT_TOOL_USE, api.CUT_TOOL_USE_CONTEXT])
def test_a_tool_call_cut_by_max_tokens_raises_and_names_max_tokens(cut):
    scripted = ScriptedAPI(cut)
    with pytest.raises(MaxTokensError, match=r"A tool call was cut off: .*(max_tokens=64|context window)") as caught:
        scripted_loop(scripted)
    assert caught.value.messages == ask("Weather in Lyon?") and caught.value.max_tokens == 64
    assert len(scripted.bodies) == 1


def test_a_tool_call_cut_by_max_tokens_is_retried_with_max_tokens_retry():
    scripted = ScriptedAPI(api.CUT_TOOL_USE, api.message([api.WEATHER_CALL], "tool_use"), api.text("Mild."))
    result = scripted_loop(scripted, max_tokens_retry=1024)
    assert [body["max_tokens"] for body in scripted.bodies] == [64, 1024, 1024]
    assert scripted.bodies[1]["messages"] == ask("Weather in Lyon?")  # the cut reply was never sent back
    assert (result.stop_reason, result.iterations) == ("end_turn", 3)


def test_a_tool_call_cut_again_after_the_retry_raises():
    scripted = ScriptedAPI(api.CUT_TOOL_USE, api.CUT_TOOL_USE)
    with pytest.raises(MaxTokensError, match="max_tokens=1024"):
        scripted_loop(scripted, max_tokens_retry=1024)


def test_a_refusal_in_the_loop_raises_with_the_history_before_it():
    scripted = ScriptedAPI(api.message([api.WEATHER_CALL], "tool_use"), api.REFUSAL)
    with pytest.raises(RefusalError) as caught:
        scripted_loop(scripted)
    assert caught.value.category == "cyber"
    assert [turn["role"] for turn in caught.value.messages] == ["user", "assistant", "user"]


def test_pause_turn_is_continued_and_counts_as_a_request():
    scripted = ScriptedAPI(api.PAUSE_TURN, api.AFTER_PAUSE)
    result = scripted_loop(scripted)
    assert scripted.bodies[1]["messages"][-1] == {"role": "assistant", "content": api.PAUSE_TURN["content"]}
    assert (result.iterations, result.message.content[0].text) == (2, "It is 14 degrees in Lyon.")


def test_an_empty_final_reply_leaves_a_history_the_api_accepts():
    scripted = ScriptedAPI(api.message([api.WEATHER_CALL], "tool_use"), api.EMPTY_END_TURN, api.text("Mild."))
    result = scripted_loop(scripted)
    assert result.stop_reason == "end_turn" and result.messages[-1]["role"] == "user"
    with sync_client(scripted) as client:
        follow_up = client.messages.create(model=MODEL, max_tokens=64, messages=[*result.messages, *ask("And?")])
    assert follow_up.content[0].text == "Mild."  # the fake API refuses what the real one refuses


def test_a_text_cut_by_max_tokens_is_returned_with_its_stop_reason():
    result = scripted_loop(ScriptedAPI(api.CUT_TEXT))
    assert (result.stop_reason, result.message.content[0].text) == ("max_tokens", "Once upon a time, there was a")


def test_output_that_cannot_be_json_becomes_an_error_result_and_the_loop_goes_on():
    def circular(city: str) -> dict:
        """Return a dict that contains itself."""
        loop_ = {"city": city}
        loop_["self"] = loop_
        return loop_

    def tuple_keys(city: str) -> dict:
        """Return a dict with a tuple key."""
        return {(city, "fr"): 14}

    for function, problem in [(circular, "ValueError: Circular reference detected"),
                              (tuple_keys, "TypeError: keys must be str, int, float, bool or None, not tuple")]:
        scripted = ScriptedAPI(api.message([api.WEATHER_CALL], "tool_use"), api.text("Sorry."))
        with sync_client(scripted) as client:
            result = run_tool_loop(client, model=MODEL, messages=ask("Weather?"), max_tokens=64,
                                   tools=[beta_tool(function, name="get_weather")])
        (sent,) = scripted.bodies[1]["messages"][-1]["content"]
        assert sent["is_error"] is True
        assert sent["content"] == f"Error: get_weather returned a dict that cannot be sent as JSON ({problem})."
        assert result.message.content[0].text == "Sorry."
