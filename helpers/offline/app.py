"""The offline Claude's HTTP face: a Starlette app serving the Messages API routes on top of `ServerState`.

Routes: `POST /v1/messages` (JSON, or SSE when the body says `"stream": true`, whatever `Accept` says),
`POST /v1/messages/count_tokens`, `GET /v1/models` and `GET /v1/models/{id}`, and `OPTIONS` on any path (a CORS
preflight). Every answer carries a `request-id` header, every `/v1/messages` answer the four rate-limit header
families, every error the API's body and `x-should-retry`. A request with an `Origin` header (a browser) is
refused with the API's 401 unless it sends `anthropic-dangerous-direct-browser-access: true`, and then gets the
CORS headers. Bodies over 32 MB are refused before they are read; the offline Claude's own failures are the API's
500, never a text page. Server-held threads (the beta `thread` field that the SDK's tool runner sends) are kept
in memory by the id of the reply they end with.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import gc
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import batches, caching
from .compose import compose, sse, stream_events, usage
from .errors import ApiError
from .models import MODELS, model_info
from .responder import respond
from .state import RequestRecord, Scripted, ServerState, StreamFault, Thread
from .tokens import count_json, count_text
from .validation import MAX_BODY_BYTES, check_headers, check_request, parse_body
from .wire import json_response

ORGANIZATION_ID = "00000000-0000-4000-8000-000000000000"
THREADS_BETA = "message-threads-2026-08-12"
MASKED_HEADERS = {"x-api-key", "authorization"}
BROWSER_HEADER = "anthropic-dangerous-direct-browser-access"
CORS_REFUSED = f"CORS requests must set '{BROWSER_HEADER}' header"
CORS_HEADERS = {"access-control-allow-origin": "*", "access-control-expose-headers": "*"}
TRIM_AFTER_BYTES = 1024 * 1024  # bodies larger than this are followed by `release_freed_memory()`
OFF_LOOP_BYTES = 64 * 1024  # bodies larger than this are validated and answered in a worker thread
CONNECTION_SCOPE_KEY = "offline_claude.connection"  # the h11 protocol serving the request (see server.py)
log = logging.getLogger("helpers.offline")


def build_app(state: ServerState) -> ASGIApp:
    """The ASGI app for one server state: Starlette's router behind `JsonErrorGuard` (no `Starlette` application
    around it: its two middlewares would only turn errors into text pages, which the guard never lets through)."""

    async def messages(request: Request) -> Response:
        return await _handle(request, state, endpoint="create")

    async def count_tokens(request: Request) -> Response:
        return await _handle(request, state, endpoint="count_tokens")

    async def list_models(request: Request) -> Response:
        return await _handle(request, state, endpoint="models")

    async def get_model(request: Request) -> Response:
        return await _handle(request, state, endpoint="model")

    async def not_found(request: Request) -> Response:
        return await _handle(request, state, endpoint="unknown")

    def batch_endpoint(handler: batches.Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            return await _handle(request, state, endpoint="batch", handler=handler)
        return run

    async def preflight(request: Request) -> Response:
        record = state.record(RequestRecord(at=state.now(), method="OPTIONS", path=request.scope["path"],
                                            headers=_for_log(header_dict(request.scope)), status=204,
                                            finished_at=state.now()))
        record.request_id = state.next_id("req_011C")
        return Response(status_code=204, headers={
            **CORS_HEADERS, "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
            "access-control-allow-headers": request.headers.get("access-control-request-headers", ""),
        })  # assumed: no public capture of the API's preflight answer (addendum section 9)

    return JsonErrorGuard(Router(routes=[
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
        *batches.routes(state, batch_endpoint),
        Route("/{path:path}", preflight, methods=["OPTIONS"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]), state=state)


class JsonErrorGuard:
    """Last line of defence: an exception that escapes a route is answered with the API's 500 `api_error` JSON
    (never Starlette's text/plain page) and is not re-raised, so uvicorn keeps the connection open.

    Before the last bytes of the answer to a large body (over `TRIM_AFTER_BYTES`) it also hands freed memory back
    to the system: parsing 10 MB of small JSON objects peaks at about 300 MB, which the C allocator would otherwise
    keep after the request."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        large = _declared_length(scope) > TRIM_AFTER_BYTES

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            if large and message["type"] == "http.response.body" and not message.get("more_body"):
                release_freed_memory()  # the handler has returned: what it parsed is garbage by now
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("the offline Claude failed outside a request handler")
            if scope["type"] != "http" or started:
                return
            request_id = self.state.next_id("req_011C")
            response = json_response(ApiError(500).body(request_id), status_code=500,
                                     headers={"request-id": request_id, "x-should-retry": "true"})
            await response(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return 0


def release_freed_memory() -> None:
    """Free what a large request left in reference cycles (exceptions and their frames), then return the freed
    memory to the system (glibc's `malloc_trim`; only the collection elsewhere). Costs tens of ms: called only
    after large bodies."""
    gc.collect()
    malloc_trim = _malloc_trim()
    if malloc_trim is not None:
        malloc_trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's `malloc_trim`, looked up on first use among the symbols already loaded (None elsewhere)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


def header_dict(scope: Scope) -> dict[str, str]:
    """The request's headers as one dict, read once: names lower-case, a header sent several times as one
    comma-separated value (RFC 9110 section 5.3), as `anthropic-beta` may be."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key, text = name.decode("latin-1"), value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


def _for_log(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if k in MASKED_HEADERS else v) for k, v in headers.items()}


async def _handle(request: Request, state: ServerState, *, endpoint: str,
                  handler: batches.Handler | None = None) -> Response:
    sent = header_dict(request.scope)
    record = state.record(RequestRecord(at=state.now(), method=request.method, path=request.scope["path"],
                                        headers=_for_log(sent)))
    request_id = record.request_id = state.next_id("req_011C")
    headers = {"request-id": request_id, "anthropic-organization-id": ORGANIZATION_ID}
    try:
        try:
            return await _answer(request, sent, state, record, headers, endpoint, handler)
        except ApiError as error:
            return _error(record, state, error, headers, endpoint)
        except ClientDisconnect:
            record.error = "ClientDisconnect: the client went away before sending its whole body"
            return _error(record, state, ApiError(400, "The request body was not received in full"), headers,
                          endpoint)
    except Exception as exc:  # a failure of the offline Claude itself: the API's 500, with the request's id
        log.exception("the offline Claude failed on %s %s (%s)", request.method, request.scope["path"], request_id)
        record.error = f"{type(exc).__name__}: {exc}"
        return _error(record, state, ApiError(500), headers, endpoint)


def should_retry(status: int) -> str:
    """The `x-should-retry` value sent with an error answer.

    The API was seen sending `true` on a 429 (anthropic-sdk-typescript#357); the SDK retries what it marks `true`
    and never what it marks `false` (`_base_client._should_retry`). `true` on 408, 409, 429 and 5xx (which the
    SDK retries anyway), `false` on other 4xx, where the same request cannot succeed, are assumed."""
    return "true" if status in (408, 409, 429) or status >= 500 else "false"


def _error(record: RequestRecord, state: ServerState, error: ApiError, headers: dict[str, str],
           endpoint: str) -> Response:
    record.status = error.status
    record.finished_at = state.now()
    if error.bare:  # the edge's answer: none of the API's headers
        return json_response(error.body(""), status_code=error.status, headers=error.headers)
    rate = state.rate_headers() if endpoint == "create" else {}
    return json_response(error.body(record.request_id or ""), status_code=error.status,
                         headers={**rate, **headers, "x-should-retry": should_retry(error.status), **error.headers})


async def read_body(request: Request, record: RequestRecord, state: ServerState,
                    limit: int = MAX_BODY_BYTES, length: str = "") -> bytes:
    """The request body, refused with the edge's bare 413 as soon as it is known to pass `limit` bytes (32 MB for
    a Messages request, 256 MB for a batch).

    A `Content-Length` over the limit is refused without reading a byte (uvicorn then discards what follows);
    a chunked body is read piece by piece and refused once the pieces pass the limit. `length`: the request's
    Content-Length header, if any."""
    if length.isdigit() and int(length) > limit:
        record.body_size = int(length)
        raise ApiError(413, "Request exceeds the maximum size", bare=True)
    chunks, size, more = [], 0, True
    while more:  # Starlette's `request.stream()`, without an async generator per request
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk, more = message.get("body", b""), message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            record.body_size = size
            raise ApiError(413, "Request exceeds the maximum size", bare=True)
        chunks.append(chunk)
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if raw:  # logged even when a fault answers, so a retry can be compared with its first attempt
        state.keep_body(record, raw)
    return raw


async def _answer(request: Request, sent: dict[str, str], state: ServerState, record: RequestRecord,
                  headers: dict[str, str], endpoint: str, handler: batches.Handler | None = None) -> Response:
    """`sent`: the request's headers (`header_dict`); `headers`: the answer's, so far."""
    if "origin" in sent:  # a browser's request (docs: api/errors; addendum section 9)
        if sent.get(BROWSER_HEADER) != "true":
            raise ApiError(401, CORS_REFUSED)
        headers.update(CORS_HEADERS)
    if endpoint == "unknown":
        raise ApiError(404, "Not Found")
    limit = batches.MAX_BATCH_BYTES if endpoint == "batch" else MAX_BODY_BYTES
    raw = await read_body(request, record, state, limit, sent.get("content-length", "")) \
        if request.method == "POST" else b""
    betas = check_headers(sent, extra_betas=frozenset(state.options.extra_betas))
    fault = state.take_fault()
    if fault:
        record.fault = fault.name
        extra = {}
        if fault.retry_after_ms is not None:
            extra = {"retry-after-ms": str(fault.retry_after_ms),
                     "retry-after": str(max(1, round(fault.retry_after_ms / 1000)))}
        if fault.should_retry is not None:
            extra["x-should-retry"] = "true" if fault.should_retry else "false"
        raise ApiError(fault.status, fault.message, details=fault.details, headers=extra)
    if handler is not None:  # a Message Batches route
        response = await handler(request, state, raw, betas)
        response.headers.update(headers)
        record.status = response.status_code
        record.finished_at = state.now()
        return response
    if endpoint in {"models", "model"}:
        return _json(record, _models(request, endpoint, state.options.context_window), headers)
    body = parse_body(raw)  # C code that holds the GIL: nothing is gained by moving it to a thread
    plan = functools.partial(_plan, state, record, body, headers, endpoint=endpoint, betas=betas,
                             beta_header=sent.get("anthropic-beta", ""),
                             beta=bool(sent.get("anthropic-beta")) or asks_beta(request))
    # Validating and composing are CPU work: for a large body, or for the first body that needs JSON Schema (whose
    # package is imported then, about 0.8 s), they run in a worker thread, so the event loop keeps serving other
    # callers between the thread's bytecodes (C code such as a regex still holds the GIL).
    slow = len(raw) > OFF_LOOP_BYTES or ("jsonschema" not in sys.modules and uses_json_schema(body))
    result = await anyio.to_thread.run_sync(_caught, [plan]) if slow else plan()
    if isinstance(result, ApiError):  # raise a copy: the worker still holds `result` until its next job
        raise ApiError(result.status, result.message, error_type=result.error_type, details=result.details,
                       headers=result.headers, bare=result.bare)
    if endpoint == "count_tokens":
        return _json(record, result, headers)
    return await _send(request, state, record, body, result, headers)


def uses_json_schema(body: dict[str, Any]) -> bool:
    """Whether answering `body` may check a JSON Schema (a tool's `input_schema`, an output format)."""
    return bool(body.get("tools")) or "output_config" in body or "output_format" in body


def asks_beta(request: Request) -> bool:
    """Whether the URL says `?beta=true` (as the SDK's `client.beta` calls do)."""
    return bool(request.scope["query_string"]) and request.query_params.get("beta") == "true"


def _json(record: RequestRecord, content: Any, headers: dict[str, str]) -> Response:
    record.status = 200
    return json_response(content, headers=headers)


def _caught(box: list[Callable[[], dict[str, Any]]]) -> dict[str, Any] | ApiError:
    """The plan in `box`, run, or the error it raised, returned without its traceback.

    An idle anyio worker keeps its last job's arguments and result until its next job, so neither may lead to the
    parsed body (a large one would stay alive that long): the plan is taken out of its box, and the error's
    traceback and the exceptions chained to it, which hold the frames and inputs that hold the body, are dropped."""
    plan = box.pop()
    try:
        return plan()
    except ApiError as error:
        error.__context__ = error.__cause__ = None  # a pydantic error in the chain holds the input it refused
        return error.with_traceback(None)


def _plan(state: ServerState, record: RequestRecord, body: dict[str, Any], headers: dict[str, str], *,
          endpoint: str, betas: frozenset[str], beta_header: str, beta: bool) -> dict[str, Any]:
    """What answers the request: `{"input_tokens": n}` for count_tokens, else the Message."""
    try:
        state.take_request_slot(str(body.get("model")))
    except ApiError:
        record.fault = "rate_limit"
        raise
    if endpoint == "count_tokens":
        _, input_tokens = check_request(body, endpoint="count_tokens", beta=beta, betas=betas)
        headers.update(state.rate_headers())
        return {"input_tokens": input_tokens}
    thread = body.get("thread") if beta else None
    history: list[Any] | None = None
    effective = body
    if thread is not None:
        if THREADS_BETA not in beta_header:
            raise ApiError(400, "thread: Extra inputs are not permitted")
        if not isinstance(thread, dict) or thread.get("type") not in ("create", "continue"):
            raise ApiError(400, "thread: Input tag found using 'type' does not match any of the expected tags: "
                           "'create', 'continue'")  # inferred
        if thread["type"] == "continue":
            held = state.thread(str(thread.get("previous_message_id")))
            if held is None:
                raise ApiError(404, f"thread not found: {thread.get('previous_message_id')}",
                               details={"error_code": "thread_not_found"})
            history, effective = held.messages, {**held.fields, **body}
    spec, input_tokens = check_request(
        effective, beta=beta, betas=betas, context_window=state.options.context_window, history=history,
        tools_required_for_tool_blocks=state.options.tools_required_for_tool_blocks)
    conversation = [*(history or []), *body["messages"]]
    cache = caching.account(state.prompt_cache, effective, conversation, min_tokens=spec.min_cacheable_tokens,
                            now=state.clock(), usable_after=state.options.first_token_ms / 1000, total=input_tokens)
    scripted = state.take_scripted()
    if scripted is not None:
        record.fault = "scripted"
        message = scripted_message(scripted, effective, input_tokens=input_tokens, message_id=state.next_id("msg_01"),
                                   new_id=state.next_id)
    else:
        reply = respond(effective, conversation)
        message = compose(reply, effective, input_tokens=input_tokens, message_id=state.next_id("msg_01"),
                          new_tool_id=lambda: state.next_id("toolu_01"),
                          context_window=state.options.context_window or spec.context_window, cache=cache)
    caching.remember(state.prompt_cache, message["id"], cache)
    spent = message["usage"]  # cache reads do not count toward the input-token limit: assumed, docs: api/rate-limits
    state.spend_tokens(spent["input_tokens"] + (spent.get("cache_creation_input_tokens") or 0), spent["output_tokens"])
    headers.update(state.rate_headers())
    if thread is not None:
        fields = {k: effective[k] for k in ("system", "tools") if k in effective}
        full = [*conversation, {"role": "assistant", "content": message["content"]}]
        state.store_thread(message["id"], Thread(messages=full, fields=fields))
    return message


async def _send(request: Request, state: ServerState, record: RequestRecord, body: dict[str, Any],
                message: dict[str, Any], headers: dict[str, str]) -> Response:
    record.stream = bool(body.get("stream"))
    options = state.options
    if record.stream:
        fault = state.take_stream_fault()
        record.status = 200
        response_class = InstantStreamingResponse if fault is None and not (
            options.first_token_ms or options.per_token_ms) else StreamingResponse
        return response_class(_stream(state, record, message, request, fault), headers=headers,
                              media_type="text/event-stream")
    await _wait_until(state, record.at + (options.first_token_ms + options.per_token_ms
                                          * message["usage"]["output_tokens"]) / 1000)
    record.finished_at = state.now()
    return _json(record, message, headers)


async def _wait_until(state: ServerState, due: float) -> None:
    """Sleep until `due` (seconds on `state.now()`'s clock): simulated time counts from the request's arrival, so
    the offline Claude's own work (validation, the reply) is part of it rather than added to it."""
    wait = due - state.now()
    if wait > 0:
        await asyncio.sleep(wait)


class InstantStreamingResponse(StreamingResponse):
    """A stream whose events are all due at once (no simulated time, no stream fault): sent without Starlette's
    task that watches for a disconnect meanwhile (under ASGI spec 2.3, as uvicorn's h11 speaks), which would
    cost more than the stream itself. Still chunked, as the API's streams are."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stream_response(send)


def scripted_message(scripted: Scripted, body: dict[str, Any], *, input_tokens: int, message_id: str,
                     new_id: Callable[[str], str]) -> dict[str, Any]:
    """The Message for a scripted reply: its blocks as given, tool calls without an id given a fresh one, and
    `usage` defaulting to the request's input tokens and the blocks' estimated output (at least 1)."""
    content = []
    for block in scripted.content:
        block = dict(block)
        if block["type"] in ("tool_use", "server_tool_use") and not block.get("id"):
            block["id"] = new_id("toolu_01" if block["type"] == "tool_use" else "srvtoolu_01")
        content.append(block)
    output = sum(count_text(b.get("text") or b.get("thinking") or "") + count_text(b.get("name") or "")
                 + (count_json(b["input"]) if isinstance(b.get("input"), dict) else 0) for b in content)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": scripted.stop_reason,
        "stop_sequence": scripted.stop_sequence,
        "stop_details": scripted.stop_details,
        "container": None,
        "usage": {**usage(input_tokens, max(1, output)), **(scripted.usage or {})},
    }


async def _stream(state: ServerState, record: RequestRecord, message: dict[str, Any], request: Request,
                  fault: StreamFault | None) -> AsyncIterator[bytes]:
    """The SSE body of a streamed reply. Events due at the same moment (no simulated time between them) are sent
    together in one write; each simulated wait first sends what is due before it."""
    options = state.options
    due: list[bytes] = []  # frames due now, not yet sent
    due_at = record.at  # when the next frames are due, on `state.now()`'s clock
    try:
        events = stream_events(message)
        upcoming = next(events, None)
        n = -1
        while upcoming is not None:
            (name, data, tokens), upcoming = upcoming, next(events, None)
            n += 1
            if fault and (n == fault.after_events or (upcoming is None and n < fault.after_events)):
                if fault.cut:  # the connection closes mid-body: no error event, no end of the chunked body
                    record.fault = "cut_stream"
                    if due:
                        yield b"".join(due)
                    request.scope[CONNECTION_SCOPE_KEY].cut()
                    return
                record.fault = "stream_error"
                error = ApiError(529 if fault.error_type == "overloaded_error" else 500, error_type=fault.error_type)
                due.append(sse("error", error.body(record.request_id or "")))
                yield b"".join(due)
                return
            delay = options.first_token_ms if n == 0 else options.per_token_ms * tokens
            if delay:  # the first token is due `first_token_ms` after the request arrived; each next one after it
                if due:
                    yield b"".join(due)
                    due = []
                due_at += delay / 1000
                await _wait_until(state, due_at)
            due.append(sse(name, data))
        if due:
            yield b"".join(due)
    except Exception as exc:  # a failure mid-stream ends the stream as the API does, with `event: error`
        log.exception("the offline Claude failed while streaming (%s)", record.request_id)
        record.error = f"{type(exc).__name__}: {exc}"
        yield b"".join([*due, sse("error", ApiError(500).body(record.request_id or ""))])
    finally:
        record.finished_at = state.now()


def _models(request: Request, endpoint: str, context_window: int | None) -> dict[str, Any]:
    if endpoint == "model":
        model_id = request.path_params["model_id"]
        if model_id not in MODELS:
            raise ApiError(404, f"model: {model_id}")
        return model_info(model_id, context_window)
    ids = list(MODELS)
    after, before = request.query_params.get("after_id"), request.query_params.get("before_id")
    if after in MODELS:
        ids = ids[ids.index(after) + 1:]
    if before in MODELS:
        ids = ids[: ids.index(before)]
    limit = request.query_params.get("limit", "20")
    if not limit.isdigit() or not 1 <= int(limit) <= 1000:
        raise ApiError(400, "limit: Input should be between 1 and 1000")  # inferred
    limit = int(limit)
    page = ids[:limit]
    return {"data": [model_info(m, context_window) for m in page], "has_more": len(ids) > limit,
            "first_id": page[0] if page else None, "last_id": page[-1] if page else None}

