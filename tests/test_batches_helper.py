"""`helpers.batches` against the offline Claude's Message Batches API, with the real SDK client.

The server's batch clock is frozen, and `wait` is given the server's `advance_batch_clock` as its `sleep`, so a
poll schedule, a 24-hour expiry and a timeout are all reached without waiting, and each poll is a real HTTP request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from anthropic import Anthropic
from anthropic.types.messages.batch_create_params import Request
from hypothesis import given
from hypothesis import strategies as st

from helpers.batches import collect, ended_count, run_batch, should_resubmit, split, submit, wait
from helpers.offline import OfflineClaude, start_server
from helpers.offline.batch_store import BatchClock, BatchStore

MODEL = "claude-haiku-5-5"
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def running() -> Iterator[OfflineClaude]:
    with start_server(first_token_ms=0, per_token_ms=0) as serving:
        yield serving


@pytest.fixture
def server(running: OfflineClaude) -> OfflineClaude:
    """The module's server with a fresh batch store on a frozen clock, no faults and an empty log."""
    running.state.batches = BatchStore(BatchClock(START, frozen=True))
    running.reset_faults()
    running.clear_requests()
    return running


@pytest.fixture
def client(server: OfflineClaude) -> Iterator[Anthropic]:
    with Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as sdk:
        yield sdk


def request(custom_id: str, text: str = "What is 2 + 2?", **params: object) -> Request:
    return {"custom_id": custom_id, "params": {"model": MODEL, "max_tokens": 50,
                                              "messages": [{"role": "user", "content": text}], **params}}


def text(result) -> str:
    return "".join(block.text for block in result.message.content if block.type == "text")


def batch_requests(server: OfflineClaude) -> list[str]:
    """The batch endpoints the server was sent, as 'METHOD /path' with the batch id replaced by {id}."""
    paths = []
    for record in server.requests:
        parts = record.path.split("/")
        if len(parts) > 4:
            parts[4] = "{id}"
        paths.append(f"{record.method} {'/'.join(parts)}")
    return paths


# -- split -------------------------------------------------------------------------------------------------------------

def test_split_keeps_order_and_respects_the_request_limit():
    requests = [request(f"r{n}") for n in range(7)]
    chunks = split(requests, max_requests=3)
    assert [[r["custom_id"] for r in chunk] for chunk in chunks] == [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]]


def test_split_respects_the_byte_limit_counted_as_the_api_body():
    requests = [request(f"r{n}") for n in range(5)]
    one = len(json.dumps(requests[0], separators=(",", ":")).encode()) + 1
    chunks = split(requests, max_bytes=len(b'{"requests":[]}') + 2 * one)
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    for chunk in chunks:  # each chunk, sent as the SDK sends it, is within the limit
        assert len(json.dumps({"requests": chunk}, separators=(",", ":")).encode()) <= 15 + 2 * one


@given(texts=st.lists(st.text(max_size=100), max_size=40), max_requests=st.integers(1, 10),
       max_bytes=st.integers(1_500, 6_000))
def test_split_keeps_every_request_once_in_order_and_every_chunk_within_both_limits(texts, max_requests, max_bytes):
    requests = [request(f"r{n}", text) for n, text in enumerate(texts)]
    chunks = split(requests, max_requests=max_requests, max_bytes=max_bytes)
    assert [r for chunk in chunks for r in chunk] == requests
    for chunk in chunks:
        assert 1 <= len(chunk) <= max_requests
        assert len(json.dumps({"requests": chunk}, separators=(",", ":")).encode()) <= max_bytes
    # a chunk is cut only when the next request would not fit
    for chunk, following in zip(chunks, chunks[1:], strict=False):
        grown = json.dumps({"requests": [*chunk, following[0]]}, separators=(",", ":")).encode()
        assert len(chunk) == max_requests or len(grown) > max_bytes


def test_split_refuses_a_repeated_custom_id_and_an_oversized_request():
    with pytest.raises(ValueError, match="custom_id 'a' is used twice; give every request its own custom_id"):
        split([request("a"), request("b"), request("a")])
    with pytest.raises(ValueError, match=r"request 'big' alone is [\d,]+ bytes, over the 200-byte batch limit"):
        split([request("big", "x" * 500)], max_bytes=200)


def test_split_of_nothing_is_no_batch(client, server):
    assert split([]) == []
    assert submit(client, []) == []
    assert server.requests == []


# -- submit, wait, collect ---------------------------------------------------------------------------------------------

def test_submit_creates_one_batch_per_chunk(client, server):
    batches = submit(client, [request(f"r{n}") for n in range(5)], max_requests=2)
    assert [b.request_counts.processing for b in batches] == [2, 2, 1]
    assert [b.processing_status for b in batches] == ["in_progress"] * 3
    assert batch_requests(server) == ["POST /v1/messages/batches"] * 3


