"""Conversation against the offline Claude: what lesson 02 shows, through the real SDK and a real HTTP server."""

import json
from collections.abc import Iterator

import anthropic
import pytest

from helpers.conversation import Conversation
from helpers.offline import OfflineClaude
from helpers.settings import default_model

MODEL = default_model()


@pytest.fixture
def client(server: OfflineClaude) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as client:
        yield client


def test_a_fact_is_recalled_only_while_the_history_carries_it(client):
    chat = Conversation(client, model=MODEL)
    chat.ask("Hi! My name is Ada.")
    assert chat.ask("What is my name?") == "Your name is Ada."
    fresh = Conversation(client, model=MODEL)
    assert "don't know your name" in fresh.ask("What is my name?")


def test_input_tokens_grow_every_turn(client, server):
    chat = Conversation(client, model=MODEL)
    inputs = []
    for question in ["Hi! My name is Ada.", "What is 12 * 7?", "Count to 20", "What is my name?"]:
        chat.ask(question)
        inputs.append(chat.last_message.usage.input_tokens)
    assert [len(record.body["messages"]) for record in server.requests] == [1, 3, 5, 7]
    assert inputs == sorted(set(inputs))  # strictly increasing
    assert chat.usage.input_tokens == sum(inputs) and chat.usage.requests == 4


def test_blank_text_never_reaches_the_server(client, server):
    chat = Conversation(client, model=MODEL)
    with pytest.raises(ValueError, match="empty"):
        chat.ask("  \n ")
    assert server.requests == [] and chat.messages == []


def test_a_server_error_leaves_the_history_as_it_was_and_the_retry_succeeds(client, server):
    chat = Conversation(client, model=MODEL)
    chat.ask("Hi! My name is Ada.")
    server.fail_next(500)
    with pytest.raises(anthropic.InternalServerError):
        chat.ask("What is my name?")
    assert [m["role"] for m in chat.messages] == ["user", "assistant"]
    assert chat.ask("What is my name?") == "Your name is Ada."
    assert [r.status for r in server.requests] == [200, 500, 200]
    assert [m["role"] for m in server.requests[2].body["messages"]] == ["user", "assistant", "user"]


def test_stream_records_the_exchange_the_server_accepts_next_turn(client, server):
    chat = Conversation(client, model=MODEL)
    chat.ask("Hi! My name is Ada.")
    streamed = "".join(chat.stream("Write a short story about a lighthouse."))
    assert streamed.startswith("Once upon a time") and len(chat) == 4
    assert chat.ask("What is my name?") == "Your name is Ada."
    assert server.requests[-1].body["messages"][3] == {"role": "assistant",
                                                       "content": [{"type": "text", "text": streamed}]}


def test_history_saved_as_json_resumes_in_a_new_conversation(client):
    chat = Conversation(client, model=MODEL)
    chat.ask("My favourite colour is teal.")
    saved = json.dumps(chat.messages, default=lambda block: block.to_dict())
    resumed = Conversation(client, model=MODEL)
    resumed.messages = json.loads(saved)
    assert resumed.ask("What is my favourite colour?") == "Your favourite colour is teal."
