"""From a planned reply to what goes on the wire: the Message JSON, and the same message as SSE events.

`compose()` applies `stop_sequences` (the earliest match wins, cut before it) and then `max_tokens` (counted with
the one token estimate), gives ids to the message and its tool calls, and fills `usage`. `stream_events()` turns
the finished message into the exact event order of a real stream: `message_start`, `content_block_start`,
`ping`, `content_block_delta`s of a few tokens each, `content_block_stop`, ..., `message_delta` with the
cumulative usage, `message_stop`. Each delta carries how many tokens it holds, so the server can pace them.

Whatever the request held, what goes on the wire encodes: `encode_json()` (the JSON body, every SSE frame, every
batch result line) turns a lone surrogate (`"\\ud800"`, which JSON allows and UTF-8 cannot encode) into U+FFFD and a
non-finite number into `null`, on the rare answer that needs it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from . import thinking
from .caching import CacheResult
from .responder import Reply
from .tokens import count_block, count_json, count_text, split_tokens
from .wire import encode_json, wire_safe

TOKENS_PER_DELTA = 3
Event = tuple[str, dict[str, Any], int]  # name, data, tokens it carries


def compose(reply: Reply, body: dict[str, Any], *, input_tokens: int, message_id: str,
            new_tool_id: Callable[[], str], context_window: int | None = None,
            cache: CacheResult | None = None) -> dict[str, Any]:
    """The Message object for `reply`, cut by stop sequences, `max_tokens` and the context window.

    - A stop sequence cuts a text block before its earliest match (`stop_reason: "stop_sequence"`); a block cut
      to nothing is left out, so a match at position 0 gives `content: []`.
    - Output is counted with the one token estimate; past `max_tokens` the text is cut and a tool call that had
      begun keeps its `tool_use` block with `input: {}` (`stop_reason: "max_tokens"`).
    - `context_window` is the model's window in tokens: when `input_tokens + max_tokens` exceeds it, output stops
      at the window with `stop_reason: "model_context_window_exceeded"` (docs: build-with-claude/
      handling-stop-reasons).
    - `reply.stop_details` goes to the message as is; `usage.output_tokens` is at least 1, as the API never
      bills an empty reply at 0 (docs: "exactly 2-3 tokens with no content").
    - A `thinking` block costs its reasoning tokens (even when `display: "omitted"` hides the text) and counts in
      `usage.output_tokens_details.thinking_tokens`; cut by `max_tokens`, it keeps the text so far, signed again.
    - Other blocks (redacted_thinking, server tool blocks) go out whole, or not at all past `max_tokens`.
    - `cache` is what the prompt cache made of the request (see `caching`): it splits `input_tokens` (the whole
      input) into read, written and uncached tokens, and, when the request carried `diagnostics`, adds them.
    """
    window = context_window - input_tokens if context_window else None
    budget, cut_reason = body["max_tokens"], "max_tokens"
    if window is not None and window < budget:
        budget, cut_reason = max(window, 0), "model_context_window_exceeded"
    sequences = body.get("stop_sequences")
    sequences = [s for s in sequences if isinstance(s, str) and s] if isinstance(sequences, list) else []
    content: list[dict[str, Any]] = []
    stop_reason, stop_sequence, used, thinking_tokens = reply.stop_reason, None, 0, 0
    for block in reply.content:
        kind = block.get("type")
        if kind == "text":
            text = block["text"]
            hit = min(((text.find(s), s) for s in sequences if s in text), default=None)
            if hit:
                text, stop_reason, stop_sequence = text[: hit[0]], "stop_sequence", hit[1]
            tokens = split_tokens(text)
            if used + len(tokens) > budget:
                tokens, stop_reason, stop_sequence = tokens[: budget - used], cut_reason, None
            used += len(tokens)
            if tokens or not block["text"]:  # an empty text block sent on purpose stays
                content.append({**block, "text": "".join(tokens)})
        elif kind == "tool_use":
            cost = count_text(block["name"]) + count_json(block["input"])
            if used + cost > budget:
                stop_reason, stop_sequence = cut_reason, None
                if used < budget:  # the call had begun: its block stays, with the input it never finished
                    content.append({"type": "tool_use", "id": block.get("id") or new_tool_id(),
                                    "name": block["name"], "input": {}})
                    used = budget
            else:
                used += cost
                content.append({"type": "tool_use", "id": block.get("id") or new_tool_id(), "name": block["name"],
                                "input": block["input"]})
        elif kind == "thinking":
            shown, cost = block["thinking"], block.get("_tokens", count_text(block["thinking"]))
            if used + cost > budget:  # cut mid-thought: the text shown so far, signed again
                stop_reason, stop_sequence = cut_reason, None
                shown = "".join(split_tokens(shown)[: max(budget - used, 0)])
                cost = budget - used
            signature = thinking.sign(shown, block["_prefix"]) if "_prefix" in block else block.get("signature", "")
            if cost > 0:
                content.append({"type": "thinking", "thinking": shown, "signature": signature})
            used += cost
            thinking_tokens += cost
        else:
            cost = count_block(block)
            if used + cost > budget:
                stop_reason, stop_sequence = cut_reason, None
            else:
                used += cost
                content.append(dict(block))
        if stop_reason in {"stop_sequence", cut_reason} and stop_reason != reply.stop_reason:
            break
    if stop_reason == "tool_use" and not any(b["type"] == "tool_use" for b in content):
        stop_reason = "max_tokens"
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "stop_details": reply.stop_details,
        "container": None,
        "usage": usage(input_tokens, max(used, 1), thinking_tokens, cache=cache),
    }
    if cache is not None and cache.send_diagnostics:
        message["diagnostics"] = cache.diagnostics
    return message


def usage(input_tokens: int, output_tokens: int, thinking_tokens: int = 0, *,
          cache: CacheResult | None = None) -> dict[str, Any]:
    """The `usage` object of a reply. `input_tokens` is the request's whole input; with `cache`, the tokens read
    from and written to the prompt cache are taken out of it, so that `input_tokens + cache_creation_input_tokens +
    cache_read_input_tokens` is the whole input (docs: build-with-claude/prompt-caching). With thinking,
    `output_tokens_details.thinking_tokens` says how many of the output tokens were reasoning."""
    details = {"output_tokens_details": {"thinking_tokens": thinking_tokens}} if thinking_tokens else {}
    read = cache.read if cache else 0
    written_5m, written_1h = (cache.written["5m"], cache.written["1h"]) if cache else (0, 0)
    return {
        "input_tokens": input_tokens - read - written_5m - written_1h,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": written_5m + written_1h,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": written_5m, "ephemeral_1h_input_tokens": written_1h},
        "server_tool_use": None,
        "service_tier": "standard",
        **details,
    }


def stream_events(message: dict[str, Any]) -> Iterator[Event]:
    """The SSE events of a streamed `message`, in the API's order."""
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None, "stop_details": None,
             "usage": {**{k: v for k, v in message["usage"].items() if k != "output_tokens_details"},
                       "output_tokens": 1}}
    yield "message_start", {"type": "message_start", "message": start}, 0
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            empty: dict[str, Any] = {**block, "text": ""}
            pieces, delta_type, key = split_tokens(block["text"]), "text_delta", "text"
        elif kind == "tool_use":  # the input arrives as JSON text, after an empty first piece as real streams send
            empty = {**block, "input": {}}
            pieces = ["", *split_tokens(json.dumps(wire_safe(block["input"]), ensure_ascii=False))]
            delta_type, key = "input_json_delta", "partial_json"
        elif kind == "thinking":  # thinking_delta pieces, then one signature_delta just before the stop
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            pieces, delta_type, key = split_tokens(block["thinking"]), "thinking_delta", "thinking"
        else:  # redacted_thinking, server tool blocks...: complete in content_block_start
            empty, pieces, delta_type, key = block, [], "", ""
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}, 0
        if index == 0:
            yield "ping", {"type": "ping"}, 0
        if pieces[:1] == [""]:
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": delta_type, key: ""}}, 0
            pieces = pieces[1:]
        for i in range(0, len(pieces), TOKENS_PER_DELTA):
            chunk = pieces[i: i + TOKENS_PER_DELTA]
            delta = {"type": delta_type, key: "".join(chunk)}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}, len(chunk)
        if kind == "thinking":
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "signature_delta", "signature": block["signature"]}}, 0
        yield "content_block_stop", {"type": "content_block_stop", "index": index}, 0
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"],
             "stop_details": message.get("stop_details")}
    yield "message_delta", {"type": "message_delta", "delta": delta, "usage": message["usage"]}, 0
    yield "message_stop", {"type": "message_stop"}, 0


def sse(name: str, data: dict[str, Any]) -> bytes:
    """One SSE frame; the `event:` line is required (the SDK drops unnamed events)."""
    return b"event: " + name.encode() + b"\ndata: " + encode_json(data) + b"\n\n"
