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
    ok(create(http, headers=[("anthropic-beta", " token-counting-2024-11-01 ,, oauth-2025-04-20 ,")]))


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
