"""The offline Claude's replies under hostile input: never an exception, always wire-safe JSON, bounded CPU.

`respond()` + `compose()` are driven directly (hypothesis, and a list of inputs that once crashed or stalled the
server), then the same bodies go over HTTP, where the answer must never be a 500 and a stream must end cleanly.
Speed is compared with a normal request measured in the same run, never with an absolute time.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx2
import pydantic_core
import pytest
from anthropic import Anthropic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.offline import start_server
from helpers.offline.compose import compose, sse, stream_events
from helpers.offline.responder import Reply, merge_turns, respond, system_text
from helpers.offline.tokens import count_json, count_text
from helpers.offline.wire import encode_json

MODEL = "claude-haiku-4-5"
WEATHER = {"name": "get_weather", "description": "Get the current weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
CALC = {"name": "calculator", "input_schema": {"type": "object", "properties": {"expression": {"type": "string"}},
                                               "required": ["expression"]}}
ADD = {"name": "add", "input_schema": {"type": "object", "properties": {"a": {"type": "number"},
                                                                        "b": {"type": "integer"}},
                                       "required": ["a", "b"]}}


def body(content: Any, **fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 64_000, "messages": [{"role": "user", "content": content}], **fields}


def run(request: dict[str, Any]) -> dict[str, Any]:
    """respond + compose, as the server sends it: the JSON body and every stream frame, each checked to be UTF-8
    JSON without NaN or a lone surrogate. Returns the message as a client reads it."""
    ids = itertools.count()
    message = compose(respond(request, request["messages"]), request, input_tokens=10, message_id="msg_01",
                      new_tool_id=lambda: f"toolu_{next(ids)}")
    for name, data, _ in stream_events(message):
        frame = sse(name, data)
        assert frame.startswith(f"event: {name}\ndata: ".encode()) and frame.endswith(b"\n\n"), frame[:200]
        strict_json(frame.split(b"\ndata: ", 1)[1])
    return strict_json(encode_json(message))


def strict_json(wire: bytes) -> Any:
    """`wire` parsed as RFC 8259 JSON: UTF-8, no NaN/Infinity, no lone surrogate (pydantic_core refuses those)."""
    return pydantic_core.from_json(wire.decode("utf-8"), allow_inf_nan=False)


TOOL_RESULT_HISTORY = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                       "input": {"city": "Paris"}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                  "content": [{"type": "text", "text": 5}]}]},
]
PATHOLOGICAL = {
    "properties maps a name to a string": body("Weather in Paris?", tools=[
        {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": "string"},
                                                 "required": ["city"]}}]),
    "tool_result text that is a number": {"model": MODEL, "max_tokens": 500, "messages": TOOL_RESULT_HISTORY},
    "lone surrogate": body("say \ud800 hi"),
    "5,000 terms": body("What is " + "+".join(["1"] * 5000) + "?"),
    "tower of powers": body("What is ((9**64)**64)**2?"),
    "count to 5,000 digits": body("count to " + "7" * 5000),
    "400-digit tool input": body("add " + "9" * 400 + " and 2", tools=[ADD]),
    "capital of 60,000 spaces": body("capital of" + " " * 60_000 + "!"),
    "20,000 parentheses": body("(" * 20_000),
    "20,000 parentheses to a calculator": body("calculate " + "(" * 20_000, tools=[CALC]),
    "story about 120,000 spaces": body("Write a story about" + " " * 60_000 + "x" + " " * 60_000 + "."),
    "30,000 apostrophes": body("'a" * 30_000),
    "20,000 places": body("Weather in " + "Paris " * 20_000, tools=[WEATHER]),
    "30,000 my": body("my " * 30_000 + "name is"),
    "a 60,000-letter word": body("what is my " + "a" * 60_000),
    "60,000 digits": body("1" * 60_000 + "+1"),
    "a root of a negative number": body("What is (-8) ^ 0.5?"),
    "deep tool input in the history": {"model": MODEL, "max_tokens": 500, "tools": [WEATHER], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": json.loads("[" * 900 + "]" * 900)}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"}]}]},
}
PATHOLOGICAL["deep tool input, thinking on"] = {**PATHOLOGICAL["deep tool input in the history"],
                                                "model": "claude-sonnet-4-6", "thinking": {"type": "adaptive"}}



@pytest.mark.parametrize("name", list(PATHOLOGICAL))
def test_a_pathological_request_gets_a_reply(name):
    message = run(PATHOLOGICAL[name])
    assert message["stop_reason"] in {"end_turn", "tool_use", "max_tokens"}
    assert message["usage"]["output_tokens"] >= 1


def test_what_the_pathological_requests_are_answered():
    assert run(PATHOLOGICAL["lone surrogate"])["content"][0]["text"] == "\ufffd hi"
    assert run(PATHOLOGICAL["tool_result text that is a number"])["content"][0]["text"] == \
        'get_weather(city="Paris") returned: [text].'
    weather = run(PATHOLOGICAL["properties maps a name to a string"])["content"]
    assert [b["input"] for b in weather if b["type"] == "tool_use"] == [{"city": "Paris"}]
    add = run(PATHOLOGICAL["400-digit tool input"])["content"]
    assert [b["input"] for b in add if b["type"] == "tool_use"] == [{"a": 2.0, "b": 0}]  # the huge one is skipped
    assert "= " not in run(PATHOLOGICAL["tower of powers"])["content"][0]["text"]  # refused, not computed
    assert run(body("What is 2 ** 10?"))["content"][0]["text"] == "2 ** 10 = 1024."
    assert run(body("count to 5"))["content"][0]["text"] == "1, 2, 3, 4, 5."
    assert run(body("What is the capital of   france  ?"))["content"][0]["text"] == "The capital of France is Paris."
    assert run(body("Write a story about ?"))["content"][0]["text"].startswith("Once upon a time, there was a "
                                                                              "lighthouse.")


def _best(request: dict[str, Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(request)
        best = min(best, time.perf_counter() - start)
    return best


def test_no_request_costs_much_more_than_a_normal_one(record_property):
    """Each pathological request within 20x a normal tool request (a call to get_weather), measured in this run."""
    normal = _best(body("What's the weather in Paris?", tools=[WEATHER]), 50)
    record_property("normal_ms", round(normal * 1000, 3))
    slow = {}
    for name, request in PATHOLOGICAL.items():
        spent = _best(request, 5)
        record_property(name, round(spent * 1000, 3))
        if spent > 20 * normal:
            slow[name] = round(spent / normal, 1)
    assert slow == {}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=4), max_leaves=20)
SCHEMA = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["object", "string", 3, None]) | JSON,
    "properties": st.dictionaries(st.sampled_from(["city", "query", "n", "expression", "unit", "x"]),
                                  JSON | st.fixed_dictionaries({"type": st.sampled_from(
                                      ["string", "number", "integer", "boolean", "array", "object", ["null"]])},
                                      optional={"enum": JSON}), max_size=4) | JSON,
    "required": st.lists(st.sampled_from(["city", "query", "n", "expression", "unit", "x"]) | JSON, max_size=4)
    | JSON})
TEXT = st.text(min_size=1, max_size=200) | st.sampled_from(["Weather in Paris and Tokyo?", "What is 2 + 2?",
                                                             "count to 3", "say \ud800", "Write a story about x"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, schema=SCHEMA, description=JSON, choice=st.sampled_from([None, "auto", "any", "tool"]),
       result=JSON, system=st.none() | st.text(max_size=50))
def test_any_text_and_any_tool_schema_get_a_wire_safe_reply(text, schema, description, choice, result, system):
    tool = {"name": "get_weather", "description": description, "input_schema": schema}
    first = {"model": MODEL, "max_tokens": 300, "messages": [{"role": "user", "content": text}], "tools": [tool]}
    if choice:
        first["tool_choice"] = {"type": choice, "name": "get_weather"} if choice == "tool" else {"type": choice}
    if system is not None:
        first["system"] = system
    message = run(first)
    calls = [b for b in message["content"] if b["type"] == "tool_use"]
    if choice in {"any", "tool"}:
        assert calls
    if calls:
        history = [*first["messages"], {"role": "assistant", "content": message["content"]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": c["id"], "content": result}
                                                for c in calls]}]
        run({**first, "messages": history})


def test_system_messages_are_system_text_not_turns():
    messages = [{"role": "user", "content": "Hello"}, {"role": "system", "content": "Talk like a pirate."},
                {"role": "assistant", "content": "Hi."}, {"role": "user", "content": "Hello again"},
                {"role": "system", "content": [{"type": "text", "text": "Answer in all caps."}]}]
    assert [t["role"] for t in merge_turns(messages)] == ["user", "assistant", "user"]
    assert system_text("Be kind.", messages) == "Be kind.\nTalk like a pirate.\nAnswer in all caps."
    reply = respond({"model": MODEL, "max_tokens": 100, "messages": messages}, messages)
    assert reply.content == [{"type": "text", "text": "ARR! AHOY! HOW CAN I HELP YOU TODAY?"}]


def test_a_reply_refuses_an_unknown_stop_reason():
    with pytest.raises(ValueError, match="stop_reason must be one of end_turn, max_tokens"):
        Reply([], "some_future_reason")


@pytest.mark.parametrize("name", ["lone surrogate", "5,000 terms", "capital of 60,000 spaces",
                                  "tool_result text that is a number", "properties maps a name to a string",
                                  "400-digit tool input"])
def test_over_http_never_a_500_and_streams_end(server, name):
    request = PATHOLOGICAL[name]
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
    raw = json.dumps(request).encode()  # \ud800 travels escaped, as JSON allows
    with httpx2.Client(base_url=server.url, headers=headers, timeout=30) as http:
        answer = http.post("/v1/messages", content=raw)
        assert answer.status_code in {200, 400}, answer.text
        if answer.status_code == 400:
            assert answer.json()["error"]["type"] == "invalid_request_error"
            return
        streamed = http.post("/v1/messages", content=json.dumps({**request, "stream": True}).encode())
    events = [line.removeprefix("event: ") for line in streamed.text.splitlines() if line.startswith("event: ")]
    assert streamed.status_code == 200
    assert events[0] == "message_start" and events[-2:] == ["message_delta", "message_stop"]


# Stop reasons (addendum §6) ---------------------------------------------------------------------------------------

def sdk(server) -> Anthropic:
    return Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)


def test_a_tool_call_cut_by_max_tokens_keeps_its_block(server):
    with sdk(server) as client:
        full = client.messages.create(model=MODEL, max_tokens=500, tools=[WEATHER],
                                      messages=[{"role": "user", "content": "Weather in Paris?"}])
        preface, call = full.content
        assert call.input == {"city": "Paris"}
        text_tokens = full.usage.output_tokens - count_text("get_weather") - count_json({"city": "Paris"})
        cut = client.messages.create(model=MODEL, max_tokens=text_tokens + 1, tools=[WEATHER],
                                     messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert cut.stop_reason == "max_tokens"
    assert [b.type for b in cut.content] == ["text", "tool_use"]
    assert cut.content[0].text == preface.text
    assert cut.content[1].name == "get_weather" and cut.content[1].input == {}
    assert cut.usage.output_tokens == text_tokens + 1


def test_output_stops_at_the_context_window():
    with start_server(first_token_ms=0, per_token_ms=0, context_window=120) as small, sdk(small) as client:
        request = {"model": MODEL, "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}]}
        input_tokens = client.messages.count_tokens(**request).input_tokens
        reply = client.messages.create(max_tokens=1000, **request)
        roomy = client.messages.create(max_tokens=120 - input_tokens, **request)
    assert reply.stop_reason == "model_context_window_exceeded"
    assert reply.usage.output_tokens == 120 - input_tokens
    assert roomy.stop_reason == "max_tokens"  # the same cut, asked for: not the window's doing
    assert reply.content[0].text == roomy.content[0].text


def test_a_stop_sequence_at_position_0_gives_an_empty_reply(server):
    with sdk(server) as client:
        reply = client.messages.create(model=MODEL, max_tokens=100, stop_sequences=["Hello"],
                                       messages=[{"role": "user", "content": "Hi"}])
    assert reply.content == [] and reply.stop_reason == "stop_sequence" and reply.stop_sequence == "Hello"
    assert reply.usage.output_tokens == 1


REFUSAL = {"type": "refusal", "category": "cyber", "explanation": "This request asks for malware."}


def mock_client(message: dict[str, Any]) -> Anthropic:
    """The real SDK reading what compose()/stream_events() produce, through httpx2.MockTransport."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        if json.loads(request.content).get("stream"):
            frames = b"".join(sse(name, data) for name, data, _ in stream_events(message))
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=frames)
        return httpx2.Response(200, json=message)

    return Anthropic(api_key="sk-ant-test", base_url="http://offline.test", max_retries=0,
                     http_client=httpx2.Client(transport=httpx2.MockTransport(answer)))


