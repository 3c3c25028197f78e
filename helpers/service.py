"""A small chat backend: FastAPI in front of one ``AsyncAnthropic`` client, ready to copy and deploy.

What it is for: your browser or mobile app talks to *your* service, which holds the API key and the
conversations. ``create_app()`` gives you ``POST /sessions`` (a new, unguessable session id), ``POST /chat``
(JSON), ``POST /chat/stream`` (server-sent events: ``start``, ``text`` per chunk, then ``done`` or ``error``)
and ``GET /health``, with one client per process (opened and closed by the app's lifespan), history kept per
session in a ``SessionStore`` and truncated with ``keep_last_turns``, one request at a time per session, a
bound on concurrent upstream calls, and every failure turned into an answer a caller can act on (never the
key, never upstream bodies, never the caller's input echoed back).

Replies: each goes into the history through ``helpers.replies.assistant_turn``, and ``stop_reason`` is in
every ``/chat`` answer and ``done`` event. ``end_turn``, ``stop_sequence``, ``max_tokens`` and
``model_context_window_exceeded`` are answers (the last two cut: tell your user). ``refusal`` is an answer
with ``stop_details`` that is not stored, so the session stays usable. ``pause_turn`` is continued. A reply
that cannot be used (``tool_use``, which this service never offers, or no stop reason) is a 502.

Failures: an SDK error, a connection that breaks mid-reply (a raw ``httpx2.TransportError``), or anything
else is a JSON status before a stream starts and an ``event: error`` after, counted in ``upstream_errors``.
The upstream client runs with ``upstream_max_retries`` (0): a 429/529 becomes an immediate 503 with
``Retry-After`` instead of the SDK sleeping while it holds one of the ``max_concurrency`` slots.

Hardening: an ``Idempotency-Key`` header makes a retried request replay the first answer instead of storing
the exchange twice (without one, an exchange whose caller has gone is not stored); ``issued_session_ids=True``
accepts only ids from ``POST /sessions``; ``max_sessions`` bounds the store; text that cannot be encoded as
UTF-8 (a lone surrogate) is a 422 from pydantic; a body over ``MAX_BODY_BYTES`` is a 413 (by its
``Content-Length`` before it is read, a chunked one as soon as it passes the limit); 422s never echo the input;
``/docs`` is off unless ``docs=True``; ``allowed_hosts`` installs Starlette's ``TrustedHostMiddleware``.
``app_from_env`` turns all of them on.

What it is not: authentication for your own endpoint (add it), or a tool loop.
Run it: ``CLAUDE_MODEL=... uvicorn --factory helpers.service:app_from_env``.
Taught by ``notebooks/09_fastapi_backend.ipynb``.
"""

import asyncio
import hashlib
import json
import logging
import math
import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

import anthropic
import httpx2
from anthropic import AsyncAnthropic
from anthropic.types import Message
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator
from starlette.middleware.trustedhost import TrustedHostMiddleware

from helpers.replies import (
    RefusalError,
    ReplyError,
    as_json_block,
    assistant_turn,
    check_stop_reason,
    continuation,
    text_of,
)
from helpers.session_store import InMemorySessionStore, SessionLockTimeout, SessionStore
from helpers.truncation import keep_last_turns

__all__ = ["ChatReply", "ChatRequest", "InMemorySessionStore", "Metrics", "SessionStore", "app_from_env",
           "create_app", "default_client", "upstream_error"]

log = logging.getLogger(__name__)
UPSTREAM_TIMEOUT = httpx2.Timeout(60.0, connect=5.0)  # the SDK's default read timeout is 600 s
DEFAULT_RETRY_AFTER = 5  # seconds, when a busy upstream does not say how long to wait
MAX_MESSAGE_CHARS = 20_000
MAX_BODY_BYTES = 256 * 1024  # room for MAX_MESSAGE_CHARS of JSON-escaped text (12 bytes a char at worst)
SESSION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"


class ChatRequest(BaseModel):
    """What a caller sends: which conversation, and the next user message."""

    session_id: str = Field(pattern=SESSION_ID_PATTERN)
    message: str = Field(max_length=MAX_MESSAGE_CHARS)

    @field_validator("message")
    @classmethod
    def _has_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message is empty or only whitespace; send some text")
        return value


