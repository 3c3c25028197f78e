"""The offline Claude's Message Batches API, driven by the real SDK (`client.messages.batches.*`) and raw httpx2.

Each test gets a fresh server on a free port whose batch clock is frozen at a fixed instant, so a batch moves only
when the test advances the clock: polling, cancelling mid-processing, 24-hour expiry and 29-day archival are all
reached without waiting.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import anthropic
import httpx2
import pytest
from anthropic import Anthropic, AsyncAnthropic
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.offline import OfflineClaude, batches, start_server
from helpers.offline.batch_store import CANCEL_S, Batch, BatchClock, BatchItem, BatchStore, processing_time
from helpers.offline.state import Fault, Options, ServerState

MODEL = "claude-haiku-5-5"
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
KEY = "sk-ant-test"


@pytest.fixture(scope="module")
def running() -> Iterator[OfflineClaude]:
    """One offline Claude for the module, its batches on a frozen clock that only `advance_batch_clock` moves."""
    with start_server(first_token_ms=0, per_token_ms=0) as serving:
        serving.state.batches = BatchStore(BatchClock(START, frozen=True))
        yield serving


@pytest.fixture
def server(running: OfflineClaude) -> OfflineClaude:
    """The module's server with a fresh batch store (clock frozen at START), no faults and an empty log."""
    running.state.batches = BatchStore(BatchClock(START, frozen=True))
    running.reset_faults()
    running.clear_requests()
    return running


@pytest.fixture
def client(server: OfflineClaude) -> Iterator[Anthropic]:
    with Anthropic(api_key=KEY, base_url=server.url, max_retries=0) as sdk:
        yield sdk


def request(custom_id: str, text: str, **params: object) -> dict:
    params.setdefault("max_tokens", 100)
    return {"custom_id": custom_id,
            "params": {"model": MODEL, "messages": [{"role": "user", "content": text}], **params}}


def finish(server: OfflineClaude, requests: int = 1) -> None:
    """Advance the clock just past the time a batch of `requests` takes."""
    server.advance_batch_clock(processing_time(requests) + 0.001)


def results(client: Anthropic, batch_id: str) -> dict[str, object]:
    return {line.custom_id: line.result for line in client.messages.batches.results(batch_id)}


# -- create and poll ---------------------------------------------------------------------------------------------------

def test_create_answers_an_in_progress_batch(client):
    batch = client.messages.batches.create(requests=[request("q1", "What is 2+2?"), request("q2", "Hello")])
    assert batch.type == "message_batch" and batch.id.startswith("msgbatch_01") and len(batch.id) == 33
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.model_dump() == {"processing": 2, "succeeded": 0, "errored": 0, "canceled": 0,
                                                 "expired": 0}
    assert batch.created_at == START and batch.expires_at == START + timedelta(hours=24)
    assert batch.ended_at is None and batch.cancel_initiated_at is None and batch.archived_at is None
    assert batch.results_url is None


