"""ChatApp driven headless (no browser, no kernel) through the real SDK against the offline Claude.

The widgets work without a front-end: setting ``message_box.value`` is what pressing Enter does, and
``Button.click()`` runs the click handlers, so these tests press the same buttons a person would.
"""

import anthropic
import api_replies as api
import httpx2
import pytest
from anthropic import Anthropic
from api_replies import Cut, ScriptedAPI, sync_client

from helpers.chat_widget import PRICES_PER_MILLION, ChatApp, cost_usd, newest_models, readable_error
from helpers.offline import start_server


@pytest.fixture(scope="module")
def server():
    with start_server(first_token_ms=0, per_token_ms=0) as running:
        yield running


@pytest.fixture
def client(server):
    server.reset_faults()
    server.clear_requests()
    return Anthropic(api_key="sk-ant-test", base_url=server.url)


def message_requests(server):
    return [r for r in server.requests if r.path == "/v1/messages"]


def test_the_model_picker_offers_the_newest_haiku_sonnet_and_opus(client):
    app = ChatApp(client)
    assert list(newest_models()) == ["Haiku", "Sonnet", "Opus"]
    assert [value for _, value in app.model_picker.options] == list(newest_models().values())
    assert all(f"-{family.lower()}-" in model for family, model in newest_models().items())
    assert app.model_picker.value == newest_models()["Haiku"]


def test_a_model_outside_the_list_is_added_and_chosen(client):
    app = ChatApp(client, models=["claude-sonnet-5-5"], model="claude-haiku-4-5")
    assert [value for _, value in app.model_picker.options] == ["claude-haiku-4-5", "claude-sonnet-5-5"]
    assert app.model_picker.value == "claude-haiku-4-5"


def test_a_message_streams_into_the_transcript_and_the_counter_updates(client, server):
    app = ChatApp(client)
    seen = []
    app.turns.observe(lambda change: seen.append(len(change["new"])), "children")
    reply = app.send("Write a short story about a lighthouse.")
    reply_widget = app.turns.children[-1]
    assert reply and reply.startswith("Once upon a time, there was a lighthouse.")
    assert app.transcript == [("You", "Write a short story about a lighthouse."), ("Claude", reply)]
    assert "lighthouse" in reply_widget.value and reply_widget.value.count("Claude:") == 1
    assert seen == [1, 2]
    usage = app.conversation.usage
    assert usage.requests == 1 and usage.output_tokens > 0
    assert f"Requests: 1 · tokens in: {usage.input_tokens:,}, out: {usage.output_tokens:,}" in app.usage_label.value
    expected = cost_usd(app.model_picker.value, usage.input_tokens, usage.output_tokens)
    assert f"${expected:.6f}" in app.usage_label.value
    assert [r.stream for r in message_requests(server)] == [True]


def test_the_reply_widget_is_updated_chunk_by_chunk(client):
    app = ChatApp(client)
    values = []
    original = app.add_turn

    def add_turn(who, text):
        turn = original(who, text)
        if who == "Claude":
            turn.observe(lambda change: values.append(change["new"]), "value")
        return turn

    app.add_turn = add_turn
    reply = app.send("Write a long story about a fox.")
    assert len(values) > 10, "a long reply arrives in many chunks, each shown as it comes"
    assert all(len(a) < len(b) for a, b in zip(values, values[1:], strict=False))
    assert "fox" in values[-1] and reply.split()[-1] in values[-1]


def test_enter_in_the_message_box_sends_and_empties_it(client):
    app = ChatApp(client)
    app.message_box.value = "What is the capital of France?"  # what the front-end does on Enter
    assert app.transcript[-1] == ("Claude", "The capital of France is Paris.")
    assert app.message_box.value == ""


def test_empty_input_is_refused_without_a_request(client, server):
    app = ChatApp(client)
    assert app.send("   \n ") is None
    app.send_button.click()
    assert message_requests(server) == []
    assert app.transcript == [] and app.turns.children == ()
    assert app.conversation.usage.requests == 0


def test_send_button_is_disabled_during_the_reply_and_enabled_after(client):
    app = ChatApp(client)
    states, during = [], []
    app.send_button.observe(lambda change: states.append(change["new"]), "disabled")
    stream = app.conversation.stream

    def watched(text, **options):
        for chunk in stream(text, **options):
            during.append((app.send_button.disabled, app.clear_button.disabled, app.busy))
            yield chunk

    app.conversation.stream = watched
    assert app.send("Hello") == "Hello! How can I help you today?"
    assert during and set(during) == {(True, True, True)}
    assert states == [True, False]
    assert not app.send_button.disabled and not app.busy


