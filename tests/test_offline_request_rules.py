"""Today's API rules on top of the wire reference (addendum §2-§5, §10): beta names, `{"role": "system"}` messages,
forced `tool_choice`, thinking configuration per model, prefill, and the context window.

Raw HTTP (`httpx2`) against a fresh offline Claude, or the real SDK where it sends the request unchanged. Every
refusal is checked for its status, `error.type` and exact message.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from anthropic import Anthropic, StaticToken

from helpers.offline.validation import KNOWN_BETAS, check_headers

HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def http(server) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.url, headers=HEADERS, timeout=30) as client:
        yield client


def post(http: httpx2.Client, body: dict[str, Any], *, path: str = "/v1/messages",
         headers: list[tuple[str, str]] | None = None) -> httpx2.Response:
    return http.post(path, json=body, headers=headers or [])


def create(http: httpx2.Client, model: str = "claude-haiku-4-5", messages: list[dict[str, Any]] | None = None,
           headers: list[tuple[str, str]] | None = None, **fields: Any) -> httpx2.Response:
    return post(http, {"model": model, "max_tokens": 2048, "messages": HI if messages is None else messages,
                       **fields}, headers=headers)


def refused(resp: httpx2.Response, message: str) -> None:
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert resp.json()["error"]["message"] == message


def ok(resp: httpx2.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    return resp.json()


# -- betas (addendum §2) -------------------------------------------------------------------------------------

def unexpected(*names: str) -> str:
    return (f"Unexpected value(s) {', '.join(f'`{n}`' for n in names)} for the `anthropic-beta` header. Please "
            "consult our documentation at platform.claude.com/docs or try again without the header.")


@pytest.mark.parametrize("name", [
    "oauth-2025-04-20", "web-fetch-2025-09-10", "fine-grained-tool-streaming-2025-05-14",
    "advanced-tool-use-2025-11-20", "code-execution-2025-08-25", "tool-search-tool-2025-10-19",
    "tool-examples-2025-10-29", "structured-outputs-2025-11-13", "output-300k-2026-03-24",
    "thinking-binding-controls-2026-08-01", "token-counting-2024-11-01", "fallback-credit-2026-07-01",
])
def test_documented_and_client_sent_betas_are_accepted(http, name):
    ok(create(http, headers=[("anthropic-beta", name)]))


def test_every_unknown_beta_is_named_in_one_message(http):
    header = "totally-made-up-2099-01-01, token-counting-2024-11-01,prompt-caching-scope-2026-01-05"
    refused(create(http, headers=[("anthropic-beta", header)]),
            unexpected("totally-made-up-2099-01-01", "prompt-caching-scope-2026-01-05"))


def test_names_are_trimmed_and_empty_items_skipped(http):
    ok(create(http, headers=[("anthropic-beta", "token-counting-2024-11-01 ,, oauth-2025-04-20 ,")]))


def test_a_repeated_header_is_one_comma_list(http):
    ok(create(http, headers=[("anthropic-beta", "token-counting-2024-11-01"), ("anthropic-beta", "oauth-2025-04-20")]))
    refused(create(http, headers=[("anthropic-beta", "oauth-2025-04-20"), ("anthropic-beta", "nope-1, nope-2"),
                                  ("anthropic-beta", "nope-1")]), unexpected("nope-1", "nope-2"))


def test_sdk_credentials_send_the_oauth_beta_and_are_accepted(server):
    with Anthropic(credentials=StaticToken("sk-ant-oauth"), base_url=server.url, max_retries=0) as sdk:
        reply = sdk.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=HI)
    assert reply.content[0].text
    assert server.requests[-1].headers["anthropic-beta"] == "oauth-2025-04-20"


def test_extra_betas_are_accepted_and_every_name_is_returned():
    headers = {**HEADERS, "anthropic-beta": "my-private-beta-2030-01-01, oauth-2025-04-20"}
    assert check_headers(headers, extra_betas=frozenset({"my-private-beta-2030-01-01"})) == {
        "my-private-beta-2030-01-01", "oauth-2025-04-20"}
    assert "oauth-2025-04-20" in KNOWN_BETAS


# -- {"role": "system"} inside messages (addendum §3) --------------------------------------------------------

SYSTEM = {"role": "system", "content": "Answer in French from now on."}
USER = {"role": "user", "content": "Hello there"}
ASSISTANT = {"role": "assistant", "content": "Hi! How can I help?"}
TOOLS = [{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
CALL = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_A", "name": "get_weather",
                                          "input": {"city": "Paris"}}]}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_A", "content": "18°C"}]}
ACCEPTING = ["claude-fable-5-2", "claude-mythos-5-2", "claude-haiku-5-5", "claude-sonnet-5-5", "claude-fable-5-1",
             "claude-opus-5-5", "claude-mythos-5-1", "claude-fable-5", "claude-mythos-5", "claude-opus-5",
             "claude-opus-4-8"]
REFUSING = ["claude-opus-4-7", "claude-mythos-preview", "claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5",
            "claude-opus-4-5-20251101", "claude-sonnet-4-5"]
PLACEMENT = "a role 'system' message must follow a user turn and precede an assistant turn"


@pytest.mark.parametrize("model", REFUSING)
def test_system_messages_refused_on_models_without_the_feature(http, model):
    refused(create(http, model, [USER, SYSTEM]), "role 'system' is not supported on this model")


@pytest.mark.parametrize("model", [*ACCEPTING, "claude-sonnet-5"])
@pytest.mark.parametrize("messages", [
    [USER, SYSTEM], [USER, SYSTEM, ASSISTANT, USER], [USER, SYSTEM, SYSTEM, ASSISTANT, USER],
    [USER, CALL, RESULT, SYSTEM],
], ids=["last", "before-assistant", "consecutive-group", "after-tool-results"])
def test_system_messages_accepted_after_a_user_turn(http, model, messages):
    """A request may end with a system message after a user turn: that is not a prefill (Haiku 5.5 refuses one).

    The tool call is the model's own reply, so that on models that think by default it starts with the signed
    thinking block the API requires back (addendum §5)."""
    if CALL in messages:
        asked = {"role": "user", "content": "What is the weather in Paris?"}
        call = ok(create(http, model, [asked], tools=TOOLS))
        tool_id = next(b["id"] for b in call["content"] if b["type"] == "tool_use")
        result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": "18°C"}]}
        messages = [asked, {"role": "assistant", "content": call["content"]}, result, SYSTEM]
    body = ok(create(http, model, messages, tools=TOOLS))
    assert body["content"]


@pytest.mark.parametrize(("messages", "message"), [
    ([SYSTEM, USER], "messages.0: a role 'system' message that carries content cannot be the first message"),
    ([USER, SYSTEM, USER], f"messages.1: {PLACEMENT}"),
    ([USER, SYSTEM, SYSTEM, USER], f"messages.1: {PLACEMENT}"),
    ([USER, ASSISTANT, SYSTEM, USER], f"messages.2: {PLACEMENT}"),
    ([USER, CALL, SYSTEM, RESULT], f"messages.2: {PLACEMENT}"),
], ids=["first", "followed-by-user", "group-followed-by-user", "after-assistant", "inside-a-tool-pair"])
def test_system_message_placement(http, messages, message):
    refused(create(http, "claude-opus-4-8", messages, tools=TOOLS), message)


def test_system_messages_on_sonnet_5_are_accepted_and_can_be_switched_off(http):
    """Docs: "not available"; pydantic-ai: 200 and ignored. Accepted by default, refused after `override`."""
    from helpers.offline.models import override

    ok(create(http, "claude-sonnet-5", [USER, SYSTEM]))
    previous = override("claude-sonnet-5", system_role="reject")
    try:
        refused(create(http, "claude-sonnet-5", [USER, SYSTEM]), "role 'system' is not supported on this model")
    finally:
        override("claude-sonnet-5", system_role=previous.system_role)


EFFORT_ONLY = {"role": "system", "content": "", "output_config": {"effort": "low"}}
BETA_OUTPUT_CONFIG = [("anthropic-beta", "mid-conversation-output-config-2026-07-01")]
BETA_CLEAR_AT = [("anthropic-beta", "mid-conversation-system-clear-at-2026-08-21")]


def test_an_effort_only_system_message_is_accepted_anywhere(http):
    ok(create(http, "claude-opus-4-8", [EFFORT_ONLY, USER], headers=BETA_OUTPUT_CONFIG))
    ok(create(http, "claude-opus-4-8", [USER, ASSISTANT, EFFORT_ONLY, USER], headers=BETA_OUTPUT_CONFIG))


def test_system_message_fields_need_the_beta_api(http):
    refused(create(http, "claude-opus-4-8", [USER, EFFORT_ONLY]), "messages.1.output_config: Extra inputs are not "
                                                                  "permitted")
    turn_scoped = {**SYSTEM, "clear_at": "next_user_message"}
    refused(create(http, "claude-opus-4-8", [USER, turn_scoped], headers=BETA_OUTPUT_CONFIG),
            "messages.1.clear_at: Extra inputs are not permitted")
    ok(create(http, "claude-opus-4-8", [USER, turn_scoped], headers=BETA_CLEAR_AT))


@pytest.mark.parametrize(("system", "message"), [
    ({"content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]},
     "messages.1.content.0: cache_control is not permitted on a turn-scoped system message "
     "(clear_at: 'next_user_message')"),
    ({"content": "Be brief.", "output_config": {"effort": "low"}},
     "messages.1: output_config is not permitted on a turn-scoped system message (clear_at: 'next_user_message')"),
    ({"content": "Be brief.", "clear_at": "sometimes"},
     "messages.1.clear_at: Input should be 'next_user_message' or 'never'"),
])
def test_turn_scoped_system_message_rules(http, system, message):
    body = {"role": "system", "clear_at": "next_user_message", **system}
    refused(create(http, "claude-opus-4-8", [USER, body], headers=BETA_CLEAR_AT), message)


# -- forced tool_choice (addendum §4, §5, §10.14) ------------------------------------------------------------

FORCED_REFUSED = ["claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1", "claude-mythos-5-1"]
NOT_SUPPORTED = 'tool_choice: type "tool" and "any" are not supported for this model.'


@pytest.mark.parametrize("model", FORCED_REFUSED)
@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "get_weather"}], ids=["any", "tool"])
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"], ids=["create", "count_tokens"])
def test_forced_tool_choice_refused_on_the_listed_models(http, model, choice, path):
    body = {"model": model, "messages": HI, "tools": TOOLS, "tool_choice": choice}
    refused(post(http, body if "count" in path else {**body, "max_tokens": 100}, path=path), NOT_SUPPORTED)


@pytest.mark.parametrize("model", FORCED_REFUSED)
def test_auto_tool_choice_is_accepted_on_the_listed_models(http, model):
    ok(create(http, model, tools=TOOLS, tool_choice={"type": "auto"}))


@pytest.mark.parametrize("model", ["claude-opus-4-8", "claude-haiku-5-5", "claude-fable-5", "claude-haiku-4-5"])
def test_forced_tool_choice_accepted_elsewhere(http, model):
    body = ok(create(http, model, tools=TOOLS, tool_choice={"type": "tool", "name": "get_weather"}))
    assert body["stop_reason"] == "tool_use"


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-opus-4-6", "claude-sonnet-4-6"])
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"], ids=["create", "count_tokens"])
def test_enabled_thinking_with_forced_tool_choice(http, model, path):
    body = {"model": model, "messages": HI, "tools": TOOLS, "tool_choice": {"type": "any"},
            "thinking": {"type": "enabled", "budget_tokens": 1024}}
    refused(post(http, body if "count" in path else {**body, "max_tokens": 2048}, path=path),
            "Thinking may not be enabled when tool_choice forces tool use.")


def test_adaptive_thinking_with_forced_tool_choice_is_accepted(http):
    ok(create(http, "claude-opus-4-6", tools=TOOLS, tool_choice={"type": "any"}, thinking={"type": "adaptive"}))


# -- thinking configuration per model (addendum §5, §10.3, §10.12, §10.13) -----------------------------------

USE_ADAPTIVE = 'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
ENABLED_REFUSED = f'"thinking.type.enabled" is not supported for this model. {USE_ADAPTIVE}'
DISABLED_REFUSED = f'"thinking.type.disabled" is not supported for this model. {USE_ADAPTIVE}'
ENABLED = {"type": "enabled", "budget_tokens": 1024}


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-opus-4-8", "claude-opus-5", "claude-opus-5-5",
                                   "claude-sonnet-5", "claude-sonnet-5-5", "claude-fable-5", "claude-fable-5-1",
                                   "claude-mythos-5", "claude-mythos-5-1", "claude-haiku-5-5"])
def test_enabled_thinking_refused_before_any_budget_rule(http, model):
    refused(create(http, model, thinking={"type": "enabled", "budget_tokens": 10}), ENABLED_REFUSED)


@pytest.mark.parametrize(("model", "message"), [
    ("claude-fable-5-1", DISABLED_REFUSED), ("claude-mythos-5-1", DISABLED_REFUSED),
    ("claude-fable-5", DISABLED_REFUSED), ("claude-mythos-5", DISABLED_REFUSED), ("claude-opus-5-5", DISABLED_REFUSED),
    ("claude-mythos-preview", '"thinking.type.disabled" is not supported for this model. Thinking defaults to '
                              'adaptive mode when not specified; use "thinking.type.enabled" with "budget_tokens" for '
                              'extended thinking.'),
    ("claude-sonnet-5-5", '"thinking.type.disabled" is not supported for this model. Use "thinking.type.between_tools" '
                          'for the lowest thinking setting, or "thinking.type.adaptive" and "output_config.effort" to '
                          'control thinking behavior.'),
])
def test_disabled_thinking_refused(http, model, message):
    refused(create(http, model, thinking={"type": "disabled"}), message)


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-opus-4-6", "claude-haiku-4-5", "claude-sonnet-5"])
def test_between_tools_refused_except_on_sonnet_5_5(http, model):
    refused(create(http, model, thinking={"type": "between_tools"}),
            '"thinking.type.between_tools" is not supported for this model.')


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "claude-opus-4-5", "claude-sonnet-4-5-20250929"])
def test_adaptive_refused_on_the_4_5_family(http, model):
    refused(create(http, model, thinking={"type": "adaptive"}), "adaptive thinking is not supported on this model")


@pytest.mark.parametrize(("model", "thinking"), [
    ("claude-opus-4-6", ENABLED), ("claude-sonnet-4-6", ENABLED), ("claude-opus-4-6", {"type": "adaptive"}),
    ("claude-mythos-preview", ENABLED), ("claude-haiku-4-5", ENABLED), ("claude-opus-5", {"type": "disabled"}),
    ("claude-opus-4-8", {"type": "disabled"}), ("claude-sonnet-5-5", {"type": "between_tools"}),
    ("claude-opus-5-5", {"type": "adaptive", "display": "omitted"}), ("claude-haiku-5-5", {"type": "adaptive"}),
])
def test_accepted_thinking_configurations(http, model, thinking):
    ok(create(http, model, thinking=thinking))


def test_budget_rules_apply_where_enabled_is_accepted(http):
    refused(create(http, "claude-opus-4-6", thinking={"type": "enabled", "budget_tokens": 1000}),
            "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")


@pytest.mark.parametrize(("model", "thinking"), [("claude-opus-5", {"type": "disabled"}),
                                                 ("claude-sonnet-5-5", {"type": "between_tools"})])
@pytest.mark.parametrize("effort", ["xhigh", "max"])
def test_high_effort_with_thinking_off(http, model, thinking, effort):
    refused(create(http, model, thinking=thinking, output_config={"effort": effort}),
            f"output_config.effort '{effort}' is not supported when thinking is disabled on this model. Use effort "
            "'high' or below, or enable thinking.")
    ok(create(http, model, thinking=thinking, output_config={"effort": "high"}))
    ok(create(http, model, output_config={"effort": effort}))


@pytest.mark.parametrize(("model", "thinking", "on"), [
    ("claude-opus-5-5", None, True), ("claude-fable-5-1", None, True), ("claude-sonnet-5", None, True),
    ("claude-mythos-preview", None, True), ("claude-opus-4-8", None, False), ("claude-opus-4-6", None, False),
    ("claude-haiku-4-5", None, False), ("claude-haiku-5-5", None, False), ("claude-opus-4-8", "adaptive", True),
    ("claude-opus-5", "disabled", False), ("claude-sonnet-5-5", "between_tools", False),
    ("claude-haiku-4-5", "enabled", True),
])
def test_thinking_in_effect_is_the_request_setting_else_the_model_default(model, thinking, on):
    from helpers.offline.models import MODELS, thinking_in_effect

    body = {"thinking": {"type": thinking, "budget_tokens": 1024} if thinking == "enabled" else {"type": thinking}}
    assert thinking_in_effect(body if thinking else {}, MODELS[model]) is on


PREFILL = [USER, {"role": "assistant", "content": "The answer is"}]


def test_prefill_refused_while_thinking_on_any_model(http):
    ok(create(http, "claude-haiku-4-5", PREFILL))
    refused(create(http, "claude-haiku-4-5", PREFILL, thinking=ENABLED),
            "Assistant message prefill is not supported when thinking is enabled. The conversation must end with a "
            "user message.")


PAUSED = {"role": "assistant", "content": [
    {"type": "server_tool_use", "id": "srvtoolu_01A", "name": "web_search", "input": {"query": "Lyon weather"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01A", "content": []}]}
WEB_SEARCH = [{"type": "web_search_20250305", "name": "web_search"}]


@pytest.mark.parametrize(("model", "fields"), [("claude-opus-5-5", {}), ("claude-haiku-5-5", {}),
                                               ("claude-haiku-4-5", {"thinking": ENABLED})])
def test_a_paused_turn_may_be_continued_on_every_model(http, model, fields):
    ok(create(http, model, [USER, PAUSED], tools=WEB_SEARCH, **fields))


def test_a_system_message_may_follow_a_paused_turn(http):
    ok(create(http, "claude-opus-5-5", [USER, PAUSED, SYSTEM], tools=WEB_SEARCH))


# -- the context window (addendum §6, §10.6) -----------------------------------------------------------------

LONG = [{"role": "user", "content": "Please tell me a long story about a lighthouse keeper " * 4}]


def input_tokens(http: httpx2.Client, model: str) -> int:
    resp = post(http, {"model": model, "messages": LONG}, path="/v1/messages/count_tokens")
    return ok(resp)["input_tokens"]


@pytest.mark.parametrize("model", ["claude-haiku-5-5", "claude-haiku-4-5"])
def test_input_alone_over_the_window_is_prompt_too_long(server, http, model):
    tokens = input_tokens(http, model)
    server.configure(context_window=tokens - 1)
    try:
        refused(create(http, model, LONG, max_tokens=10), f"prompt is too long: {tokens} tokens > {tokens - 1} maximum")
        assert input_tokens(http, model) == tokens  # count_tokens counts, whatever the window
    finally:
        server.configure(context_window=None)


@pytest.mark.parametrize("model", ["claude-haiku-5-5", "claude-sonnet-4-5"])
def test_input_plus_max_tokens_over_the_window_is_not_an_error(server, http, model):
    """The reply stops at the window instead (`model_context_window_exceeded`), which is the reply side's to send."""
    tokens = input_tokens(http, model)
    server.configure(context_window=tokens + 5)
    try:
        ok(create(http, model, LONG, max_tokens=1000))
        streamed = create(http, model, LONG, max_tokens=1000, stream=True)
        assert streamed.status_code == 200 and "event: message_stop" in streamed.text
    finally:
        server.configure(context_window=None)


def test_the_model_window_is_used_when_none_is_configured(http):
    """1,000,000 tokens of input fit Haiku 5.5's window but not Haiku 4.5's 200,000."""
    text = "word " * 210_000
    body = {"messages": [{"role": "user", "content": text}], "max_tokens": 10}
    counted = ok(post(http, {"model": "claude-haiku-4-5", "messages": body["messages"]},
                      path="/v1/messages/count_tokens"))["input_tokens"]
    assert 200_000 < counted < 1_000_000
    refused(post(http, {"model": "claude-haiku-4-5", **body}), f"prompt is too long: {counted} tokens > 200000 maximum")
    ok(post(http, {"model": "claude-haiku-5-5", **body}))