def test_raw_batch_object_has_the_api_fields(server, client):
    batch = client.messages.batches.create(requests=[request("q1", "Hi")])
    raw = httpx2.get(f"{server.url}/v1/messages/batches/{batch.id}",
                     headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"})
    assert raw.status_code == 200 and raw.headers["request-id"].startswith("req_011C")
    assert raw.json() == {
        "id": batch.id, "type": "message_batch", "processing_status": "in_progress",
        "request_counts": {"processing": 1, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
        "ended_at": None, "created_at": "2026-11-24T10:00:00.000000Z", "expires_at": "2026-11-25T10:00:00.000000Z",
        "archived_at": None, "cancel_initiated_at": None, "results_url": None}


def test_poll_until_ended_counts_move_all_at_once(server, client):
    batch = client.messages.batches.create(requests=[request("a", "What is 2+2?"), request("b", "Hi"),
                                                     request("c", "Hello", max_tokens="many")])
    server.advance_batch_clock(processing_time(3) * 0.9)  # two of three requests are done by now
    polled = client.messages.batches.retrieve(batch.id)
    assert polled.processing_status == "in_progress" and polled.request_counts.processing == 3
    assert polled.request_counts.succeeded == 0 and polled.results_url is None
    finish(server, 3)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.model_dump() == {"processing": 0, "succeeded": 2, "errored": 1, "canceled": 0,
                                                 "expired": 0}
    assert ended.ended_at == START + timedelta(seconds=processing_time(3))
    assert ended.results_url == f"{server.url}/v1/messages/batches/{batch.id}/results"


def test_results_before_the_end_raise_in_the_sdk(client):
    batch = client.messages.batches.create(requests=[request("q1", "Hi")])
    with pytest.raises(anthropic.AnthropicError, match="Has it finished processing\\? in_progress"):
        client.messages.batches.results(batch.id)


def test_raw_results_before_the_end_are_refused(server, client):
    batch = client.messages.batches.create(requests=[request("q1", "Hi")])
    raw = httpx2.get(f"{server.url}/v1/messages/batches/{batch.id}/results",
                     headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"})
    assert raw.status_code == 400 and raw.json()["error"]["message"] == (
        f"Message Batch {batch.id} has not finished processing (processing_status `in_progress`); its results "
        "are available once it has ended.")


# -- results of every type ------------------------------------------------------------------------------------------

def test_succeeded_result_is_the_reply_a_single_request_gets(client, server):
    single = client.messages.create(model=MODEL, max_tokens=100,
                                    messages=[{"role": "user", "content": "What is the capital of France?"}])
    batch = client.messages.batches.create(requests=[request("paris", "What is the capital of France?")])
    finish(server)
    result = results(client, batch.id)["paris"]
    assert result.type == "succeeded"
    assert result.message.content == single.content and result.message.content[0].text == (
        "The capital of France is Paris.")
    assert result.message.id.startswith("msg_01") and result.message.id != single.id
    assert result.message.usage.input_tokens == single.usage.input_tokens
    assert result.message.usage.service_tier == "batch"


def test_invalid_params_become_errored_results_with_the_api_error(client, server):
    batch = client.messages.batches.create(requests=[
        {"custom_id": "no-max", "params": {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}]}},
        request("bad-model", "Hi", model="claude-nope"),
        request("empty", "Hi", messages=[]),
        request("streamed", "Hi", stream=True),
        request("zero", "Hi", max_tokens=0),
        request("fine", "Hi"),
    ])
    finish(server, 6)
    got = results(client, batch.id)
    errors = {cid: (r.error.error.type, r.error.error.message) for cid, r in got.items() if r.type == "errored"}
    assert errors == {
        "no-max": ("invalid_request_error", "max_tokens: Field required"),
        "bad-model": ("not_found_error", "model: claude-nope"),
        "empty": ("invalid_request_error", "messages: at least one message is required"),
        "streamed": ("invalid_request_error", "stream: Input should be False; batch results come back as one file, "
                                              "not a stream: remove `stream` from the request's params"),
        "zero": ("invalid_request_error", "max_tokens: Input should be greater than or equal to 1"),
    }
    assert got["fine"].type == "succeeded"
    assert got["no-max"].error.type == "error"
    assert client.messages.batches.retrieve(batch.id).request_counts.errored == 5


def test_steered_failures_carry_the_chosen_error(client, server):
    server.fail_batch_requests(["busy"], status=529)
    server.fail_batch_requests(["broken"], status=500)
    server.fail_batch_requests(["odd"], status=500, message="Something odd happened")
    batch = client.messages.batches.create(requests=[request("busy", "Hi"), request("broken", "Hi"),
                                                     request("odd", "Hi"), request("fine", "Hi")])
    finish(server, 4)
    got = results(client, batch.id)
    assert (got["busy"].error.error.type, got["busy"].error.error.message) == ("overloaded_error", "Overloaded")
    assert (got["broken"].error.error.type, got["broken"].error.error.message) == ("api_error",
                                                                                   "Internal server error")
    assert got["odd"].error.error.message == "Something odd happened"
    assert got["fine"].type == "succeeded"


def test_steering_is_used_up_by_the_first_batch(client, server):
    server.fail_batch_requests(["q"], status=529)
    first = client.messages.batches.create(requests=[request("q", "Hi")])
    second = client.messages.batches.create(requests=[request("q", "Hi")])
    finish(server)
    assert results(client, first.id)["q"].type == "errored"
    assert results(client, second.id)["q"].type == "succeeded"


def test_unknown_status_for_steering_is_refused_at_once(server):
    with pytest.raises(ValueError, match="status must be an HTTP error status from 400 to 599, not 'busy'"):
        server.fail_batch_requests(["q"], status="busy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not 200"):
        server.fail_batch_requests(["q"], status=200)


def test_expired_requests_end_the_batch_at_expires_at(client, server):
    server.expire_batch_requests(["slow"])
    batch = client.messages.batches.create(requests=[request("slow", "Hi"), request("quick", "Hi")])
    finish(server, 2)
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    server.advance_batch_clock(24 * 3600)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.ended_at == ended.expires_at
    assert (ended.request_counts.expired, ended.request_counts.succeeded) == (1, 1)
    got = results(client, batch.id)
    assert got["slow"].type == "expired" and got["quick"].type == "succeeded"


def test_cancel_mid_processing(client, server):
    batch = client.messages.batches.create(requests=[request(f"r{n}", "Hi") for n in range(4)])
    server.advance_batch_clock(processing_time(4) * 0.3)  # the first request is done, three are not
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at == START + timedelta(seconds=processing_time(4) * 0.3)
    assert canceling.request_counts.processing == 4 and canceling.results_url is None
    assert client.messages.batches.cancel(batch.id).cancel_initiated_at == canceling.cancel_initiated_at
    server.advance_batch_clock(CANCEL_S)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.ended_at == canceling.cancel_initiated_at + timedelta(
        seconds=CANCEL_S)
    assert ended.request_counts.model_dump() == {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 3,
                                                 "expired": 0}
    got = results(client, batch.id)
    assert got["r0"].type == "succeeded" and {got[f"r{n}"].type for n in (1, 2, 3)} == {"canceled"}


def test_cancel_after_the_end_is_refused(client, server):
    batch = client.messages.batches.create(requests=[request("q", "Hi")])
    finish(server)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.batches.cancel(batch.id)
    assert refused.value.api_message == f"Message Batch {batch.id} has already ended and can no longer be canceled."


# -- the results file --------------------------------------------------------------------------------------------

def test_results_takes_two_requests_to_an_absolute_url_on_this_server(client, server):
    batch = client.messages.batches.create(requests=[request("q1", "Hi"), request("q2", "Hello")])
    finish(server, 2)
    server.state.log.clear()
    got = results(client, batch.id)
    assert set(got) == {"q1", "q2"}
    log = list(server.state.log)
    assert [(r.method, r.path) for r in log] == [("GET", f"/v1/messages/batches/{batch.id}"),
                                                ("GET", f"/v1/messages/batches/{batch.id}/results")]
    assert log[1].headers["accept"] == "application/binary" and log[1].status == 200
    url = client.messages.batches.retrieve(batch.id).results_url
    assert url.startswith(f"{server.url}/") and httpx2.URL(url).is_absolute_url


def test_results_jsonl_has_one_newline_per_record_and_no_blank_line(client, server):
    batch = client.messages.batches.create(requests=[request(f"r{n}", f"What is {n}+1?") for n in range(5)]
                                           + [request("bad", "Hi", max_tokens=-1)])
    finish(server, 6)
    url = client.messages.batches.retrieve(batch.id).results_url
    raw = httpx2.get(url, headers={"x-api-key": KEY, "anthropic-version": "2023-06-01",
                                   "accept": "application/binary"})
    assert raw.status_code == 200
    body = raw.content
    assert body.endswith(b"}\n") and b"\n\n" not in body and not body.startswith(b"\n") and b"\r" not in body
    lines = body.split(b"\n")[:-1]
    assert len(lines) == 6 == body.count(b"\n")
    records = [json.loads(line) for line in lines]
    assert [r["custom_id"] for r in records] == [*(f"r{n}" for n in range(5)), "bad"]
    assert records[-1] == {"custom_id": "bad", "result": {"type": "errored", "error": {
        "type": "error", "error": {"details": None, "type": "invalid_request_error",
                                   "message": "max_tokens: Input should be greater than or equal to 1"}}}}


def test_results_are_the_same_on_every_read(client, server):
    batch = client.messages.batches.create(requests=[request("q1", "Hi"), request("q2", "Tell me a story")])
    finish(server, 2)
    first = [line.model_dump() for line in client.messages.batches.results(batch.id)]
    assert [line.model_dump() for line in client.messages.batches.results(batch.id)] == first


def test_archived_batch_can_be_viewed_but_not_its_results(client, server):
    batch = client.messages.batches.create(requests=[request("q", "Hi")])
    server.advance_batch_clock(29 * 24 * 3600)
    archived = client.messages.batches.retrieve(batch.id)
    assert archived.processing_status == "ended" and archived.archived_at == START + timedelta(days=29)
    with pytest.raises(anthropic.NotFoundError) as gone:
        list(client.messages.batches.results(batch.id))
    assert gone.value.api_message == (f"The results of Message Batch {batch.id} are no longer available: results "
                                      "are kept for 29 days after a batch is created.")


def test_async_client_reads_results(server):
    async def run() -> dict[str, str]:
        async with AsyncAnthropic(api_key=KEY, base_url=server.url, max_retries=0) as sdk:
            batch = await sdk.messages.batches.create(requests=[request("q", "What is 2+2?")])
            finish(server)
            decoder = await sdk.messages.batches.results(batch.id)
            return {line.custom_id: line.result.message.content[0].text async for line in decoder}

    assert asyncio.run(run()) == {"q": "2+2 = 4."}


# -- list, delete, not found ---------------------------------------------------------------------------------------

def test_list_is_newest_first_and_paginates(client):
    ids = [client.messages.batches.create(requests=[request("q", "Hi")]).id for _ in range(5)]
    newest_first = ids[::-1]
    page = client.messages.batches.list(limit=2)
    assert [b.id for b in page.data] == newest_first[:2] and page.has_more is True
    assert (page.first_id, page.last_id) == (newest_first[0], newest_first[1])
    assert [b.id for b in client.messages.batches.list(limit=2)] == newest_first  # the SDK follows `after_id`
    after = client.messages.batches.list(limit=2, after_id=newest_first[3])
    assert [b.id for b in after.data] == newest_first[4:] and after.has_more is False
    before = client.messages.batches.list(limit=2, before_id=newest_first[3])
    assert [b.id for b in before.data] == newest_first[1:3] and before.has_more is True
    assert [b.id for b in client.messages.batches.list().data] == newest_first


@pytest.mark.parametrize(("limit", "message"), [
    (0, "limit: Input should be greater than or equal to 1"),
    (1001, "limit: Input should be less than or equal to 1000"),
])
def test_list_limit_out_of_range(client, limit, message):
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.batches.list(limit=limit)
    assert refused.value.api_message == message


def test_delete_only_once_ended(client, server):
    batch = client.messages.batches.create(requests=[request("q", "Hi")])
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.batches.delete(batch.id)
    assert refused.value.api_message == (f"Message Batch {batch.id} cannot be deleted while its processing_status is "
                                         "`in_progress`: cancel it first, then delete it once it has ended.")
    finish(server)
    deleted = client.messages.batches.delete(batch.id)
    assert (deleted.id, deleted.type) == (batch.id, "message_batch_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)
    assert [b.id for b in client.messages.batches.list().data] == []


@pytest.mark.parametrize("call", ["retrieve", "cancel", "delete", "results"])
def test_unknown_batch_is_404(client, call):
    with pytest.raises(anthropic.NotFoundError) as missing:
        getattr(client.messages.batches, call)("msgbatch_01NoSuchBatch")
    assert missing.value.type == "not_found_error"
    assert missing.value.api_message == "message_batch not found: msgbatch_01NoSuchBatch"


def test_queued_faults_apply_to_batch_requests(client, server):
    server.state.faults.append(Fault(529, None))
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        client.messages.batches.create(requests=[request("q", "Hi")])
    assert overloaded.value.status_code == 529 and overloaded.value.type == "overloaded_error"
    assert list(client.messages.batches.list()) == []


def test_missing_key_is_401(server):
    raw = httpx2.post(f"{server.url}/v1/messages/batches", json={"requests": [request("q", "Hi")]},
                      headers={"anthropic-version": "2023-06-01"})
    assert raw.status_code == 401 and raw.json()["error"]["message"] == "x-api-key header is required"


# -- create-time validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("requests", "message"), [
    ([], "requests: List should have at least 1 item after validation, not 0"),
    ([request("x" * 65, "Hi")], "requests.0.custom_id: String should have at most 64 characters"),
    ([request("ok", "Hi"), request("", "Hi")], "requests.1.custom_id: String should have at least 1 character"),
    ([request("has space", "Hi")], "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
    ([request("dup", "Hi"), request("other", "Hi"), request("dup", "Hello")],
     "requests.2.custom_id: Duplicate custom_id 'dup' (also used by requests.0); each custom_id must be unique "
     "within the batch"),
    ([{"custom_id": "q"}], "requests.0.params: Field required"),
    ([{"params": {}}], "requests.0.custom_id: Field required"),
    ([{"custom_id": 7, "params": {}}], "requests.0.custom_id: Input should be a valid string"),
    ([{"custom_id": "q", "params": [], }], "requests.0.params: Input should be a valid dictionary"),
])
def test_create_time_400s(client, requests, message):
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.batches.create(requests=requests)
    assert refused.value.type == "invalid_request_error" and refused.value.api_message == message


def test_too_many_requests_is_400(server):
    body = b'{"requests": [' + b",".join([b'{"custom_id":"q","params":{}}'] * 100_001) + b"]}"
    raw = httpx2.post(f"{server.url}/v1/messages/batches", content=body, timeout=60,
                      headers={"x-api-key": KEY, "anthropic-version": "2023-06-01", "content-type": "application/json"})
    assert raw.status_code == 400
    assert raw.json()["error"]["message"] == "requests: List should have at most 100000 items after validation, " \
                                             "not 100001"


def test_body_over_the_limit_is_the_bare_413(server, monkeypatch):
    monkeypatch.setattr(batches, "MAX_BATCH_BYTES", 1000)  # the real limit is 256 MB
    raw = httpx2.post(f"{server.url}/v1/messages/batches", json={"requests": [request("q", "x" * 2000)]},
                      headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"})
    assert raw.status_code == 413 and "request-id" not in raw.headers
    assert raw.json() == {"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}}


def test_body_not_json_is_400(server):
    raw = httpx2.post(f"{server.url}/v1/messages/batches", content=b"{nope",
                      headers={"x-api-key": KEY, "anthropic-version": "2023-06-01"})
    assert raw.status_code == 400 and raw.json()["error"]["message"].startswith("The request body is not valid JSON")


# -- the 300K output beta ---------------------------------------------------------------------------------------------

def test_output_300k_beta_raises_max_tokens_on_listed_models(client, server):
    big = [request("opus", "Hi", model="claude-opus-5", max_tokens=200_000),
           request("fable", "Hi", model="claude-fable-5", max_tokens=200_000),
           request("over", "Hi", model="claude-opus-5", max_tokens=300_001)]
    with_beta = client.beta.messages.batches.create(requests=big, betas=["output-300k-2026-03-24"])
    without = client.messages.batches.create(requests=big[:1])
    finish(server, 3)
    got = {line.custom_id: line.result for line in client.beta.messages.batches.results(with_beta.id)}
    assert got["opus"].type == "succeeded"
    assert got["fable"].error.error.message == ("max_tokens: 200000 > 128000, which is the maximum allowed number of "
                                                "output tokens for claude-fable-5")
    assert got["over"].error.error.message == ("max_tokens: 300001 > 300000, which is the maximum allowed number of "
                                               "output tokens for claude-opus-5")
    assert results(client, without.id)["opus"].error.error.message == (
        "max_tokens: 200000 > 128000, which is the maximum allowed number of output tokens for claude-opus-5")


# -- scale and determinism ---------------------------------------------------------------------------------------------

def test_a_thousand_requests_are_processed_and_read_back_by_custom_id(client, server):
    requests = [request(f"sum-{n}", f"What is {n}+{n}?") for n in range(1000)]
    started = time.perf_counter()
    batch = client.messages.batches.create(requests=requests)
    created = time.perf_counter()
    finish(server, 1000)
    got = results(client, batch.id)
    read = time.perf_counter()
    print(f"\n1,000 requests: create {created - started:.2f} s, results {read - created:.2f} s")
    assert len(got) == 1000
    assert all(got[f"sum-{n}"].message.content[0].text == f"{n}+{n} = {2 * n}." for n in range(1000))
    assert client.messages.batches.retrieve(batch.id).request_counts.succeeded == 1000


def test_same_batch_on_a_fresh_server_gives_the_same_results():
    def run() -> bytes:
        with start_server(first_token_ms=0, per_token_ms=0) as fresh:
            fresh.state.batches = BatchStore(BatchClock(START, frozen=True))
            headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
            created = httpx2.post(f"{fresh.url}/v1/messages/batches", headers=headers,
                                  json={"requests": [request("a", "Tell me a story about a fox"),
                                                     request("b", "What is 3+4?")]}).json()
            finish(fresh, 2)
            body = httpx2.get(f"{fresh.url}/v1/messages/batches/{created['id']}/results", headers=headers).content
            return created["id"].encode() + body

    assert run() == run()


@settings(max_examples=200, deadline=None)
@given(done=st.lists(st.floats(0.01, 30 * 3600), min_size=1, max_size=20),
       never=st.lists(st.booleans(), min_size=20, max_size=20),
       cancel_at=st.one_of(st.none(), st.floats(0, 30 * 3600)), look_at=st.floats(0, 30 * 24 * 3600))
def test_counts_always_sum_to_the_requests_and_move_only_at_the_end(done, never, cancel_at, look_at):
    items = [BatchItem(f"r{n}", d, None if never[n] else {"type": "succeeded", "message": {}})
             for n, d in enumerate(done)]
    batch = Batch("msgbatch_01x", START, items, "http://127.0.0.1/r")
    if cancel_at is not None and START + timedelta(seconds=cancel_at) < batch.ended_at():
        batch.cancel_initiated_at = START + timedelta(seconds=cancel_at)
    view = batch.view(START + timedelta(seconds=look_at))
    counts = view["request_counts"]
    assert sum(counts.values()) == len(items)
    if view["processing_status"] == "ended":
        assert counts["processing"] == 0 and view["results_url"] is not None
        assert batch.ended_at() <= batch.expires_at
        assert batch.cancel_initiated_at is not None or counts["canceled"] == 0
    else:
        assert counts == {"processing": len(items), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        assert view["results_url"] is None and view["ended_at"] is None


JSON = st.recursive(st.none() | st.booleans() | st.integers(-5, 70_000) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["type", "text", "role", "content", "id", "name", "input"]), inner,
                        max_size=4), max_leaves=12)
PARAMS = st.fixed_dictionaries({}, optional={
    "model": st.sampled_from([MODEL, "claude-opus-5", "claude-nope", 3]), "max_tokens": JSON,
    "messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]),
                                                "content": JSON}), max_size=3) | JSON,
    "system": JSON, "tools": JSON, "tool_choice": JSON, "stop_sequences": JSON, "thinking": JSON, "stream": JSON})


@settings(max_examples=300, deadline=None)
@given(params=PARAMS)
def test_any_params_give_a_result_with_the_apis_error_never_an_internal_one(params):
    result = batches.process_request(ServerState(Options()), params)
    if result["type"] == "errored":
        error = result["error"]["error"]
        assert error["type"] in {"invalid_request_error", "not_found_error"} and error["message"]
    else:
        assert result["type"] == "succeeded" and result["message"]["type"] == "message"