def test_a_message_sent_while_busy_stays_in_the_box_and_send_sends_it(client, server):
    app = ChatApp(client)
    app.busy = True  # as if a reply were still streaming
    app.message_box.value = "Hello"
    assert app.message_box.value == "Hello" and message_requests(server) == []
    app.busy = False
    app.send_button.click()
    assert app.transcript[-1] == ("Claude", "Hello! How can I help you today?")
    assert app.message_box.value == ""


def test_a_429_after_retries_is_shown_readably_and_the_next_send_works(client, server):
    app = ChatApp(client)
    server.fail_next(429, times=3)  # the SDK tries 3 times by default (max_retries=2)
    assert app.send("Hello") is None
    who, text = app.transcript[-1]
    failed = [r for r in message_requests(server) if r.status == 429]
    assert who == "Error"
    assert text == f"Rate limited by the API (429), try again in a moment. Request id {failed[-1].request_id}"
    assert [r.retry_count for r in failed] == [0, 1, 2]
    assert [w for w, _ in app.transcript] == ["You", "Error"], "no empty Claude turn is left behind"
    assert not app.send_button.disabled
    assert len(app.conversation) == 0 and app.conversation.usage.requests == 0
    assert app.send("Hello") == "Hello! How can I help you today?"
    assert len(app.conversation) == 2


def test_a_bad_request_is_shown_with_the_apis_message(client, server):
    app = ChatApp(client, models=["claude-not-a-model"])
    assert app.send("Hello") is None
    who, text = app.transcript[-1]
    assert who == "Error" and text.startswith("The API refused the request (404): ")
    assert "claude-not-a-model" in text and "Request id req_" in text
    server.fail_next(400, message="messages: text content blocks must be non-empty")
    app.model_picker.options = [("Haiku", newest_models()["Haiku"])]
    assert app.send("Hello") is None
    assert app.transcript[-1][1].startswith(
        "The API refused the request (400): messages: text content blocks must be non-empty Request id req_")
    assert app.send("Hello") == "Hello! How can I help you today?"


def test_a_stream_broken_midway_keeps_the_partial_text_and_the_history(client, server):
    app = ChatApp(client)
    app.send("Hello")
    server.fail_stream_next(after_events=5)
    assert app.send("Write a long story about a fox.") is None
    partial, error = app.transcript[-2], app.transcript[-1]
    assert partial[0] == "Claude" and partial[1].startswith("Once")
    assert error[0] == "Error" and "interrupted by an API error (overloaded_error)" in error[1]
    assert len(app.conversation) == 2, "the broken exchange is not recorded"


def test_model_system_prompt_and_max_tokens_come_from_the_controls(client, server):
    app = ChatApp(client)
    app.model_picker.value = newest_models()["Sonnet"]
    app.system_box.value = "You are a pirate. Answer in one sentence."
    app.max_tokens_slider.value = 64
    reply = app.send("Hello")
    body = message_requests(server)[-1].body
    assert (body["model"], body["max_tokens"], body["system"]) == (
        newest_models()["Sonnet"], 64, "You are a pirate. Answer in one sentence.")
    assert reply.startswith("Arr! ")
    usage = app.conversation.usage
    input_price, output_price = PRICES_PER_MILLION["sonnet"]
    assert app.cost == pytest.approx((usage.input_tokens * input_price + usage.output_tokens * output_price) / 1e6)
    app.system_box.value = "  "
    app.send("Hello")
    assert "system" not in message_requests(server)[-1].body, "a blank system prompt is not sent"


def test_an_unpriced_model_makes_the_cost_unknown_not_wrong(client):
    app = ChatApp(client, models=[newest_models(["fable"])["Fable"]])
    app.send("Hello")
    assert app.cost is None and "cost: unknown (a model is not in the price table)" in app.usage_label.value
    assert cost_usd("claude-sonnet-5", 1_000_000, 1_000_000) == 18.0


