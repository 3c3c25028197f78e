"""The offline Claude's request validation, rule by rule, over raw HTTP.

Each test names the rule it checks from the 37 validation rules of the Messages wire-protocol reference
(section 11). Requests are sent with `httpx2`, not the SDK, so that headers and bodies (invalid JSON, a
missing header, an oversized body) are exactly what the test says. Every error is checked for its status,
`error.type`, exact message, the API's error body and a `request-id` header equal to its `request_id` (37).

Covered: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
28, 29, 30, 31, 32, 33, 34, 35, 37 (36 rules; 26 only behind its switch, since its current status is unknown).
Not implemented by the server, so not tested: 36 (batches).
Also checked: `count_tokens` applies the message rules without requiring `max_tokens`, `GET /v1/models` and
`GET /v1/models/{id}`, an unknown path, the event order of a valid stream, and which rule wins when two apply;
the body's shape against the SDK's own request types (wrong types and unknown fields anywhere, with the path the
API names), strict JSON, and (hypothesis) that any JSON value gets an `ApiError` or passes, never anything else.
"""

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pydantic_core
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from helpers.offline import MODELS, OfflineClaude, start_server
from helpers.offline.errors import ApiError
from helpers.offline.validation import check_request, parse_body

VALID_HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
                 "content-type": "application/json"}
OLD = "claude-haiku-4-5"  # accepts prefill and sampling parameters
NEW = "claude-haiku-5-5"  # refuses prefill
HI = [{"role": "user", "content": "Hi"}]
TOOLS = [{"name": "get_weather", "description": "Current weather for a city.",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                           "required": ["city"]}}]


@pytest.fixture(scope="module")
def server() -> Iterator[OfflineClaude]:
    server = start_server(first_token_ms=0, per_token_ms=0)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(server: OfflineClaude) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def post(http: httpx2.Client):
    """`post(body_or_bytes, headers=..., path=...)`: `headers` go over the valid ones; a None drops one."""

    def send(body: Any, headers: dict[str, str | None] | None = None,
             path: str = "/v1/messages") -> httpx2.Response:
        merged = {**VALID_HEADERS, **(headers or {})}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return http.post(path, content=content, headers={k: v for k, v in merged.items() if v is not None})

    return send


def request(messages: list[dict[str, Any]] | None = None, model: str = OLD, **fields: Any) -> dict[str, Any]:
    """A valid Messages body, with `fields` added or overriding."""
    return {"model": model, "max_tokens": 200, "messages": HI if messages is None else messages, **fields}


