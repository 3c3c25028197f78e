"""Running the offline Claude: `start_server()` serves it from a background thread and returns an `OfflineClaude`
to steer it; `serve_forever()` runs it in the foreground (the command line, `python -m helpers.offline`).

It binds to 127.0.0.1 unless told otherwise. Faults are queued from Python, never from a request: a reader's
code cannot tell the offline Claude to misbehave, only the lesson's own "offline only" cells can.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pydantic
import uvicorn
from anthropic.types import ContentBlock, RefusalStopDetails, StopReason
from uvicorn.protocols.http.h11_impl import H11Protocol

try:  # C parser, about twice as fast as h11 per request (`make bench`)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is in requirements.txt
    HttpToolsProtocol = None  # type: ignore[assignment, misc]

from .app import CONNECTION_SCOPE_KEY, build_app
from .batches import BatchSteering
from .errors import error_type_for
from .state import Fault, Options, RequestRecord, Scripted, ServerState, StreamFault

API_REQUEST_STARTS = (b"GET /v1/", b"POST /v1/", b"DELETE /v1/")
# An idle connection is closed after this long: longer than the SDK's own 5 s (httpx2's `keepalive_expiry`), so the
# client always gives up an idle connection first and never reuses one the server is closing (uvicorn's default,
# 5 s, races it). 75 s is nginx's default; the API's own is not published.
KEEP_ALIVE_S = 75
MAX_HEAD_BYTES = 16 * 1024  # a request line and headers past this get a 400, as with h11's own limit
STOP_REASONS = get_args(StopReason)
BLOCK_MODELS = {get_args(model.model_fields["type"].annotation)[0]: model
                for model in get_args(get_args(ContentBlock)[0])}  # "text": TextBlock, ...


def _protocol_for(state: ServerState) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol (httptools' parser where installed, else h11's), able to close a connection
    without answering (`drop_next`) and to close it in the middle of a streamed body (`cut_stream_next`): each
    request's scope carries the protocol serving it."""
    base: type[Any] = HttpToolsProtocol if HttpToolsProtocol is not None else H11Protocol

    class FaultyProtocol(base):  # type: ignore[misc, valid-type]
        head_open = False  # httptools: inside a request's head, which it would read without limit
        head_bytes = 0

        def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
            super().connection_made(CoalescingTransport(transport))  # type: ignore[arg-type]

        def data_received(self, data: bytes) -> None:
            if data.startswith(API_REQUEST_STARTS) and state.take_drop():
                method, path = data.split(b" ", 2)[:2]
                state.record(RequestRecord(at=state.now(), method=method.decode(), path=path.decode().split("?")[0],
                                           headers={}, fault="drop", finished_at=state.now()))
                self.transport.close()
                return
            super().data_received(data)
            if self.head_open:
                self.head_bytes += len(data)
                if self.head_bytes > MAX_HEAD_BYTES:  # what h11 answers past its own limit
                    self.head_open = False
                    self.send_400_response("Invalid HTTP request received.")

        # h11: a request's scope is made in handle_events; httptools: in on_message_begin
        def handle_events(self) -> None:
            super().handle_events()  # may create a request cycle whose task has not run yet
            if self.cycle is not None:
                self.cycle.scope.setdefault(CONNECTION_SCOPE_KEY, self)  # type: ignore[typeddict-unknown-key]

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self.scope[CONNECTION_SCOPE_KEY] = self  # type: ignore[typeddict-unknown-key]
            self.head_open, self.head_bytes = True, 0

        def on_headers_complete(self) -> None:
            self.head_open = False
            super().on_headers_complete()

        def cut(self) -> None:
            """Close the connection now, after what was written so far, without ending the response body."""
            if self.cycle is not None:
                self.cycle.disconnected = True  # uvicorn writes nothing more for this response
            self.transport.close()

    return FaultyProtocol


