"""Thinking (addendum §5) through the real SDK: signed thinking blocks, their stream, and the replay rules.

The tool loop sends the reply back with `to_param()`, exactly as a reader's code does; dropping or editing the
thinking block must then get the API's 400 with the API's text, and sending it back unchanged must pass.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic import Anthropic

from helpers.offline import thinking
from helpers.offline.thinking import read_signature

MODEL = "claude-sonnet-4-6"  # takes adaptive and enabled thinking, no prefix-binding check
BOUND_MODEL = "claude-sonnet-5-5"  # runs the prefix-binding check
ADAPTIVE = {"type": "adaptive"}
WEATHER = {"name": "get_weather", "description": "Get the current weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ASK = [{"role": "user", "content": "What's the weather in Paris?"}]
EXPECTED_TOOL_USE = (
    "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` is "
    "enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of "
    "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid "
    "this requirement, disable `thinking`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking")


@pytest.fixture
def client(server):
    with Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as sdk:
        yield sdk


def error_of(call) -> str:
    with pytest.raises(anthropic.BadRequestError) as caught:
        call()
    assert caught.value.status_code == 400 and caught.value.body["error"]["type"] == "invalid_request_error"
    return caught.value.body["error"]["message"]


def test_a_reply_starts_with_a_signed_thinking_block(client):
    reply = client.messages.create(model=MODEL, max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
                                   messages=[{"role": "user", "content": "What is the capital of Japan?"}])
    first, answer = reply.content
    assert first.type == "thinking"
    assert first.thinking == ('The user asks: "What is the capital of Japan?". I can answer this directly, briefly '
                              'and plainly.')
    assert read_signature(first.signature) is not None
    assert answer.text == "The capital of Japan is Tokyo."
    details = reply.usage.output_tokens_details
    assert details.thinking_tokens > 0
    plain = client.messages.create(model=MODEL, max_tokens=2000,
                                   messages=[{"role": "user", "content": "What is the capital of Japan?"}])
    assert reply.usage.output_tokens == plain.usage.output_tokens + details.thinking_tokens
    again = client.messages.create(model=MODEL, max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
                                   messages=[{"role": "user", "content": "What is the capital of Japan?"}])
    assert again.content[0].signature == first.signature  # deterministic


def test_display_omitted_gives_empty_thinking_and_a_real_signature(client):
    reply = client.messages.create(model=MODEL, max_tokens=500, thinking={"type": "adaptive", "display": "omitted"},
                                   messages=ASK[:1])
    assert reply.content[0].thinking == "" and read_signature(reply.content[0].signature) is not None
    assert reply.usage.output_tokens_details.thinking_tokens > 0  # the reasoning is billed though not shown


def raw_events(server, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
    with httpx2.Client(base_url=server.url, headers=headers) as http:
        text = http.post("/v1/messages", json={**body, "stream": True}).text
    frames = [f for f in text.split("\n\n") if f.strip()]
    return [(f.split("\n")[0].removeprefix("event: "), json.loads(f.split("\n")[1].removeprefix("data: ")))
            for f in frames]


def test_the_stream_sends_thinking_deltas_then_one_signature_delta(server, client):
    body = {"model": MODEL, "max_tokens": 500, "thinking": ADAPTIVE, "messages": ASK}
    events = raw_events(server, body)
    block0 = [(name, data) for name, data in events if data.get("index") == 0]
    assert block0[0][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    kinds = [data["delta"]["type"] for name, data in block0 if name == "content_block_delta"]
    assert kinds[-1] == "signature_delta" and set(kinds[:-1]) == {"thinking_delta"} and len(kinds) > 2
    assert block0[-1][0] == "content_block_stop"
    with client.messages.stream(**body) as stream:
        final = stream.get_final_message()
    created = client.messages.create(**body)
    assert final.content[0].to_dict() == created.content[0].to_dict()
    omitted = raw_events(server, {**body, "thinking": {"type": "adaptive", "display": "omitted"}})
    assert not [d for n, d in omitted if n == "content_block_delta" and d["delta"]["type"] == "thinking_delta"]


def tool_loop(client, model: str = MODEL) -> list[dict[str, Any]]:
    """The history of a tool loop whose assistant turn is sent back with to_param(), thinking block included."""
    reply = client.messages.create(model=model, max_tokens=1000, thinking=ADAPTIVE, tools=[WEATHER], messages=ASK)
    assert [b.type for b in reply.content] == ["thinking", "text", "tool_use"]
    call = reply.content[-1]
    return [*ASK, {"role": "assistant", "content": reply.to_param()["content"]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18°C"}]}]


def test_a_tool_loop_that_sends_the_thinking_block_back_unchanged_passes(client):
    history = tool_loop(client)
    done = client.messages.create(model=MODEL, max_tokens=1000, thinking=ADAPTIVE, tools=[WEATHER], messages=history)
    assert done.stop_reason == "end_turn"
    assert done.content[-1].text == 'get_weather(city="Paris") returned: 18°C.'


def test_a_tool_loop_that_drops_the_thinking_block_gets_the_apis_400(client):
    history = tool_loop(client)
    history[1]["content"] = history[1]["content"][1:]
    message = error_of(lambda: client.messages.create(model=MODEL, max_tokens=1000, thinking=ADAPTIVE,
                                                      tools=[WEATHER], messages=history))
    assert message == EXPECTED_TOOL_USE.format(found="text")
    history[1]["content"] = history[1]["content"][1:]  # the text too: the call comes first
    message = error_of(lambda: client.messages.create(model=MODEL, max_tokens=1000, thinking=ADAPTIVE,
                                                      tools=[WEATHER], messages=history))
    assert message == EXPECTED_TOOL_USE.format(found="tool_use")


def test_a_tool_loop_that_edits_the_thinking_block_gets_the_apis_400(client):
    history = tool_loop(client)
    signed = history[1]["content"][0].to_dict()
    history[1]["content"][0] = {**signed, "thinking": "I should not check the weather."}
    message = error_of(lambda: client.messages.create(model=MODEL, max_tokens=1000, thinking=ADAPTIVE,
                                                      tools=[WEATHER], messages=history))
    assert message == ("messages.1.content.0: `thinking` or `redacted_thinking` blocks in the latest assistant "
                       "message cannot be modified. These blocks must remain as they were in the original response.")
    for signature in ("", "EqQBCgIYAhIM", signed["signature"][:-4] + "AAAA"):
        history[1]["content"][0] = {**signed, "signature": signature}
        message = error_of(lambda: client.messages.create(model=MODEL, max_tokens=1000, thinking=ADAPTIVE,
                                                          tools=[WEATHER], messages=history))
        assert message == "messages.1.content.0: Invalid `signature` in `thinking` block"


def test_a_block_moved_to_another_conversation_breaks_the_prefix_binding(client, monkeypatch):
    history = tool_loop(client, BOUND_MODEL)
    history[0] = {"role": "user", "content": "What's the weather in Paris, please?"}
    moved = lambda: client.messages.create(model=BOUND_MODEL, max_tokens=1000, thinking=ADAPTIVE,  # noqa: E731
                                           tools=[WEATHER], messages=history)
    assert error_of(moved) == (
        "messages.1.content.0: Invalid `signature` in `thinking` block. The block is bound to a different "
        "conversation. Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to "
        '"drop_block". That setting requires the `thinking-binding-controls-2026-08-01` value in the '
        "`anthropic-beta` header.")
    same_on_an_older_model = tool_loop(client, MODEL)
    same_on_an_older_model[0] = history[0]
    assert client.messages.create(model=MODEL, max_tokens=1000, thinking=ADAPTIVE, tools=[WEATHER],
                                  messages=same_on_an_older_model).stop_reason == "end_turn"
    monkeypatch.setattr(thinking, "PREFIX_BINDING_MODELS", set())
    assert moved().stop_reason == "end_turn"


def test_cache_control_and_dropped_old_blocks_keep_the_binding(client):
    history = tool_loop(client, BOUND_MODEL)
    history[0] = {"role": "user", "content": [{"type": "text", "text": ASK[0]["content"],
                                               "cache_control": {"type": "ephemeral"}}]}
    done = client.messages.create(model=BOUND_MODEL, max_tokens=1000, thinking=ADAPTIVE, tools=[WEATHER],
                                  messages=history)
    assert done.content[0].type == "thinking"
    later = [*history, {"role": "assistant", "content": done.to_param()["content"]},
             {"role": "user", "content": "Thanks!"}]
    later[1] = {**later[1], "content": later[1]["content"][1:]}  # the oldest block dropped, the newer one kept
    assert client.messages.create(model=BOUND_MODEL, max_tokens=1000, thinking=ADAPTIVE,
                                  messages=later).stop_reason == "end_turn"


@pytest.mark.parametrize(("content", "thinking_on", "message"), [
    ([{"type": "text", "text": "Hm."}, "THINKING", {"type": "text", "text": "Done."}], True,
     "messages.1.content.0: If an assistant message contains any thinking blocks, the first block must be thinking "
     "or redacted_thinking. Found text."),
    (["THINKING"], True, "messages.1: The final block in an assistant message cannot be `thinking`."),
    (["THINKING", {"type": "text", "text": "Done."}], False,
     "messages.1.content.0: When thinking is disabled, an `assistant` message in the final position cannot contain "
     "`thinking`. To use thinking blocks, enable `thinking` in your request."),
])
def test_misplaced_thinking_blocks_are_refused(client, content, thinking_on, message):
    reply = client.messages.create(model=MODEL, max_tokens=500, thinking=ADAPTIVE, messages=ASK)
    block = reply.to_param()["content"][0]
    history = [*ASK, {"role": "assistant", "content": [block if b == "THINKING" else b for b in content]},
               {"role": "user", "content": "And tomorrow?"}]
    extra = {"thinking": ADAPTIVE} if thinking_on else {}
    assert error_of(lambda: client.messages.create(model=MODEL, max_tokens=500, messages=history, **extra)) == message


def test_older_turns_without_thinking_blocks_are_accepted(client):
    history = [*ASK, {"role": "assistant", "content": "It is sunny."}, {"role": "user", "content": "And Tokyo?"}]
    assert client.messages.create(model=MODEL, max_tokens=500, thinking=ADAPTIVE,
                                  messages=history).content[0].type == "thinking"


def test_max_tokens_cuts_the_thinking_and_signs_what_is_left(client):
    reply = client.messages.create(model=MODEL, max_tokens=4, thinking=ADAPTIVE, messages=ASK)
    assert reply.stop_reason == "max_tokens" and [b.type for b in reply.content] == ["thinking"]
    assert reply.content[0].thinking == "The user asks:"
    assert reply.usage.output_tokens == 4 == reply.usage.output_tokens_details.thinking_tokens
    assert read_signature(reply.content[0].signature)[0] == thinking._digest(reply.content[0].thinking)


def test_with_thinking_off_older_blocks_are_not_read(client):
    old = {"type": "thinking", "thinking": "Edited long ago.", "signature": "not-a-signature"}
    history = [*ASK, {"role": "assistant", "content": [old, {"type": "text", "text": "Sunny."}]},
               {"role": "user", "content": "And Tokyo?"}, {"role": "assistant", "content": "Rainy."},
               {"role": "user", "content": "Thanks"}]
    assert client.messages.create(model=MODEL, max_tokens=200, messages=history).stop_reason == "end_turn"
    message = error_of(lambda: client.messages.create(model=MODEL, max_tokens=200, thinking=ADAPTIVE,
                                                      messages=history))
    assert message == "messages.1.content.0: Invalid `signature` in `thinking` block"
