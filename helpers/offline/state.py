"""The offline Claude's state: options, id counters, the request log, queued faults, the rate limiter, threads.

Everything here is shared between the server's event loop and the thread that drives it (a notebook, a test),
so every change goes through one lock. Ids come from per-server counters, so a fresh server gives the same ids
for the same sequence of requests.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .batch_store import BatchStore
from .caching import PromptCache
from .errors import ApiError

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
NOMINAL_RPM = 4_000  # the limit reported in headers when no limit is enforced
NOMINAL_TOKEN_LIMITS = {"input-tokens": 2_000_000, "output-tokens": 400_000}  # per minute, reported only; assumed
LOG_SIZE = 1_000  # requests kept in the log
BODY_KEPT_BYTES = 256 * 1024  # a body up to this size is kept whole in the log; a larger one only as a summary
LOG_BODY_BYTES = 32 * 1024 * 1024  # kept bodies in the whole log; beyond it the oldest are reduced to summaries
BODY_HEAD_BYTES = 1024  # how much of a body the summary keeps
THREADS_KEPT = 1_000


@dataclass
class Options:
    """What can be tuned on a running server (see `OfflineClaude.configure`)."""

    first_token_ms: float = 150.0  # from the request's arrival to the first token (and to a JSON reply's first byte)
    per_token_ms: float = 6.0  # time per output token, streamed or not; 0 turns the simulated time off
    requests_per_minute: int | None = None  # enforce a rate limit (429 + retry-after); None for none
    context_window: int | None = None  # override every model's context window
    tools_required_for_tool_blocks: bool = False  # rule 26: refuse tool blocks sent without `tools`
    extra_betas: tuple[str, ...] = ()  # `anthropic-beta` names accepted on top of the known ones
    batch_processing_s: float = 2.0  # seconds a one-request batch takes; +this per 1,000 more, at most 10x


@dataclass
class RequestRecord:
    """One request as the server received it, and how it was answered.

    The body is kept as the bytes received (`raw_body`) when it is at most `BODY_KEPT_BYTES` (256 KB) and the log
    holds fewer than `LOG_BODY_BYTES` (32 MB) of bodies; otherwise only its summary stays: `body_size` (bytes),
    `body_sha256` and `body_head` (the first KB). `body` parses the kept bytes on each access.
    """

    at: float  # seconds since the server started
    method: str
    path: str
    headers: dict[str, str]
    status: int | None = None
    fault: str | None = None  # "fail_next", "drop", "rate_limit", "stream_error", "scripted", "cut_stream", ...
    request_id: str | None = None
    stream: bool = False
    finished_at: float | None = None
    error: str | None = None  # an internal failure answered with a 500 `api_error`: "ExceptionType: message"
    body_size: int = 0  # bytes received, or announced by Content-Length when refused unread (413)
    body_sha256: str | None = None  # of the bytes received; None when none were read
    body_head: bytes = b""  # the first KB of the body
    raw_body: bytes | None = None  # the whole body, while the log keeps it
    logged: bool = field(default=False, repr=False)  # still in the log (its kept bytes count toward the bound)
    keeper: Callable[[RequestRecord, bytes], None] | None = field(default=None, repr=False, compare=False)

    @property
    def body(self) -> Any:
        """The JSON body as sent (a dict for a valid request), parsed anew on each access.

        None when there was no body, it was not JSON, or it was too large to keep (see `body_size`)."""
        if not self.raw_body:
            return None
        try:
            return json.loads(self.raw_body)
        except (ValueError, RecursionError):
            return None

    @body.setter
    def body(self, value: Any) -> None:
        """Log a body already parsed: it is kept as its JSON, within the log's bounds."""
        raw = json.dumps(value, ensure_ascii=False).encode()
        if self.keeper is not None:
            self.keeper(self, raw)
        else:
            self.keep_body(raw)

    def keep_body(self, raw: bytes) -> int:
        """Record `raw` (whole if small enough, else its summary); return the bytes kept whole."""
        self.body_size = len(raw)
        self.body_sha256 = hashlib.sha256(raw).hexdigest()
        self.body_head = raw[:BODY_HEAD_BYTES]
        self.raw_body = raw if len(raw) <= BODY_KEPT_BYTES else None
        return len(self.raw_body or b"")

    @property
    def retry_count(self) -> int:
        """The SDK's own attempt counter for this request (`x-stainless-retry-count`), 0 on the first try."""
        return int(self.headers.get("x-stainless-retry-count", "0") or 0)


@dataclass
class Fault:
    """One queued fault: an HTTP error answer, or (`drop`) a connection closed without an answer."""

    status: int
    retry_after_ms: float | None
    message: str | None = None
    drop: bool = False
    details: dict[str, Any] | None = None  # the error body's `details` (e.g. an `error_code`)
    should_retry: bool | None = None  # `x-should-retry` when it differs from the status's default
    name: str = "fail_next"  # what the request log calls it


