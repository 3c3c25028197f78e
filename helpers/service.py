"""A small chat backend: FastAPI in front of one ``AsyncAnthropic`` client, ready to copy and deploy.

What it is for: your browser or mobile app talks to *your* service, which holds the API key and the
conversations. ``create_app()`` gives you ``POST /chat`` (JSON), ``POST /chat/stream`` (server-sent
events: ``start``, ``text`` per chunk, then ``done`` or ``error``) and ``GET /health``, with one client
per process (opened and closed by the app's lifespan), history kept server side per session id and
truncated with ``keep_last_turns``, one request at a time per session, a bound on concurrent upstream
calls, and the SDK's errors turned into answers a caller can act on (never the key, never upstream bodies).

What it is not: authentication for your own endpoint (add it), a persistent store (``InMemorySessionStore``
lives in one process; implement ``SessionStore`` over Redis or a database, and use a distributed lock
if several processes share sessions), or a tool loop.

Run it: ``CLAUDE_MODEL=... uvicorn --factory helpers.service:app_from_env``.
Taught by ``notebooks/09_fastapi_backend.ipynb``.
"""

import asyncio
import json
import logging
import math
import os
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import anthropic
import httpx2
from anthropic import AsyncAnthropic
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator

from helpers.conversation import text_of
from helpers.truncation import keep_last_turns

log = logging.getLogger(__name__)
UPSTREAM_TIMEOUT = httpx2.Timeout(60.0, connect=5.0)  # the SDK's default read timeout is 600 s
DEFAULT_RETRY_AFTER = 5  # seconds, when a busy upstream does not say how long to wait
MAX_MESSAGE_CHARS = 20_000


class ChatRequest(BaseModel):
    """What a caller sends: which conversation, and the next user message."""

    session_id: str = Field(min_length=1, max_length=128)
    message: str = Field(max_length=MAX_MESSAGE_CHARS)

    @field_validator("message")
    @classmethod
    def _has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message is empty or only whitespace; send some text")
        return value


class ChatReply(BaseModel):
    """What ``POST /chat`` answers: the reply's text, its token usage and the upstream request id."""

    reply: str
    usage: dict[str, int]
    request_id: str | None


class SessionStore(Protocol):
    """Where conversations live between requests; messages are JSON-ready dicts."""

    async def load(self, session_id: str) -> list[dict[str, Any]]: ...
    async def save(self, session_id: str, messages: list[dict[str, Any]]) -> None: ...


