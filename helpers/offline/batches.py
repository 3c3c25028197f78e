"""The offline Claude's Message Batches API: create, retrieve, list, cancel, delete, and the results as JSONL.

Routes (`routes(state, wrap)`, mounted by the app before its catch-all): `POST /v1/messages/batches`,
`GET /v1/messages/batches`, `GET|DELETE /v1/messages/batches/{id}`, `POST /v1/messages/batches/{id}/cancel` and
`GET /v1/messages/batches/{id}/results`, whose absolute URL on this server is the batch's `results_url`.

The body is checked when the batch is created (`requests`, `custom_id`), as the API does; each request's `params`
are checked like a single Messages request when it is processed, and a failure becomes an `errored` result that
carries the API's error (docs: build-with-claude/batch-processing, "Validation of the `params` object for each
message request is performed asynchronously"). Successful requests get the same reply `POST /v1/messages` would
give. `BatchSteering` adds to the server what a test needs: chosen requests that fail or expire, and a clock to
advance. Lesson: batches at scale. The store and its timing live in `batch_store`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .batch_store import Batch, BatchItem, BatchStore, Steering, processing_time
from .compose import compose
from .errors import ApiError, invalid
from .models import MODELS
from .responder import respond
from .state import ServerState
from .validation import check_request, parse_body
from .wire import json_response

MAX_BATCH_BYTES = 256 * 1024 * 1024  # docs: build-with-claude/batch-processing, "100,000 ... or 256 MB"
MAX_REQUESTS = 100_000  # docs: api/messages/batches/create, `requests` maxItems
CUSTOM_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # docs: api/messages/batches/create, `custom_id` pattern
OUTPUT_300K_BETA = "output-300k-2026-03-24"
OUTPUT_300K = 300_000
# The ids with a 300K "Batch API ceiling" in the models tables (docs: models/<name>/overview; some quoted by a
# third party); every other id keeps its usual cap even with the beta. Fable 5.2 and Mythos 5.2: assumed none.
OUTPUT_300K_MODELS = frozenset({"claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5", "claude-sonnet-5",
                                "claude-opus-5", "claude-opus-4-8", "claude-opus-4-7", "claude-opus-4-6",
                                "claude-sonnet-4-6"})
Handler = Callable[[Request, ServerState, bytes, frozenset[str]], Awaitable[Response]]


def routes(state: ServerState, wrap: Callable[[Handler], Callable[[Request], Awaitable[Response]]]) -> list[Route]:
    """The batch routes for one server, each handler wrapped by `wrap` (the app's request handling: log, request
    id, headers check, queued faults, errors). They use `state.batches` (a `BatchStore`), read on every request,
    so a test may swap in a store with a frozen clock."""
    return [
        Route("/v1/messages/batches", wrap(_create), methods=["POST"]),
        Route("/v1/messages/batches", wrap(_list), methods=["GET"]),
        Route("/v1/messages/batches/{batch_id}", wrap(_retrieve), methods=["GET"]),
        Route("/v1/messages/batches/{batch_id}", wrap(_delete), methods=["DELETE"]),
        Route("/v1/messages/batches/{batch_id}/cancel", wrap(_cancel), methods=["POST"]),
        Route("/v1/messages/batches/{batch_id}/results", wrap(_results), methods=["GET"]),
    ]


# -- create --------------------------------------------------------------------------------------------------------

async def _create(request: Request, state: ServerState, raw: bytes, betas: frozenset[str]) -> Response:
    store: BatchStore = state.batches
    body = parse_body(raw, limit=MAX_BATCH_BYTES)  # strict JSON, as for a Messages request
    requests = check_batch(body)
    beta = request.query_params.get("beta") == "true" or bool(request.headers.get("anthropic-beta"))
    batch_id = state.next_id("msgbatch_01")
    base = str(request.base_url).rstrip("/")
    results_url = f"{base}/v1/messages/batches/{batch_id}/results"
    base_s = state.options.batch_processing_s
    duration = processing_time(len(requests), base_s)

    def process() -> list[BatchItem]:
        items = []
        for n, entry in enumerate(requests):
            steering = store.take_steering(entry["custom_id"])
            done_s = duration * (n + 1) / len(requests)
            if steering is not None and steering.status is None:
                items.append(BatchItem(entry["custom_id"], done_s, None))
                continue
            result = (_steered_error(steering) if steering is not None
                      else process_request(state, entry["params"], beta=beta, betas=betas))
            items.append(BatchItem(entry["custom_id"], done_s, result))
        return items

    items = await run_in_threadpool(process)
    batch = Batch(id=batch_id, created_at=store.now(), items=items, results_url=results_url)
    store.add(batch)
    return json_response(batch.view(batch.created_at))


def check_batch(body: Any) -> list[dict[str, Any]]:
    """The create-time checks of `POST /v1/messages/batches`; returns the requests.

    400 `invalid_request_error` for: a body that is not an object, a missing or empty `requests`, more than
    100,000 requests, an unknown field, an item without `custom_id` or `params`, a `custom_id` that is empty,
    longer than 64 characters, outside `^[a-zA-Z0-9_-]{1,64}$` or repeated. The over-64 text was seen from the
    API; the others follow the same pydantic style and are inferred.
    """
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary or object to extract fields from")  # inferred
    if "requests" not in body:
        raise invalid("requests: Field required")  # inferred
    for name in body:
        if name != "requests":
            raise invalid(f"{name}: Extra inputs are not permitted")  # inferred
    requests = body["requests"]
    if not isinstance(requests, list):
        raise invalid("requests: Input should be a valid list")  # inferred
    if not requests:
        raise invalid("requests: List should have at least 1 item after validation, not 0")  # inferred
    if len(requests) > MAX_REQUESTS:
        raise invalid(f"requests: List should have at most {MAX_REQUESTS} items after validation, "
                      f"not {len(requests)}")  # inferred
    seen: dict[str, int] = {}
    for i, entry in enumerate(requests):
        if not isinstance(entry, dict):
            raise invalid(f"requests.{i}: Input should be a valid dictionary")  # inferred
        for name in ("custom_id", "params"):
            if name not in entry:
                raise invalid(f"requests.{i}.{name}: Field required")  # inferred
        for name in entry:
            if name not in ("custom_id", "params"):
                raise invalid(f"requests.{i}.{name}: Extra inputs are not permitted")  # inferred
        custom_id = entry["custom_id"]
        if not isinstance(custom_id, str):
            raise invalid(f"requests.{i}.custom_id: Input should be a valid string")  # inferred
        if not custom_id:
            raise invalid(f"requests.{i}.custom_id: String should have at least 1 character")  # inferred
        if len(custom_id) > 64:
            raise invalid(f"requests.{i}.custom_id: String should have at most 64 characters")
        if not CUSTOM_ID_RE.match(custom_id):
            raise invalid(f"requests.{i}.custom_id: String should match pattern "
                          f"'{CUSTOM_ID_RE.pattern}'")  # inferred
        if custom_id in seen:
            raise invalid(f"requests.{i}.custom_id: Duplicate custom_id '{custom_id}' (also used by "
                          f"requests.{seen[custom_id]}); each custom_id must be unique within the batch")  # inferred
        seen[custom_id] = i
        if not isinstance(entry["params"], dict):
            raise invalid(f"requests.{i}.params: Input should be a valid dictionary")  # inferred
    return requests


# -- processing one request ----------------------------------------------------------------------------------------

def process_request(state: ServerState, params: dict[str, Any], *, beta: bool = False,
                    betas: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The `result` of one batch request: `succeeded` with the Message `POST /v1/messages` would answer, or
    `errored` with the API's error envelope (`{"type": "error", "error": {"type", "message", ...}}`)."""
    try:
        spec, input_tokens = _check_params(state, params, beta=beta, betas=betas)
        reply = respond(params, params["messages"])
        message = compose(reply, params, input_tokens=input_tokens, message_id=state.next_id("msg_01"),
                          new_tool_id=lambda: state.next_id("toolu_01"),
                          context_window=state.options.context_window or spec.context_window)
    except ApiError as error:
        return {"type": "errored", "error": _envelope(error)}
    except Exception:  # noqa: BLE001 - one malformed request must not fail the whole batch with a 500
        return {"type": "errored", "error": _envelope(ApiError(500))}
    message["usage"]["service_tier"] = "batch"  # batch usage is billed at the batch tier (50% of standard)
    return {"type": "succeeded", "message": message}