def test_clear_empties_history_and_transcript_but_keeps_the_counter(client):
    app = ChatApp(client)
    app.send("My name is Ada")
    spent = app.conversation.usage.requests
    app.clear_button.click()
    assert app.transcript == [] and app.turns.children == () and len(app.conversation) == 0
    assert app.conversation.usage.requests == spent
    assert app.send("What is my name?").startswith("I don't know your name")


def test_truncation_keeps_what_is_sent_under_the_window(client, server):
    app = ChatApp(client, max_turns=2)
    for text in ["My name is Ada", "What is 2 + 2?", "What is 3 + 3?", "What is my name?"]:
        app.send(text)
    sent = [len(r.body["messages"]) for r in message_requests(server)]
    assert sent == [1, 3, 3, 3], "never more than the last 2 turns (user, Claude, user)"
    assert app.transcript[-1][1].startswith("I don't know your name"), "the oldest turn was dropped"
    assert len(app.conversation) == 8, "the full history is kept for the transcript"


def test_readable_error_for_connection_failures():
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/messages")
    assert readable_error(anthropic.APIConnectionError(request=request)).startswith("Could not reach the API")
    assert readable_error(anthropic.APITimeoutError(request=request)).startswith("The API did not answer in time")


def test_the_app_displays_as_one_widget_with_a_plain_text_fallback(client):
    app = ChatApp(client)
    bundle = app._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == app.widget.model_id
    assert bundle["text/plain"] == "ChatApp with 0 turns (run the notebook to see the widget)"
    classes = {c for w in (app.turns, app.message_box, app.send_button, app.usage_label) for c in w._dom_classes}
    assert {"chat-transcript", "chat-input", "chat-send", "chat-usage"} <= classes


# ---- every reply the API can send, in its exact shape, through httpx2.MockTransport ----

def scripted_app(*replies) -> tuple[ChatApp, ScriptedAPI]:
    scripted = ScriptedAPI(*replies)
    app = ChatApp(sync_client(scripted), models=[api.MODEL])
    app.max_tokens_slider.value = 64
    return app, scripted


def test_a_refusal_is_a_notice_not_an_empty_claude_turn():
    app, scripted = scripted_app(api.REFUSAL, api.text("Sure."))
    assert app.send("Something refused") is None
    assert app.transcript == [("You", "Something refused"), ("Notice", "Claude declined to answer (category: cyber); "
                              "the exchange was not recorded. Rephrase the request or start a new conversation.")]
    assert "Claude:" not in "".join(turn.value for turn in app.turns.children)
    assert app.send("Something else") == "Sure." and len(app.conversation) == 2
    assert app.conversation.usage.requests == 2 and app.cost > 0  # the refusal's tokens were billed too


def test_an_empty_reply_is_a_notice_and_the_next_message_works():
    app, scripted = scripted_app(api.EMPTY_END_TURN, api.text("Here."))
    assert app.send("Hello") == ""
    assert app.transcript == [("You", "Hello"),
                              ("Notice", "Claude's reply was empty (stop_reason end_turn). Send another message.")]
    assert app.send("Hello?") == "Here."
    assert scripted.bodies[1]["messages"] == [{"role": "user", "content": "Hello"},
                                              {"role": "user", "content": "Hello?"}]


def test_a_cut_reply_keeps_its_text_and_names_the_limit():
    app, _ = scripted_app(api.CUT_TEXT, api.CONTEXT_WINDOW_EXCEEDED)
    assert app.send("A story, please") == "Once upon a time, there was a"
    assert app.transcript[-1] == ("Notice", "The reply was cut off at max_tokens (64): raise max_tokens to get "
                                            "longer replies.")
    app.send("Go on")
    assert app.transcript[-2] == ("Claude", "The first chapter begins")
    assert app.transcript[-1][1].startswith("The reply was cut off: it filled the model's context window "
                                            "(model_context_window_exceeded).")


def test_a_connection_broken_mid_reply_is_an_error_line_and_the_app_keeps_working():
    app, _ = scripted_app(Cut(api.text("A long answer that never ends"), after_events=4), api.text("Back."))
    assert app.send("Hello") is None  # before: the httpx2 error escaped from send()
    assert app.transcript[-2:] == [("Claude", "A long"),
                                   ("Error", "The connection broke while the reply was arriving: try again.")]
    assert not app.busy and not app.send_button.disabled
    assert app.send("Hello") == "Back." and len(app.conversation) == 2