def test_stop_details_reach_the_message_and_the_stream():
    request = body("Hello", max_tokens=100)
    message = compose(Reply([{"type": "text", "text": "I can't help with that."}], "refusal", REFUSAL), request,
                      input_tokens=9, message_id="msg_01", new_tool_id=lambda: "toolu_01")
    events = list(stream_events(message))
    assert events[0][1]["message"]["stop_details"] is None
    deltas = [data for name, data, _ in events if name == "message_delta"]
    assert deltas[0]["delta"] == {"stop_reason": "refusal", "stop_sequence": None, "stop_details": REFUSAL}
    client = mock_client(message)
    created = client.messages.create(**request)
    assert created.stop_reason == "refusal" and created.stop_details.category == "cyber"
    with client.messages.stream(**request) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "refusal"
    assert final.stop_details.model_dump() == REFUSAL
    assert final.content[0].text == "I can't help with that."


def test_complete_blocks_stream_whole_in_content_block_start():
    blocks = [{"type": "redacted_thinking", "data": "EmwKAhgBEgy3"},
              {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {"query": "tides"}},
              {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": []},
              {"type": "text", "text": "Nothing found."}]
    request = body("tides?", max_tokens=100)
    message = compose(Reply(blocks), request, input_tokens=9, message_id="msg_01", new_tool_id=lambda: "x")
    starts = [data["content_block"] for name, data, _ in stream_events(message) if name == "content_block_start"]
    assert starts[:3] == blocks[:3]
    with mock_client(message).messages.stream(**request) as stream:
        final = stream.get_final_message()
    assert [b.to_dict() for b in final.content[:3]] == blocks[:3]
    assert final.content[3].text == "Nothing found."


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, schema=JSON, thinking_on=st.booleans())
def test_strict_tools_and_thinking_with_any_schema_get_a_wire_safe_reply(text, schema, thinking_on):
    tool = {"name": "get_weather", "description": "weather", "input_schema": schema, "strict": True}
    request = {"model": "claude-sonnet-4-6", "max_tokens": 300, "messages": [{"role": "user", "content": text}],
               "tools": [tool], "tool_choice": {"type": "any"}}
    if thinking_on:
        request["thinking"] = {"type": "adaptive"}
    message = run(request)
    assert [b["type"] for b in message["content"]][:1] == (["thinking"] if thinking_on else [message["content"][0][
        "type"]])


