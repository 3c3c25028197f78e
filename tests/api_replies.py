"""The Messages API's replies, exactly as the wire carries them, served to the real SDK through httpx2.MockTransport.

Shapes from reference/messages-wire-protocol.md (§4 message object, §6 SSE framing and event order, §3.2-3.3
rule texts) and api-2026-addendum.md (§5 thinking blocks, §6 stop reasons and ``stop_details``). Each reply
below is one the API can send; ``ScriptedAPI`` serves a queue of them, JSON or SSE as the request asks, and
answers the requests the API would refuse with the API's own 400 (the rules that a bad history breaks).
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx2

MODEL = "claude-haiku-5-5"
KEY = "sk-ant-test"


def message(content: list[dict[str, Any]], stop_reason: str | None, *, stop_sequence: str | None = None,
            stop_details: dict[str, Any] | None = None, output_tokens: int = 3) -> dict[str, Any]:
    """A complete Message object as the API sends it (messages-wire-protocol.md §4.1)."""
    return {"id": "msg_01Xq9Lm3Np5Rt7Vw2Yz4Bc6D", "type": "message", "role": "assistant", "model": MODEL,
            "content": content, "stop_reason": stop_reason, "stop_sequence": stop_sequence,
            "stop_details": stop_details, "container": None,
            "usage": {"input_tokens": 12, "output_tokens": output_tokens, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, "service_tier": "standard"}}


def text(value: str, stop_reason: str = "end_turn") -> dict[str, Any]:
    return message([{"type": "text", "text": value}], stop_reason)


TOOL_USE_ID = "toolu_01Hg5Jk7Lm9Np2Qr4St6Uv8W"
WEATHER_CALL = {"type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": {"city": "Lyon"},
                "caller": {"type": "direct"}}
THINKING = {"type": "thinking", "thinking": "The user wants the weather; call the tool.",
            "signature": "EqQBCgIYAhIMbeRdZ3d5dGhvbmluZw"}
REFUSAL_DETAILS = {"type": "refusal", "category": "cyber",
                   "explanation": "This request asks for help attacking systems without authorisation."}

# An empty end_turn: "exactly 2-3 tokens with no content" (addendum §6), and a stop sequence hit at once.
EMPTY_END_TURN = message([], "end_turn", output_tokens=2)
EMPTY_STOP_SEQUENCE = message([], "stop_sequence", stop_sequence="Hello", output_tokens=1)
# A refusal: an empty text block, then stop_details (the SDK's own refusal fixture, wire reference §6.2).
REFUSAL = message([{"type": "text", "text": ""}], "refusal", stop_details=REFUSAL_DETAILS)
# A tool call cut by max_tokens: the block started, its input never arrived ({}).
CUT_TOOL_USE = message([{"type": "text", "text": "Let me check the weather."},
                        {**WEATHER_CALL, "input": {}}], "max_tokens", output_tokens=64)
CUT_TOOL_USE_CONTEXT = {**CUT_TOOL_USE, "stop_reason": "model_context_window_exceeded"}
# A text answer cut by max_tokens, and one that filled the context window.
CUT_TEXT = message([{"type": "text", "text": "Once upon a time, there was a"}], "max_tokens", output_tokens=8)
CONTEXT_WINDOW_EXCEEDED = message([{"type": "text", "text": "The first chapter begins"}],
                                  "model_context_window_exceeded", output_tokens=5)
# An empty text block beside a tool_use, and thinking before a tool_use.
EMPTY_TEXT_AND_TOOL_USE = message([{"type": "text", "text": ""}, WEATHER_CALL], "tool_use")
THINKING_AND_TOOL_USE = message([THINKING, {"type": "text", "text": ""}, WEATHER_CALL], "tool_use")
# A server-tool loop paused (pause_turn), then the continuation's answer.
SERVER_TOOL_USE = {"type": "server_tool_use", "id": "srvtoolu_01Ab2Cd3Ef4Gh5Ij6Kl7Mn8O", "name": "web_search",
                   "input": {"query": "Lyon weather"}}
SEARCH_RESULT = {"type": "web_search_tool_result", "tool_use_id": SERVER_TOOL_USE["id"],
                 "content": [{"type": "web_search_result", "url": "https://weather.example/lyon",
                              "title": "Lyon", "encrypted_content": "EqgfCioIARgBIiQ3", "page_age": None}]}
PAUSE_TURN = message([{"type": "text", "text": "Searching. "}, SERVER_TOOL_USE, SEARCH_RESULT], "pause_turn")
AFTER_PAUSE = text("It is 14 degrees in Lyon.")
STOP_REASON_NONE = message([{"type": "text", "text": "Half a"}], None)


def error_body(kind: str, text_: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": text_}, "request_id": "req_011CVq3Xb8Jk2Lm4Np6Rs8Tu"}


# ---- SSE (wire reference §6.2) ----

def sse_events(reply: dict[str, Any]) -> list[dict[str, Any]]:
    """The events that stream ``reply``: message_start, each block's start/deltas/stop, message_delta, stop."""
    start = {**reply, "content": [], "stop_reason": None, "stop_sequence": None, "stop_details": None,
             "usage": {**reply["usage"], "output_tokens": 1}}
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(reply["content"]):
        kind, deltas = block["type"], []
        if kind == "text":
            empty = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": block["text"][i:i + 6]} for i in range(0, len(block["text"]), 6)]
        elif kind == "tool_use":
            empty = {**block, "input": {}}
            parts = ["", json.dumps(block["input"])] if block["input"] else []
            deltas = [{"type": "input_json_delta", "partial_json": part} for part in parts]
        elif kind == "thinking":
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": block["thinking"]},
                      {"type": "signature_delta", "signature": block["signature"]}]
        else:  # server blocks arrive whole in content_block_start
            empty = block
        events.append({"type": "content_block_start", "index": index, "content_block": empty})
        if index == 0:
            events.append({"type": "ping"})
        events += [{"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas]
        events.append({"type": "content_block_stop", "index": index})
    if reply["stop_reason"] is not None:
        delta = {"stop_reason": reply["stop_reason"], "stop_sequence": reply["stop_sequence"]}
        if reply.get("stop_details"):
            delta["stop_details"] = reply["stop_details"]
        events.append({"type": "message_delta", "delta": delta,
                       "usage": {"output_tokens": reply["usage"]["output_tokens"]}})
        events.append({"type": "message_stop"})
    return events


def frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def sse_body(reply: dict[str, Any]) -> bytes:
    return b"".join(frame(event) for event in sse_events(reply))


class CutStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body that sends ``frames`` and then breaks, as a dropped connection does mid-body."""

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames

    def _error(self) -> httpx2.TransportError:
        return httpx2.RemoteProtocolError("peer closed connection without sending complete message body "
                                          "(incomplete chunked read)")

    def __iter__(self) -> Iterator[bytes]:
        yield from self.frames
        raise self._error()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.frames:
            yield part
        raise self._error()


class Cut:
    """A queued reply: stream ``reply`` but break the connection after ``after_events`` events."""

    def __init__(self, reply: dict[str, Any], after_events: int) -> None:
        self.reply, self.after_events = reply, after_events


class Status:
    """A queued HTTP error answer."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


# ---- the API's rules that a bad history breaks (wire reference §11 rules 18, 19, 22; exact texts) ----

def history_problem(messages: list[dict[str, Any]]) -> str | None:
    """The API's 400 message for the first broken rule among 18, 19 and 22, or None."""
    for index, turn in enumerate(messages):
        content = turn["content"]
        last = index == len(messages) - 1
        if (content == "" or content == []) and not (last and turn["role"] == "assistant"):
            return (f"messages.{index}: all messages must have non-empty content except for the optional final "
                    "assistant message")
        blocks = [] if isinstance(content, str) else content
        if any(block.get("type") == "text" and block.get("text") == "" for block in blocks):
            return "messages: text content blocks must be non-empty"
        ids = [block["id"] for block in blocks if block.get("type") == "tool_use"]
        if turn["role"] == "assistant" and ids:
            following = messages[index + 1]["content"] if index + 1 < len(messages) else []
            answered = set()
            for block in following if isinstance(following, list) else []:
                if block.get("type") != "tool_result":
                    break
                answered.add(block["tool_use_id"])
            missing = [i for i in ids if i not in answered]
            if missing:
                return (f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately "
                        f"after: {', '.join(missing)}. Each `tool_use` block must have a corresponding "
                        "`tool_result` block in the next message.")
    return None


class ScriptedAPI:
    """An httpx2.MockTransport handler serving queued replies; it records every request body it receives.

    A queued item is a Message dict (sent as JSON, or as SSE when the request has ``"stream": true``), a
    ``Cut`` or a ``Status``. With the queue empty it answers ``text("Fine.")``. A request that breaks rule
    18, 19 or 22 gets the API's 400 instead, and consumes nothing from the queue.
    """

    def __init__(self, *replies: Any) -> None:
        self.queue = list(replies)
        self.bodies: list[dict[str, Any]] = []

    def add(self, *replies: Any) -> None:
        self.queue.extend(replies)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        headers = {"request-id": f"req_011CVq{len(self.bodies):018d}"}
        problem = history_problem(body["messages"])
        if problem is not None:
            return httpx2.Response(400, json=error_body("invalid_request_error", problem),
                                   headers={**headers, "x-should-retry": "false"})
        reply = copy.deepcopy(self.queue.pop(0)) if self.queue else text("Fine.")
        if isinstance(reply, Status):
            return httpx2.Response(reply.status, json=reply.body, headers={**headers, **reply.headers})
        sse = {**headers, "content-type": "text/event-stream"}
        if isinstance(reply, Cut):
            frames = [frame(event) for event in sse_events(reply.reply)][:reply.after_events]
            return httpx2.Response(200, headers=sse, stream=CutStream(frames))
        if body.get("stream"):
            return httpx2.Response(200, headers=sse, content=sse_body(reply))
        return httpx2.Response(200, json=reply, headers=headers)


def sync_client(api: ScriptedAPI, **options: Any) -> anthropic.Anthropic:
    """The real SDK client, its network replaced by ``api``."""
    options.setdefault("max_retries", 0)
    return anthropic.Anthropic(api_key=KEY, base_url="http://api.test",
                               http_client=httpx2.Client(transport=httpx2.MockTransport(api)), **options)


def async_client(api: ScriptedAPI, **options: Any) -> anthropic.AsyncAnthropic:
    """The real async SDK client, its network replaced by ``api``."""
    options.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(api_key=KEY, base_url="http://api.test",
                                    http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(api)), **options)