def assert_error(resp: httpx2.Response, status: int, error_type: str, message: str) -> None:
    """Rule 37: the status, the API's exact error body, a `request-id` header equal to its `request_id`."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    request_id = body.get("request_id")
    assert isinstance(request_id, str) and request_id.startswith("req_"), body
    assert body == {"type": "error", "error": {"details": None, "type": error_type, "message": message},
                    "request_id": request_id}
    assert resp.headers["request-id"] == request_id


def assert_invalid(resp: httpx2.Response, message: str) -> None:
    assert_error(resp, 400, "invalid_request_error", message)


def assert_ok(resp: httpx2.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["type"] == "message" and body["role"] == "assistant"
    return body


def events_of(resp: httpx2.Response) -> list[tuple[str, dict[str, Any]]]:
    """The (event name, JSON data) of each SSE frame; every frame must have exactly one of each line."""
    events = []
    for frame in resp.text.split("\n\n"):
        if not frame.strip():
            continue
        lines = frame.split("\n")
        names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
        data = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
        assert len(names) == 1 and len(data) == 1, frame
        events.append((names[0], json.loads(data[0])))
    return events


def tool_use(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": "get_weather", "input": {"city": "Paris"}}


def tool_result(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": "18°C and sunny"}


def calls(*ids: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [tool_use(i) for i in ids]}


def results(*ids: str) -> dict[str, Any]:
    return {"role": "user", "content": [tool_result(i) for i in ids]}


def missing_results(i: int, ids: str) -> str:
    return (f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {ids}. "
            "Each `tool_use` block must have a corresponding `tool_result` block in the next message.")


def unexpected_result(j: int, k: int, tool_id: str) -> str:
    return (f"messages.{j}.content.{k}: unexpected `tool_use_id` found in `tool_result` blocks: {tool_id}. "
            "Each `tool_result` block must have a corresponding `tool_use` block in the previous message.")


ASK = {"role": "user", "content": "What's the weather in Paris?"}


# -- rules 1-3: authentication -------------------------------------------------------------------------------


def test_rule_01_no_credential(post):
    assert_error(post(request(), headers={"x-api-key": None}), 401, "authentication_error",
                 "x-api-key header is required")


def test_rule_02_bad_x_api_key(post):
    assert_error(post(request(), headers={"x-api-key": "not-a-key"}), 401, "authentication_error",
                 "invalid x-api-key")


def test_rule_03_bad_bearer_token(post):
    resp = post(request(), headers={"x-api-key": None, "authorization": "Bearer sk-proj-abc123"})
    assert_error(resp, 401, "authentication_error", "Invalid bearer token")


@pytest.mark.parametrize("headers", [{"x-api-key": "sk-ant-api03-abc"},
                                     {"x-api-key": None, "authorization": "Bearer sk-ant-api03-abc"}],
                         ids=["x-api-key", "bearer"])
def test_rules_01_03_either_credential_is_accepted(post, headers):
    assert_ok(post(request(), headers=headers))


# -- rules 4-6: version and beta headers ---------------------------------------------------------------------


def test_rule_04_anthropic_version_missing(post):
    assert_invalid(post(request(), headers={"anthropic-version": None}),
                   "anthropic-version: header is required")


def test_rule_05_anthropic_version_invalid(post):
    assert_invalid(post(request(), headers={"anthropic-version": "2023-10-01"}),
                   'anthropic-version: "2023-10-01" is not a valid version')


@pytest.mark.parametrize("version", ["2023-01-01", "2023-06-01", "2026-10-21"])
def test_rule_05_valid_versions_pass(post, version):
    assert_ok(post(request(), headers={"anthropic-version": version}))


@pytest.mark.parametrize("beta", ["foo", "token-counting-2024-11-01,foo"])
def test_rule_06_unknown_beta(post, beta):
    assert_invalid(post(request(), headers={"anthropic-beta": beta}),
                   "Unexpected value(s) `foo` for the `anthropic-beta` header. Please consult our "
                   "documentation at platform.claude.com/docs or try again without the header.")


def test_rule_06_known_beta_passes(post):
    assert_ok(post(request(), headers={"anthropic-beta": "token-counting-2024-11-01"}))


# -- rules 7-8: the body -------------------------------------------------------------------------------------


def test_rule_07_invalid_json(post):
    raw = b'{"model": "claude-haiku-4-5", "max_tokens": 10,'
    with pytest.raises(ValueError) as parser_error:
        pydantic_core.from_json(raw)
    resp = post(raw)
    assert_invalid(resp, f"The request body is not valid JSON: {parser_error.value}")
    assert resp.json()["error"]["message"].startswith("The request body is not valid JSON: ")


def test_rule_08_body_over_32_mb(post):
    raw = b'{"padding": "' + b"a" * (33 * 1024 * 1024) + b'"}'
    resp = post(raw)
    assert resp.status_code == 413
    bare = {"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}}
    assert resp.json() == bare
    assert "request-id" not in resp.headers


# -- rules 9-14: top-level fields ----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["max_tokens", "model", "messages"])
def test_rule_09_required_field_missing(post, field):
    body = request()
    del body[field]
    assert_invalid(post(body), f"{field}: Field required")


@pytest.mark.parametrize(("value", "message"), [
    (-1, "max_tokens: Input should be greater than or equal to 0"),
    (1.5, "max_tokens: Input should be a valid integer"),
    ("100", "max_tokens: Input should be a valid integer"),
], ids=["negative", "float", "string"])
def test_rule_10_max_tokens_not_a_non_negative_integer(post, value, message):
    assert_invalid(post(request(max_tokens=value)), message)


def test_rule_10_max_tokens_zero_is_accepted(post):
    body = assert_ok(post(request(max_tokens=0)))
    assert body["content"] == [] and body["stop_reason"] == "max_tokens"


def test_rule_11_max_tokens_above_model_cap(post):
    cap = MODELS[OLD].max_output
    assert_invalid(post(request(max_tokens=cap + 1)),
                   f"max_tokens: {cap + 1} > {cap}, which is the maximum allowed number of output tokens "
                   f"for {OLD}")
    assert_ok(post(request(max_tokens=cap)))


def test_rule_12_unknown_model(post):
    assert_error(post(request(model="claude-nope-9")), 404, "not_found_error", "model: claude-nope-9")


def test_rule_13_unknown_top_level_field(post):
    assert_invalid(post(request(foo=1)), "foo: Extra inputs are not permitted")


def test_rule_13_sdk_message_object_appended_as_is(post):
    reply = assert_ok(post(request()))  # `messages.append(response)` instead of `response.to_param()`
    assert_invalid(post(request([*HI, reply, {"role": "user", "content": "And then?"}])),
                   "messages.1.id: Extra inputs are not permitted")


def test_rule_14_empty_messages(post):
    assert_invalid(post(request([])), "messages: at least one message is required")


# -- rules 15-21: roles and content --------------------------------------------------------------------------


def test_rule_15_system_role_message(post):
    """Today's text on models without mid-conversation system messages (addendum §3, §10.2)."""
    messages = [*HI, {"role": "system", "content": "Be brief."}]
    assert_invalid(post(request(messages)), "role 'system' is not supported on this model")


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Are you there?"}],
    [{"role": "assistant", "content": "Hello! Ask me anything."}, {"role": "user", "content": "Hi"}],
], ids=["consecutive-user-turns", "assistant-first"])
def test_rule_16_accepted_turn_orders(post, messages):
    assert_ok(post(request(messages)))


@pytest.mark.parametrize("model", [NEW, "claude-opus-4-6"])
def test_rule_17_prefill_refused_from_4_6(post, model):
    messages = [*HI, {"role": "assistant", "content": "Hello!"}]
    assert_invalid(post(request(messages, model=model)),
                   "This model does not support assistant message prefill. The conversation must end with a "
                   "user message.")