class ChatReply(BaseModel):
    """What ``POST /chat`` answers: the reply's text, why it stopped, its token usage and the upstream request id.

    ``stop_reason`` is one of the SDK's ``StopReason`` values; ``stop_details`` is set for a refusal
    (``{"type": "refusal", "category": ..., "explanation": ...}``), whose exchange is not stored.
    """

    reply: str
    usage: dict[str, int]
    request_id: str | None
    stop_reason: str | None = None
    stop_details: dict[str, Any] | None = None


@dataclass
class Metrics:
    """A gauge of upstream calls in flight, the most seen at once, and counters."""

    in_flight: int = 0
    max_in_flight: int = 0
    upstream_calls: int = 0
    upstream_errors: int = 0
    refusals: int = 0
    idempotent_replays: int = 0
    abandoned_answers: int = 0  # answered after the caller had gone (no Idempotency-Key): not stored


class IdempotencyKeyReused(Exception):
    """An ``Idempotency-Key`` already answered one message came with a different one (answered 422)."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _UpstreamSlots:
    """At most ``limit`` Claude calls at once, counted in ``metrics`` (a failure of any kind counts as an error)."""

    def __init__(self, limit: int, metrics: Metrics) -> None:
        self.semaphore, self.metrics = asyncio.Semaphore(limit), metrics

    @asynccontextmanager
    async def call(self) -> AsyncIterator[None]:
        metrics = self.metrics
        async with self.semaphore:
            metrics.in_flight += 1
            metrics.upstream_calls += 1
            metrics.max_in_flight = max(metrics.max_in_flight, metrics.in_flight)
            try:
                yield
            except Exception:
                metrics.upstream_errors += 1
                raise
            finally:
                metrics.in_flight -= 1


class _BodySizeLimit:
    """Answer 413 to a body over ``max_bytes``: before it is read when its ``Content-Length`` says so, else (a
    chunked upload) as soon as the bytes received pass it, without reading the rest.

    Pure ASGI, not ``@app.middleware("http")``: that one hides the disconnect from ``request.is_disconnected()``.
    (In production a reverse proxy usually enforces this first: nginx's ``client_max_body_size``.)
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received, started, refused = 0, False, False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes and not started:  # answer now; the app sees the caller leave
                    refused = True
                    await self._refuse(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            if refused:  # whatever the app answers to the disconnect: the 413 has been sent
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, tracked_send)

    async def _refuse(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        response = JSONResponse({"detail": f"The request body is over {self.max_bytes} bytes; send a shorter "
                                           "message."}, status_code=413, headers={"connection": "close"})
        await response(scope, receive, send)


def upstream_error(exc: BaseException) -> tuple[int, str, dict[str, str]]:
    """Map a failure of the Claude call (after the SDK's own retries) to a status, message and headers."""
    if isinstance(exc, anthropic.APITimeoutError):
        return 504, "Claude did not answer in time; try again.", {}
    if isinstance(exc, anthropic.APIConnectionError):
        return 504, "Claude could not be reached; try again.", {}
    if isinstance(exc, httpx2.TransportError):  # raised raw by the SDK once the body has started
        return 502, "The connection to Claude broke during the reply; try again.", {}
    if isinstance(exc, IdempotencyKeyReused):
        return 422, "This Idempotency-Key was already used with a different message; send a new key.", {}
    if isinstance(exc, SessionLockTimeout):
        return 503, "This session is busy with another request; retry after Retry-After seconds.", \
            {"Retry-After": str(DEFAULT_RETRY_AFTER)}
    if isinstance(exc, ReplyError):
        return 502, "Claude's reply could not be used; try again.", {}
    if not isinstance(exc, anthropic.APIError):
        return 500, "The service failed while talking to Claude; it has been logged.", {}
    status, kind = getattr(exc, "status_code", None), getattr(exc, "type", None)
    if status in (429, 503, 529) or kind in ("rate_limit_error", "overloaded_error"):
        return 503, "Claude is busy right now; retry after Retry-After seconds.", {"Retry-After": _retry_after(exc)}
    if status in (401, 403):
        return 502, "The service's upstream credentials were refused; this is a server configuration problem.", {}
    if status is not None and 400 <= status < 500:  # we built the request: the caller cannot fix it
        return 502, "Claude refused the request this service built; it has been logged.", {}
    return 502, "Claude answered with an error; try again later.", {}


def _retry_after(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    headers = response.headers if response is not None else {}
    if headers.get("retry-after", "").isdigit():
        return headers["retry-after"]
    try:
        return str(max(1, math.ceil(float(headers["retry-after-ms"]) / 1000)))
    except (KeyError, ValueError):
        return str(DEFAULT_RETRY_AFTER)


def _error_response(exc: BaseException) -> JSONResponse:
    status, detail, headers = upstream_error(exc)
    request_id = getattr(exc, "request_id", None)
    log.warning("Claude call failed: %s (request id %s); answered %s", type(exc).__name__, request_id, status)
    return JSONResponse({"detail": detail, "request_id": request_id}, status_code=status, headers=headers)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _usage(replies: Sequence[Message]) -> dict[str, int]:
    return {"input_tokens": sum(r.usage.input_tokens for r in replies),
            "output_tokens": sum(r.usage.output_tokens for r in replies)}


def _answer(replies: Sequence[Message], request_id: str | None) -> dict[str, Any]:
    last = replies[-1]
    details = last.stop_details.model_dump(mode="json") if last.stop_details is not None else None
    return ChatReply(reply="".join(text_of(r) for r in replies), usage=_usage(replies), request_id=request_id,
                     stop_reason=last.stop_reason, stop_details=details).model_dump()


def _stored_turn(replies: Sequence[Message]) -> dict[str, Any] | None:
    turn = assistant_turn(*replies)
    return None if turn is None else {"role": "assistant", "content": [as_json_block(b) for b in turn["content"]]}


def default_client() -> AsyncAnthropic:
    """An ``AsyncAnthropic`` with a read timeout a web request can wait for (key and URL from the environment)."""
    return AsyncAnthropic(timeout=UPSTREAM_TIMEOUT, max_retries=0)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A 422 that names each problem and never echoes the input (which may be a megabyte, or a secret)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
                                    for e in errors]}, status_code=422)


