"""The offline Claude at the HTTP level, where the SDK hides things: its own failures, headers and CORS.

Raw requests through `httpx2`, on one keep-alive connection where it matters.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic import Anthropic

import helpers.offline.app as app_module

MODEL = "claude-haiku-5-5"
HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
HELLO = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "Hello"}]}


def events_of(resp: httpx2.Response) -> list[tuple[str, Any]]:
    events = []
    for frame in resp.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def local_port(resp: httpx2.Response) -> int:
    return resp.extensions["network_stream"].get_extra_info("client_addr")[1]


@pytest.fixture
def client() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=30, limits=httpx2.Limits(max_connections=1)) as http:
        yield http


def crash(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom")


# -- its own failures: the API's 500, never a text page, and the connection survives ---------------------------

def test_a_crash_while_answering_is_the_apis_500_and_the_connection_survives(server, client, monkeypatch):
    monkeypatch.setattr(app_module, "respond", crash)
    failed = client.post(f"{server.url}/v1/messages", json=HELLO, headers=HEADERS)
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/json"
    request_id = failed.headers["request-id"]
    assert failed.json() == {"type": "error", "error": {"details": None, "type": "api_error",
                                                        "message": "Internal server error"},
                             "request_id": request_id}
    assert server.requests[-1].error == "RuntimeError: boom" and server.requests[-1].status == 500
    monkeypatch.undo()
    ok = client.post(f"{server.url}/v1/messages", json=HELLO, headers=HEADERS)
    assert ok.status_code == 200 and ok.json()["content"][0]["text"] == "Hello! How can I help you today?"
    assert local_port(ok) == local_port(failed)  # the same keep-alive connection


def test_the_sdk_sees_the_crash_as_an_internal_server_error(server, monkeypatch):
    monkeypatch.setattr(app_module, "respond", crash)
    sdk = Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)
    with pytest.raises(anthropic.InternalServerError) as caught:
        sdk.messages.create(**HELLO)
    assert caught.value.status_code == 500 and caught.value.type == "api_error"
    assert caught.value.request_id == server.requests[-1].request_id


def test_a_crash_mid_stream_ends_the_stream_with_an_error_event(server, client, monkeypatch):
    real = app_module.stream_events

    def breaking(message: dict[str, Any]) -> Iterator[Any]:
        events = real(message)
        for _ in range(3):  # the server looks one event ahead, so two are sent before the failure shows
            yield next(events)
        raise RuntimeError("boom")

    monkeypatch.setattr(app_module, "stream_events", breaking)
    resp = client.post(f"{server.url}/v1/messages", json={**HELLO, "stream": True}, headers=HEADERS)
    assert resp.status_code == 200
    events = events_of(resp)
    assert [name for name, _ in events] == ["message_start", "content_block_start", "error"]
    assert events[-1][1] == {"type": "error", "error": {"details": None, "type": "api_error",
                                                        "message": "Internal server error"},
                             "request_id": resp.headers["request-id"]}
    assert server.requests[-1].error == "RuntimeError: boom"
    monkeypatch.undo()
    ok = client.post(f"{server.url}/v1/messages", json=HELLO, headers=HEADERS)
    assert ok.status_code == 200 and local_port(ok) == local_port(resp)


# -- rate-limit headers and x-should-retry ---------------------------------------------------------------------

def families(resp: httpx2.Response) -> dict[str, tuple[int, int, datetime]]:
    found = {}
    for name in ("requests", "input-tokens", "output-tokens", "tokens"):
        prefix = f"anthropic-ratelimit-{name}-"
        reset = datetime.fromisoformat(resp.headers[prefix + "reset"].replace("Z", "+00:00"))  # RFC 3339
        found[name] = (int(resp.headers[prefix + "limit"]), int(resp.headers[prefix + "remaining"]), reset)
    return found


def test_every_messages_answer_carries_the_four_rate_limit_families(server, client):
    ok = client.post(f"{server.url}/v1/messages", headers=HEADERS, json={
        **HELLO, "max_tokens": 20_000, "messages": [{"role": "user", "content": "Count to 3000"}]})
    assert ok.status_code == 200
    output_tokens = ok.json()["usage"]["output_tokens"]
    assert output_tokens > 5_000
    found = families(ok)
    now = datetime.now(UTC)
    # nominal: nothing is enforced, and the one request spent refills within ~15 ms (so `remaining` may be full again;
    # an enforced limit's count is checked in the next test)
    assert found["requests"][0] == 4_000 and 0 < found["requests"][1] <= 4_000
    assert found["input-tokens"][:2] == (2_000_000, 2_000_000)  # a few input tokens: rounded to the thousand
    assert found["output-tokens"][0] == 400_000
    assert found["output-tokens"][1] == round(400_000 - output_tokens, -3)
    assert found["tokens"] == found["output-tokens"]  # the more restrictive of the two now
    assert all(now - timedelta(seconds=2) <= reset <= now + timedelta(seconds=62) for _, _, reset in found.values())
    refused = client.post(f"{server.url}/v1/messages", headers=HEADERS, json={**HELLO, "messages": []})
    assert refused.status_code == 400 and set(families(refused)) == set(found)


def test_the_requests_family_reports_an_enforced_limit(server, client):
    server.configure(requests_per_minute=60)
    first = client.post(f"{server.url}/v1/messages", headers=HEADERS, json=HELLO)
    second = client.post(f"{server.url}/v1/messages", headers=HEADERS, json=HELLO)
    assert (first.status_code, second.status_code) == (200, 429)
    assert families(first)["requests"][:2] == (60, 0) and families(second)["requests"][:2] == (60, 0)
    assert second.headers["x-should-retry"] == "true" and int(second.headers["retry-after"]) >= 1


@pytest.mark.parametrize(("status", "should_retry"), [
    (400, "false"), (401, "false"), (403, "false"), (404, "false"), (409, "true"), (429, "true"), (500, "true"),
    (529, "true")])
def test_error_answers_say_whether_to_retry(server, client, status, should_retry):
    server.fail_next(status)
    resp = client.post(f"{server.url}/v1/messages", headers=HEADERS, json=HELLO)
    assert resp.status_code == status and resp.headers["x-should-retry"] == should_retry


def test_a_real_400_says_not_to_retry(server, client):
    resp = client.post(f"{server.url}/v1/messages", headers=HEADERS, json={**HELLO, "max_tokens": "ten"})
    assert resp.status_code == 400 and resp.headers["x-should-retry"] == "false"


def test_409_conflict_error_is_in_the_table_and_the_sdk_retries_it(server):
    server.fail_next(409, times=3, retry_after_ms=1)
    with pytest.raises(anthropic.ConflictError) as caught:
        Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=2).messages.create(**HELLO)
    assert caught.value.type == "conflict_error"
    assert caught.value.api_message == "The request conflicts with the current state of the resource."
    assert len(server.requests) == 3


def test_the_spend_cap_is_a_429_without_retry_after_that_the_sdk_does_not_retry(server, client):
    server.spend_cap_next()
    with pytest.raises(anthropic.EnforcedSpendLimitReachedError) as caught:
        Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=2).messages.create(**HELLO)
    error = caught.value
    assert isinstance(error, anthropic.RateLimitError) and error.status_code == 429
    assert error.type == "rate_limit_error" and error.error_code == "enforced_spend_limit_reached"
    assert error.api_message.startswith("You have reached your API tier's monthly spend limit.")
    assert "retry-after" not in error.response.headers and "retry-after-ms" not in error.response.headers
    assert error.response.headers["x-should-retry"] == "false"
    assert [(r.status, r.fault) for r in server.requests] == [(429, "spend_cap")]


def test_a_workspace_spend_limit_is_a_400(server):
    server.spend_limit_next()
    with pytest.raises(anthropic.BadRequestError) as caught:
        Anthropic(api_key="sk-ant-test", base_url=server.url).messages.create(**HELLO)
    assert caught.value.type == "invalid_request_error"
    assert caught.value.api_message.startswith("You have reached your specified workspace API usage limits. "
                                               "You will regain access on ")
    assert [(r.status, r.fault) for r in server.requests] == [(400, "spend_limit")]


# -- CORS (addendum section 9) ---------------------------------------------------------------------------------

ORIGIN = {"origin": "https://app.example"}


def test_a_browser_request_without_the_dangerous_header_is_refused_without_cors_headers(server, client):
    resp = client.post(f"{server.url}/v1/messages", headers={**HEADERS, **ORIGIN}, json=HELLO)
    assert resp.status_code == 401
    assert resp.json() == {"type": "error", "error": {
        "details": None, "type": "authentication_error",
        "message": "CORS requests must set 'anthropic-dangerous-direct-browser-access' header"},
        "request_id": resp.headers["request-id"]}
    assert not [name for name in resp.headers if name.startswith("access-control-")]


def test_a_browser_request_with_the_dangerous_header_gets_the_cors_headers(server, client):
    browser = {**HEADERS, **ORIGIN, "anthropic-dangerous-direct-browser-access": "true"}
    ok = client.post(f"{server.url}/v1/messages", headers=browser, json=HELLO)
    streamed = client.post(f"{server.url}/v1/messages", headers=browser, json={**HELLO, "stream": True})
    refused = client.post(f"{server.url}/v1/messages", headers=browser, json={**HELLO, "messages": []})
    models = client.get(f"{server.url}/v1/models", headers=browser)
    assert [r.status_code for r in (ok, streamed, refused, models)] == [200, 200, 400, 200]
    for resp in (ok, streamed, refused, models):
        assert resp.headers["access-control-allow-origin"] == "*"
        assert resp.headers["access-control-expose-headers"] == "*"
    plain = client.post(f"{server.url}/v1/messages", headers=HEADERS, json=HELLO)  # no Origin: no CORS headers
    assert "access-control-allow-origin" not in plain.headers


def test_a_preflight_is_answered_204_with_the_headers_a_browser_needs(server, client):
    asked = "x-api-key, anthropic-version, anthropic-beta, content-type, anthropic-dangerous-direct-browser-access"
    resp = client.options(f"{server.url}/v1/messages", headers={
        **ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": asked})
    assert resp.status_code == 204 and resp.content == b""
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["access-control-allow-methods"] == "GET, POST, DELETE, OPTIONS"
    assert resp.headers["access-control-allow-headers"] == asked
    assert server.requests[-1].method == "OPTIONS" and server.requests[-1].status == 204


# -- CPU work of a large body runs off the event loop ----------------------------------------------------------

def test_a_large_body_is_answered_from_a_worker_thread_and_a_small_one_inline(server, client, monkeypatch):
    real, threads = app_module._plan, []

    def watched(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(app_module, "_plan", watched)
    large = {**HELLO, "system": "x" * app_module.OFF_LOOP_BYTES}
    for body in (HELLO, large):
        resp = client.post(f"{server.url}/v1/messages", json=body, headers=HEADERS)
        assert resp.status_code == 200 and resp.json()["content"][0]["text"] == "Hello! How can I help you today?"
    assert threads[0] == "offline-claude"  # the server's own thread, which runs the event loop
    assert threads[1] != "offline-claude"


def test_a_failure_outside_the_handler_is_still_the_apis_500_json(server, client, monkeypatch):
    monkeypatch.setattr(app_module, "header_dict", crash)  # fails before the handler's own guard
    failed = client.post(f"{server.url}/v1/messages", json=HELLO, headers=HEADERS)
    assert failed.status_code == 500 and failed.headers["content-type"] == "application/json"
    assert failed.json() == {"type": "error", "error": {"details": None, "type": "api_error",
                                                        "message": "Internal server error"},
                             "request_id": failed.headers["request-id"]}
    assert failed.headers["x-should-retry"] == "true"
    monkeypatch.undo()
    ok = client.post(f"{server.url}/v1/messages", json=HELLO, headers=HEADERS)
    assert ok.status_code == 200 and local_port(ok) == local_port(failed)
