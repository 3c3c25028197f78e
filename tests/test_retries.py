"""helpers.retries against the offline Claude with faults queued: what is retried, how long it waits, when it stops.

Clients are built with `max_retries=0` so every attempt the server logs is one of tenacity's, not the SDK's.
"""

from __future__ import annotations

import asyncio
import logging
import time

import anthropic
import httpx2
import pytest
from anthropic import Anthropic, AsyncAnthropic

from helpers.retries import is_transient, retry_after_seconds, retry_api_errors

MODEL = "claude-haiku-5-5"
HELLO = [{"role": "user", "content": "Hello"}]
STORY = [{"role": "user", "content": "Write a short story about a lighthouse."}]
FAST = {"base": 0.001, "max_wait": 1.0, "before_sleep": lambda state: None}


def client_for(server, api_key: str = "sk-ant-test") -> Anthropic:
    return Anthropic(api_key=api_key, base_url=server.url, max_retries=0)


def test_429_529_500_and_drops_are_retried_until_success(server):
    server.drop_next()  # a dropped connection comes first: the server drops before it looks at faults
    server.fail_next(429, retry_after_ms=1)
    server.fail_next(529, retry_after_ms=1)
    server.fail_next(500, retry_after_ms=None)
    client = client_for(server)

    @retry_api_errors(attempts=5, **FAST)
    def ask() -> str:
        return client.messages.create(model=MODEL, max_tokens=20, messages=HELLO).content[0].text

    assert ask().startswith("Hello")
    log = server.requests
    assert [(r.status, r.fault) for r in log] == [
        (None, "drop"), (429, "fail_next"), (529, "fail_next"), (500, "fail_next"), (200, None)]
    assert {r.retry_count for r in log} == {0}  # every retry was tenacity's


def test_a_stream_broken_halfway_is_restarted_and_completes(server):
    client = client_for(server)
    with client.messages.stream(model=MODEL, max_tokens=300, messages=STORY) as stream:
        unbroken = stream.get_final_text()
    server.clear_requests()
    server.fail_stream_next(after_events=5, error_type="overloaded_error")
    server.fail_stream_next(after_events=8, error_type="api_error")
    errors = []

    @retry_api_errors(attempts=4, base=0.001, max_wait=1.0, before_sleep=lambda s: errors.append(s.outcome.exception()))
    def story() -> str:
        with client.messages.stream(model=MODEL, max_tokens=300, messages=STORY) as stream:
            return stream.get_final_text()

    assert story() == unbroken
    assert [r.fault for r in server.requests] == ["stream_error", "stream_error", None]
    assert [(error.status_code, error.type) for error in errors] == [(200, "overloaded_error"), (200, "api_error")]


def test_retry_after_ms_is_honoured(server):
    server.fail_next(429, retry_after_ms=250)
    client = client_for(server)

    @retry_api_errors(attempts=3, **FAST)  # without the header it would wait at most 1 ms
    def ask() -> anthropic.types.Message:
        return client.messages.create(model=MODEL, max_tokens=20, messages=HELLO)

    ask()
    first, second = server.requests
    assert second.at - first.at >= 0.25


@pytest.mark.parametrize(("make_call", "error_class"), [
    (lambda c: c.messages.create(model=MODEL, max_tokens=20, messages=[]), anthropic.BadRequestError),
    (lambda c: c.with_options(api_key="not-a-key").messages.create(model=MODEL, max_tokens=20, messages=HELLO),
     anthropic.AuthenticationError),
    (lambda c: c.messages.create(model="claude-nope", max_tokens=20, messages=HELLO), anthropic.NotFoundError),
], ids=["400", "401", "404"])
def test_client_errors_are_not_retried(server, make_call, error_class):
    client = client_for(server)
    with pytest.raises(error_class):
        retry_api_errors(attempts=5, **FAST)(make_call)(client)
    assert len(server.requests) == 1