class InMemorySessionStore:
    """A dict in this process: lost on restart and not shared between workers."""

    def __init__(self) -> None:
        self.sessions: dict[str, list[dict[str, Any]]] = {}

    async def load(self, session_id: str) -> list[dict[str, Any]]:
        """Return a copy of the session's messages ([] for a new session)."""
        return list(self.sessions.get(session_id, []))

    async def save(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        """Replace the session's messages."""
        self.sessions[session_id] = list(messages)


@dataclass
class Metrics:
    """A gauge of upstream calls in flight, the most seen at once, and counters."""

    in_flight: int = 0
    max_in_flight: int = 0
    upstream_calls: int = 0
    upstream_errors: int = 0


def upstream_error(exc: anthropic.APIError) -> tuple[int, str, dict[str, str]]:
    """Map an SDK error (raised after the SDK's own retries) to the status, message and headers for the caller."""
    if isinstance(exc, anthropic.APITimeoutError):
        return 504, "Claude did not answer in time; try again.", {}
    if isinstance(exc, anthropic.APIConnectionError):
        return 504, "Claude could not be reached; try again.", {}
    status, kind = getattr(exc, "status_code", None), getattr(exc, "type", None)
    if status in (429, 503, 529) or kind in ("rate_limit_error", "overloaded_error"):
        return 503, "Claude is busy right now; retry after Retry-After seconds.", {"Retry-After": _retry_after(exc)}
    if status in (401, 403):
        return 502, "The service's upstream credentials were refused; this is a server configuration problem.", {}
    if status is not None and 400 <= status < 500:  # we built the request: the caller cannot fix it
        return 502, "Claude refused the request this service built; it has been logged.", {}
    return 502, "Claude answered with an error; try again later.", {}


def _retry_after(exc: anthropic.APIError) -> str:
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else {}
    if headers.get("retry-after", "").isdigit():
        return headers["retry-after"]
    try:
        return str(max(1, math.ceil(float(headers["retry-after-ms"]) / 1000)))
    except (KeyError, ValueError):
        return str(DEFAULT_RETRY_AFTER)


def _error_response(exc: anthropic.APIError) -> JSONResponse:
    status, detail, headers = upstream_error(exc)
    request_id = getattr(exc, "request_id", None)
    log.warning("Claude call failed: %s (request id %s); answered %s", type(exc).__name__, request_id, status)
    return JSONResponse({"detail": detail, "request_id": request_id}, status_code=status, headers=headers)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _assistant_turn(reply: anthropic.types.Message) -> dict[str, Any]:
    return {"role": "assistant", "content": [block.model_dump(mode="json", exclude_none=True)
                                             for block in reply.content]}


def _usage(reply: anthropic.types.Message) -> dict[str, int]:
    return {"input_tokens": reply.usage.input_tokens, "output_tokens": reply.usage.output_tokens}


def default_client() -> AsyncAnthropic:
    """An ``AsyncAnthropic`` with a read timeout a web request can wait for (key and URL from the environment)."""
    return AsyncAnthropic(timeout=UPSTREAM_TIMEOUT)


def create_app(*, model: str, max_concurrency: int = 8, max_turns: int = 20, max_tokens: int = 1024,
               store: SessionStore | None = None,
               client_factory: Callable[[], AsyncAnthropic] = default_client) -> FastAPI:
    """Build the chat service; the client is created at startup and closed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.client = client_factory()
        try:
            yield
        finally:
            await app.state.client.close()

    app = FastAPI(title="Chat with Claude", lifespan=lifespan)
    app.state.store = sessions = store if store is not None else InMemorySessionStore()
    app.state.metrics = metrics = Metrics()
    upstream_slots = asyncio.Semaphore(max_concurrency)
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()  # freed when unused

    def session_lock(session_id: str) -> asyncio.Lock:
        lock = locks.get(session_id)
        if lock is None:
            lock = locks[session_id] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def upstream_call() -> AsyncIterator[None]:
        async with upstream_slots:
            metrics.in_flight += 1
            metrics.upstream_calls += 1
            metrics.max_in_flight = max(metrics.max_in_flight, metrics.in_flight)
            try:
                yield
            except anthropic.APIError:
                metrics.upstream_errors += 1
                raise
            finally:
                metrics.in_flight -= 1

    async def request_for(body: ChatRequest) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        history = [*await sessions.load(body.session_id), {"role": "user", "content": body.message}]
        return history, {"model": model, "max_tokens": max_tokens, "messages": keep_last_turns(history, max_turns)}

    async def remember(body: ChatRequest, history: list[dict[str, Any]], reply: anthropic.types.Message) -> None:
        await sessions.save(body.session_id, keep_last_turns([*history, _assistant_turn(reply)], max_turns))

    @app.post("/chat", response_model=ChatReply)
    async def chat(body: ChatRequest) -> Any:
        async with session_lock(body.session_id):
            history, params = await request_for(body)
            try:
                async with upstream_call():
                    reply = await app.state.client.messages.create(**params)
            except anthropic.APIError as exc:
                return _error_response(exc)
            await remember(body, history, reply)  # only once Claude has answered
        return ChatReply(reply=text_of(reply), usage=_usage(reply), request_id=reply._request_id)

    async def stream_events(body: ChatRequest) -> AsyncIterator[str]:
        async with session_lock(body.session_id):
            history, params = await request_for(body)
            async with upstream_call(), app.state.client.messages.stream(**params) as stream:
                yield _sse("start", {"request_id": stream.request_id})  # errors before this get a real status
                try:
                    async for text in stream.text_stream:
                        yield _sse("text", {"text": text})
                    reply = await stream.get_final_message()
                except anthropic.APIError as exc:  # mid-stream: the status line has gone, so say it in an event
                    metrics.upstream_errors += 1
                    status, detail, headers = upstream_error(exc)
                    log.warning("Claude stream broke: %s (request id %s)", exc.type, stream.request_id)
                    retry_after = int(headers["Retry-After"]) if "Retry-After" in headers else None
                    yield _sse("error", {"status": status, "detail": detail, "retry_after": retry_after})
                    return
            await remember(body, history, reply)
        yield _sse("done", {"usage": _usage(reply), "request_id": stream.request_id})

    @app.post("/chat/stream", response_model=None)
    async def chat_stream(body: ChatRequest) -> StreamingResponse | JSONResponse:
        events = stream_events(body)
        try:
            first = await anext(events)  # opens the upstream stream, so a refusal gets an HTTP status
        except anthropic.APIError as exc:
            return _error_response(exc)

        async def all_events() -> AsyncIterator[str]:
            try:
                yield first
                async for event in events:
                    yield event
            finally:
                await events.aclose()  # on disconnect: closes the upstream stream, frees the slot and the lock

        return StreamingResponse(all_events(), media_type="text/event-stream")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "max_concurrency": max_concurrency, **asdict(metrics)}

    return app


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory helpers.service:app_from_env``: the model comes from ``CLAUDE_MODEL``."""
    model = os.environ.get("CLAUDE_MODEL", "").strip()
    if not model:
        raise RuntimeError("Set CLAUDE_MODEL to the model id this service should call.")
    return create_app(model=model)
