"""Conversation driven through the real SDK client, with the network faked at the HTTP layer."""

import json
from collections.abc import Iterator

import anthropic
import httpx2
import pytest

from helpers.conversation import Conversation, Usage, text_of
from helpers.truncation import keep_last_turns

MODEL = "claude-haiku-5-5"


class FakeMessagesAPI:
    """A handler for httpx2.MockTransport that answers /v1/messages and records each request body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.fail_next = 0
        self.fail_mid_stream = False
        self.replies = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if self.fail_next:
            self.fail_next -= 1
            error = {"type": "api_error", "message": "Internal server error", "details": None}
            return httpx2.Response(500, json={"type": "error", "error": error, "request_id": "req_err"})
        self.replies += 1
        text = f"reply {self.replies} to: {body['messages'][-1]['content']}"
        usage = {"input_tokens": 10 * self.replies, "output_tokens": 3, "cache_read_input_tokens": 2,
                 "cache_creation_input_tokens": 1}
        message = {"id": f"msg_{self.replies:03d}", "type": "message", "role": "assistant",
                   "model": body["model"], "content": [{"type": "text", "text": text}],
                   "stop_reason": "end_turn", "stop_sequence": None, "usage": usage}
        if body.get("stream"):
            content = sse_body(message, chunks=split_text(text))
            if self.fail_mid_stream:
                content = mid_stream_error(content)
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=content)
        return httpx2.Response(200, json=message)


def split_text(text: str) -> list[str]:
    """Cut a text into three chunks, so a stream has several deltas."""
    third = max(1, len(text) // 3)
    return [text[:third], text[third:2 * third], text[2 * third:]]


def sse_body(message: dict, chunks: list[str]) -> bytes:
    """Build a valid Messages SSE body for one text block, in the order the API sends events."""
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    events = [{"type": "message_start", "message": start},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              {"type": "ping"}]
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}}
               for chunk in chunks]
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]}},
               {"type": "message_stop"}]
    return "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events).encode()


def mid_stream_error(body: bytes) -> bytes:
    """Keep a stream up to its first text delta, then end it with an overloaded `event: error`."""
    frames = body.decode().split("\n\n")
    first_delta = next(i for i, frame in enumerate(frames) if frame.startswith("event: content_block_delta"))
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded", "details": None}}
    kept = frames[:first_delta + 1] + [f"event: error\ndata: {json.dumps(error)}", ""]
    return "\n\n".join(kept).encode()


@pytest.fixture
def api() -> FakeMessagesAPI:
    return FakeMessagesAPI()


@pytest.fixture
def client(api: FakeMessagesAPI) -> Iterator[anthropic.Anthropic]:
    http_client = httpx2.Client(transport=httpx2.MockTransport(api))
    with anthropic.Anthropic(api_key="sk-ant-test", base_url="http://test.invalid",
                             http_client=http_client, max_retries=0) as client:
        yield client


def test_history_grows_and_the_second_request_carries_the_first_exchange(client, api):
    chat = Conversation(client, model=MODEL)
    first = chat.ask("Hi, I'm Ada.")
    second = chat.ask("What's my name?")
    assert first == "reply 1 to: Hi, I'm Ada."
    assert second == "reply 2 to: What's my name?"
    assert [m["role"] for m in chat.messages] == ["user", "assistant", "user", "assistant"]
    assert len(chat) == 4
    assert api.bodies[1]["messages"] == [
        {"role": "user", "content": "Hi, I'm Ada."},
        {"role": "assistant", "content": [{"type": "text", "text": first}]},
        {"role": "user", "content": "What's my name?"},
    ]


def test_recorded_assistant_turn_has_only_role_and_content(client, api):
    chat = Conversation(client, model=MODEL)
    chat.ask("one")
    chat.ask("two")
    assert set(chat.messages[1]) == {"role", "content"}
    sent_reply = api.bodies[1]["messages"][1]
    assert set(sent_reply) == {"role", "content"}
    assert all(set(block) == {"type", "text"} for block in sent_reply["content"])


def test_request_carries_model_max_tokens_and_system_only_when_set(client, api):
    Conversation(client, model=MODEL, max_tokens=99).ask("hello")
    Conversation(client, model=MODEL, system="Be brief.").ask("hello")
    assert api.bodies[0]["model"] == MODEL and api.bodies[0]["max_tokens"] == 99
    assert "system" not in api.bodies[0]
    assert api.bodies[1]["system"] == "Be brief." and api.bodies[1]["max_tokens"] == 1024


def test_create_kwargs_are_passed_through_and_can_override_defaults(client, api):
    Conversation(client, model=MODEL).ask("hello", max_tokens=7, stop_sequences=["END"])
    assert api.bodies[0]["max_tokens"] == 7
    assert api.bodies[0]["stop_sequences"] == ["END"]


@pytest.mark.parametrize("owned", ["messages", "stream"])
def test_arguments_the_conversation_owns_are_refused(client, api, owned):
    with pytest.raises(TypeError, match=owned):
        Conversation(client, model=MODEL).ask("hello", **{owned: True})
    assert api.bodies == []


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_text_is_refused_before_anything_is_sent(client, api, text):
    chat = Conversation(client, model=MODEL)
    with pytest.raises(ValueError, match="empty"):
        chat.ask(text)
    with pytest.raises(ValueError, match="empty"):
        chat.stream(text)  # refused at call time, not at first iteration
    assert api.bodies == []
    assert chat.messages == [] and chat.usage == Usage()


def test_usage_totals_add_up(client, api):
    chat = Conversation(client, model=MODEL)
    chat.ask("one")
    chat.ask("two")
    assert chat.usage == Usage(input_tokens=30, output_tokens=6, cache_read_input_tokens=4,
                               cache_creation_input_tokens=2, requests=2)
    assert chat.last_message is not None and chat.last_message.id == "msg_002"


def test_failed_call_leaves_history_unchanged_and_a_retry_works(client, api):
    chat = Conversation(client, model=MODEL)
    chat.ask("one")
    before = list(chat.messages)
    api.fail_next = 1
    with pytest.raises(anthropic.InternalServerError):
        chat.ask("two")
    assert chat.messages == before
    assert chat.usage.requests == 1
    assert chat.ask("two") == "reply 2 to: two"
    assert [m["role"] for m in chat.messages] == ["user", "assistant", "user", "assistant"]
    assert api.bodies[2]["messages"] == api.bodies[1]["messages"]  # the retry sent exactly the same turns


def test_truncate_shapes_what_is_sent_but_history_stays_full(client, api):
    chat = Conversation(client, model=MODEL, truncate=lambda messages: keep_last_turns(messages, 2))
    for word in ["one", "two", "three", "four"]:
        chat.ask(word)
    assert [m["content"] for m in api.bodies[-1]["messages"] if m["role"] == "user"] == ["three", "four"]
    assert len(api.bodies[-1]["messages"]) == 3
    assert len(chat.messages) == 8
    assert chat.messages[0] == {"role": "user", "content": "one"}


def test_reset_clears_history_but_keeps_usage(client, api):
    chat = Conversation(client, model=MODEL)
    chat.ask("one")
    chat.reset()
    assert chat.messages == [] and chat.last_message is None
    assert chat.usage.requests == 1
    chat.ask("two")
    assert api.bodies[1]["messages"] == [{"role": "user", "content": "two"}]


def test_stream_yields_chunks_in_order_and_records_the_final_message(client, api):
    chat = Conversation(client, model=MODEL)
    chunks = list(chat.stream("Hello there"))
    expected = "reply 1 to: Hello there"
    assert chunks == split_text(expected)
    assert api.bodies[0]["stream"] is True
    assert chat.messages == [{"role": "user", "content": "Hello there"}, chat.last_message.to_param()]
    assert text_of(chat.last_message) == expected
    assert chat.usage.requests == 1 and chat.usage.output_tokens == 3
    chat.ask("again")
    assert api.bodies[1]["messages"][1] == {"role": "assistant",
                                            "content": [{"type": "text", "text": expected}]}


def test_stream_that_fails_leaves_history_unchanged(client, api):
    chat = Conversation(client, model=MODEL)
    chat.ask("one")
    before = list(chat.messages)
    api.fail_next = 1
    with pytest.raises(anthropic.InternalServerError):
        list(chat.stream("two"))
    assert chat.messages == before and chat.usage.requests == 1


def test_stream_that_errors_mid_way_leaves_history_unchanged(client, api):
    chat = Conversation(client, model=MODEL)
    chat.ask("one")
    before = list(chat.messages)
    api.fail_mid_stream = True
    received = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        for chunk in chat.stream("two"):
            received.append(chunk)
    assert caught.value.type == "overloaded_error"
    assert received == [split_text("reply 2 to: two")[0]]
    assert chat.messages == before and chat.usage.requests == 1 and chat.last_message.id == "msg_001"


def test_stream_stopped_early_records_nothing(client, api):
    chat = Conversation(client, model=MODEL)
    stream = chat.stream("Hello there")
    next(stream)
    stream.close()
    assert chat.messages == [] and chat.last_message is None


def test_text_of_joins_text_blocks_and_skips_tool_use():
    message = anthropic.types.Message.model_validate({
        "id": "msg_1", "type": "message", "role": "assistant", "model": MODEL, "stop_reason": "tool_use",
        "content": [{"type": "text", "text": "Let me "}, {"type": "text", "text": "check."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        "usage": {"input_tokens": 1, "output_tokens": 1},
    })
    assert text_of(message) == "Let me check."