def create_app(*, model: str, max_concurrency: int = 8, max_turns: int = 20, max_tokens: int = 1024,
               store: SessionStore | None = None,
               client_factory: Callable[[], AsyncAnthropic] = default_client,
               upstream_max_retries: int = 0, max_sessions: int = 10_000, issued_session_ids: bool = False,
               allowed_hosts: Sequence[str] | None = None, docs: bool = False) -> FastAPI:
    """Build the chat service; the client is created at startup (with ``upstream_max_retries``) and closed at shutdown.

    ``max_sessions`` bounds the default in-memory store; ``issued_session_ids`` refuses ids that ``POST /sessions``
    did not issue (404); ``allowed_hosts`` (e.g. ``["chat.example.com"]``) refuses other ``Host`` headers (400);
    ``docs`` serves ``/docs`` and ``/openapi.json``.
    """
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = client_factory()
        app.state.client = client.with_options(max_retries=upstream_max_retries)
        try:
            yield
        finally:
            await app.state.client.close()
            await client.close()

    app = FastAPI(title="Chat with Claude", lifespan=lifespan, docs_url="/docs" if docs else None,
                  redoc_url=None, openapi_url="/openapi.json" if docs else None)
    app.add_exception_handler(RequestValidationError, _validation_error)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.state.store = sessions = store if store is not None else InMemorySessionStore(max_sessions)
    app.state.metrics = metrics = Metrics()
    slots = _UpstreamSlots(max_concurrency, metrics)
    local_answers = InMemorySessionStore()  # Idempotency-Key answers, when the store keeps none itself
    if issued_session_ids and not hasattr(sessions, "exists"):
        raise TypeError("issued_session_ids needs a store with create() and exists(), such as InMemorySessionStore")

    def session_lock(session_id: str) -> Any:
        return (sessions if hasattr(sessions, "lock") else local_answers).lock(session_id)

    async def recall(body: ChatRequest, key: str | None) -> dict[str, Any] | None:
        """The answer already given for this Idempotency-Key; IdempotencyKeyReused if it came with another message."""
        if not key:
            return None
        record = await (sessions if hasattr(sessions, "recall") else local_answers).recall(body.session_id, key)
        if record is None:
            return None
        if record.get("message_sha256") != _digest(body.message):
            raise IdempotencyKeyReused
        return record["answer"]

    async def remember(body: ChatRequest, key: str | None, answer: dict[str, Any]) -> None:
        if key:
            record = {"message_sha256": _digest(body.message), "answer": answer}
            await (sessions if hasattr(sessions, "remember") else local_answers).remember(body.session_id, key, record)

    app.add_middleware(_BodySizeLimit, max_bytes=MAX_BODY_BYTES)

    async def known(session_id: str) -> JSONResponse | None:
        if issued_session_ids and not await sessions.exists(session_id):  # type: ignore[attr-defined]
            return JSONResponse({"detail": "Unknown session_id: create a session with POST /sessions and use the "
                                           "id it returns."}, status_code=404)
        return None

    async def request_for(body: ChatRequest) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        history = [*await sessions.load(body.session_id), {"role": "user", "content": body.message}]
        return history, {"model": model, "max_tokens": max_tokens, "messages": keep_last_turns(history, max_turns)}

    async def store_exchange(body: ChatRequest, history: list[dict[str, Any]], replies: list[Message]) -> None:
        turn = _stored_turn(replies)
        await sessions.save(body.session_id, keep_last_turns([*history, *([turn] if turn else [])], max_turns))

    async def ask_claude(params: dict[str, Any]) -> list[Message]:
        """Every reply of one exchange (more than one when Claude paused with pause_turn); raises ReplyError."""
        replies: list[Message] = []
        while True:
            async with slots.call():
                reply = await app.state.client.messages.create(**params)
            replies.append(reply)
            if _checked(reply, params) != "pause_turn":
                return replies
            params = continuation(params, reply, len(replies) - 1)

    def _checked(reply: Message, params: dict[str, Any]) -> str:
        try:
            return check_stop_reason(reply, max_tokens=params["max_tokens"], runs_tools=False)
        except RefusalError:
            metrics.refusals += 1
            return "refusal"
        except ReplyError:
            metrics.upstream_errors += 1
            raise

    @app.post("/sessions", status_code=201, response_model=None)
    async def new_session() -> dict[str, str] | JSONResponse:
        """Issue a new session; its id is the only way to reach the conversation, so keep it secret."""
        create = getattr(sessions, "create", None)
        if create is None:
            return JSONResponse({"detail": "This service's session store cannot issue sessions."}, status_code=501)
        return {"session_id": await create()}

    @app.post("/chat", response_model=ChatReply)
    async def chat(body: ChatRequest, request: Request,
                   idempotency_key: str | None = Header(default=None, max_length=255)) -> Any:
        if (unknown := await known(body.session_id)) is not None:
            return unknown
        try:
            async with session_lock(body.session_id):
                if (answer := await recall(body, idempotency_key)) is not None:
                    metrics.idempotent_replays += 1
                    return JSONResponse(answer, headers={"Idempotent-Replayed": "true"})
                history, params = await request_for(body)
                replies = await ask_claude(params)
                answer = _answer(replies, replies[0]._request_id)
                if answer["stop_reason"] != "refusal":
                    if not idempotency_key and await request.is_disconnected():
                        log.info("caller of session %s left before the answer; not stored", body.session_id)
                        metrics.abandoned_answers += 1
                        return JSONResponse(answer)
                    await store_exchange(body, history, replies)  # only once Claude has answered
                await remember(body, idempotency_key, answer)
        except Exception as exc:  # every failure becomes an answer; the traceback only for the unexpected
            if not isinstance(exc, anthropic.APIError | httpx2.TransportError | ReplyError | SessionLockTimeout |
                                   IdempotencyKeyReused):
                log.exception("unexpected failure in /chat")
            return _error_response(exc)
        return answer

    async def stream_events(body: ChatRequest, idempotency_key: str | None) -> AsyncIterator[str]:
        async with session_lock(body.session_id):
            if (answer := await recall(body, idempotency_key)) is not None:
                metrics.idempotent_replays += 1
                yield _sse("start", {"request_id": answer["request_id"]})
                if answer["reply"]:
                    yield _sse("text", {"text": answer["reply"]})
                yield _sse("done", _done(answer))
                return
            history, params = await request_for(body)
            replies: list[Message] = []
            request_id: str | None = None
            try:
                while True:
                    async with slots.call(), app.state.client.messages.stream(**params) as stream:
                        if request_id is None:
                            request_id = stream.request_id
                            yield _sse("start", {"request_id": request_id})  # errors before this get a status
                        async for text in stream.text_stream:
                            yield _sse("text", {"text": text})
                        reply = await stream.get_final_message()
                    replies.append(reply)
                    if _checked(reply, params) != "pause_turn":
                        break
                    params = continuation(params, reply, len(replies) - 1)
            except Exception as exc:  # mid-stream: the status line has gone, so say it in an event
                if request_id is None:
                    raise
                if not isinstance(exc, anthropic.APIError | httpx2.TransportError | ReplyError):
                    log.exception("unexpected failure in /chat/stream")
                status, detail, headers = upstream_error(exc)
                log.warning("Claude stream broke: %s (request id %s)", type(exc).__name__, request_id)
                retry_after = int(headers["Retry-After"]) if "Retry-After" in headers else None
                yield _sse("error", {"status": status, "detail": detail, "retry_after": retry_after,
                                     "request_id": request_id})
                return
            answer = _answer(replies, request_id)
            if answer["stop_reason"] != "refusal":
                await store_exchange(body, history, replies)
            await remember(body, idempotency_key, answer)
        yield _sse("done", _done(answer))

    @app.post("/chat/stream", response_model=None)
    async def chat_stream(body: ChatRequest,
                          idempotency_key: str | None = Header(default=None, max_length=255)
                          ) -> StreamingResponse | JSONResponse:
        if (unknown := await known(body.session_id)) is not None:
            return unknown
        events = stream_events(body, idempotency_key)
        try:
            first = await anext(events)  # opens the upstream stream, so a refusal gets an HTTP status
        except Exception as exc:
            if not isinstance(exc, anthropic.APIError | httpx2.TransportError | SessionLockTimeout |
                                   IdempotencyKeyReused):
                log.exception("unexpected failure before the stream started")
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


