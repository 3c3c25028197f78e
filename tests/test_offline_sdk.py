"""The offline Claude driven by the real SDK: every surface a lesson uses must work exactly as against the API."""

from __future__ import annotations

import asyncio

import anthropic
import pytest
from anthropic import Anthropic, AsyncAnthropic, beta_tool
from anthropic.lib.tools import ToolError

from helpers.offline import start_server

MODEL = "claude-haiku-5-5"
WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def server():
    with start_server(first_token_ms=0, per_token_ms=0) as running:
        yield running


@pytest.fixture
def client(server):
    server.reset_faults()
    with Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as sdk:
        yield sdk


def ask(client, text, **kwargs):
    kwargs.setdefault("max_tokens", 200)
    return client.messages.create(model=MODEL, messages=[{"role": "user", "content": text}], **kwargs)


def test_create_returns_a_full_message(client):
    message = ask(client, "What is the capital of France?")
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert message.id.startswith("msg_01") and message._request_id.startswith("req_")
    assert message.content[0].text == "The capital of France is Paris."
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


def test_same_request_same_reply_new_ids(client):
    first, second = ask(client, "Tell me a story about a fox"), ask(client, "Tell me a story about a fox")
    assert first.content == second.content
    assert first.id != second.id


def test_raw_response_headers(client):
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=20, messages=[{"role": "user", "content": "Hello"}])
    assert raw.status_code == 200 and raw.request_id == raw.headers["request-id"]
    assert int(raw.headers["anthropic-ratelimit-requests-limit"]) > 0
    assert "anthropic-ratelimit-requests-remaining" in raw.headers
    assert raw.parse().content[0].text == "Hello! How can I help you today?"


def test_a_fact_is_recalled_only_while_it_is_in_the_messages(client):
    history = [{"role": "user", "content": "Hi! My name is Ada."}]
    history.append(client.messages.create(model=MODEL, max_tokens=100, messages=history).to_param())
    question = {"role": "user", "content": "What is my name?"}
    recalled = client.messages.create(model=MODEL, max_tokens=100, messages=[*history, question])
    assert "Ada" in recalled.content[0].text
    forgotten = client.messages.create(model=MODEL, max_tokens=100, messages=[question])
    assert "Ada" not in forgotten.content[0].text and "don't know" in forgotten.content[0].text


def test_max_tokens_cuts_the_reply(client):
    full = ask(client, "Write a long story about a lighthouse", max_tokens=2000)
    cut = ask(client, "Write a long story about a lighthouse", max_tokens=10)
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 10
    assert full.content[0].text.startswith(cut.content[0].text)
    assert full.stop_reason == "end_turn" and full.usage.output_tokens > 10


def test_stop_sequences(client):
    message = ask(client, "Count to 10", stop_sequences=["5"])
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "5"
    assert message.content[0].text == "1, 2, 3, 4, "


def test_a_system_prompt_shapes_the_reply(client):
    plain = ask(client, "Hello")
    pirate = ask(client, "Hello", system="You are a pirate.")
    terse = ask(client, "Explain recursion", system="Be terse.")
    assert pirate.content[0].text.startswith("Arr!") and not plain.content[0].text.startswith("Arr!")
    assert terse.content[0].text.count(".") == 1


def test_count_tokens_agrees_with_usage(client):
    messages = [{"role": "user", "content": "What is the capital of Japan?"}]
    counted = client.messages.count_tokens(model=MODEL, messages=messages, system="Be brief.", tools=[WEATHER])
    used = client.messages.create(model=MODEL, max_tokens=50, messages=messages, system="Be brief.", tools=[WEATHER])
    assert counted.input_tokens == used.usage.input_tokens


def test_messages_stream_text_and_final_message(client):
    with client.messages.stream(model=MODEL, max_tokens=300, messages=[
            {"role": "user", "content": "Write a short story about a robot"}]) as stream:
        chunks = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(chunks) > 3 and "".join(chunks) == final.content[0].text
    same = ask(client, "Write a short story about a robot", max_tokens=300)
    assert final.usage.output_tokens == same.usage.output_tokens
    assert stream.request_id.startswith("req_")


def test_raw_stream_event_order(client):
    events = list(client.messages.create(model=MODEL, max_tokens=100, stream=True, tools=[WEATHER], messages=[
        {"role": "user", "content": "What's the weather in Paris?"}]))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
    json_parts = [e.delta.partial_json for e in events if e.type == "content_block_delta" and e.index == 1]
    assert json_parts[0] == "" and "".join(json_parts) == '{"city": "Paris"}'
    assert events[-2].delta.stop_reason == "tool_use"


