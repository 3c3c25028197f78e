"""A large job through the Message Batches API: submit, wait, collect, resubmit the failures that can succeed.

What it is for: jobs that can wait (classify a backlog, run an evaluation, enrich a table) at half the price of
the same calls made one by one (docs: build-with-claude/batch-processing, read 2026-12-01). `run_batch(client,
requests)` does the whole loop; its steps are public for a caller who needs to stop between them:

- `split(requests)` cuts the requests into batches within the API's limits (100,000 requests or 256 MB each);
- `submit(client, requests)` creates those batches and returns them (`MessageBatch` objects);
- `wait(client, batch_id)` polls until `processing_status` is `ended`, 1 s after creation and then twice as long
  each time, at most `max_poll_s` apart; `on_poll(batch)` sees every poll (for a progress bar);
- `collect(client, batch_id)` streams the results (JSONL, in any order) into a dict keyed by `custom_id`;
- `should_resubmit(result)` is True for `expired` and for `errored` with an error the SDK would retry as a call
  (`api_error`, `overloaded_error`, `rate_limit_error`, `timeout_error`); an `invalid_request_error` fails again
  however often it is sent, and `canceled` is what you asked for.

What it is not: a job store that survives the process (keep the batch ids if you may restart: `wait` and `collect`
take an id), nor a way to get answers fast (most batches end within an hour; one may take up to its 24-hour
expiry). Results stay downloadable for 29 days after creation. Taught by `notebooks/11_batches_at_scale.ipynb`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence

from anthropic import Anthropic
from anthropic.types.messages import MessageBatch, MessageBatchResult
from anthropic.types.messages.batch_create_params import Request

MAX_REQUESTS = 100_000  # per batch (docs: build-with-claude/batch-processing)
MAX_BYTES = 256_000_000  # per batch: "256 MB", read as decimal megabytes, the smaller reading
# The error types of the statuses the SDK retries (500, 529, 429, 504): the same request may succeed later
RETRYABLE_ERRORS = frozenset({"api_error", "overloaded_error", "rate_limit_error", "timeout_error"})


def split(requests: Sequence[Request], *, max_requests: int = MAX_REQUESTS,
          max_bytes: int = MAX_BYTES) -> list[list[Request]]:
    """The requests in order, cut into lists of at most `max_requests` whose JSON body stays under `max_bytes`.

    ValueError if a `custom_id` repeats (the results could not be told apart; across batches the API cannot see
    it), or if one request alone is too large for a batch."""
    seen: set[str] = set()
    chunks: list[list[Request]] = []
    size = 0
    envelope = len(b'{"requests":[]}')
    for request in requests:
        custom_id = request["custom_id"]
        if custom_id in seen:
            raise ValueError(f"custom_id {custom_id!r} is used twice; give every request its own custom_id")
        seen.add(custom_id)
        # ASCII-escaped JSON: never shorter than the UTF-8 body the SDK sends
        length = len(json.dumps(request, separators=(",", ":")).encode())
        if envelope + length > max_bytes:
            raise ValueError(f"request {custom_id!r} alone is {length:,} bytes, over the {max_bytes:,}-byte batch "
                             "limit; shorten it or send it with messages.create")
        if chunks and len(chunks[-1]) < max_requests and size + 1 + length <= max_bytes:
            size += 1 + length  # a comma, then the request
        else:
            chunks.append([])
            size = envelope + length
        chunks[-1].append(request)
    return chunks


def submit(client: Anthropic, requests: Sequence[Request], *, max_requests: int = MAX_REQUESTS,
           max_bytes: int = MAX_BYTES) -> list[MessageBatch]:
    """Create as many batches as the limits need for `requests` (none for no requests); return them in order."""
    return [client.messages.batches.create(requests=chunk)
            for chunk in split(requests, max_requests=max_requests, max_bytes=max_bytes)]


def ended_count(batch: MessageBatch) -> int:
    """How many of the batch's requests have ended (all of them, or none: the counts move when the batch ends)."""
    counts = batch.request_counts
    return counts.succeeded + counts.errored + counts.canceled + counts.expired


def wait(client: Anthropic, batch_id: str, *, first_poll_s: float = 1.0, max_poll_s: float = 60.0,
         timeout_s: float | None = None, on_poll: Callable[[MessageBatch], object] | None = None,
         sleep: Callable[[float], object] = time.sleep) -> MessageBatch:
    """Poll the batch until it has ended and return it; the waits double from `first_poll_s` up to `max_poll_s`.

    TimeoutError once the waits add up to `timeout_s` (the batch goes on: wait again, or cancel it with
    `client.messages.batches.cancel(batch_id)`). `sleep` is how to wait (a test may move a clock instead)."""
    delay, waited = first_poll_s, 0.0
    while True:
        batch = client.messages.batches.retrieve(batch_id)
        if on_poll is not None:
            on_poll(batch)
        if batch.processing_status == "ended":
            return batch
        if timeout_s is not None and waited + delay > timeout_s:
            raise TimeoutError(f"batch {batch_id} is still {batch.processing_status} after {waited:.0f} s of "
                               "waiting; wait again later, or cancel it")
        sleep(delay)
        waited += delay
        delay = min(delay * 2, max_poll_s)


def collect(client: Anthropic, batch_id: str) -> dict[str, MessageBatchResult]:
    """The ended batch's results by `custom_id` (streamed: the file is read line by line, never held whole)."""
    return {entry.custom_id: entry.result for entry in client.messages.batches.results(batch_id)}


def should_resubmit(result: MessageBatchResult) -> bool:
    """True for a result worth sending again: `expired`, or `errored` with one of `RETRYABLE_ERRORS`."""
    if result.type == "expired":
        return True
    return result.type == "errored" and result.error.error.type in RETRYABLE_ERRORS


def run_batch(client: Anthropic, requests: Iterable[Request], *, rounds: int = 3,
              on_poll: Callable[[MessageBatch], object] | None = None,
              sleep: Callable[[float], object] = time.sleep, **wait_options: float) -> dict[str, MessageBatchResult]:
    """Submit `requests`, wait, collect, and resubmit the failures that can succeed, for at most `rounds` rounds.

    Returns every request's last result by `custom_id`; a request still failing after the last round keeps its
    `errored` or `expired` result. `wait_options` go to `wait` (`first_poll_s`, `max_poll_s`, `timeout_s`)."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    pending = list(requests)
    results: dict[str, MessageBatchResult] = {}
    for _ in range(rounds):
        for batch in submit(client, pending):
            wait(client, batch.id, on_poll=on_poll, sleep=sleep, **wait_options)
            results.update(collect(client, batch.id))
        pending = [request for request in pending
                   if request["custom_id"] not in results or should_resubmit(results[request["custom_id"]])]
        if not pending:
            break
    return results