def test_rule_17_prefill_continued_by_older_model(post):
    full = assert_ok(post(request()))["content"][0]["text"]
    prefill = full.split(" ")[0]
    body = assert_ok(post(request([*HI, {"role": "assistant", "content": prefill}])))
    assert prefill + body["content"][0]["text"] == full


@pytest.mark.parametrize("empty", ["", []], ids=["string", "list"])
def test_rule_18_empty_non_final_message(post, empty):
    messages = [*HI, {"role": "assistant", "content": empty}, {"role": "user", "content": "Hello?"}]
    assert_invalid(post(request(messages)),
                   "messages.1: all messages must have non-empty content except for the optional final "
                   "assistant message")


def test_rule_18_empty_final_user_message(post):
    assert_invalid(post(request([{"role": "user", "content": []}])),
                   "messages.0: all messages must have non-empty content except for the optional final "
                   "assistant message")


def test_rule_18_empty_final_assistant_allowed_on_older_model(post):
    assert_ok(post(request([*HI, {"role": "assistant", "content": []}])))


def test_rule_19_empty_text_block(post):
    messages = [{"role": "user", "content": [{"type": "text", "text": ""}]}]
    assert_invalid(post(request(messages)), "messages: text content blocks must be non-empty")


@pytest.mark.parametrize("content", ["   ", [{"type": "text", "text": " \n\t"}]], ids=["string", "block"])
def test_rule_20_whitespace_only_text(post, content):
    assert_invalid(post(request([{"role": "user", "content": content}])),
                   "messages: text content blocks must contain non-whitespace text")


def test_rule_20_whitespace_block_beside_real_text_is_accepted(post):
    content = [{"type": "text", "text": " "}, {"type": "text", "text": "real"}]
    assert_ok(post(request([{"role": "user", "content": content}])))


def test_rule_21_prefill_ending_in_whitespace(post):
    messages = [*HI, {"role": "assistant", "content": "Sure, "}]
    assert_invalid(post(request(messages)),
                   "messages: final assistant content cannot end with trailing whitespace")


# -- rules 22-25: tool_use / tool_result pairing -------------------------------------------------------------


def test_rules_22_23_well_paired_tool_loop_is_accepted(post):
    assert_ok(post(request([ASK, calls("toolu_A"), results("toolu_A")], tools=TOOLS)))


@pytest.mark.parametrize(("asked", "after", "missing"), [
    (["toolu_A"], [], "toolu_A"),
    (["toolu_A"], [{"role": "user", "content": "thanks"}], "toolu_A"),
    (["toolu_A"], [{"role": "user", "content": [{"type": "text", "text": "Here:"}, tool_result("toolu_A")]}],
     "toolu_A"),
    (["toolu_A", "toolu_B", "toolu_C"], [results("toolu_B")], "toolu_A, toolu_C"),
    (["toolu_A"], [{"role": "assistant", "content": "Checking."}, results("toolu_A")], "toolu_A"),
], ids=["next-missing", "next-plain-text", "text-before-result", "some-ids-answered", "next-is-assistant"])
def test_rule_22_tool_use_without_result_after(post, asked, after, missing):
    """The index is the assistant message's (1 here), and only the unanswered ids are listed."""
    assert_invalid(post(request([ASK, calls(*asked), *after], tools=TOOLS)), missing_results(1, missing))


def test_rule_23_truncated_history_starts_with_tool_result(post):
    assert_invalid(post(request([results("toolu_A")], tools=TOOLS)), unexpected_result(0, 0, "toolu_A"))


def test_rule_23_unknown_tool_use_id_names_block_index(post):
    messages = [ASK, calls("toolu_A"), results("toolu_A", "toolu_Z")]
    assert_invalid(post(request(messages, tools=TOOLS)), unexpected_result(2, 1, "toolu_Z"))


def test_rule_24_duplicate_tool_use_ids(post):
    messages = [ASK, calls("toolu_A", "toolu_A"), results("toolu_A")]
    assert_invalid(post(request(messages, tools=TOOLS)),
                   "messages.1.content.1: `tool_use` ids must be unique")


def test_rule_25_tool_use_id_with_bad_characters(post):
    messages = [ASK, calls("toolu.A"), results("toolu.A")]
    assert_invalid(post(request(messages, tools=TOOLS)),
                   "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'")


# -- rules 27-28: tools --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "message"), [
    ("get weather", "tools.1.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'"),
    ("x" * 129, "tools.1.custom.name: String should have at most 128 characters"),
], ids=["bad-characters", "too-long"])
def test_rule_27_bad_tool_name(post, name, message):
    tools = [*TOOLS, {**TOOLS[0], "name": name}]
    assert_invalid(post(request(tools=tools)), message)


def test_rule_28_duplicate_tool_names(post):
    assert_invalid(post(request(tools=[*TOOLS, *TOOLS])), "tools: Tool names must be unique.")


def test_rule_28_tool_choice_names_absent_tool(post):
    assert_invalid(post(request(tools=TOOLS, tool_choice={"type": "tool", "name": "get_time"})),
                   "tool_choice: tool 'get_time' was not found in `tools`")


# -- rules 29-32: sampling, stop sequences, thinking ---------------------------------------------------------


