"""The history rule and the stop reasons of helpers.replies, and Conversation meeting every reply the API can send.

The replies are the API's exact shapes (tests/api_replies.py), served to the real SDK through httpx2.MockTransport;
the fake API answers a broken history with the API's own 400, so a bricked conversation shows as it would live.
"""

import anthropic
import api_replies as api
import pytest
from anthropic._models import construct_type
from api_replies import MODEL, Cut, ScriptedAPI, sync_client
from hypothesis import given
from hypothesis import strategies as st

from helpers.conversation import Conversation
from helpers.replies import (
    MAX_PAUSE_CONTINUATIONS,
    STOP_REASONS,
    IncompleteReplyError,
    MaxTokensError,
    RefusalError,
    ReplyError,
    UnansweredToolUseError,
    assistant_turn,
    check_stop_reason,
)


def parsed(reply: dict) -> anthropic.types.Message:
    """The reply as the SDK parses a response body: leniently, so an unknown stop reason is kept."""
    return construct_type(type_=anthropic.types.Message, value=reply)


def dumped(turn) -> dict:
    return {"role": turn["role"], "content": [block.model_dump(mode="json", exclude_none=True)
                                              for block in turn["content"]]}


def test_an_empty_reply_is_no_turn_at_all():
    assert assistant_turn(parsed(api.EMPTY_END_TURN)) is None
    assert assistant_turn(parsed(api.EMPTY_STOP_SEQUENCE)) is None
    assert assistant_turn(parsed(api.REFUSAL)) is None


def test_an_empty_text_block_beside_a_tool_use_is_dropped():
    turn = assistant_turn(parsed(api.EMPTY_TEXT_AND_TOOL_USE))
    assert [block.type for block in turn["content"]] == ["tool_use"]


def test_thinking_is_kept_unchanged_and_first():
    reply = parsed(api.THINKING_AND_TOOL_USE)
    turn = assistant_turn(reply)
    assert turn["content"][0] is reply.content[0]  # the very block, not a copy
    assert dumped(turn)["content"] == [api.THINKING, api.WEATHER_CALL]


def test_a_cut_tool_call_is_not_kept_but_the_text_before_it_is():
    turn = assistant_turn(parsed(api.CUT_TOOL_USE))
    assert dumped(turn) == {"role": "assistant", "content": [{"type": "text", "text": "Let me check the weather."}]}


def test_a_turn_that_would_end_in_thinking_is_no_turn():
    reply = api.message([api.THINKING, {"type": "text", "text": "  "}], "end_turn")
    assert assistant_turn(parsed(reply)) is None