def _check_params(state: ServerState, params: dict[str, Any], *, beta: bool,
                  betas: frozenset[str]) -> tuple[Any, int]:
    """What a batch refuses on top of the Messages rules (docs: build-with-claude/batch-processing, "not
    supported in batch requests"; the texts are inferred), then the Messages rules themselves."""
    if params.get("stream") is True:
        raise invalid("stream: Input should be False; batch results come back as one file, not a stream: "
                      "remove `stream` from the request's params")  # inferred
    if "speed" in params and params["speed"] != "standard":
        raise invalid("speed: fast mode is not supported in batch requests; remove `speed` from the request's "
                      "params")  # inferred
    if "thread" in params:
        raise invalid("thread: threads are not supported in batch requests")  # inferred
    max_tokens = params.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens < 1:
        raise invalid("max_tokens: Input should be greater than or equal to 1")  # inferred
    options = {"endpoint": "create", "beta": beta, "betas": betas, "context_window": state.options.context_window,
               "tools_required_for_tool_blocks": state.options.tools_required_for_tool_blocks}
    spec = MODELS.get(params.get("model")) if isinstance(params.get("model"), str) else None
    if (spec is not None and OUTPUT_300K_BETA in betas and spec.id in OUTPUT_300K_MODELS
            and isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > spec.max_output):
        if max_tokens > OUTPUT_300K:
            raise invalid(f"max_tokens: {max_tokens} > {OUTPUT_300K}, which is the maximum allowed number of output "
                          f"tokens for {spec.id}")
        # every other rule as for a request at the usual cap; the reply may then use the raised `max_tokens`
        return check_request({**params, "max_tokens": spec.max_output}, **options)
    return check_request(params, **options)


