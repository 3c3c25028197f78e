"""The servers the benchmarks compare, each in-thread (a daemon thread of the measuring process, as a notebook runs
the offline Claude) or in its own process (`python -m benchmarks.servers KIND PORT`, as a team's test suite does):

- `offline`: the offline Claude (`helpers.offline`); `offline-unfrozen` is the same without `gc.freeze()` at start;
- `raw`: the transport floor, a bare `asyncio.Protocol` that answers every request with canned bytes in one write,
  on the same event loop as the offline Claude (uvloop's where installed);
- `starlette`: bare uvicorn + Starlette, one route that answers with the same canned bytes.

The canned answers are what the offline Claude itself answers to the benchmark's request (`canned()`), JSON or SSE
by whether the body asks to stream: the same body, the same headers (request-id, the rate-limit families, ...) and
the same framing (a stream chunked, in one chunk), so the SDK on the client side does exactly the same work against
every server.
An optional delay (ms) makes a floor wait as the offline Claude's simulated latency does.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2

from tests.standalone import free_port, listening_process

ROOT = Path(__file__).resolve().parent.parent
MODEL = "claude-haiku-5-5"
HEADERS = {"x-api-key": "sk-ant-bench", "anthropic-version": "2023-06-01", "content-type": "application/json"}
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
KINDS = ("offline", "offline-unfrozen", "raw", "starlette", "baseline")
# `baseline`: the offline Claude of another source tree (BENCH_BASELINE=/path/to/checkout), in its own process, for
# a before/after comparison measured side by side in one run.
BASELINE = os.environ.get("BENCH_BASELINE", "")
BASELINE_CODE = ("import sys; import benchmarks.servers as s; sys.path.insert(0, sys.argv[1]); "
                 "s.main(['offline', *sys.argv[2:]])")  # helpers is imported from the baseline tree


def request_body(stream: bool, messages: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "messages": messages or QUESTION, **extra,
            **({"stream": True} if stream else {})}


Answer = tuple[bytes, list[tuple[str, str]]]  # body, headers (without content-length and transfer-encoding)
FRAMING = ("content-length", "transfer-encoding")
ADDED_BY_UVICORN = ("date", "server")


def canned() -> dict[bool, Answer]:
    """{stream: (body, headers)}: the offline Claude's own answers to `request_body(stream)`."""
    from helpers.offline import start_server

    answers = {}
    with start_server(first_token_ms=0, per_token_ms=0) as server, httpx2.Client(base_url=server.url) as client:
        for stream in (False, True):
            response = client.post("/v1/messages", json=request_body(stream), headers=HEADERS)
            response.raise_for_status()
            headers = [(k.decode(), v.decode()) for k, v in response.headers.raw if k.decode().lower() not in FRAMING]
            answers[stream] = (response.content, headers)
    return answers


def raw_answer(stream: bool, body: bytes, headers: list[tuple[str, str]]) -> bytes:
    """The whole HTTP answer as bytes: a JSON body with its Content-Length, a stream chunked in one chunk."""
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    if stream:
        return f"{head}transfer-encoding: chunked\r\n\r\n{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    return f"{head}content-length: {len(body)}\r\n\r\n".encode() + body


class RawProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 keep-alive: reads a head and its Content-Length body, answers with canned bytes."""

    def __init__(self, answers: dict[bool, bytes], delay_ms: float) -> None:
        self.answers, self.delay = answers, delay_ms / 1000
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].lower().split(b"\r\n")[1:]:
                if line.startswith(b"content-length:"):
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            answer = self.answers[b'"stream":true' in body.replace(b" ", b"")]
            if self.delay:
                asyncio.get_running_loop().call_later(self.delay, self._write, answer)
            else:
                self._write(answer)

    def _write(self, answer: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(answer)


def starlette_app(answers: dict[bool, Answer], delay_ms: float) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    async def messages(request: Request) -> Response:
        body = await request.body()
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        stream = b'"stream":true' in body.replace(b" ", b"")
        content, headers = answers[stream]
        own = {k: v for k, v in headers if k not in ADDED_BY_UVICORN}
        if stream:
            async def one_chunk() -> Any:
                yield content
            return StreamingResponse(one_chunk(), headers=own)
        return Response(content, headers=own)

    return Starlette(routes=[Route("/v1/messages", messages, methods=["POST"])])


def serve(kind: str, port: int, answers: dict[bool, Answer], delay_ms: float = 0.0,
          ready: threading.Event | None = None) -> None:
    """Serve `kind` on 127.0.0.1:`port` in this thread until the process ends."""
    if kind.startswith("offline"):
        from helpers.offline import server as module

        server = module.OfflineClaude("127.0.0.1", port, first_token_ms=delay_ms, per_token_ms=0)
        freeze = getattr(module, "freeze_long_lived_objects", None)  # absent from versions before it
        if kind == "offline" and freeze is not None:
            freeze()
        if ready is not None:
            threading.Thread(target=_signal_when_listening, args=(port, ready), daemon=True).start()
        server._server.run()
    elif kind == "starlette":
        import uvicorn

        config = uvicorn.Config(starlette_app(answers, delay_ms), host="127.0.0.1", port=port, log_level="warning",
                                access_log=False, lifespan="off")
        if ready is not None:
            threading.Thread(target=_signal_when_listening, args=(port, ready), daemon=True).start()
        uvicorn.Server(config).run()
    elif kind == "raw":
        raw = {stream: raw_answer(stream, body, headers) for stream, (body, headers) in answers.items()}

        async def main() -> None:
            loop = asyncio.get_running_loop()
            server = await loop.create_server(lambda: RawProtocol(raw, delay_ms), "127.0.0.1", port)
            if ready is not None:
                ready.set()
            async with server:
                await server.serve_forever()

        loop = new_loop()  # the event loop the offline Claude serves on, so that the floor is one
        try:
            loop.run_until_complete(main())
        finally:
            loop.close()
    else:
        raise ValueError(f"unknown server kind {kind!r}; one of {KINDS}")


def new_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the kind uvicorn picks (`loop="auto"`): uvloop's where installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _signal_when_listening(port: int, ready: threading.Event) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            ready.set()
            return
        time.sleep(0.01)


@contextlib.contextmanager
def in_thread(kind: str, answers: dict[bool, Answer], delay_ms: float = 0.0) -> Iterator[str]:
    """A server of `kind` in a daemon thread of this process: its base URL. (Stopped with the process.)"""
    if kind.startswith("offline"):
        from helpers.offline import start_server

        with start_server(first_token_ms=delay_ms, per_token_ms=0) as server:
            yield server.url
        return
    port, ready = free_port(), threading.Event()
    threading.Thread(target=serve, args=(kind, port, answers, delay_ms, ready), daemon=True).start()
    if not ready.wait(30):
        raise RuntimeError(f"the {kind} server did not start")
    yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def own_process(kind: str, delay_ms: float = 0.0) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A server of `kind` in its own process: (process, base URL), ended at the end of the block."""
    port = free_port()
    command = ["-c", BASELINE_CODE, BASELINE] if kind == "baseline" else ["-m", "benchmarks.servers", kind]
    with listening_process([sys.executable, *command, str(port), str(delay_ms)], port, f"the {kind} server", 60,
                           cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "BENCH_CANNED": str(CANNED_FILE)}) as process:
        yield process, f"http://127.0.0.1:{port}"


def main(argv: list[str]) -> None:
    kind, port = argv[0], int(argv[1])
    delay_ms = float(argv[2]) if len(argv) > 2 else 0.0
    answers = {} if kind.startswith("offline") else json_loads_canned()
    serve(kind, port, answers, delay_ms)


CANNED_FILE = Path(tempfile.gettempdir()) / f"offline-claude-bench-canned-{os.getpid()}.json"


def json_loads_canned() -> dict[bool, Answer]:
    """The canned answers the measuring process saved (`save_canned`; its path in `$BENCH_CANNED`), else made now."""
    saved = Path(os.environ.get("BENCH_CANNED", CANNED_FILE))
    if saved.exists():
        data = json.loads(saved.read_text())
        return {stream == "true": (body.encode(), [tuple(pair) for pair in headers])
                for stream, (body, headers) in data.items()}
    return canned()


def save_canned(answers: dict[bool, Answer]) -> None:
    """Save the canned answers for the floors started in their own processes (removed when this process ends)."""
    CANNED_FILE.write_text(json.dumps({str(stream).lower(): (body.decode(), headers)
                                       for stream, (body, headers) in answers.items()}))
    atexit.register(CANNED_FILE.unlink, missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1:])