def _done(answer: dict[str, Any]) -> dict[str, Any]:
    """The ``done`` event: usage, request id, stop reason (and stop details for a refusal)."""
    done = {"usage": answer["usage"], "request_id": answer["request_id"], "stop_reason": answer["stop_reason"]}
    if answer.get("stop_details"):
        done["stop_details"] = answer["stop_details"]
    return done


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory helpers.service:app_from_env``, hardened.

    The model comes from ``CLAUDE_MODEL``; only ids issued by ``POST /sessions`` are accepted; ``ALLOWED_HOSTS``
    (comma-separated, default ``localhost,127.0.0.1``) lists the ``Host`` names served; ``CHAT_DOCS=1`` serves
    ``/docs``; ``REDIS_URL`` (``redis://host:6379/0``), when set, keeps sessions in Redis for every worker.
    """
    model = os.environ.get("CLAUDE_MODEL", "").strip()
    if not model:
        raise RuntimeError("Set CLAUDE_MODEL to the model id this service should call.")
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
    store: SessionStore | None = None
    if os.environ.get("REDIS_URL", "").strip():
        from redis.asyncio import Redis

        from helpers.session_store import RedisSessionStore

        store = RedisSessionStore(Redis.from_url(os.environ["REDIS_URL"].strip()))
    return create_app(model=model, store=store, issued_session_ids=True, allowed_hosts=hosts,
                      docs=os.environ.get("CHAT_DOCS") == "1")