class CoalescingTransport:
    """A transport that holds a write until the next one or the end of the event loop's step: an answer's head and
    body (which uvicorn writes apart) reach the client in one send, one TCP segment, as the API's edge sends them,
    instead of waking it twice. Everything else is the wrapped transport's."""

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        if len(self._pending) == 1:  # the first write of this step (a head): held until the step ends...
            asyncio.get_running_loop().call_soon(self.flush)
        else:  # ...or until the next write (its body), which sends both at once
            self.flush()

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)  # type: ignore[attr-defined]

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class PromptStopServer(uvicorn.Server):
    """uvicorn's server, stopping as soon as it is asked to: uvicorn looks for the request every 0.1 s and then
    pauses 0.1 s more, which a test suite that starts a server per test pays hundreds of times.

    `request_stop()` wakes the main loop at once; the shutdown asks every connection to close (an idle one closes
    at once, a busy one after its response) and waits for them in 5 ms steps, at most `timeout_graceful_shutdown`
    (default 5 s), then cancels what is left."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    on_started: Callable[[], None] | None = None  # called once the socket listens

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)  # on a port in use uvicorn logs the error and exits instead
        if self.started and self.on_started is not None:
            self.on_started()

    def request_stop(self) -> None:
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it has stopped anyway
                loop.call_soon_threadsafe(wake.set)

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        while not await self.on_tick(counter):  # on_tick keeps the Date header current and reads should_exit
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 5.0)
        while (self.server_state.connections or self.server_state.tasks) and loop.time() < deadline:
            await asyncio.sleep(0.005)
        for task in self.server_state.tasks:
            task.cancel(msg="the offline Claude is stopping")
        if not self.force_exit:
            await self.lifespan.shutdown()


_frozen = threading.Event()


def freeze_long_lived_objects() -> None:
    """Move every object alive now (the SDK's, pydantic's and Starlette's ~150k import-time objects) out of reach
    of the cyclic garbage collector, once per process (`gc.freeze()`).

    Without it each full collection walks them all: at 100 concurrent connections those pauses set the p99
    latency (`make bench`, latency figures). Frozen objects are still freed by reference counting; only a cycle
    among them that later becomes garbage stays (import-time objects live as long as the process anyway)."""
    if not _frozen.is_set():
        _frozen.set()
        gc.collect()
        gc.freeze()


class OfflineClaude(BatchSteering):
    """A running offline Claude: its `url`, its request log and the faults you can queue on it.

    Memory is bounded whatever it is sent: a body over 32 MB is refused with a 413 before it is read (or, chunked,
    as soon as it passes 32 MB); the log keeps the last 1,000 requests, each body as the bytes received when it is
    at most 256 KB, and at most 32 MB of such bodies in all (older and larger ones keep only their size, sha256
    and first KB). Nothing it is sent can make it answer Starlette's text 500: its own failures are the API's
    500 `api_error` JSON (or, mid-stream, an `event: error`), noted in the request's `error`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.state = ServerState(Options(**options))
        self.host = host
        config = uvicorn.Config(build_app(self.state), host=host, port=port, log_level="warning",
                                access_log=False, lifespan="off", http=_protocol_for(self.state),
                                timeout_keep_alive=KEEP_ALIVE_S, proxy_headers=False)  # no proxy in front
        self._server = PromptStopServer(config)
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> OfflineClaude:
        """Serve from a daemon thread; return once the socket is listening (see `freeze_long_lived_objects`)."""
        freeze_long_lived_objects()
        self._thread = threading.Thread(target=self._server.run, name="offline-claude", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the offline Claude could not start on {self.host}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (a few ms when no request is in flight)."""
        self._server.request_stop()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> OfflineClaude:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The base URL to give the SDK (`ANTHROPIC_BASE_URL`)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- observing and steering ------------------------------------------------------------------------------
    @property
    def options(self) -> Options:
        return self.state.options

    def configure(self, **options: Any) -> None:
        """Change options on the running server, e.g. `configure(requests_per_minute=60)`."""
        known = {f.name for f in fields(Options)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)}; known: {sorted(known)}")
        self.state.options = replace(self.state.options, **options)

    @property
    def requests(self) -> list[RequestRecord]:
        """The last 1,000 requests received (faults and refusals included), oldest first (see `RequestRecord`)."""
        with self.state.lock:
            return list(self.state.log)

    def clear_requests(self) -> None:
        """Forget the request log (ids and threads are kept)."""
        self.state.clear_log()

    def fail_next(self, status: int, times: int = 1, retry_after_ms: float | None = 10,
                  message: str | None = None) -> None:
        """Answer the next `times` API requests with `status` and the API's error body for it.

        `retry_after_ms` sets the `retry-after-ms` header (and a rounded `retry-after`) so the SDK waits that
        long before retrying; `None` sends no such header, and the SDK falls back to its own backoff.
        """
        error_type_for(status)
        with self.state.lock:
            self.state.faults.extend(Fault(status, retry_after_ms, message) for _ in range(times))

    def spend_cap_next(self, times: int = 1) -> None:
        """Answer the next `times` API requests as an organization past its tier's monthly spend cap does: 429
        `rate_limit_error` with `details.error_code: "enforced_spend_limit_reached"` (the SDK raises
        `anthropic.EnforcedSpendLimitReachedError`) and no `retry-after`, for it "keeps failing until access
        resumes" (docs: api/errors). The message and `x-should-retry: false` are assumed."""
        message = ("You have reached your API tier's monthly spend limit. Your access will resume on "
                   f"{_next_month()} at 00:00 UTC.")  # assumed
        with self.state.lock:
            self.state.faults.extend(Fault(429, None, message, details={"error_code": "enforced_spend_limit_reached"},
                                           should_retry=False, name="spend_cap") for _ in range(times))

    def spend_limit_next(self, times: int = 1, workspace: bool = True) -> None:
        """Answer the next `times` API requests as a spend limit you set does: 400 `invalid_request_error` (docs:
        api/errors: "The API also returns a 400 when usage reaches an organization or workspace spend limit you
        set"), with a message that begins as documented; the date part is assumed."""
        scope = "workspace " if workspace else ""
        message = (f"You have reached your specified {scope}API usage limits. You will regain access on "
                   f"{_next_month()} at 00:00 UTC.")
        with self.state.lock:
            self.state.faults.extend(Fault(400, None, message, name="spend_limit") for _ in range(times))

    def fail_stream_next(self, after_events: int = 3, error_type: str = "overloaded_error") -> None:
        """Break the next streamed reply with an `event: error` after `after_events` events (HTTP status 200).

        Events are counted as sent on the wire, `ping` included (the SDK never shows `ping` to you); a reply with
        fewer events breaks before its last one.
        """
        with self.state.lock:
            self.state.stream_faults.append(StreamFault(after_events, error_type))

    def cut_stream_next(self, after_events: int = 3) -> None:
        """Close the connection in the middle of the next streamed reply, after `after_events` events (`ping`
        included; before the last event if the reply has fewer): the chunked body never ends, so iterating the
        stream raises `httpx2.RemoteProtocolError` ("peer closed connection without sending complete message
        body"). The SDK 2.10 wraps transport errors in `anthropic.APIConnectionError` only before the response
        starts; one in the body reaches you unwrapped, and is not retried.

        Stream faults (this and `fail_stream_next`) wait for the next streamed reply, in the order queued, and
        apply to a scripted reply too."""
        with self.state.lock:
            self.state.stream_faults.append(StreamFault(after_events, cut=True))

    def reply_next(self, content: list[dict[str, Any]], stop_reason: str = "end_turn",
                   usage: dict[str, Any] | None = None, stop_details: dict[str, Any] | None = None,
                   times: int = 1, stop_sequence: str | None = None) -> None:
        """Answer the next `times` valid `POST /v1/messages` requests with exactly this reply, as JSON or SSE.

        `content` is a list of content blocks as the API sends them (`{"type": "text", "text": ...}`,
        `{"type": "tool_use", "name": ..., "input": {...}}`, `{"type": "thinking", "thinking": ...,
        "signature": ...}`, ...); a `tool_use` without an `id` gets a fresh `toolu_...` one. `stop_reason` is one
        of the SDK's `StopReason` values. `usage` entries override the defaults: the request's input tokens and
        the blocks' estimated output tokens (at least 1). Requests are still validated first: a bad one gets its
        400 and the scripted reply waits for the next.

        Scripted replies share one queue with `fail_next` and `drop_next` and are served in the order queued;
        each waits at the head of the queue for a request it applies to (an error or a drop: any API request; a
        scripted reply: a valid `POST /v1/messages`). Raises `ValueError` for a block, stop reason or
        `stop_details` the API cannot send.
        """
        check_scripted(content, stop_reason, stop_details)
        with self.state.lock:
            self.state.faults.extend(Scripted([dict(b) for b in content], stop_reason, usage, stop_details,
                                              stop_sequence) for _ in range(times))

    def refuse_next(self, category: str | None = "cyber", explanation: str | None = None, text: str = "") -> None:
        """Answer the next valid `POST /v1/messages` with a refusal: `stop_reason: "refusal"` and
        `stop_details: {"type": "refusal", "category": category, "explanation": explanation}`; `text` is what
        was said before the refusal (`""`: `content` is empty). Categories are the SDK's `RefusalStopDetails`
        ones: "cyber", "bio", "frontier_llm", "reasoning_extraction", "general_harms" or None."""
        details = {"type": "refusal", "category": category, "explanation": explanation}
        self.reply_next([{"type": "text", "text": text}] if text else [], stop_reason="refusal", stop_details=details)

    def drop_next(self, times: int = 1) -> None:
        """Close the connection of the next `times` API requests without answering."""
        with self.state.lock:
            self.state.faults.extend(Fault(0, None, drop=True) for _ in range(times))

    def advance_cache_clock(self, seconds: float) -> None:
        """Move the prompt cache's clock forward by `seconds` (301 to see a 5-minute entry expire, 3,601 for a
        1-hour one); nothing else waits. Raises `ValueError` for a negative value."""
        self.state.advance_clock(seconds)

    def reset_faults(self) -> None:
        """Cancel every queued fault and scripted reply."""
        with self.state.lock:
            self.state.faults.clear()
            self.state.stream_faults.clear()

    def __repr__(self) -> str:
        return f"OfflineClaude(url={self.url!r})"


def _next_month() -> str:
    today = datetime.now(UTC).date()
    return (today.replace(day=1) + timedelta(days=32)).replace(day=1).isoformat()


def check_scripted(content: list[dict[str, Any]], stop_reason: str, stop_details: dict[str, Any] | None) -> None:
    """Raise `ValueError` unless the SDK's own types accept these blocks, this stop reason and these details."""
    if stop_reason not in STOP_REASONS:
        raise ValueError(f"stop_reason {stop_reason!r} is not one the API sends; use one of {list(STOP_REASONS)}")
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        model = BLOCK_MODELS.get(kind)  # type: ignore[arg-type]
        if model is None:
            raise ValueError(f"content.{index}: type {kind!r} is not a content block type; use one of "
                             f"{sorted(BLOCK_MODELS)}")
        filled = {"id": "toolu_placeholder", **block} if kind in ("tool_use", "server_tool_use") else block
        try:
            model.model_validate(filled)
        except pydantic.ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise ValueError(f"content.{index} ({kind}): {problems}") from None
    if stop_details is not None:
        try:
            RefusalStopDetails.model_validate(stop_details)
        except pydantic.ValidationError as error:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
            raise ValueError(f"stop_details: {problems}") from None


def start_server(host: str = "127.0.0.1", port: int = 0, **options: Any) -> OfflineClaude:
    """Start an offline Claude in a background thread (port 0: a free port) and return it, already listening.

    Options: `first_token_ms`, `per_token_ms`, `requests_per_minute`, `context_window`,
    `tools_required_for_tool_blocks` and `extra_betas` (see `Options`).
    Use it as a context manager to stop it at the end of a block.
    """
    return OfflineClaude(host, port, **options).start()


def serve_forever(host: str = "127.0.0.1", port: int = 8765, on_started: Callable[[], None] | None = None,
                  **options: Any) -> None:
    """Serve in the foreground until interrupted (Ctrl+C); `on_started` is called once the socket listens."""
    server = OfflineClaude(host, port, **options)
    server._server.on_started = on_started
    freeze_long_lived_objects()
    server._server.run()
