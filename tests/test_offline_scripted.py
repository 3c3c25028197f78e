"""Scripted replies (`reply_next`, `refuse_next`) and a stream cut mid-body (`cut_stream_next`), through the real SDK.

Each reply the API can send and the offline Claude's own rules never produce, as a user's code meets it: sync
and streamed, with the exact content, stop reason, `stop_details` and usage.
"""

from __future__ import annotations

import asyncio

import anthropic
import httpx2
import pytest
from anthropic import Anthropic

from helpers.streaming import is_mid_stream_failure

MODEL = "claude-haiku-5-5"
HELLO = [{"role": "user", "content": "Hello"}]
STORY = [{"role": "user", "content": "Write a story about a lighthouse"}]
WEATHER = {"name": "get_weather", "description": "Weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def sdk(server, **options) -> Anthropic:
    return Anthropic(api_key="sk-ant-test", base_url=server.url, **options)


def both_ways(server, **kwargs):
    """The same scripted reply fetched with `create` and with `stream` (queued twice): both final messages."""
    sent = sdk(server).messages.create(model=MODEL, max_tokens=100, messages=HELLO, **kwargs)
    with sdk(server).messages.stream(model=MODEL, max_tokens=100, messages=HELLO, **kwargs) as stream:
        streamed = stream.get_final_message()
    return sent, streamed


def test_an_empty_end_turn_reply(server):
    server.reply_next(content=[], times=2)
    for message in both_ways(server):
        assert message.content == [] and message.stop_reason == "end_turn"
        assert message.usage.output_tokens == 1 and message.usage.input_tokens == 8
    assert [r.fault for r in server.requests] == ["scripted", "scripted"]


def test_a_refusal_with_stop_details(server):
    for _ in range(2):
        server.refuse_next(category="cyber", explanation="This looks like malware development.",
                           text="I can help with part of")
    for message in both_ways(server):
        assert message.stop_reason == "refusal"
        assert message.stop_details.model_dump() == {"type": "refusal", "category": "cyber",
                                                     "explanation": "This looks like malware development."}
        assert [block.text for block in message.content] == ["I can help with part of"]


def test_a_refusal_with_nothing_said_has_empty_content(server):
    server.refuse_next(category=None)
    message = sdk(server).messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert message.content == [] and message.stop_reason == "refusal"
    assert message.stop_details.category is None and message.stop_details.explanation is None


def test_a_tool_call_cut_by_max_tokens(server):
    server.reply_next(content=[{"type": "text", "text": "Let me check."},
                               {"type": "tool_use", "name": "get_weather", "input": {}}],
                      stop_reason="max_tokens", times=2)
    sent, streamed = both_ways(server, tools=[WEATHER])
    for message in (sent, streamed):
        assert message.stop_reason == "max_tokens"
        text, call = message.content
        assert text.text == "Let me check." and call.name == "get_weather" and call.input == {}
        assert call.id.startswith("toolu_01") and len(call.id) == len("toolu_01") + 22
    assert sent.content[1].id != streamed.content[1].id  # each reply gets a fresh id


def test_pause_turn_and_model_context_window_exceeded(server):
    server.reply_next(content=[{"type": "text", "text": "Searching further."}], stop_reason="pause_turn", times=2)
    server.reply_next(content=[{"type": "text", "text": "The story goes on and"}],
                      stop_reason="model_context_window_exceeded", times=2)
    assert [m.stop_reason for m in both_ways(server)] == ["pause_turn", "pause_turn"]
    for message in both_ways(server):
        assert message.stop_reason == "model_context_window_exceeded"
        assert message.content[0].text == "The story goes on and"


def test_a_thinking_block(server):
    thinking = {"type": "thinking", "thinking": "The user greets me; greet back.", "signature": "EqQBCgIYAhIM"}
    server.reply_next(content=[thinking, {"type": "text", "text": "Hi!"}], times=2)
    for message in both_ways(server):
        assert [block.type for block in message.content] == ["thinking", "text"]
        assert message.content[0].thinking == "The user greets me; greet back."
        assert message.content[0].signature == "EqQBCgIYAhIM"
        assert message.content[1].text == "Hi!"


def test_usage_entries_override_the_defaults(server):
    server.reply_next(content=[{"type": "text", "text": "Hi!"}], usage={"output_tokens": 7,
                                                                        "cache_read_input_tokens": 3})
    message = sdk(server).messages.create(model=MODEL, max_tokens=100, messages=HELLO)
    assert (message.usage.input_tokens, message.usage.output_tokens, message.usage.cache_read_input_tokens) == (8, 7, 3)


def test_a_bad_request_still_gets_its_400_and_the_reply_waits(server):
    server.reply_next(content=[{"type": "text", "text": "Scripted."}])
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(server).messages.create(model=MODEL, max_tokens=100, messages=[])
    assert caught.value.message.endswith("messages: at least one message is required'}, 'request_id': "
                                         f"'{caught.value.request_id}'}}")
    assert sdk(server).messages.count_tokens(model=MODEL, messages=HELLO).input_tokens == 8  # not a create
    assert sdk(server).messages.create(model=MODEL, max_tokens=100, messages=HELLO).content[0].text == "Scripted."
    assert sdk(server).messages.create(model=MODEL, max_tokens=100, messages=HELLO).content[0].text == (
        "Hello! How can I help you today?")


def test_errors_and_scripted_replies_come_in_the_order_queued(server):
    server.fail_next(529, retry_after_ms=1)
    server.reply_next(content=[{"type": "text", "text": "First."}])
    server.fail_next(429, retry_after_ms=1)
    server.reply_next(content=[{"type": "text", "text": "Second."}])
    client = sdk(server, max_retries=2)
    texts = [client.messages.create(model=MODEL, max_tokens=100, messages=HELLO).content[0].text for _ in range(2)]
    assert texts == ["First.", "Second."]
    assert [(r.status, r.fault) for r in server.requests] == [
        (529, "fail_next"), (200, "scripted"), (429, "fail_next"), (200, "scripted")]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"content": [], "stop_reason": "finished"}, "stop_reason 'finished' is not one the API sends"),
    ({"content": [{"type": "txt", "text": "x"}]}, "content.0: type 'txt' is not a content block type"),
    ({"content": [{"type": "tool_use", "input": {}}]}, "content.0 (tool_use): name: Field required"),
    ({"content": [], "stop_details": {"type": "refusal", "category": "spam", "explanation": None}},
     "stop_details: category: Input should be 'cyber', 'bio'"),
])
def test_a_reply_the_api_cannot_send_is_refused_when_queued(server, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        server.reply_next(**kwargs)
    assert sdk(server).messages.create(model=MODEL, max_tokens=100, messages=HELLO).content[0].text.startswith("Hello")


def test_a_cut_stream_raises_the_transport_error_and_keeps_what_arrived(server_each_parser):
    server = server_each_parser
    server.cut_stream_next(after_events=5)
    received = []
    with pytest.raises(httpx2.RemoteProtocolError) as caught:
        with sdk(server).messages.stream(model=MODEL, max_tokens=300, messages=STORY) as stream:
            received.extend(stream.text_stream)
    error = caught.value
    assert str(error) == "peer closed connection without sending complete message body (incomplete chunked read)"
    assert not isinstance(error, anthropic.APIStatusError)  # no status, no error event: the body just stops
    assert is_mid_stream_failure(error)  # what helpers.streaming restarts
    assert received and "".join(received) != ""  # the events before the cut were delivered
    assert [(r.status, r.fault, r.stream) for r in server.requests] == [(200, "cut_stream", True)]
    assert sdk(server).messages.create(model=MODEL, max_tokens=20, messages=HELLO).content[0].text.startswith("Hello")


def test_a_cut_applies_to_a_scripted_reply_too_and_raw_events_stop_short(server):
    server.reply_next(content=[{"type": "tool_use", "name": "get_weather", "input": {"city": "Paris"}}],
                      stop_reason="tool_use")
    server.cut_stream_next(after_events=3)
    seen = []
    with pytest.raises(httpx2.RemoteProtocolError):
        for event in sdk(server).messages.create(model=MODEL, max_tokens=300, messages=HELLO, tools=[WEATHER],
                                                  stream=True):
            seen.append(event.type)
    assert seen == ["message_start", "content_block_start"]  # the third event sent, `ping`, the SDK never yields
    assert [r.fault for r in server.requests] == ["cut_stream"]


def test_a_cut_stream_in_the_async_client(server):
    server.cut_stream_next(after_events=4)

    async def main() -> list[str]:
        received = []
        async with anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=server.url) as client:
            async with client.messages.stream(model=MODEL, max_tokens=300, messages=STORY) as stream:
                async for text in stream.text_stream:
                    received.append(text)
        return received

    with pytest.raises(httpx2.RemoteProtocolError):
        asyncio.run(main())
    assert server.requests[-1].fault == "cut_stream"