def _envelope(error: ApiError) -> dict[str, Any]:
    """The error as a batch result carries it: the API's error body without a request id."""
    return {"type": "error", "error": {"details": error.details, "type": error.error_type, "message": error.message}}


def _steered_error(steering: Steering) -> dict[str, Any]:
    error = ApiError(steering.status or 500, steering.message, error_type=steering.error_type)
    return {"type": "errored", "error": _envelope(error)}


# -- reading, listing, cancelling, deleting --------------------------------------------------------------------

async def _retrieve(request: Request, state: ServerState, raw: bytes, betas: frozenset[str]) -> Response:
    store: BatchStore = state.batches
    return json_response(store.get(request.path_params["batch_id"]).view(store.now()))


async def _cancel(request: Request, state: ServerState, raw: bytes, betas: frozenset[str]) -> Response:
    store: BatchStore = state.batches
    return json_response(store.cancel(request.path_params["batch_id"]).view(store.now()))


async def _delete(request: Request, state: ServerState, raw: bytes, betas: frozenset[str]) -> Response:
    store: BatchStore = state.batches
    batch_id = request.path_params["batch_id"]
    store.delete(batch_id)
    return json_response({"id": batch_id, "type": "message_batch_deleted"})


async def _list(request: Request, state: ServerState, raw: bytes, betas: frozenset[str]) -> Response:
    store: BatchStore = state.batches
    query = request.query_params
    limit = _limit(query.get("limit", "20"))
    after_id, before_id = query.get("after_id"), query.get("before_id")
    if after_id is not None and before_id is not None:
        raise invalid("after_id and before_id cannot both be set; page with one of them")  # inferred
    page, has_more = store.page(limit, after_id, before_id)
    now = store.now()
    data = [batch.view(now) for batch in page]
    return json_response({"data": data, "has_more": has_more, "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None})


def _limit(value: str) -> int:
    """`limit`: an integer from 1 to 1000 (docs: api/messages/batches/list); the texts are inferred."""
    try:
        limit = int(value)
    except ValueError:
        raise invalid("limit: Input should be a valid integer, unable to parse string as an integer") from None
    if limit < 1:
        raise invalid("limit: Input should be greater than or equal to 1")
    if limit > 1000:
        raise invalid("limit: Input should be less than or equal to 1000")
    return limit


async def _results(request: Request, state: ServerState, raw: bytes, betas: frozenset[str]) -> Response:
    store: BatchStore = state.batches
    batch = store.get(request.path_params["batch_id"])
    view = batch.view(store.now())
    if view["processing_status"] != "ended":
        raise invalid(f"Message Batch {batch.id} has not finished processing (processing_status "
                      f"`{view['processing_status']}`); its results are available once it has ended.")  # inferred
    if view["archived_at"] is not None:
        raise ApiError(404, f"The results of Message Batch {batch.id} are no longer available: results are kept "
                            "for 29 days after a batch is created.")  # inferred
    body = await run_in_threadpool(batch.results_jsonl)
    return Response(body, media_type="application/binary")  # assumed: the type the SDK asks for in `Accept`


# -- steering (for tests and lessons' offline-only cells) ------------------------------------------------------------

class BatchSteering:
    """Methods for `OfflineClaude` (it has `state.batches`): make chosen batch requests fail or expire, move time."""

    state: ServerState

    def fail_batch_requests(self, custom_ids: Iterable[str], status: int = 500, *, message: str | None = None,
                            error_type: str | None = None) -> None:
        """Make the next batch request with each of `custom_ids` end `errored` with `status` and the API's error
        for it (500 `api_error` "Internal server error", 529 `overloaded_error` "Overloaded", ...).

        Each id is used up by the first batch created after this call that contains it."""
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status from 400 to 599, not {status!r}")
        self.state.batches.steer(list(custom_ids), Steering(status, error_type, message))

    def expire_batch_requests(self, custom_ids: Iterable[str]) -> None:
        """Make the next batch request with each of `custom_ids` never complete: its batch then runs until
        `expires_at` (24 hours after creation; see `advance_batch_clock`) and the request ends `expired`."""
        self.state.batches.steer(list(custom_ids), Steering(None))

    def advance_batch_clock(self, seconds: float) -> None:
        """Move the batches' clock forward by `seconds` (every batch's timing follows it)."""
        self.state.batches.clock.advance(seconds)