def test_a_scripted_reply_with_a_bad_block_fails_where_it_is_written():
    with pytest.raises(ValueError, match="content\\[0\\]: a tool_use block needs 'input' of type dict"):
        Reply([{"type": "tool_use", "name": "x"}], "tool_use")
    with pytest.raises(ValueError, match="content\\[1\\] must be a dict with a string 'type'"):
        Reply([{"type": "text", "text": "a"}, "b"])


BLOCK = st.fixed_dictionaries({"type": st.sampled_from(["text", "tool_use", "tool_result", "thinking", "image", 5])},
                              optional={"text": JSON, "id": JSON, "name": JSON, "input": JSON, "content": JSON,
                                        "tool_use_id": JSON, "thinking": JSON, "signature": JSON, "is_error": JSON})
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", 7]),
                                 "content": st.text(max_size=40) | st.lists(BLOCK | JSON, max_size=3) | JSON})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(MESSAGE | JSON, min_size=1, max_size=5), tools=JSON | st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["get_weather", "calc"]) | JSON}, optional={
        "input_schema": JSON, "strict": JSON, "type": JSON, "description": JSON}), max_size=2),
       fields=st.fixed_dictionaries({}, optional={"system": JSON, "tool_choice": JSON, "thinking": JSON,
                                                  "output_config": JSON, "output_format": JSON,
                                                  "stop_sequences": JSON}))
def test_no_body_shape_makes_respond_or_compose_raise(messages, tools, fields):
    """Validation refuses most of these; the reply must survive them anyway."""
    run({"model": "claude-sonnet-4-6", "max_tokens": 200, "messages": messages, "tools": tools, **fields})