@dataclass
class Scripted:
    """One queued reply (`reply_next`, `refuse_next`): sent as given to the next valid `POST /v1/messages`."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: dict[str, Any] | None = None
    stop_details: dict[str, Any] | None = None
    stop_sequence: str | None = None


@dataclass
class StreamFault:
    """A queued break of the next streamed reply after `after_events` events (ping included): an `event: error`
    of `error_type`, or (`cut`) the connection closed in the middle of the body."""

    after_events: int
    error_type: str = "overloaded_error"
    cut: bool = False


@dataclass
class Thread:
    """A server-held conversation: its full history and the fields it was created with."""

    messages: list[Any]
    fields: dict[str, Any] = field(default_factory=dict)


def make_id(prefix: str, n: int, length: int = 22) -> str:
    """An id shaped like the API's (`msg_01...`), derived from a counter: the last `length` base-58 digits of
    the sha256 of `f"{prefix}{n}"`, least significant first.

    Only the digest's remainder modulo 58**length shapes those digits, so it is taken first and split two digits
    (one of `BASE58_PAIRS`) at a time: the same id at a third of the cost of splitting the whole digest."""
    digest = int.from_bytes(hashlib.sha256(f"{prefix}{n}".encode()).digest(), "big") % _POWERS[length]
    pairs = []
    for _ in range(length >> 1):
        digest, r = divmod(digest, 3364)
        pairs.append(BASE58_PAIRS[r])
    if length & 1:
        pairs.append(BASE58[digest % 58])
    return prefix + "".join(pairs)


BASE58_PAIRS = tuple(BASE58[r % 58] + BASE58[r // 58] for r in range(58 * 58))  # r = low + 58 * high
_POWERS = {length: 58**length for length in range(1, 33)}


RATE_HEADER_NAMES = {family: tuple(f"anthropic-ratelimit-{family}-{part}" for part in ("limit", "remaining", "reset"))
                     for family in ("requests", *NOMINAL_TOKEN_LIMITS, "tokens")}


@functools.lru_cache(maxsize=256)
def _decimal(value: int) -> str:
    """`str(value)`, remembered: the limits and the rounded token levels repeat from one answer to the next."""
    return str(value)


@functools.lru_cache(maxsize=256)
def _utc_second(epoch_second: int) -> str:
    """An RFC 3339 UTC time to the second (`2026-12-01T00:00:00Z`), remembered: resets fall on few seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_second))