@pytest.mark.parametrize(("model", "name", "value"), [
    ("claude-fable-5-1", "temperature", 0.5), ("claude-fable-5-1", "top_p", 0.9), ("claude-fable-5-1", "top_k", 40),
    ("claude-opus-4-7", "temperature", 0.0), ("claude-opus-4-7", "top_p", 0.9),
    ("claude-opus-4-7", "top_k", 5),
])
def test_rule_29_sampling_parameter_refused(post, model, name, value):
    assert_invalid(post(request(model=model, **{name: value})), f"`{name}` is deprecated for this model.")


@pytest.mark.parametrize(("name", "value"), [("temperature", 1.5), ("temperature", -1), ("top_p", 2)])
def test_rule_30_sampling_out_of_range(post, name, value):
    assert_invalid(post(request(**{name: value})), f"{name}: range: 0..1")


def test_rule_30_sampling_in_range_is_accepted(post):
    assert_ok(post(request(temperature=0.0, top_p=1, top_k=40)))


@pytest.mark.parametrize(("stop", "message"), [
    ("", "stop_sequences: each stop sequence must be non-empty"),
    ("  \n", "stop_sequences: each stop sequence must contain non-whitespace"),
], ids=["empty", "whitespace"])
def test_rule_31_bad_stop_sequence(post, stop, message):
    assert_invalid(post(request(stop_sequences=["END", stop])), message)


def test_rule_32_thinking_budget_too_small(post):
    assert_invalid(post(request(max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1000})),
                   "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")


def test_rule_32_max_tokens_not_above_budget(post):
    assert_invalid(post(request(max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 2048})),
                   "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                   "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
                   "#max-tokens-and-context-window-size")


# -- rule 33: context window ---------------------------------------------------------------------------------


def test_rule_33_prompt_too_long_agrees_with_count_tokens(server, post):
    messages = [{"role": "user", "content": "Please tell me a long story about a lighthouse keeper " * 4}]
    counted = post({"model": OLD, "messages": messages}, path="/v1/messages/count_tokens")
    assert counted.status_code == 200, counted.text
    tokens = counted.json()["input_tokens"]
    assert tokens > 50
    assert assert_ok(post(request(messages)))["usage"]["input_tokens"] == tokens
    server.configure(context_window=50)
    try:
        assert_invalid(post(request(messages)), f"prompt is too long: {tokens} tokens > 50 maximum")
    finally:
        server.configure(context_window=None)


# -- rules 34-35: rate limit and injected faults -------------------------------------------------------------


def test_rule_34_rate_limit(server, post):
    server.configure(requests_per_minute=60)
    try:
        responses = [post(request()) for _ in range(5)]
    finally:
        server.configure(requests_per_minute=None)
    limited = [r for r in responses if r.status_code == 429]
    assert limited, [r.status_code for r in responses]
    resp = limited[0]
    assert_error(resp, 429, "rate_limit_error",
                 "This request would exceed your organization's rate limit of 60 requests per minute "
                 f"(org: offline, model: {OLD}). For details, refer to: https://docs.claude.com/en/api/rate-limits.")
    assert int(resp.headers["retry-after"]) >= 1
    assert 0 < int(resp.headers["retry-after-ms"]) <= 1000
    assert resp.headers["anthropic-ratelimit-requests-limit"] == "60"
    assert any(record.fault == "rate_limit" for record in server.requests[-5:])


@pytest.mark.parametrize(("status", "retry_after_ms", "error_type", "message", "retry_after"), [
    (500, 10, "api_error", "Internal server error", "1"),
    (529, 10, "overloaded_error", "Overloaded", "1"),
    (429, 25, "rate_limit_error",
     "This request would exceed your organization's rate limit. Please try again later.", "1"),
])
def test_rule_35_fail_next(server, post, status, retry_after_ms, error_type, message, retry_after):
    server.fail_next(status, retry_after_ms=retry_after_ms)
    try:
        resp = post(request())
    finally:
        server.reset_faults()
    assert_error(resp, status, error_type, message)
    assert resp.headers["retry-after-ms"] == str(retry_after_ms)
    assert resp.headers["retry-after"] == retry_after
    assert server.requests[-1].fault == "fail_next"
    assert_ok(post(request()))  # one request only


def test_rule_35_error_mid_stream(server, post):
    server.fail_stream_next(after_events=2)
    try:
        resp = post(request(stream=True))
    finally:
        server.reset_faults()
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = events_of(resp)
    assert [name for name, _ in events] == ["message_start", "content_block_start", "error"]
    assert events[-1][1] == {"type": "error", "error": {"details": None, "type": "overloaded_error",
                                                        "message": "Overloaded"},
                             "request_id": resp.headers["request-id"]}
    assert server.requests[-1].fault == "stream_error"


# -- other endpoints, streaming and rule order ---------------------------------------------------------------


def test_count_tokens_applies_message_rules_without_max_tokens(post):
    body = {"model": OLD, "messages": HI}
    resp = post(body, path="/v1/messages/count_tokens")
    assert resp.status_code == 200 and isinstance(resp.json()["input_tokens"], int)
    orphan = {"model": OLD, "messages": [results("toolu_A")], "tools": TOOLS}
    assert_invalid(post(orphan, path="/v1/messages/count_tokens"), unexpected_result(0, 0, "toolu_A"))


