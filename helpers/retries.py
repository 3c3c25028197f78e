"""A retry policy for Claude API calls over longer horizons than the SDK's own retries, built on tenacity.

What it is for: the SDK already retries rate limits, overloads, server errors and dropped connections, up to
``max_retries`` times (2 by default) with waits of at most a few seconds. That covers blips. Wrap a call with
``retry_api_errors`` when you need more:

- a longer horizon: an outage of minutes, a batch job that should wait rather than fail;
- mid-stream failures: once a stream has started the SDK never retries it, and an ``event: error`` arrives as
  ``APIStatusError`` with ``status_code == 200``; decorate the function that runs the *whole* stream, so a
  retry starts it again from the beginning;
- a cap on ``retry-after``: the SDK obeys any value, even an hour; this policy gives up at once when the server
  asks for a longer wait than ``max_wait``, instead of sleeping on it.

It retries what the SDK retries (connection errors and timeouts, 408, 409, 429, every status >= 500, and what
the server marks ``x-should-retry: true``) plus mid-stream ``overloaded_error`` / ``api_error``; it never
retries other client errors (400, 401, 403, 404, 413, ...), which fail the same way every time. It waits what
``retry-after-ms`` / ``retry-after`` asks, otherwise exponential backoff with full jitter, and re-raises the
last exception unchanged when it gives up.

What it is not: a rate limiter, a circuit breaker, or idempotency. Wrap the API call only, not code with side
effects (a write to your database, an email), or a retry repeats them. The SDK's retries still run inside each
attempt; build the client with ``max_retries=0`` if you want this policy to be the only one.

Taught by ``notebooks/06_retries_and_errors.ipynb``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any

import anthropic
import tenacity
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from helpers.streaming import is_mid_stream_failure

logger = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 409, 429})  # and every status >= 500, as the SDK does


def is_transient(error: BaseException) -> bool:
    """True for an error worth retrying: the next attempt may well succeed."""
    if isinstance(error, anthropic.APIConnectionError) or is_mid_stream_failure(error):  # timeouts included
        return True
    if not isinstance(error, anthropic.APIStatusError) or error.status_code == 200:
        return False
    should_retry = error.response.headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        return should_retry == "true"
    return error.status_code in RETRIED_STATUSES or error.status_code >= 500


def retry_after_seconds(error: BaseException | None) -> float | None:
    """How long the error's response asks to wait (`retry-after-ms`, then `retry-after`), or None."""
    response = getattr(error, "response", None)
    if not isinstance(error, anthropic.APIStatusError) or response is None:
        return None
    headers = response.headers
    try:
        if "retry-after-ms" in headers:
            seconds = float(headers["retry-after-ms"]) / 1000
        elif "retry-after" in headers:
            value = headers["retry-after"]
            try:
                seconds = float(value)
            except ValueError:  # an HTTP date
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        else:
            return None
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


class wait_retry_after(wait_base):
    """Wait what the error's `retry-after` asks; without one, wait as `fallback` says."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        asked = retry_after_seconds(retry_state.outcome.exception() if retry_state.outcome else None)
        return asked if asked is not None else self.fallback(retry_state)


class stop_if_retry_after_exceeds(stop_base):
    """Stop when the server asks for a longer wait than `limit` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        asked = retry_after_seconds(retry_state.outcome.exception() if retry_state.outcome else None)
        return asked is not None and asked > self.limit


def api_retry_policy(
    attempts: int = 5,
    max_wait: float = 60.0,
    *,
    base: float = 1.0,
    give_up_after: float | None = None,
    before_sleep: Callable[[tenacity.RetryCallState], Any] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of `tenacity.retry` / `tenacity.Retrying` for the policy described above.

    `attempts` counts the first try; `max_wait` caps each wait and the `retry-after` you accept; `base` is
    the first backoff window in seconds (it doubles each attempt, full jitter); `give_up_after` also stops
    after that many seconds in total; `before_sleep` is called before each wait (default: a warning log).
    """
    stop = tenacity.stop_after_attempt(attempts) | stop_if_retry_after_exceeds(max_wait)
    if give_up_after is not None:
        stop = stop | tenacity.stop_after_delay(give_up_after)
    return {
        "retry": tenacity.retry_if_exception(is_transient),
        "stop": stop,
        "wait": wait_retry_after(tenacity.wait_random_exponential(multiplier=base, max=max_wait)),
        "before_sleep": before_sleep or tenacity.before_sleep_log(logger, logging.WARNING),
        "reraise": True,
    }


def retry_api_errors(
    attempts: int = 5,
    max_wait: float = 60.0,
    *,
    base: float = 1.0,
    give_up_after: float | None = None,
    before_sleep: Callable[[tenacity.RetryCallState], Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a function (sync or `async def`) so transient API errors are retried; see `api_retry_policy`."""
    return tenacity.retry(**api_retry_policy(attempts, max_wait, base=base, give_up_after=give_up_after,
                                             before_sleep=before_sleep))