class ServerState:
    """The mutable state of one offline Claude."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.log: deque[RequestRecord] = deque()
        self.log_bytes = 0  # bodies kept whole in the log
        self.faults: deque[Fault | Scripted] = deque()  # errors, drops and scripted replies, in the order queued
        self.stream_faults: deque[StreamFault] = deque()
        self.counters: dict[str, int] = {}
        self.threads: OrderedDict[str, Thread] = OrderedDict()
        self.batches = BatchStore()
        self.bucket: float | None = None  # requests available now; None: full
        self.bucket_at = time.monotonic()
        self.token_levels: dict[str, tuple[float, float]] = {}  # family: (tokens left, when), for the headers
        self.prompt_cache = PromptCache()  # prompt-cache entries and diagnostics fingerprints (see `caching`)
        self.clock_offset = 0.0  # seconds added to the cache clock by `advance_clock`

    def now(self) -> float:
        return round(time.monotonic() - self.started, 6)

    def clock(self) -> float:
        """The prompt cache's clock, in seconds: monotonic time plus whatever `advance_clock` added."""
        return time.monotonic() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the prompt cache's clock forward (e.g. 301 s to see a 5-minute entry expire); nothing else moves."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self.lock:
            self.clock_offset += seconds

    def next_id(self, prefix: str) -> str:
        with self.lock:
            n = self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return make_id(prefix, n, 20 if prefix.startswith("req_") else 22)

    def record(self, record: RequestRecord) -> RequestRecord:
        with self.lock:
            self.log.append(record)
            record.logged, record.keeper = True, self.keep_body
            while len(self.log) > LOG_SIZE:
                old = self.log.popleft()
                old.logged = False
                self.log_bytes -= len(old.raw_body or b"")
        return record

    def keep_body(self, record: RequestRecord, raw: bytes) -> None:
        """Log a request's body, then reduce the oldest kept bodies to summaries while over `LOG_BODY_BYTES`."""
        with self.lock:
            self.log_bytes -= len(record.raw_body or b"")  # a body logged twice replaces the first
            kept = record.keep_body(raw)
            if not record.logged:
                record.raw_body = None
                return
            self.log_bytes += kept
            for old in self.log:
                if self.log_bytes <= LOG_BODY_BYTES:
                    break
                if old.raw_body is not None:
                    self.log_bytes -= len(old.raw_body)
                    old.raw_body = None

    def clear_log(self) -> None:
        with self.lock:
            for record in self.log:
                record.logged = False
            self.log.clear()
            self.log_bytes = 0

    def take_fault(self) -> Fault | None:
        """The next queued error answer, if it is first in line (not a drop or a scripted reply)."""
        with self.lock:
            head = self.faults[0] if self.faults else None
            return self.faults.popleft() if isinstance(head, Fault) and not head.drop else None

    def take_scripted(self) -> Scripted | None:
        """The next scripted reply, if it is first in line."""
        with self.lock:
            return self.faults.popleft() if self.faults and isinstance(self.faults[0], Scripted) else None

    def take_stream_fault(self) -> StreamFault | None:
        with self.lock:
            return self.stream_faults.popleft() if self.stream_faults else None

    def take_drop(self) -> bool:
        """Whether to drop this connection: the next fault in line is a drop (it is then used up)."""
        with self.lock:
            head = self.faults[0] if self.faults else None
            if isinstance(head, Fault) and head.drop:
                self.faults.popleft()
                return True
            return False

    def _limit(self) -> tuple[int, bool]:
        rpm = self.options.requests_per_minute
        return (rpm, True) if rpm else (NOMINAL_RPM, False)

    def take_request_slot(self, model: str) -> None:
        """Spend one request from the token bucket; raise a 429 if a limit is enforced and the bucket is empty.

        The bucket holds one second's worth of requests (at least one) and refills continuously at the rate of
        `requests_per_minute`, as the API's limiter does: a burst beyond it is refused at once.
        """
        rpm, enforced = self._limit()
        capacity, rate = max(1.0, math.ceil(rpm / 60)), rpm / 60
        with self.lock:
            level = self._refill(capacity, rate)
            if level < 1 and enforced:
                wait = (1 - level) / rate
                headers = {"retry-after": str(max(1, math.ceil(wait))), "retry-after-ms": str(math.ceil(wait * 1000))}
                headers.update(self._rate_headers_locked())
                raise ApiError(429, f"This request would exceed your organization's rate limit of {rpm} requests "
                               f"per minute (org: offline, model: {model}). For details, refer to: "
                               "https://docs.claude.com/en/api/rate-limits.", headers=headers)
            self.bucket = max(0.0, level - 1)

    def _refill(self, capacity: float, rate: float) -> float:
        now = time.monotonic()
        filled = capacity if self.bucket is None else self.bucket + (now - self.bucket_at) * rate
        self.bucket, self.bucket_at = min(capacity, filled), now
        return self.bucket

    def spend_tokens(self, input_tokens: int, output_tokens: int) -> None:
        """Count a reply's tokens against the nominal per-minute token limits (reported, never enforced)."""
        with self.lock:
            for name, spent in (("input-tokens", input_tokens), ("output-tokens", output_tokens)):
                level = self._token_level(name)
                self.token_levels[name] = (max(0.0, level - spent), time.monotonic())

    def _token_level(self, name: str) -> float:
        limit = NOMINAL_TOKEN_LIMITS[name]
        level, at = self.token_levels.get(name, (float(limit), time.monotonic()))
        return min(float(limit), level + (time.monotonic() - at) * limit / 60)

    def rate_headers(self) -> dict[str, str]:
        """The four `anthropic-ratelimit-*` families as they stand now (docs: api/rate-limits, response headers).

        `requests-*` reports `requests_per_minute` when it is enforced, else a nominal 4,000; the input and output
        token families report nominal limits (`NOMINAL_TOKEN_LIMITS`) refilled continuously, with `remaining`
        rounded to the nearest thousand; `tokens-*` repeats whichever of the two is the more restrictive now.
        Resets are RFC 3339 times at which the bucket is full again."""
        with self.lock:
            rpm, _ = self._limit()
            self._refill(max(1.0, math.ceil(rpm / 60)), rpm / 60)
            return self._rate_headers_locked()

    def _rate_headers_locked(self) -> dict[str, str]:
        rpm, _ = self._limit()
        capacity, rate = max(1.0, math.ceil(rpm / 60)), rpm / 60
        level = capacity if self.bucket is None else self.bucket
        families = {"requests": (rpm, math.floor(level) / capacity * rpm, (capacity - level) / rate)}
        for name, limit in NOMINAL_TOKEN_LIMITS.items():
            tokens = self._token_level(name)
            families[name] = (limit, tokens, (limit - tokens) / (limit / 60))
        families["tokens"] = min((families["input-tokens"], families["output-tokens"]), key=lambda f: f[1] / f[0])
        now = time.time()
        headers = {}
        for name, (limit, remaining, refill_s) in families.items():
            limit_key, remaining_key, reset_key = RATE_HEADER_NAMES[name]
            headers[limit_key] = _decimal(limit)
            shown = int(remaining) if name == "requests" else int(round(remaining, -3))  # tokens: nearest thousand
            headers[remaining_key] = _decimal(shown)
            headers[reset_key] = _utc_second(math.floor(now + refill_s))
        return headers

    def store_thread(self, message_id: str, thread: Thread) -> None:
        with self.lock:
            self.threads[message_id] = thread
            while len(self.threads) > THREADS_KEPT:
                self.threads.popitem(last=False)

    def thread(self, message_id: str) -> Thread | None:
        with self.lock:
            return self.threads.get(message_id)