def test_models_list_has_every_model(http):
    resp = http.get("/v1/models", params={"limit": 1000}, headers=VALID_HEADERS)
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert [m["id"] for m in data] == list(MODELS)
    for model in data:
        spec = MODELS[model["id"]]
        assert (model["max_input_tokens"], model["max_tokens"]) == (spec.context_window, spec.max_output)


def test_models_get_known_and_unknown(http):
    known = http.get(f"/v1/models/{OLD}", headers=VALID_HEADERS)
    assert known.status_code == 200 and known.json()["id"] == OLD
    assert_error(http.get("/v1/models/claude-nope-9", headers=VALID_HEADERS), 404, "not_found_error",
                 "model: claude-nope-9")


def test_unknown_path(post):
    assert_error(post(request(), path="/v1/complete-me"), 404, "not_found_error", "Not Found")


def test_stream_event_names_and_order(post):
    resp = post(request(stream=True))
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = events_of(resp)
    assert all(name == data["type"] for name, data in events)
    names = [name for name, _ in events]
    deltas = names.count("content_block_delta")
    assert deltas >= 1
    assert names == ["message_start", "content_block_start", "ping", *["content_block_delta"] * deltas,
                     "content_block_stop", "message_delta", "message_stop"]


def test_order_unknown_model_reported_before_empty_messages(post):
    assert_error(post(request([], model="claude-nope-9")), 404, "not_found_error", "model: claude-nope-9")


def test_order_headers_checked_before_body(post):
    assert_error(post(b"{not json", headers={"x-api-key": "nope"}), 401, "authentication_error",
                 "invalid x-api-key")


def test_rule_18_empty_final_assistant_string_allowed_on_older_model(post):
    assert_ok(post(request([*HI, {"role": "assistant", "content": ""}])))


def test_rule_13_unknown_block_field(post):
    messages = [{"role": "user", "content": [{"type": "text", "text": "x", "foo": 1}]}]
    assert_invalid(post(request(messages)), "messages.0.content.0.text.foo: Extra inputs are not permitted")