@pytest.mark.parametrize(("reply", "error", "words"), [
    (api.REFUSAL, RefusalError, "declined to answer (category: cyber)"),
    (api.CUT_TOOL_USE, MaxTokensError, "reached max_tokens=64 (stop_reason max_tokens)"),
    (api.CUT_TOOL_USE_CONTEXT, MaxTokensError, "context window (model_context_window_exceeded)"),
    (api.STOP_REASON_NONE, IncompleteReplyError, "ended without a stop_reason"),
    ({**api.text("x"), "stop_reason": "some_future_reason"}, IncompleteReplyError, "'some_future_reason' is not"),
])
def test_stop_reasons_that_are_no_answer_raise(reply, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")) as caught:
        check_stop_reason(parsed(reply), max_tokens=64)
    assert isinstance(caught.value, ReplyError) and caught.value.message.id == reply["id"]


def test_a_refusal_carries_its_stop_details():
    with pytest.raises(RefusalError) as caught:
        check_stop_reason(parsed(api.REFUSAL))
    assert (caught.value.category, caught.value.explanation) == ("cyber", api.REFUSAL_DETAILS["explanation"])
    assert caught.value.stop_reason == "refusal"


@pytest.mark.parametrize("reply", [api.text("Hi."), api.EMPTY_STOP_SEQUENCE, api.CUT_TEXT,
                                   api.CONTEXT_WINDOW_EXCEEDED, api.PAUSE_TURN, api.EMPTY_TEXT_AND_TOOL_USE])
def test_stop_reasons_that_are_answers_are_returned(reply):
    assert check_stop_reason(parsed(reply)) == reply["stop_reason"]


# ---- Conversation against each reply ----

@pytest.fixture
def scripted():
    return ScriptedAPI()


@pytest.fixture
def chat(scripted):
    with sync_client(scripted) as client:
        yield Conversation(client, model=MODEL)


@pytest.mark.parametrize("empty", [api.EMPTY_END_TURN, api.EMPTY_STOP_SEQUENCE])
@pytest.mark.parametrize("streamed", [False, True])
def test_after_an_empty_reply_the_next_ask_gets_its_answer(chat, scripted, empty, streamed):
    scripted.add(empty, api.text("Hello again!"))
    first = "".join(chat.stream("Hello")) if streamed else chat.ask("Hello", stop_sequences=["Hello"])
    assert first == ""
    assert chat.ask("Are you there?") == "Hello again!"
    assert scripted.bodies[1]["messages"] == [{"role": "user", "content": "Hello"},
                                              {"role": "user", "content": "Are you there?"}]
    assert chat.messages[-1]["role"] == "assistant" and len(chat) == 3


@pytest.mark.parametrize("streamed", [False, True])
def test_a_refusal_raises_and_leaves_the_history_usable(chat, scripted, streamed):
    scripted.add(api.text("Hi!"), api.REFUSAL, api.text("Sure."))
    chat.ask("Hi")
    with pytest.raises(RefusalError) as caught:
        chat.ask("Something refused") if not streamed else list(chat.stream("Something refused"))
    assert caught.value.category == "cyber"
    assert len(chat) == 2 and chat.usage.requests == 2  # not recorded, but its tokens counted
    assert chat.ask("Something else") == "Sure."
    assert [m["content"] for m in scripted.bodies[2]["messages"] if m["role"] == "user"] == ["Hi", "Something else"]


def test_a_text_cut_by_max_tokens_is_returned_and_recorded(chat, scripted):
    scripted.add(api.CUT_TEXT, api.CONTEXT_WINDOW_EXCEEDED)
    assert chat.ask("Tell me a story", max_tokens=8) == "Once upon a time, there was a"
    assert chat.last_stop_reason == "max_tokens"
    assert chat.ask("Go on") == "The first chapter begins"
    assert chat.last_stop_reason == "model_context_window_exceeded" and len(chat) == 4


def test_a_tool_call_in_a_conversation_raises_and_records_nothing(chat, scripted):
    scripted.add(api.EMPTY_TEXT_AND_TOOL_USE, api.CUT_TOOL_USE)
    with pytest.raises(UnansweredToolUseError, match=r"asked for tools \(get_weather\)"):
        chat.ask("Weather in Lyon?", tools=[{"name": "get_weather", "input_schema": {"type": "object"}}])
    with pytest.raises(MaxTokensError, match="max_tokens=64"):
        chat.ask("Weather in Lyon?", max_tokens=64)
    assert chat.messages == [] and chat.ask("Hello") == "Fine."


@pytest.mark.parametrize("streamed", [False, True])
def test_pause_turn_is_continued_by_sending_the_turn_back(chat, scripted, streamed):
    scripted.add(api.PAUSE_TURN, api.AFTER_PAUSE)
    answer = "".join(chat.stream("Weather in Lyon?")) if streamed else chat.ask("Weather in Lyon?")
    assert answer == "Searching. It is 14 degrees in Lyon."
    continued = scripted.bodies[1]["messages"]
    assert continued[0] == {"role": "user", "content": "Weather in Lyon?"}
    assert continued[1]["role"] == "assistant" and continued[1]["content"] == api.PAUSE_TURN["content"]
    kinds = [block.type for block in chat.messages[1]["content"]]
    assert kinds == ["text", "server_tool_use", "web_search_tool_result", "text"]  # one turn, in order
    assert chat.usage.requests == 2 and len(chat) == 2


def test_pause_turn_for_ever_gives_up(chat, scripted):
    scripted.add(*[api.PAUSE_TURN] * (MAX_PAUSE_CONTINUATIONS + 1))
    with pytest.raises(ReplyError, match="pause_turn"):
        chat.ask("Weather in Lyon?")
    assert len(scripted.bodies) == MAX_PAUSE_CONTINUATIONS + 1 and chat.messages == []


def test_a_stream_cut_mid_body_raises_the_transport_error_and_records_nothing(chat, scripted):
    scripted.add(Cut(api.text("A long answer that never ends"), after_events=4))
    received = []
    with pytest.raises(anthropic._exceptions.httpx2.TransportError):
        for chunk in chat.stream("Hello"):
            received.append(chunk)
    assert received == ["A long"] and chat.messages == []


def test_the_offline_claude_empty_reply_no_longer_bricks_the_conversation(server):
    with anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as client:
        chat = Conversation(client, model=MODEL)
        assert chat.ask("Hello", stop_sequences=["Hello"]) == ""
        assert chat.ask("What is 12 * 7?") != ""
    assert server.requests[-1].status == 200  # before: 400 "messages.1: all messages must have non-empty content"
    assert server.requests[-1].body["messages"] == [{"role": "user", "content": "Hello"},
                                                    {"role": "user", "content": "What is 12 * 7?"}]


# ---- the history rule holds for every reply content (hypothesis) ----

blocks = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, st.sampled_from(["", " ", "\n", "Hi", " there "])),
    st.just(api.THINKING),
    st.just({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
    st.builds(lambda n: {**api.WEATHER_CALL, "id": f"toolu_{n:02d}"}, st.integers(0, 99)),
    st.just(api.SERVER_TOOL_USE),
)


@given(content=st.lists(blocks, max_size=6), stop_reason=st.sampled_from(sorted(STOP_REASONS)))
def test_an_assistant_turn_is_always_one_the_api_accepts_back(content, stop_reason):
    turn = assistant_turn(parsed(api.message(content, stop_reason)))
    if turn is None:
        return
    kinds = [block.type for block in turn["content"]]
    assert kinds, "never empty content"
    assert all(block.text.strip() for block in turn["content"] if block.type == "text"), "never blank text"
    assert kinds[-1] not in ("thinking", "redacted_thinking"), "never ends in thinking"
    assert "tool_use" not in kinds or stop_reason == "tool_use", "no tool_use that no tool_result can follow"
    kept = [block.model_dump(mode="json", exclude_none=True) for block in turn["content"]]
    remaining = iter(content)
    assert all(block in remaining for block in kept), "blocks kept unchanged and in their order, never edited"
    thinking = [block for block in content if block["type"] in ("thinking", "redacted_thinking")]
    assert all(block in kept for block in thinking), "thinking blocks are never dropped from a kept turn"
