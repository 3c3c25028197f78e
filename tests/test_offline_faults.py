"""Faults on request: the SDK's real retry loop against injected 429/500/529s, drops and mid-stream errors."""

from __future__ import annotations

import random

import anthropic
import pytest
from anthropic import Anthropic

MODEL = "claude-haiku-5-5"
HELLO = [{"role": "user", "content": "Hello"}]


def client_for(server, **options):
    return Anthropic(api_key="sk-ant-test", base_url=server.url, **options)


def test_a_queued_429_is_retried_and_succeeds(server):
    server.fail_next(429, retry_after_ms=20)
    message = client_for(server).messages.create(model=MODEL, max_tokens=20, messages=HELLO)
    assert message.content[0].text.startswith("Hello")
    log = server.requests
    assert [(r.status, r.fault, r.retry_count) for r in log] == [(429, "fail_next", 0), (200, None, 1)]
    assert log[1].at - log[0].at >= 0.02  # the SDK waited retry-after-ms before retrying


def test_529s_beyond_max_retries_raise_overloaded(server):
    server.fail_next(529, times=3)
    with pytest.raises(anthropic.OverloadedError) as caught:
        client_for(server, max_retries=2).messages.create(model=MODEL, max_tokens=20, messages=HELLO)
    assert caught.value.status_code == 529 and caught.value.type == "overloaded_error"
    assert len(server.requests) == 3


def test_400_and_401_are_not_retried(server):
    with pytest.raises(anthropic.BadRequestError):
        client_for(server).messages.create(model=MODEL, max_tokens=20, messages=[])
    with pytest.raises(anthropic.AuthenticationError):
        Anthropic(api_key="not-a-key", base_url=server.url).messages.create(model=MODEL, max_tokens=20,
                                                                            messages=HELLO)
    assert [r.status for r in server.requests] == [400, 401]


def test_without_retry_after_the_sdk_backs_off_on_its_own(server):
    server.fail_next(500, retry_after_ms=None)
    client_for(server).messages.create(model=MODEL, max_tokens=20, messages=HELLO)
    first, second = server.requests
    assert 0.3 <= second.at - first.at  # the SDK's backoff: 0.375-0.5 s for the first retry


def test_a_dropped_connection_raises_api_connection_error(server_each_parser):
    server = server_each_parser
    server.drop_next()
    with pytest.raises(anthropic.APIConnectionError):
        client_for(server, max_retries=0).messages.create(model=MODEL, max_tokens=20, messages=HELLO)
    server.drop_next()
    assert client_for(server, max_retries=2).messages.create(model=MODEL, max_tokens=20, messages=HELLO)
    assert [r.fault for r in server.requests] == ["drop", "drop", None]


def test_faults_are_served_in_the_order_they_were_queued(server):
    server.fail_next(429)
    server.drop_next()
    server.fail_next(529)
    client_for(server, max_retries=3).messages.create(model=MODEL, max_tokens=20, messages=HELLO)
    assert [(r.status, r.fault) for r in server.requests] == [
        (429, "fail_next"), (None, "drop"), (529, "fail_next"), (200, None)]


def test_a_mid_stream_error_raises_api_status_error_and_is_not_retried(server):
    server.fail_stream_next(after_events=5)
    received = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client_for(server).messages.stream(model=MODEL, max_tokens=300, messages=[
                {"role": "user", "content": "Write a story about a lighthouse"}]) as stream:
            received.extend(stream.text_stream)
    error = caught.value
    assert not isinstance(error, anthropic.OverloadedError) and error.status_code == 200
    assert error.type == "overloaded_error" and received  # text before the break stays delivered
    assert len(server.requests) == 1 and server.requests[0].fault == "stream_error"


def test_rate_limit_is_enforced_and_retry_after_is_honoured(server):
    server.configure(requests_per_minute=120)  # a bucket of 2, refilled at 2 per second
    sdk = client_for(server, max_retries=0)
    statuses = []
    for _ in range(4):
        try:
            sdk.messages.create(model=MODEL, max_tokens=5, messages=HELLO)
            statuses.append(200)
        except anthropic.RateLimitError as error:
            statuses.append(error.status_code)
            assert 0 < int(error.response.headers["retry-after-ms"]) <= 500
    assert statuses[:2] == [200, 200] and 429 in statuses[2:]
    assert client_for(server, max_retries=3).messages.create(model=MODEL, max_tokens=5, messages=HELLO)


def test_soak_with_twenty_percent_failures_loses_nothing(server):
    """A few hundred requests, about one attempt in five failing: with max_retries=6 every one succeeds."""
    rng = random.Random(7)
    sdk = client_for(server, max_retries=6)
    answers = []
    for n in range(300):
        if rng.random() < 0.25:
            fault = rng.choice(["429", "500", "529", "drop"])
            if fault == "drop":
                server.drop_next()
            else:
                server.fail_next(int(fault), times=rng.choice([1, 1, 2]), retry_after_ms=1)
        reply = sdk.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": f"{n} + 1?"}])
        answers.append(reply.content[0].text)
    assert answers == [f"{n} + 1 = {n + 1}." for n in range(300)]
    attempts = server.requests
    failed = sum(r.fault is not None for r in attempts)
    assert 0.15 <= failed / len(attempts) <= 0.3, (failed, len(attempts))