def test_rule_13_a_union_of_a_list_and_an_object_takes_the_object(post):
    """`web_search_tool_result.content` is a list of results or an error object (the SDK's
    `WebSearchToolResultBlockParamContentParam`): a search that failed is sent back as the object."""
    def search_turn(content: Any) -> list[dict[str, Any]]:
        return [{"role": "user", "content": "Search for x"},
                {"role": "assistant", "content": [
                    {"type": "server_tool_use", "id": "srvtoolu_01abc", "name": "web_search", "input": {"query": "x"}},
                    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01abc", "content": content},
                    {"type": "text", "text": "The search failed."}]},
                {"role": "user", "content": "Never mind."}]

    search = [{"type": "web_search_20250305", "name": "web_search"}]
    assert_ok(post(request(search_turn({"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}),
                           tools=search)))
    assert_ok(post(request(search_turn([{"type": "web_search_result", "url": "https://example.com", "title": "X",
                                         "encrypted_content": "abc"}]), tools=search)))
    assert_invalid(post(request(search_turn({"type": "web_search_tool_result_error", "error_code": "nope"}),
                                tools=search)),
                   "messages.1.content.1.web_search_tool_result.content.error_code: Input should be "
                   "'invalid_tool_input', 'unavailable', 'max_uses_exceeded', 'too_many_requests', 'query_too_long' "
                   "or 'request_too_large'")


def test_rule_03_bearer_prefix_is_required(post):
    resp = post(request(), headers={"x-api-key": None, "authorization": "sk-ant-test"})
    assert_error(resp, 401, "authentication_error", "Invalid bearer token")


@pytest.mark.parametrize(("fields", "message"), [
    ({"tools": 5}, "tools: Input should be a valid list"),
    ({"messages": [{"role": ["user"], "content": "hi"}]},
     "messages.0.role: Input should be 'user', 'assistant' or 'system'"),
    ({"tool_choice": {"type": []}, "tools": TOOLS},
     "tool_choice: Input tag '[]' found using 'type' does not match any of the expected tags: "
     "'auto', 'any', 'tool', 'none'"),
    ({"tool_choice": {"type": "tool"}, "tools": TOOLS}, "tool_choice.tool.name: Field required"),
    ({"system": 5}, "system: Input should be a valid string or a valid list"),
    ({"system": [{"type": "text"}]}, "system.0.text: Field required"),
    ({"messages": [calls("toolu_a") | {"content": [{"type": "tool_use", "id": "toolu_a", "input": {}}]},
                   results("toolu_a")]},
     "messages.0.content.0.tool_use.name: Field required"),
    ({"messages": [*HI, calls("toolu_a"), {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": 5}]}], "tools": TOOLS},
     "messages.2.content.0.tool_result.content: Input should be a valid string or a valid list"),
], ids=["tools-not-list", "role-not-string", "tool-choice-type", "tool-choice-no-name", "system-number",
        "system-block-no-text", "tool-use-no-name", "tool-result-content-number"])
def test_malformed_fields_get_a_400_with_the_error_body_never_a_500(post, fields, message):
    assert_invalid(post(request(**fields)), message)


def test_malformed_block_type_gets_a_400(post):
    resp = post(request([{"role": "user", "content": [{"type": ["text"], "text": "x"}]}]))
    assert resp.status_code == 400 and resp.json()["error"]["message"].startswith("messages.0.content.0: Input tag")


def test_deeply_nested_json_is_invalid_json_not_a_crash(post):
    assert_invalid(post(b"[" * 100_000 + b"]" * 100_000),
                   "The request body is not valid JSON: nesting too deep")


def test_malformed_thread_field_gets_a_400(post):
    resp = post(request(thread="x"), headers={"anthropic-beta": "message-threads-2026-08-12"})
    assert resp.status_code == 400 and resp.json()["type"] == "error"


def test_rule_26_tool_blocks_without_tools_behind_a_switch(server, post):
    history = [ASK, calls("toolu_a"), results("toolu_a")]
    assert_ok(post(request(history)))  # off by default: accepted, as the API seems to do today
    server.configure(tools_required_for_tool_blocks=True)
    try:
        assert_invalid(post(request(history)),
                       "Requests which include `tool_use` or `tool_result` blocks must define tools.")
        assert_ok(post(request(history, tools=TOOLS)))
    finally:
        server.configure(tools_required_for_tool_blocks=False)


# -- the body's shape, checked against the SDK's own request types -------------------------------------------


@pytest.mark.parametrize(("raw", "detail"), [
    (b'{"model": "claude-haiku-4-5", "max_tokens": NaN}',
     "NaN and Infinity are not valid JSON numbers (expected value at line 1 column 45)"),
    (b'{"model": "claude-haiku-4-5", "max_tokens": Infinity}',
     "NaN and Infinity are not valid JSON numbers (expected value at line 1 column 45)"),
    (b'{"model": "claude-haiku-4-5", "temperature": -Infinity}',
     "NaN and Infinity are not valid JSON numbers (invalid number at line 1 column 47)"),
    (b'{"messages": [{"role": "user", "content": "say \\ud800 hi"}]}',
     "a \\u escape is a lone surrogate, which is not a character (unexpected end of hex escape at line 1 column 54)"),
    (b'{"messages": [{"role": "user", "content": "\\udc00"}]}',
     "a \\u escape is a lone surrogate, which is not a character "
     "(lone leading surrogate in hex escape at line 1 column 49)"),
    (b'{"messages": [{"role": "user", "content": "caf\xe9"}]}',
     "the body is not valid UTF-8 (invalid unicode code point at line 1 column 47)"),
    (b'{"model": "claude-haiku-4-5", "temperature": 1e400}', "a number is too large"),
], ids=["nan", "infinity", "minus-infinity", "lone-high-surrogate", "lone-low-surrogate", "latin-1-byte",
        "float-overflow"])
def test_rule_07_strict_json(post, raw, detail):
    assert_invalid(post(raw), f"The request body is not valid JSON: {detail}")


def test_rule_07_a_surrogate_pair_is_one_character(post):
    body = assert_ok(post(request([{"role": "user", "content": "\ud83d\ude00"}])))  # json.dumps escapes the pair
    assert body["usage"]["input_tokens"] > 0


def test_rule_07_body_not_an_object(post):
    assert_invalid(post(b"[1, 2]"), "Input should be a valid dictionary or object to extract fields from")


@pytest.mark.parametrize(("fields", "message"), [
    ({"stream": [1]}, "stream: Input should be a valid boolean"),
    ({"stream": "true"}, "stream: Input should be a valid boolean"),
    ({"metadata": 5}, "metadata: Input should be a valid dictionary"),
    ({"metadata": {"user_id": 5}}, "metadata.user_id: Input should be a valid string"),
    ({"metadata": {"user_id": "u", "plan": "pro"}}, "metadata.plan: Extra inputs are not permitted"),
    ({"stop_sequences": "END"}, "stop_sequences: Input should be a valid list"),
    ({"stop_sequences": ["END", 5]}, "stop_sequences.1: Input should be a valid string"),
    ({"temperature": "0.5"}, "temperature: Input should be a valid number"),
    ({"top_k": 1.5}, "top_k: Input should be a valid integer"),
    ({"max_tokens": True}, "max_tokens: Input should be a valid integer"),
    ({"model": 5}, "model: Input should be a valid string"),
    ({"service_tier": "fastest"}, "service_tier: Input should be 'auto' or 'standard_only'"),
    ({"cache_control": {"type": "ephemeral", "ttl": "2h"}}, "cache_control.ttl: Input should be '5m' or '1h'"),
    ({"output_config": {"effort": "huge"}},
     "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"),
    ({"thinking": {"type": "enabled", "budget_tokens": "2000"}},
     "thinking.enabled.budget_tokens: Input should be a valid integer"),
    ({"thinking": {"type": "sometimes"}},
     "thinking: Input tag 'sometimes' found using 'type' does not match any of the expected tags: "
     "'enabled', 'disabled', 'between_tools', 'adaptive'"),
    ({"tool_choice": {"type": "auto", "disable_parallel_tool_use": "yes"}},
     "tool_choice.auto.disable_parallel_tool_use: Input should be a valid boolean"),
    ({"system": [{"type": "text", "text": "Be brief.", "role": "system"}]},
     "system.0.role: Extra inputs are not permitted"),
    ({"tools": [{"name": "get_weather", "input_schema": {"type": "object"}, "strict": "yes"}]},
     "tools.0.custom.strict: Input should be a valid boolean"),
    ({"tools": [{"type": "web_search_20991231", "name": "web_search"}]},
     "tools.0: Input tag 'web_search_20991231' found using 'type' does not match any of the expected tags: "),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
     "messages.0.content.0.text.text: Input should be a valid string"),
    ({"messages": [{"role": "user", "content": [{"text": "x"}]}]},
     "messages.0.content.0: Unable to extract tag using discriminator 'type'"),
    ({"messages": [{"role": "user", "content": [5]}]}, "messages.0.content.0: Input should be a valid dictionary"),
    ({"messages": {"role": "user", "content": "Hi"}}, "messages: Input should be a valid list"),
    ({"messages": [{"role": "user"}]}, "messages.0.content: Field required"),
    ({"messages": [{"content": "Hi"}]}, "messages.0.role: Field required"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64",
                                                                           "media_type": "image/png"}}]}]},
     "messages.0.content.0.image.source.base64.data: Field required"),
    ({"messages": [*HI, calls("toolu_a"), {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_a", "content": [{"type": "text", "text": 5}]}]}]},
     "messages.2.content.0.tool_result.content.0.text.text: Input should be a valid string"),
], ids=lambda value: None if isinstance(value, (dict, str)) else str(value))
def test_wrong_types_in_any_field_get_the_path_and_what_is_wrong(post, fields, message):
    resp = post(request(**fields, **({} if "tools" in fields else {"tools": TOOLS})))
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["message"].startswith(message)
    if not message.endswith(": "):
        assert_invalid(resp, message)


def test_unknown_tool_type_lists_the_sdk_tags(post):
    message = post(request(tools=[{"type": "web_search_20991231", "name": "web_search"}])).json()["error"]["message"]
    assert "'custom', 'bash_20250124'" in message and "'web_search_20250305'" in message


@pytest.mark.parametrize(("path", "field"), [
    ("/v1/messages", "betas"), ("/v1/messages", "user_profile_id"), ("/v1/messages", "workspace_id"),
    ("/v1/messages/count_tokens", "max_tokens"), ("/v1/messages/count_tokens", "stream"),
    ("/v1/messages", "thread"), ("/v1/messages", "output_format"),
], ids=lambda value: value.rsplit("/", 1)[-1])
def test_fields_that_do_not_belong_in_this_body(post, path, field):
    """SDK arguments sent as headers, `count_tokens` without create's fields, a beta field on the stable API."""
    body = {"model": OLD, "messages": HI, field: 100} if "count" in path else request(**{field: {"type": "create"}})
    assert_invalid(post(body, path=path), f"{field}: Extra inputs are not permitted")


def test_a_beta_field_is_accepted_on_the_beta_api(post):
    resp = post(request(context_management={"edits": []}), headers={"anthropic-beta": "context-management-2025-06-27"})
    assert_ok(resp)
    assert_invalid(post(request(context_management={"edits": []})),
                   "context_management: Extra inputs are not permitted")


def test_an_sdk_response_block_sent_back_with_an_extra_field_is_refused(post):
    """The SDK's `ContentBlock` models accept extra keys; the request types do not, and neither does the API."""
    reply = assert_ok(post(request()))
    block = {**reply["content"][0], "parsed": True}
    messages = [*HI, {"role": "assistant", "content": [block]}, {"role": "user", "content": "More?"}]
    assert_invalid(post(request(messages)), "messages.1.content.0.text.parsed: Extra inputs are not permitted")


@pytest.mark.parametrize("name", ["get_weather\n", "get_weather\r\n", "\nget_weather"])
def test_rule_27_tool_name_with_a_newline(post, name):
    assert_invalid(post(request(tools=[{**TOOLS[0], "name": name}])),
                   "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")


def test_rule_25_tool_use_id_ending_in_a_newline(post):
    messages = [ASK, calls("toolu_A\n"), results("toolu_A\n")]
    assert_invalid(post(request(messages, tools=TOOLS)),
                   "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'")


IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


@pytest.mark.parametrize(("is_error", "content", "ok"), [
    (True, [{"type": "text", "text": "boom"}, IMAGE], False),
    (True, [{"type": "text", "text": "boom"}], True),
    (True, "boom", True),
    (False, [{"type": "text", "text": "shot"}, IMAGE], True),
], ids=["error-with-image", "error-text-block", "error-string", "success-with-image"])
def test_error_tool_result_holds_text_only(post, is_error, content, ok):
    result = {"type": "tool_result", "tool_use_id": "toolu_A", "content": content, "is_error": is_error}
    resp = post(request([ASK, calls("toolu_A"), {"role": "user", "content": [result]}], tools=TOOLS))
    if ok:
        assert_ok(resp)
    else:
        assert_invalid(resp, "messages.2.content.0: all content must be type 'text' if 'is_error' is true")


# -- any JSON value: an ApiError, never anything else ---------------------------------------------------------

JSON_LEAVES = (st.none() | st.booleans() | st.integers(min_value=-(10 ** 40), max_value=10 ** 40)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
               | st.sampled_from(["user", "assistant", "system", "text", "tool_use", "tool_result", "image",
                                  "enabled", "adaptive", "disabled", "between_tools", "tool", "any", "xhigh", "max",
                                  OLD, NEW, "claude-opus-4-6", "claude-opus-5", "claude-opus-5-5",
                                  "claude-sonnet-5-5", "claude-mythos-preview", "toolu_A", "get_weather", "custom",
                                  "base64", "ephemeral", "next_user_message", "server_tool_use",
                                  "web_search_tool_result", ""]))
JSON_KEYS = st.sampled_from(["type", "role", "content", "text", "id", "name", "input", "tool_use_id", "is_error",
                             "source", "budget_tokens", "model", "messages", "max_tokens", "clear_at",
                             "output_config", "effort", "x"]) | st.text(max_size=5)
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(JSON_KEYS, inner, max_size=4), max_leaves=30)
VALID_BODY = {"model": OLD, "max_tokens": 300, "system": [{"type": "text", "text": "Be brief."}],
              "messages": [ASK, calls("toolu_A"), results("toolu_A")],
              "tools": TOOLS, "tool_choice": {"type": "auto"}, "thinking": {"type": "disabled"},
              "stop_sequences": ["END"], "metadata": {"user_id": "u1"}, "temperature": 0.5}


COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*prefix, i))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def _check_only_api_errors(body: Any, endpoint: str, beta: bool) -> None:
    try:
        check_request(body, endpoint=endpoint, beta=beta, betas=frozenset())
    except ApiError as error:
        assert error.status in (400, 404) and error.message


@hyp_settings(max_examples=400, deadline=None)
@given(body=JSON_VALUES, endpoint=st.sampled_from(["create", "count_tokens"]), beta=st.booleans())
def test_any_json_value_gets_an_api_error_or_passes(body, endpoint, beta):
    _check_only_api_errors(body, endpoint, beta)


@hyp_settings(max_examples=600, deadline=None)
@given(data=st.data(), endpoint=st.sampled_from(["create", "count_tokens"]), beta=st.booleans())
def test_a_valid_body_with_any_part_replaced_gets_an_api_error_or_passes(data, endpoint, beta):
    check_request(VALID_BODY)
    valid = VALID_BODY if endpoint == "create" else {k: v for k, v in VALID_BODY.items() if k in COUNT_FIELDS}
    path = data.draw(st.sampled_from(_paths(valid)[1:]))
    _check_only_api_errors(_replaced(valid, path, data.draw(JSON_VALUES)), endpoint, beta)


@pytest.mark.parametrize("depth", [150, 199, 5000])
def test_deep_nesting_anywhere_is_an_api_error_or_passes(depth):
    nested: Any = "x"
    for _ in range(depth):
        nested = {"a": [nested]}
    body = {**VALID_BODY, "messages": [{"role": "user", "content": "Hi"}, calls("toolu_B") | {
        "content": [{**tool_use("toolu_B"), "input": {"deep": nested}}]}, results("toolu_B")]}
    try:
        raw = json.dumps(body).encode()
    except RecursionError:
        return
    try:
        check_request(parse_body(raw))
    except ApiError as error:
        assert error.status == 400


