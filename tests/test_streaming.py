"""stream_text and stream_with_restart, driven through the real SDK against the offline Claude."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from anthropic import Anthropic

from helpers.streaming import is_mid_stream_failure, stream_text, stream_with_restart

MODEL = "claude-haiku-5-5"
STORY = {"model": MODEL, "max_tokens": 300,
         "messages": [{"role": "user", "content": "Write a long story about a lighthouse."}]}


@pytest.fixture
def client(server):
    return Anthropic(api_key="sk-ant-test", base_url=server.url)


@pytest.fixture
def unbroken_text(client, server):
    """The text of the story streamed without any fault, and a clean request log afterwards."""
    text = stream_text(client, **STORY).content[0].text
    server.clear_requests()
    return text


def test_stream_text_passes_every_chunk_and_returns_the_final_message(client, server):
    chunks: list[str] = []
    message = stream_text(client, on_text=chunks.append, **STORY)
    assert len(chunks) > 10 and "".join(chunks) == message.content[0].text
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 100
    assert [(r.status, r.stream) for r in server.requests] == [(200, True)]


@pytest.mark.parametrize("breaks", [1, 2])
def test_restart_after_mid_stream_errors_gives_the_unbroken_text(client, server, unbroken_text, breaks):
    for _ in range(breaks):
        server.fail_stream_next(after_events=6)
    chunks: list[str] = []
    restarts: list[BaseException] = []
    message = stream_with_restart(client, wait_s=0, on_text=chunks.append, on_restart=restarts.append, **STORY)
    assert message.content[0].text == unbroken_text
    assert message.stop_reason == "end_turn"
    assert len(restarts) == breaks and all(e.type == "overloaded_error" for e in restarts)
    assert "".join(chunks).endswith(unbroken_text) and len("".join(chunks)) > len(unbroken_text)
    assert [r.fault for r in server.requests] == ["stream_error"] * breaks + [None]


def test_an_api_error_mid_stream_is_restarted_too(client, server, unbroken_text):
    server.fail_stream_next(after_events=4, error_type="api_error")
    assert stream_with_restart(client, wait_s=0, **STORY).content[0].text == unbroken_text
    assert len(server.requests) == 2


def test_gives_up_after_attempts_and_raises_the_stream_error(client, server):
    for _ in range(3):
        server.fail_stream_next(after_events=5)
    with pytest.raises(anthropic.APIStatusError) as caught:
        stream_with_restart(client, attempts=3, wait_s=0, **STORY)
    assert caught.value.status_code == 200 and caught.value.type == "overloaded_error"
    assert [r.fault for r in server.requests] == ["stream_error"] * 3


def test_attempts_one_means_no_restart(client, server):
    server.fail_stream_next(after_events=5)
    with pytest.raises(anthropic.APIStatusError):
        stream_with_restart(client, attempts=1, wait_s=0, **STORY)
    assert len(server.requests) == 1


def test_a_400_is_raised_at_once(client, server):
    with pytest.raises(anthropic.BadRequestError):
        stream_with_restart(client, wait_s=0, **{**STORY, "messages": []})
    assert [r.status for r in server.requests] == [400]


def test_a_mid_stream_error_of_another_type_is_not_restarted(client, server):
    server.fail_stream_next(after_events=5, error_type="invalid_request_error")
    with pytest.raises(anthropic.APIStatusError) as caught:
        stream_with_restart(client, wait_s=0, **STORY)
    assert caught.value.type == "invalid_request_error"
    assert len(server.requests) == 1


def test_a_pre_stream_529_is_left_to_the_sdk_retry(client, server, unbroken_text):
    server.fail_next(529)
    restarts: list[BaseException] = []
    message = stream_with_restart(client, wait_s=0, on_restart=restarts.append, **STORY)
    assert message.content[0].text == unbroken_text and restarts == []
    assert [(r.status, r.fault, r.retry_count) for r in server.requests] == [(529, "fail_next", 0), (200, None, 1)]


def test_pre_stream_errors_beyond_the_sdk_retries_are_not_restarted(server):
    server.fail_next(529, times=2)
    client = Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=1)
    with pytest.raises(anthropic.OverloadedError):
        stream_with_restart(client, wait_s=0, **STORY)
    assert len(server.requests) == 2


class CutFirstBody(httpx2.BaseTransport):
    """A real HTTP transport that loses the connection partway through the first response body."""

    def __init__(self, keep_bytes: int) -> None:
        self.inner = httpx2.HTTPTransport()
        self.keep_bytes = keep_bytes
        self.cut = False

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        if self.cut:
            return response
        self.cut = True
        return httpx2.Response(response.status_code, headers=response.headers,
                               stream=CutStream(response.stream, self.keep_bytes), request=request)

    def close(self) -> None:
        self.inner.close()


class CutStream(httpx2.SyncByteStream):
    def __init__(self, inner, keep_bytes: int) -> None:
        self.inner, self.keep_bytes = inner, keep_bytes

    def __iter__(self):
        sent = 0
        for chunk in self.inner:
            yield chunk[: self.keep_bytes - sent]
            sent += len(chunk)
            if sent >= self.keep_bytes:
                raise httpx2.ReadError("connection lost mid-body")

    def close(self) -> None:
        self.inner.close()


def test_a_connection_lost_mid_body_is_restarted(server, unbroken_text):
    transport = CutFirstBody(keep_bytes=1500)
    client = Anthropic(api_key="sk-ant-test", base_url=server.url, http_client=httpx2.Client(transport=transport))
    chunks: list[str] = []
    restarts: list[BaseException] = []
    message = stream_with_restart(client, wait_s=0, on_text=chunks.append, on_restart=restarts.append, **STORY)
    assert message.content[0].text == unbroken_text
    assert len(restarts) == 1 and isinstance(restarts[0], httpx2.TransportError)
    assert len("".join(chunks)) > len(unbroken_text)  # some text had arrived before the cut
    assert len(server.requests) == 2


def test_is_mid_stream_failure_tells_the_cases_apart(client, server):
    server.fail_next(400)
    with pytest.raises(anthropic.APIStatusError) as before_stream:
        stream_text(client, **STORY)
    server.fail_stream_next(after_events=5)
    with pytest.raises(anthropic.APIStatusError) as mid_stream:
        stream_text(client, **STORY)
    assert not is_mid_stream_failure(before_stream.value)
    assert is_mid_stream_failure(mid_stream.value)
    assert is_mid_stream_failure(httpx2.ReadError("lost"))
    assert not is_mid_stream_failure(ValueError("not a network error"))


def test_attempts_below_one_is_refused(client):
    with pytest.raises(ValueError, match="attempts"):
        stream_with_restart(client, attempts=0, **STORY)
