"""Stream a reply as it arrives, and start it again from scratch when the stream breaks mid-way.

What it is for: ``stream_text`` is ``client.messages.stream()`` reduced to the usual case, each text
chunk handed to a callback as it arrives and the final ``Message`` returned. ``stream_with_restart``
adds what the SDK deliberately does not do: once a response has started, the SDK never retries it, so a
stream that ends with an ``event: error`` (``overloaded_error``, ``api_error``) or a dropped connection
raises after some text was already delivered. ``stream_with_restart`` discards that partial text and
sends the whole request again, up to ``attempts`` times. Errors before the stream starts (429, 5xx,
connection failures) are left to the SDK's own retries (``max_retries``), and anything else, such as a
400, is raised at once.

When a restart is safe: the request only generates text, and nothing irreversible was done with the
partial output. The new reply may differ from the broken one, so whoever saw the partial text (a UI,
a log) must be told to drop it: that is what ``on_restart`` is for. It is NOT safe when your code
already acted on the partial output (sent it by SMS, spoke it aloud, started a tool call from it).

The final ``Message`` is returned as it came, whatever its ``stop_reason``: it may be empty, cut by
``max_tokens``, paused or a refusal. Pass it to ``helpers.replies.check_stop_reason`` before you use it as
an answer, and to ``helpers.replies.assistant_turn`` before you add it to a history.

What it is not: a general retry policy (no jitter, no deadline; use tenacity with
``retry_if_exception(is_mid_stream_failure)`` for that), or an async helper.

Taught by ``notebooks/04_streaming.ipynb``.
"""

import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message

# The error types the API sends mid-stream for a transient failure on its side.
RESTARTABLE_ERROR_TYPES = frozenset({"overloaded_error", "api_error"})


def is_mid_stream_failure(error: BaseException) -> bool:
    """True when a stream broke after it started, for a reason a fresh request may not meet again.

    A mid-stream ``event: error`` arrives inside a response whose HTTP status was already 200, so the SDK
    raises a plain ``APIStatusError`` with ``status_code == 200`` (never ``OverloadedError``). A connection
    lost while reading the body surfaces as a raw ``httpx2.TransportError``: before the body, the SDK wraps
    such failures in ``APIConnectionError`` and retries them itself.
    """
    if isinstance(error, anthropic.APIStatusError):
        return error.status_code == 200 and error.type in RESTARTABLE_ERROR_TYPES
    return isinstance(error, httpx2.TransportError)


def stream_text(
    client: anthropic.Anthropic, *, on_text: Callable[[str], None] | None = None, **create_kwargs: Any
) -> Message:
    """Stream one reply, passing each text chunk to ``on_text`` as it arrives; return the final ``Message``."""
    with client.messages.stream(**create_kwargs) as stream:
        for text in stream.text_stream:
            if on_text is not None:
                on_text(text)
        return stream.get_final_message()


def stream_with_restart(
    client: anthropic.Anthropic,
    *,
    attempts: int = 3,
    wait_s: float = 0.5,
    on_text: Callable[[str], None] | None = None,
    on_restart: Callable[[BaseException], None] | None = None,
    **create_kwargs: Any,
) -> Message:
    """Like ``stream_text``, but send the whole request again when the stream breaks mid-way.

    ``attempts`` counts whole streams (the SDK's own retries of each are extra); after the last one the
    error is raised. Between attempts it waits ``wait_s``, doubled each time. ``on_restart(error)`` is
    called before each new attempt: drop any partial text you showed. Only errors for which
    ``is_mid_stream_failure`` is true are restarted; every other error is raised at once.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    for attempt in range(1, attempts + 1):
        try:
            return stream_text(client, on_text=on_text, **create_kwargs)
        except (anthropic.APIStatusError, httpx2.TransportError) as error:
            if attempt == attempts or not is_mid_stream_failure(error):
                raise
            if on_restart is not None:
                on_restart(error)
            time.sleep(wait_s * 2 ** (attempt - 1))
    raise AssertionError("unreachable: the last attempt returns or raises")
