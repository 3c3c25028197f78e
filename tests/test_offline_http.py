"""The offline Claude at the HTTP level, where the SDK hides things: its own failures, headers and CORS.

Raw requests through `httpx2`, on one keep-alive connection where it matters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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
        yield next(events)
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