def test_async_gather(server):
    async def main():
        async with AsyncAnthropic(api_key="sk-ant-test", base_url=server.url) as aclient:
            replies = await asyncio.gather(*(aclient.messages.create(
                model=MODEL, max_tokens=50, messages=[{"role": "user", "content": f"What is {n} + {n}?"}])
                for n in range(10)))
            async with aclient.messages.stream(model=MODEL, max_tokens=50, messages=[
                    {"role": "user", "content": "Hello"}]) as stream:
                streamed = [text async for text in stream.text_stream]
        return replies, streamed

    replies, streamed = asyncio.run(main())
    assert [r.content[0].text for r in replies] == [f"{n} + {n} = {2 * n}." for n in range(10)]
    assert "".join(streamed) == "Hello! How can I help you today?"


def test_manual_tool_loop_with_parallel_calls_and_an_error(client):
    messages = [{"role": "user", "content": "What's the weather in Paris and Atlantis?"}]
    reply = client.messages.create(model=MODEL, max_tokens=300, tools=[WEATHER], messages=messages)
    calls = [b for b in reply.content if b.type == "tool_use"]
    assert reply.stop_reason == "tool_use" and [c.input for c in calls] == [{"city": "Paris"}, {"city": "Atlantis"}]
    messages.append(reply.to_param())
    messages.append({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": calls[0].id, "content": "18°C and sunny"},
        {"type": "tool_result", "tool_use_id": calls[1].id, "content": "no such city", "is_error": True}]})
    final = client.messages.create(model=MODEL, max_tokens=300, tools=[WEATHER], messages=messages)
    assert final.stop_reason == "end_turn"
    assert "18°C and sunny" in final.content[0].text and "no such city" in final.content[0].text
    assert "error" in final.content[0].text


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "none"}, []),
    ({"type": "auto", "disable_parallel_tool_use": True}, ["Paris"]),
    ({"type": "any"}, ["Paris", "Tokyo"]),
    ({"type": "tool", "name": "get_weather"}, ["Paris", "Tokyo"]),
])
def test_tool_choice(client, choice, expected):
    reply = client.messages.create(model=MODEL, max_tokens=300, tools=[WEATHER], tool_choice=choice,
                                   messages=[{"role": "user", "content": "Weather in Paris and Tokyo?"}])
    assert [b.input["city"] for b in reply.content if b.type == "tool_use"] == expected
    if choice["type"] in {"any", "tool"}:
        assert reply.content[0].type == "tool_use"  # a forced call comes without a preamble


def test_any_forces_a_tool_even_without_a_match(client):
    reply = client.messages.create(model=MODEL, max_tokens=300, tools=[WEATHER], tool_choice={"type": "any"},
                                   messages=[{"role": "user", "content": "Tell me a joke"}])
    assert reply.stop_reason == "tool_use"


def test_tool_runner_with_default_threads_completes(client, server):
    @beta_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city.

        Args:
            city: City name, e.g. Paris
        """
        if city == "Atlantis":
            raise ToolError("no such city")
        return f"18°C and sunny in {city}"

    server.clear_requests()
    runner = client.beta.messages.tool_runner(model=MODEL, max_tokens=512, tools=[get_weather], messages=[
        {"role": "user", "content": "What's the weather in Paris and Atlantis?"}])
    final = runner.until_done()
    assert final.stop_reason == "end_turn" and "18°C and sunny in Paris" in final.content[0].text
    threads = [r.body["thread"] for r in server.requests]
    assert threads[0] == {"type": "create"} and threads[1]["type"] == "continue"
    assert len(server.requests[1].body["messages"]) == 1  # only the tool results travel on a continue


def test_unknown_thread_is_a_thread_not_found_error(client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.beta.messages.create(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}],
                                    thread={"type": "continue", "previous_message_id": "msg_01nope"},
                                    betas=["message-threads-2026-08-12"])
    assert caught.value.body["error"]["details"] == {"error_code": "thread_not_found"}


def test_models_list(client):
    models = list(client.models.list())
    assert {m.id for m in models} >= {MODEL, "claude-opus-5-5", "claude-sonnet-5-5"}
    haiku = client.models.retrieve(MODEL)
    assert haiku.max_input_tokens and haiku.max_tokens and haiku.lifecycle == "active"


def test_a_configured_context_window_is_what_models_report(client, server):
    server.configure(context_window=600)
    try:
        assert client.models.retrieve(MODEL).max_input_tokens == 600
    finally:
        server.configure(context_window=None)
    assert client.models.retrieve(MODEL).max_input_tokens == 1_000_000
