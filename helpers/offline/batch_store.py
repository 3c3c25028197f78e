"""Message Batches held by the offline Claude: the store, the clock it reads, and how a batch's state follows from time.

Not the HTTP layer (that is `batches`). A batch is processed when it is created (each request's result is computed
then and held back), and everything a client can see afterwards follows from the clock alone, computed on each
read: no background task runs. Each request has a time at which it completes; the batch ends when the last one
does, when a cancel takes effect, or at `expires_at`, whichever is first. Until it ends, `request_counts` shows
every request as `processing`; then all counts move at once (docs: api/messages/batches, `MessageBatch`).

Time comes from a `BatchClock`: the wall clock plus whatever `advance()` added, so a test can jump 24 hours ahead
and see requests expire, or 29 days ahead and see the batch archived. A frozen clock moves only by `advance()`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from .errors import ApiError
from .wire import encode_json

EXPIRY = timedelta(hours=24)  # docs: build-with-claude/batch-processing, "Batches expire ... within 24 hours"
RETENTION = timedelta(days=29)  # same page: "Batch results are available for 29 days after creation"
DEFAULT_PROCESSING_S = 2.0  # offline only: how long a small batch takes
SIZE_SCALE_CAP = 10.0  # a batch never takes more than 10 x DEFAULT_PROCESSING_S (offline only)
CANCEL_S = 0.5  # offline only: how long a batch stays `canceling` (at most; never past the natural end)


def processing_time(requests: int, base_s: float = DEFAULT_PROCESSING_S) -> float:
    """Seconds a batch of `requests` takes offline: `base_s` for one request, +`base_s` per 1,000 more, 10x cap."""
    return base_s * min(SIZE_SCALE_CAP, 1 + (requests - 1) / 1000)


def timestamp(moment: datetime | None) -> str | None:
    """RFC 3339 with microseconds and `Z`, as the API writes its batch times."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class BatchClock:
    """The time the batch store reads: the wall clock (unless `frozen`) plus every `advance()`."""

    def __init__(self, start: datetime | None = None, *, frozen: bool = False) -> None:
        self._start = start or datetime.now(UTC)
        self._started = time.monotonic()
        self._offset = 0.0
        self.frozen = frozen
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = 0.0 if self.frozen else time.monotonic() - self._started
            return self._start + timedelta(seconds=elapsed + self._offset)

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds` (e.g. `advance(24 * 3600)` to reach a batch's `expires_at`)."""
        if seconds < 0:
            raise ValueError("the batch clock only moves forward")
        with self._lock:
            self._offset += seconds


@dataclass
class BatchItem:
    """One request of a batch: when it completes, and its result then (`None`: it never completes, and expires)."""

    custom_id: str
    done_s: float  # seconds after the batch's creation
    result: dict[str, Any] | None


@dataclass
class Batch:
    """One Message Batch as held by the store."""

    id: str
    created_at: datetime
    items: list[BatchItem]
    results_url: str
    cancel_initiated_at: datetime | None = None
    jsonl: bytes | None = field(default=None, repr=False)  # built once, on the first read after the batch ends
    final_counts: dict[str, int] | None = field(default=None, repr=False)  # counted once, when first seen ended

    @property
    def expires_at(self) -> datetime:
        return self.created_at + EXPIRY

    @cached_property
    def _natural_end(self) -> datetime:
        limit = EXPIRY.total_seconds()
        if any(item.result is None or item.done_s > limit for item in self.items):
            return self.expires_at
        return self.created_at + timedelta(seconds=max(item.done_s for item in self.items))

    def natural_end(self) -> datetime:
        """When processing ends if nobody cancels: the last request's completion, or `expires_at`."""
        return self._natural_end

    def ended_at(self) -> datetime:
        natural = self.natural_end()
        cancel = self.cancel_initiated_at
        if cancel is not None and cancel < natural:
            return min(cancel + timedelta(seconds=CANCEL_S), natural)
        return natural

    def outcome(self, item: BatchItem) -> dict[str, Any]:
        """The request's `result` once the batch has ended."""
        cancel = self.cancel_initiated_at
        cutoff = EXPIRY.total_seconds()
        if cancel is not None and cancel < self.natural_end():
            cutoff = (cancel - self.created_at).total_seconds()
            if item.result is None or item.done_s > cutoff:
                return {"type": "canceled"}
        if item.result is None or item.done_s > cutoff:
            return {"type": "expired"}
        return item.result

    def view(self, now: datetime) -> dict[str, Any]:
        """The `message_batch` object as seen at `now`."""
        ended_at = self.ended_at()
        ended = now >= ended_at
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended and self.final_counts is None:  # an ended batch never changes again
            for item in self.items:
                counts[self.outcome(item)["type"]] += 1
            self.final_counts = counts
        elif ended:
            counts = dict(self.final_counts)
        else:
            counts["processing"] = len(self.items)
        status = "ended" if ended else ("canceling" if self.cancel_initiated_at else "in_progress")
        archived = now >= self.created_at + RETENTION
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "ended_at": timestamp(ended_at) if ended else None,
            "created_at": timestamp(self.created_at),
            "expires_at": timestamp(self.expires_at),
            "archived_at": timestamp(self.created_at + RETENTION) if archived else None,
            "cancel_initiated_at": timestamp(self.cancel_initiated_at),
            "results_url": self.results_url if ended else None,
        }

    def results_jsonl(self) -> bytes:
        """The results file: one JSON object per line, exactly one `\\n` after each, no blank line anywhere."""
        if self.jsonl is None:
            self.jsonl = b"".join(encode_json({"custom_id": item.custom_id, "result": self.outcome(item)}) + b"\n"
                                  for item in self.items)
        return self.jsonl


@dataclass
class Steering:
    """What to do with a request whose `custom_id` is steered: an error result, or never completing (expired)."""

    status: int | None  # None: the request expires
    error_type: str | None = None
    message: str | None = None


class BatchStore:
    """Every batch of one server, newest last, and the steering queued for requests not yet created."""

    def __init__(self, clock: BatchClock | None = None) -> None:
        self.clock = clock or BatchClock()
        self.lock = threading.RLock()
        self.batches: OrderedDict[str, Batch] = OrderedDict()  # creation order; deleted batches are removed
        self.positions: dict[str, int] = {}  # every id ever created -> creation number (cursors survive deletes)
        self.steering: dict[str, Steering] = {}

    def now(self) -> datetime:
        return self.clock.now()

    def steer(self, custom_ids: list[str], steering: Steering) -> None:
        with self.lock:
            self.steering.update(dict.fromkeys(custom_ids, steering))

    def take_steering(self, custom_id: str) -> Steering | None:
        """The steering for `custom_id`, used up by the first batch created with that id."""
        with self.lock:
            return self.steering.pop(custom_id, None)

    def add(self, batch: Batch) -> None:
        with self.lock:
            self.positions[batch.id] = len(self.positions)
            self.batches[batch.id] = batch

    def get(self, batch_id: str) -> Batch:
        with self.lock:
            batch = self.batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"message_batch not found: {batch_id}")  # inferred
        return batch

    def cancel(self, batch_id: str) -> Batch:
        with self.lock:
            batch, now = self.get(batch_id), self.now()
            if now >= batch.ended_at():
                raise ApiError(400, f"Message Batch {batch_id} has already ended and can no longer be "
                                    "canceled.")  # inferred
            if batch.cancel_initiated_at is None:
                batch.cancel_initiated_at = now
            return batch

    def delete(self, batch_id: str) -> None:
        with self.lock:
            batch = self.get(batch_id)
            view = batch.view(self.now())
            if view["processing_status"] != "ended":
                raise ApiError(400, f"Message Batch {batch_id} cannot be deleted while its processing_status is "
                                    f"`{view['processing_status']}`: cancel it first, then delete it once it "
                                    "has ended.")  # inferred
            del self.batches[batch_id]

    def page(self, limit: int, after_id: str | None, before_id: str | None) -> tuple[list[Batch], bool]:
        """One page of batches, newest first, and whether more lie beyond it (in the direction of travel)."""
        with self.lock:
            newest_first = list(reversed(self.batches.values()))
            if after_id is not None:
                cursor = self._position(after_id)
                older = [b for b in newest_first if self.positions[b.id] < cursor]
                return older[:limit], len(older) > limit
            if before_id is not None:
                cursor = self._position(before_id)
                newer = [b for b in newest_first if self.positions[b.id] > cursor]
                return newer[-limit:], len(newer) > limit
            return newest_first[:limit], len(newest_first) > limit

    def _position(self, batch_id: str) -> int:
        if batch_id not in self.positions:
            raise ApiError(404, f"message_batch not found: {batch_id}")  # inferred
        return self.positions[batch_id]
