"""Running the offline Claude: `start_server()` serves it from a background thread and returns an `OfflineClaude`
to steer it; `serve_forever()` runs it in the foreground (the command line, `python -m helpers.offline`).

It binds to 127.0.0.1 unless told otherwise. Faults are queued from Python, never from a request: a reader's
code cannot tell the offline Claude to misbehave, only the lesson's own "offline only" cells can.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import fields, replace
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import build_app
from .errors import error_type_for
from .state import Fault, Options, RequestRecord, ServerState

API_REQUEST_STARTS = (b"GET /v1/", b"POST /v1/", b"DELETE /v1/")


def _protocol_for(state: ServerState) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, able to close a connection without answering (`drop_next`)."""

    class DroppingH11Protocol(H11Protocol):
        def data_received(self, data: bytes) -> None:
            if data.startswith(API_REQUEST_STARTS) and state.take_drop():
                method, path = data.split(b" ", 2)[:2]
                state.record(RequestRecord(at=state.now(), method=method.decode(), path=path.decode().split("?")[0],
                                           headers={}, fault="drop", finished_at=state.now()))
                self.transport.close()
                return
            super().data_received(data)

    return DroppingH11Protocol


class OfflineClaude:
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
                                access_log=False, lifespan="off", http=_protocol_for(self.state))
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> OfflineClaude:
        """Serve from a daemon thread; return once the socket is listening."""
        self._thread = threading.Thread(target=self._server.run, name="offline-claude", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the offline Claude could not start on {self.host}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end."""
        self._server.should_exit = True
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

    def fail_stream_next(self, after_events: int = 3, error_type: str = "overloaded_error") -> None:
        """Break the next streamed reply with an `event: error` after `after_events` events (HTTP status 200).

        Events are counted as sent on the wire, `ping` included (the SDK never shows `ping` to you).
        """
        with self.state.lock:
            self.state.stream_faults.append((after_events, error_type))

    def drop_next(self, times: int = 1) -> None:
        """Close the connection of the next `times` API requests without answering."""
        with self.state.lock:
            self.state.faults.extend(Fault(0, None, drop=True) for _ in range(times))

    def reset_faults(self) -> None:
        """Cancel every queued fault."""
        with self.state.lock:
            self.state.faults.clear()
            self.state.stream_faults.clear()

    def __repr__(self) -> str:
        return f"OfflineClaude(url={self.url!r})"


def start_server(host: str = "127.0.0.1", port: int = 0, **options: Any) -> OfflineClaude:
    """Start an offline Claude in a background thread (port 0: a free port) and return it, already listening.

    Options: `first_token_ms`, `per_token_ms`, `requests_per_minute`, `context_window` (see `Options`).
    Use it as a context manager to stop it at the end of a block.
    """
    return OfflineClaude(host, port, **options).start()


def serve_forever(host: str = "127.0.0.1", port: int = 8765, **options: Any) -> None:
    """Serve in the foreground until interrupted (Ctrl+C)."""
    server = OfflineClaude(host, port, **options)
    server._server.run()