def test_gives_up_after_attempts_and_reraises_the_original_error(server):
    server.fail_next(529, times=5, retry_after_ms=1)
    client = client_for(server)
    call = retry_api_errors(attempts=3, **FAST)(client.messages.create)
    with pytest.raises(anthropic.OverloadedError) as caught:
        call(model=MODEL, max_tokens=20, messages=HELLO)
    assert caught.value.status_code == 529 and caught.value.type == "overloaded_error"
    assert len(server.requests) == 3


def test_a_retry_after_longer_than_max_wait_gives_up_at_once(server):
    server.fail_next(429, retry_after_ms=3_600_000)
    call = retry_api_errors(attempts=5, **FAST)(client_for(server).messages.create)
    started = time.monotonic()
    with pytest.raises(anthropic.RateLimitError):
        call(model=MODEL, max_tokens=20, messages=HELLO)
    assert time.monotonic() - started < 1.0 and len(server.requests) == 1


def test_give_up_after_bounds_the_total_time(server):
    server.fail_next(500, times=20, retry_after_ms=100)
    call = retry_api_errors(attempts=100, give_up_after=0.25, **FAST)(client_for(server).messages.create)
    with pytest.raises(anthropic.InternalServerError):
        call(model=MODEL, max_tokens=20, messages=HELLO)
    assert 2 <= len(server.requests) <= 5


def test_async_functions_are_retried_too(server):
    server.fail_next(500, retry_after_ms=1)

    @retry_api_errors(attempts=3, **FAST)
    async def ask(client: AsyncAnthropic) -> str:
        reply = await client.messages.create(model=MODEL, max_tokens=20, messages=HELLO)
        return reply.content[0].text

    async def main() -> str:
        async with AsyncAnthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as client:
            return await ask(client)

    assert asyncio.run(main()).startswith("Hello")
    assert [r.status for r in server.requests] == [500, 200]


def test_each_retry_is_logged_as_a_warning_by_default(server, caplog):
    server.fail_next(529, times=2, retry_after_ms=1)
    call = retry_api_errors(attempts=3, base=0.001)(client_for(server).messages.create)
    with caplog.at_level(logging.WARNING, logger="helpers.retries"):
        call(model=MODEL, max_tokens=20, messages=HELLO)
    ours = [record for record in caplog.records if record.name == "helpers.retries"]
    assert [record.levelno for record in ours] == [logging.WARNING] * 2
    assert "OverloadedError" in ours[0].getMessage()


def mock_client(status: int, headers: dict[str, str]) -> Anthropic:
    """A client whose every request is answered `status` with `headers` (the server decides about retries)."""
    body = {"type": "error", "error": {"type": "api_error", "message": "test"}, "request_id": "req_test"}
    transport = httpx2.MockTransport(lambda request: httpx2.Response(status, json=body, headers=headers))
    return Anthropic(api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=transport))


@pytest.mark.parametrize(("status", "header", "retried"), [(503, "false", False), (400, "true", True)])
def test_x_should_retry_overrides_the_status_rule(status, header, retried):
    client = mock_client(status, {"x-should-retry": header})
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model=MODEL, max_tokens=20, messages=HELLO)
    assert is_transient(caught.value) is retried


def test_retry_after_is_read_in_seconds_and_as_an_http_date():
    def error_with(headers: dict[str, str]) -> anthropic.APIStatusError:
        with pytest.raises(anthropic.RateLimitError) as caught:
            mock_client(429, headers).messages.create(model=MODEL, max_tokens=20, messages=HELLO)
        return caught.value

    assert retry_after_seconds(error_with({"retry-after": "7"})) == 7.0
    assert retry_after_seconds(error_with({"retry-after-ms": "1500", "retry-after": "2"})) == 1.5
    in_a_minute = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    assert 55 <= retry_after_seconds(error_with({"retry-after": in_a_minute})) <= 60
    assert retry_after_seconds(error_with({"retry-after": "0"})) is None
    assert retry_after_seconds(error_with({})) is None