@pytest.mark.parametrize("number", [10 ** 4000, -(10 ** 4000), 1e308, -1e308, 2 ** 63, -(2 ** 63)],
                         ids=["1e4000", "-1e4000", "1e308", "-1e308", "2**63", "-2**63"])
@pytest.mark.parametrize("field", ["max_tokens", "temperature", "top_k", "thinking"])
def test_huge_numbers_anywhere_are_api_errors(field, number):
    """Each is out of range, except a huge positive integer `top_k`, which has no documented upper bound."""
    value = {"type": "enabled", "budget_tokens": number} if field == "thinking" else number
    body = parse_body(json.dumps({**VALID_BODY, field: value}).encode())
    if field == "top_k" and isinstance(number, int) and number > 0:
        check_request(body)
        return
    with pytest.raises(ApiError) as error:
        check_request(body)
    assert error.value.status == 400


def test_deprecated_output_format_is_accepted_with_its_beta(post):
    output_format = {"type": "json_schema", "schema": {"type": "object", "properties": {"name": {"type": "string"}},
                                                       "required": ["name"], "additionalProperties": False}}
    resp = post(request(output_format=output_format), headers={"anthropic-beta": "structured-outputs-2025-11-13"})
    assert resp.status_code == 200, resp.text
    assert_invalid(post(request(output_format=output_format)), "output_format: Extra inputs are not permitted")


def test_sdk_bodies_pass_the_stable_and_beta_shapes(server):
    """What the SDK sends from its own types: count_tokens, beta count_tokens (with its beta header), beta create."""
    from anthropic import Anthropic

    with Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as sdk:
        system = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
        fields = {"model": NEW, "system": system, "messages": HI, "tools": TOOLS, "tool_choice": {"type": "auto"},
                  "thinking": {"type": "adaptive"}}
        stable = sdk.messages.count_tokens(**fields).input_tokens
        assert sdk.beta.messages.count_tokens(**fields).input_tokens == stable
        reply = sdk.beta.messages.create(max_tokens=100, output_config={"effort": "low"}, **fields)
        assert reply.content and server.requests[-1].headers.get("anthropic-beta") is None