def test_wait_polls_with_doubling_waits_until_the_batch_ends(client, server):
    server.expire_batch_requests(["slow"])  # the batch runs until its 24-hour expiry
    batch = client.messages.batches.create(requests=[request("slow"), request("quick")])
    waits: list[float] = []
    seen: list[tuple[str, int]] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        server.advance_batch_clock(seconds)

    ended = wait(client, batch.id, max_poll_s=3600, sleep=sleep,
                 on_poll=lambda b: seen.append((b.processing_status, ended_count(b))))
    assert ended.processing_status == "ended"
    assert ended.request_counts.model_dump() == {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 0,
                                                 "expired": 1}
    # 1 + 2 + ... + 2048 s = 4095 s, then 3600 s each: the 24 hours (86,400 s) are passed on the 30th wait
    assert waits == [2.0 ** n for n in range(12)] + [3600.0] * 23
    assert seen == [("in_progress", 0)] * 35 + [("ended", 2)]
    assert batch_requests(server) == ["POST /v1/messages/batches"] + ["GET /v1/messages/batches/{id}"] * 36


def test_wait_gives_up_after_timeout_and_the_batch_goes_on(client, server):
    server.expire_batch_requests(["slow"])
    batch = client.messages.batches.create(requests=[request("slow")])
    with pytest.raises(TimeoutError, match=f"batch {batch.id} is still in_progress after 7 s of waiting; wait again "
                                           "later, or cancel it"):
        wait(client, batch.id, timeout_s=10, sleep=server.advance_batch_clock)
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"


def test_collect_matches_every_result_by_custom_id(client, server):
    server.fail_batch_requests(["b"], 529)
    batch = client.messages.batches.create(requests=[request("a", "What is 2 + 2?"), request("b"),
                                                     request("c", "What is the capital of France?")])
    wait(client, batch.id, sleep=server.advance_batch_clock)
    results = collect(client, batch.id)
    assert sorted(results) == ["a", "b", "c"]
    assert text(results["a"]) == "2 + 2 = 4."
    assert text(results["c"]) == "The capital of France is Paris."
    assert results["b"].type == "errored" and results["b"].error.error.type == "overloaded_error"


# -- what to resubmit --------------------------------------------------------------------------------------------------

def test_should_resubmit_server_errors_and_expired_only(client, server):
    server.fail_batch_requests(["overloaded"], 529)
    server.fail_batch_requests(["internal"], 500)
    server.fail_batch_requests(["limited"], 429)
    server.fail_batch_requests(["forbidden"], 403)
    server.expire_batch_requests(["stuck"])
    requests = [request(n) for n in ("ok", "overloaded", "internal", "limited", "forbidden", "stuck")]
    requests.append(request("invalid", max_tokens=0))  # checked when processed: an invalid_request_error
    batch = client.messages.batches.create(requests=requests)
    wait(client, batch.id, max_poll_s=86_400, sleep=server.advance_batch_clock)
    results = collect(client, batch.id)
    assert {cid: r.type for cid, r in results.items()} == {
        "ok": "succeeded", "overloaded": "errored", "internal": "errored", "limited": "errored",
        "forbidden": "errored", "stuck": "expired", "invalid": "errored"}
    assert {cid: r.error.error.type for cid, r in results.items() if r.type == "errored"} == {
        "overloaded": "overloaded_error", "internal": "api_error", "limited": "rate_limit_error",
        "forbidden": "permission_error", "invalid": "invalid_request_error"}
    assert {cid: should_resubmit(r) for cid, r in results.items()} == {
        "ok": False, "overloaded": True, "internal": True, "limited": True, "forbidden": False, "stuck": True,
        "invalid": False}


def test_canceled_is_not_resubmitted(client, server):
    server.expire_batch_requests(["slow"])
    batch = client.messages.batches.create(requests=[request("slow")])
    client.messages.batches.cancel(batch.id)
    ended = wait(client, batch.id, sleep=server.advance_batch_clock)
    result = collect(client, batch.id)["slow"]
    assert (ended.request_counts.canceled, result.type, should_resubmit(result)) == (1, "canceled", False)


# -- the whole loop ----------------------------------------------------------------------------------------------------

def test_run_batch_resubmits_only_the_failures_that_can_succeed(client, server):
    server.fail_batch_requests(["t2"], 529)
    server.expire_batch_requests(["t3"])
    requests = [request(f"t{n}", f"What is {n} + {n}?") for n in range(1, 6)]
    requests.append(request("bad", max_tokens=0))
    results = run_batch(client, requests, max_poll_s=86_400, sleep=server.advance_batch_clock)
    assert {cid: r.type for cid, r in results.items()} == {
        "t1": "succeeded", "t2": "succeeded", "t3": "succeeded", "t4": "succeeded", "t5": "succeeded",
        "bad": "errored"}
    assert text(results["t3"]) == "3 + 3 = 6."
    creates = [r.body for r in server.requests if r.method == "POST"]
    assert [[item["custom_id"] for item in body["requests"]] for body in creates] == [
        ["t1", "t2", "t3", "t4", "t5", "bad"], ["t2", "t3"]]


def test_run_batch_stops_after_its_rounds_and_keeps_the_last_failure(client, server):
    server.fail_batch_requests(["t1"], 500)
    results = run_batch(client, [request("t1")], rounds=1, sleep=server.advance_batch_clock)
    assert results["t1"].type == "errored" and results["t1"].error.error.type == "api_error"
    assert [r.method for r in server.requests].count("POST") == 1
    with pytest.raises(ValueError, match="rounds must be at least 1, not 0"):
        run_batch(client, [request("t1")], rounds=0)
