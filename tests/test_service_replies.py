"""helpers.service meeting every reply and failure the API can send, and callers who retry, leave or misbehave.

Upstream is the real AsyncAnthropic client over httpx2.MockTransport serving the API's exact shapes
(tests/api_replies.py), which answers a broken history with the API's own 400; callers speak HTTP to the app
through httpx2.ASGITransport.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import api_replies as api
import httpx2
import pytest
from api_replies import MODEL, Cut, ScriptedAPI, Status, async_client

from helpers.service import MAX_BODY_BYTES, create_app
from helpers.session_store import InMemorySessionStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


@asynccontextmanager
async def service(scripted: ScriptedAPI, **options: Any) -> AsyncIterator[httpx2.AsyncClient]:
    options.setdefault("store", InMemorySessionStore())
    app = create_app(model=MODEL, client_factory=lambda: async_client(scripted, max_retries=2), **options)
    async with app.router.lifespan_context(app):
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://service") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def chat(http: httpx2.AsyncClient, message: str, session_id: str = "s", **headers: str) -> httpx2.Response:
    return await http.post("/chat", json={"session_id": session_id, "message": message}, headers=headers)


async def stream(http: httpx2.AsyncClient, message: str, session_id: str = "s", **headers: str) -> list[tuple]:
    response = await http.post("/chat/stream", json={"session_id": session_id, "message": message},
                               headers=headers)
    assert response.headers["content-type"].startswith("text/event-stream"), response.text
    frames = [dict(line.split(": ", 1) for line in frame.splitlines()) for frame in response.text.strip().split("\n\n")]
    return [(frame["event"], json.loads(frame["data"])) for frame in frames]


def sessions(http: httpx2.AsyncClient) -> dict:
    return http.app.state.store.sessions  # type: ignore[attr-defined]


async def health(http: httpx2.AsyncClient) -> dict:
    return (await http.get("/health")).json()


async def test_chat_answers_with_the_stop_reason():
    scripted = ScriptedAPI(api.CUT_TEXT, api.CONTEXT_WINDOW_EXCEEDED)
    async with service(scripted) as http:
        cut = (await chat(http, "Tell me a story")).json()
        window = await stream(http, "Go on")
    assert (cut["reply"], cut["stop_reason"], cut["stop_details"]) == ("Once upon a time, there was a", "max_tokens",
                                                                       None)
    assert window[-1] == ("done", {"usage": {"input_tokens": 12, "output_tokens": 5},
                                   "request_id": window[0][1]["request_id"],
                                   "stop_reason": "model_context_window_exceeded"})


async def test_an_empty_reply_does_not_brick_the_session():
    scripted = ScriptedAPI(api.EMPTY_END_TURN, api.text("Here I am."))
    async with service(scripted) as http:
        empty = await chat(http, "Hello")
        after = await chat(http, "Are you there?")
        stored = sessions(http)["s"]
    assert (empty.status_code, empty.json()["reply"], empty.json()["stop_reason"]) == (200, "", "end_turn")
    assert (after.status_code, after.json()["reply"]) == (200, "Here I am.")
    assert scripted.bodies[1]["messages"] == [{"role": "user", "content": "Hello"},
                                              {"role": "user", "content": "Are you there?"}]
    assert [turn["role"] for turn in stored] == ["user", "user", "assistant"]


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_refusal_is_an_answer_with_stop_details_that_is_not_stored(streamed):
    scripted = ScriptedAPI(api.REFUSAL, api.text("Sure."))
    async with service(scripted) as http:
        if streamed:
            events = await stream(http, "Something refused")
            refused = events[-1][1]
            assert [name for name, _ in events] == ["start", "done"]
        else:
            refused = (await chat(http, "Something refused")).json()
            assert refused["reply"] == ""
        follow_up = await chat(http, "Something else")
        metrics = await health(http)
    assert refused["stop_reason"] == "refusal"
    assert refused["stop_details"] == api.REFUSAL_DETAILS
    assert follow_up.json()["reply"] == "Sure."
    assert scripted.bodies[1]["messages"] == [{"role": "user", "content": "Something else"}]
    assert (metrics["refusals"], metrics["upstream_errors"]) == (1, 0)


async def test_a_stream_cut_mid_body_ends_with_an_error_event_and_is_counted(caplog):
    scripted = ScriptedAPI(Cut(api.text("A long answer that never ends"), after_events=4))
    async with service(scripted) as http:
        with caplog.at_level(logging.INFO):
            events = await stream(http, "Hello")
        metrics = await health(http)
        stored = dict(sessions(http))
    assert [name for name, _ in events] == ["start", "text", "error"]
    assert events[-1][1] == {"status": 502, "detail": "The connection to Claude broke during the reply; try again.",
                             "retry_after": None, "request_id": events[0][1]["request_id"]}
    assert (metrics["upstream_errors"], metrics["in_flight"]) == (1, 0)
    assert stored == {}
    assert not [record for record in caplog.records if record.exc_info]  # no traceback in the log


async def test_a_json_reply_cut_mid_body_is_an_answer_and_is_counted():
    scripted = ScriptedAPI(Cut(api.text("cut"), after_events=2))  # SSE bytes where JSON was expected, then a break
    async with service(scripted) as http:
        response = await chat(http, "Hello")
        metrics = await health(http)
    # the SDK wraps a break while it reads a whole JSON body (unlike a stream's) in APIConnectionError
    assert (response.status_code, response.json()["detail"]) == (504, "Claude could not be reached; try again.")
    assert metrics["upstream_errors"] == 1 and sessions(http) == {}


async def test_pause_turn_is_continued_in_chat_and_in_the_stream():
    scripted = ScriptedAPI(api.PAUSE_TURN, api.AFTER_PAUSE, api.PAUSE_TURN, api.AFTER_PAUSE)
    async with service(scripted) as http:
        answered = (await chat(http, "Weather in Lyon?", "a")).json()
        events = await stream(http, "Weather in Lyon?", "b")
    assert (answered["reply"], answered["stop_reason"]) == ("Searching. It is 14 degrees in Lyon.", "end_turn")
    assert "".join(data["text"] for name, data in events if name == "text") == answered["reply"]
    assert events[-1][1]["stop_reason"] == "end_turn"
    assert scripted.bodies[1]["messages"][-1] == {"role": "assistant", "content": api.PAUSE_TURN["content"]}
    assert len(scripted.bodies) == 4


async def test_a_tool_call_nobody_asked_for_is_a_502_and_nothing_is_stored():
    scripted = ScriptedAPI(api.message([api.WEATHER_CALL], "tool_use"))
    async with service(scripted) as http:
        response = await chat(http, "Weather?")
        metrics = await health(http)
    assert (response.status_code, response.json()["detail"]) == (502, "Claude's reply could not be used; try again.")
    assert metrics["upstream_errors"] == 1 and sessions(http) == {}


@pytest.mark.parametrize("streamed", [False, True])
async def test_a_retried_request_with_an_idempotency_key_is_stored_once(streamed):
    scripted = ScriptedAPI(api.text("Hello Ada."))
    async with service(scripted) as http:
        if streamed:
            first, again = [await stream(http, "I am Ada", **{"Idempotency-Key": "k-1"}) for _ in range(2)]
            assert [name for name, _ in again] == ["start", "text", "done"]
            assert again[1][1]["text"] == "Hello Ada." and again[-1] == first[-1]
        else:
            first, again = [await chat(http, "I am Ada", **{"Idempotency-Key": "k-1"}) for _ in range(2)]
            assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
        other = await chat(http, "I am Ada", **{"Idempotency-Key": "k-2"})
        metrics = await health(http)
    assert len(scripted.bodies) == 2 and other.status_code == 200
    assert [turn["role"] for turn in sessions(http)["s"]] == ["user", "assistant"] * 2
    assert metrics["idempotent_replays"] == 1


async def test_concurrent_retries_with_one_key_reach_claude_once():
    scripted = ScriptedAPI(api.text("Once."))
    async with service(scripted) as http:
        replies = await asyncio.gather(*(chat(http, "Hi", **{"Idempotency-Key": "same"}) for _ in range(5)))
    assert {reply.json()["reply"] for reply in replies} == {"Once."}
    assert len(scripted.bodies) == 1 and len(sessions(http)["s"]) == 2


async def test_sessions_are_issued_unguessable_and_bounded():
    scripted = ScriptedAPI()
    async with service(scripted, issued_session_ids=True, store=InMemorySessionStore(max_sessions=2)) as http:
        ids = [(await http.post("/sessions")).json()["session_id"] for _ in range(3)]
        guessed = await chat(http, "Hello", "alice")
        evicted = await chat(http, "Hello", ids[0])
        kept = await chat(http, "Hello", ids[2])
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids)
    assert guessed.status_code == evicted.status_code == 404
    assert "create a session with POST /sessions" in guessed.json()["detail"]
    assert kept.status_code == 200 and len(scripted.bodies) == 1


async def test_input_that_cannot_be_encoded_is_a_422_that_does_not_echo_it():
    async with service(ScriptedAPI()) as http:
        surrogate, surrogate_id = [await http.post("/chat", content=body, headers={"content-type": "application/json"})
                                   for body in (b'{"session_id": "s", "message": "hi \\ud800 there"}',
                                                b'{"session_id": "s\\udc80", "message": "hi there"}')]
        long = await chat(http, "x" * 25_000)
        huge = await chat(http, "y" * 1_000_000)
        bad_id = await chat(http, "Hello", "../etc/passwd")
    for response in (surrogate, surrogate_id):  # a 500 before: the 422 echoed the input, which JSON cannot encode
        assert response.status_code == 422 and "there" not in response.text
        assert response.json()["detail"][0]["msg"] == ("Input should be a valid string, unable to parse raw data as a "
                                                       "unicode string")
    assert long.status_code == 422 and len(long.content) < 300 and "xxxx" not in long.text
    assert long.json()["detail"][0]["msg"] == "String should have at most 20000 characters"
    assert (huge.status_code, len(huge.content) < 200) == (413, True)
    assert str(MAX_BODY_BYTES) in huge.json()["detail"]
    assert bad_id.status_code == 422 and "passwd" not in bad_id.text


async def test_a_chunked_body_is_refused_once_it_passes_the_limit_without_being_read_whole():
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: sent chunked, 64 KiB at a time, 8 MiB in all
        nonlocal sent
        yield b'{"session_id": "s", "message": "'
        for _ in range(128):
            sent += 65536
            yield b"z" * 65536
        yield b'"}'

    async with service(ScriptedAPI()) as http:
        huge = await http.post("/chat", content=chunks(), headers={"content-type": "application/json"})
        after = await chat(http, "Hello")
    assert huge.status_code == 413 and str(MAX_BODY_BYTES) in huge.json()["detail"]
    assert sent < 2 * MAX_BODY_BYTES, f"{sent} bytes were read before the 413"
    assert after.status_code == 200


async def test_docs_are_off_unless_asked_for():
    async with service(ScriptedAPI()) as closed, service(ScriptedAPI(), docs=True) as open_:
        assert [(await closed.get(path)).status_code for path in ("/docs", "/openapi.json")] == [404, 404]
        assert [(await open_.get(path)).status_code for path in ("/docs", "/openapi.json")] == [200, 200]


async def test_a_busy_upstream_answers_at_once_without_retrying():
    busy = Status(529, api.error_body("overloaded_error", "Overloaded"), {"retry-after": "30"})
    scripted = ScriptedAPI(busy, api.text("Now."))
    async with service(scripted) as http:  # the factory asked for max_retries=2; the service uses 0
        response = await chat(http, "Hello")
        after = await chat(http, "Hello")
    assert (response.status_code, response.headers["retry-after"]) == (503, "30")
    assert len(scripted.bodies) == 2 and after.json()["reply"] == "Now."


class PlainStore:
    """A store that offers only the minimum (load and save), as one written for the earlier service did."""

    def __init__(self) -> None:
        self.sessions: dict[str, list] = {}

    async def load(self, session_id: str) -> list:
        return list(self.sessions.get(session_id, []))

    async def save(self, session_id: str, messages: list) -> None:
        self.sessions[session_id] = list(messages)


async def test_a_store_with_only_load_and_save_still_gets_locks_and_idempotency():
    scripted = ScriptedAPI(*[api.text(f"Answer {n}.") for n in range(4)])
    async with service(scripted, store=PlainStore()) as http:
        issued = await http.post("/sessions")
        replies = await asyncio.gather(*(chat(http, f"Q{n}") for n in range(3)))
        first, again = [await chat(http, "Once", **{"Idempotency-Key": "k"}) for _ in range(2)]
    assert (issued.status_code, issued.json()["detail"]) == (501, "This service's session store cannot issue sessions.")
    assert [reply.status_code for reply in replies] == [200] * 3
    assert sorted(len(body["messages"]) for body in scripted.bodies) == [1, 3, 5, 7]
    assert again.json() == first.json() and len(sessions(http)["s"]) == 8
    with pytest.raises(TypeError, match="issued_session_ids needs a store with create"):
        create_app(model=MODEL, store=PlainStore(), issued_session_ids=True)


async def test_an_idempotency_key_reused_for_another_message_is_a_422():
    scripted = ScriptedAPI(api.text("Hello Ada."))
    async with service(scripted) as http:
        await chat(http, "I am Ada", **{"Idempotency-Key": "k-1"})
        reused = await chat(http, "I am Grace", **{"Idempotency-Key": "k-1"})
        reused_stream = await http.post("/chat/stream", json={"session_id": "s", "message": "I am Grace"},
                                        headers={"Idempotency-Key": "k-1"})
    for response in (reused, reused_stream):
        assert (response.status_code, response.json()["detail"]) == (
            422, "This Idempotency-Key was already used with a different message; send a new key.")
    assert len(scripted.bodies) == 1 and len(sessions(http)["s"]) == 2
