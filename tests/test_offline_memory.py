"""Hostile bodies cost the offline Claude no lasting memory, and the request log is bounded in bytes.

The server runs in its own process (`python -m helpers.offline`), so its resident memory (psutil) is its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx2
import psutil
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.offline import state as state_module
from helpers.offline.state import BODY_HEAD_BYTES, BODY_KEPT_BYTES, LOG_BODY_BYTES
from tests.standalone import standalone_offline_claude

MODEL = "claude-haiku-5-5"
HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
MB = 1024 * 1024


@pytest.fixture(scope="module")
def standalone() -> Iterator[tuple[str, psutil.Process]]:
    with standalone_offline_claude() as (process, url):
        yield url, psutil.Process(process.pid)


def hello(client: httpx2.Client, url: str) -> httpx2.Response:
    body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "Hello"}]}
    return client.post(f"{url}/v1/messages", json=body, headers=HEADERS)


def test_eight_refused_ten_megabyte_bodies_leave_no_lasting_memory(standalone):
    url, process = standalone
    with httpx2.Client(timeout=120) as client:
        assert hello(client, url).status_code == 200
        before = process.memory_info().rss
        empties = b"{}," * (3_300_000 - 1) + b"{}"  # 9.9 MB of `{}`: each one a dict once parsed
        raw = b'{"model": "' + MODEL.encode() + b'", "max_tokens": 10, "messages": [' + empties + b"]}"
        assert 9_800_000 < len(raw) < 10_000_000
        for _ in range(8):
            resp = client.post(f"{url}/v1/messages", content=raw, headers=HEADERS)
            assert resp.status_code == 400
            assert resp.json()["error"]["message"] == "messages.0.role: Field required"
        grown = process.memory_info().rss - before  # before any other request could release what was kept
        assert hello(client, url).status_code == 200  # the same connection still serves
    assert grown < 100 * MB, f"the server grew by {grown / MB:.0f} MB"


def test_a_hundred_megabyte_body_is_refused_unread(standalone):
    url, process = standalone
    with httpx2.Client(timeout=120) as client:
        assert hello(client, url).status_code == 200
        before = process.memory_info().rss
        resp = client.post(f"{url}/v1/messages", content=b"x" * (100 * MB), headers=HEADERS)
        assert resp.status_code == 413
        assert resp.json() == {"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}}
        assert "request-id" not in resp.headers
        grown = process.memory_info().rss - before
        assert hello(client, url).status_code == 200  # uvicorn discarded the rest; the connection still serves
    assert grown < 100 * MB, f"the server grew by {grown / MB:.0f} MB"


def test_a_chunked_body_is_refused_once_it_passes_32_mb(standalone):
    url, process = standalone
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(100):  # 100 MB offered, in 1 MB pieces
            sent += MB
            yield b"x" * MB

    with httpx2.Client(timeout=120) as client:
        before = process.memory_info().rss
        resp = client.post(f"{url}/v1/messages", content=chunks(), headers=HEADERS)
        grown = process.memory_info().rss - before
    assert "content-length" not in resp.request.headers and resp.request.headers["transfer-encoding"] == "chunked"
    assert resp.status_code == 413 and resp.json()["error"]["type"] == "request_too_large"
    assert grown < 100 * MB, f"the server grew by {grown / MB:.0f} MB"


def test_the_log_keeps_small_bodies_whole_and_large_ones_as_a_summary(server):
    with httpx2.Client(timeout=60) as client:
        assert hello(client, server.url).status_code == 200
        padding = "a" * BODY_KEPT_BYTES
        big = json.dumps({"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": padding}]})
        assert client.post(f"{server.url}/v1/messages", content=big, headers=HEADERS).status_code == 200
    small, large = server.requests
    assert small.body["messages"] == [{"role": "user", "content": "Hello"}]  # parsed on access, as sent
    assert small.body_size == len(small.raw_body) and small.body_sha256 == hashlib.sha256(small.raw_body).hexdigest()
    assert large.body is None and large.raw_body is None
    assert large.body_size == len(big.encode())
    assert large.body_sha256 == hashlib.sha256(big.encode()).hexdigest()
    assert large.body_head == big.encode()[:BODY_HEAD_BYTES]


def test_the_log_is_bounded_in_bytes_the_oldest_bodies_going_first(server):
    per_body = BODY_KEPT_BYTES - 1024
    count = LOG_BODY_BYTES // per_body + 8
    with httpx2.Client(timeout=60) as client:
        for n in range(count):
            body = {"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": f"{n} " + "b" * (
                per_body - 120)}]}
            assert client.post(f"{server.url}/v1/messages", json=body, headers=HEADERS).status_code == 200
    log = server.requests
    assert len(log) == count  # every request is still listed
    kept = [r for r in log if r.raw_body is not None]
    assert sum(len(r.raw_body) for r in kept) <= LOG_BODY_BYTES
    assert log[-1].body["messages"][0]["content"].startswith(f"{count - 1} ")  # the newest are whole
    assert log[0].body is None and log[0].body_sha256 is not None  # the oldest kept only as a summary
    assert kept == log[-len(kept):]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), max_size=60), st.integers(min_value=1, max_value=12))
def test_the_log_bound_holds_for_any_sequence_of_bodies(sizes, log_size):
    """With small limits (10-byte bodies kept, 50 bytes in all, `log_size` records), whatever arrives: the count
    and byte bounds hold, the accounting is exact, and the bodies kept whole are the newest small ones."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(state_module, "BODY_KEPT_BYTES", 10)
        patch.setattr(state_module, "LOG_BODY_BYTES", 50)
        patch.setattr(state_module, "LOG_SIZE", log_size)
        state = state_module.ServerState(state_module.Options())
        for n, size in enumerate(sizes):
            record = state.record(state_module.RequestRecord(at=0.0, method="POST", path="/v1/messages", headers={}))
            state.keep_body(record, bytes([n % 256]) * size)
        log = list(state.log)
        kept = [len(r.raw_body) for r in log if r.raw_body is not None]
        assert len(log) == min(len(sizes), log_size)
        assert state.log_bytes == sum(kept) <= 50
        assert all(r.raw_body is None for r in log if r.body_size > 10)
        assert all(r.body_size == size for r, size in zip(log, sizes[len(sizes) - len(log):], strict=True))
        small = [r for r in log if r.body_size <= 10]
        assert [r.raw_body is not None for r in small] == sorted(r.raw_body is not None for r in small)


def test_a_body_set_already_parsed_is_kept_as_json_and_counted(server):
    record = server.state.record(state_module.RequestRecord(at=0.0, method="POST", path="/v1/messages/batches",
                                                            headers={}))
    record.body = {"requests": [{"custom_id": "a", "params": {"model": MODEL}}]}
    assert record.body == {"requests": [{"custom_id": "a", "params": {"model": MODEL}}]}
    assert record.raw_body == b'{"requests": [{"custom_id": "a", "params": {"model": "claude-haiku-5-5"}}]}'
    with httpx2.Client(timeout=30) as client:
        assert hello(client, server.url).status_code == 200
    assert server.state.log_bytes == sum(len(r.raw_body) for r in server.requests if r.raw_body is not None)
