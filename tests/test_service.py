"""The chat service of helpers.service, driven over HTTP, with the real SDK talking to the offline Claude.

Most tests call the app in-process through httpx2.ASGITransport, which does not run the app's lifespan,
so `serving()` runs it by hand. The disconnect test needs a real socket and runs uvicorn.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import pytest
import uvicorn
from anthropic import AsyncAnthropic

from helpers.offline import start_server
from helpers.service import InMemorySessionStore, app_from_env, create_app

pytestmark = pytest.mark.anyio
MODEL = "claude-haiku-5-5"
KEY = "sk-ant-test-key-for-the-service"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def upstream():
    with start_server(first_token_ms=0, per_token_ms=0) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(upstream):
    upstream.reset_faults()
    upstream.configure(first_token_ms=0, per_token_ms=0)
    upstream.clear_requests()


def make_app(upstream, **options: Any):
    key, client_options = options.pop("api_key", KEY), options.pop("client_options", {})
    options.setdefault("model", MODEL)
    return create_app(client_factory=lambda: AsyncAnthropic(api_key=key, base_url=upstream.url, **client_options),
                      **options)


@asynccontextmanager
async def serving(app) -> AsyncIterator[httpx2.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://service") as http:
            yield http


async def chat(http: httpx2.AsyncClient, session_id: str, message: str) -> httpx2.Response:
    return await http.post("/chat", json={"session_id": session_id, "message": message})


def events_of(body: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a complete SSE body."""
    pairs = []
    for frame in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        pairs.append((lines["event"], lines["data"]))
    return pairs


async def test_a_session_remembers_and_another_does_not(upstream):
    async with serving(make_app(upstream)) as http:
        first = await chat(http, "alice", "Hi! My name is Ada.")
        assert first.status_code == 200
        assert first.json()["request_id"].startswith("req_")
        assert first.json()["usage"]["output_tokens"] > 0
        assert (await chat(http, "alice", "What is my name?")).json()["reply"] == "Your name is Ada."
        assert "Ada" not in (await chat(http, "bob", "What is my name?")).json()["reply"]


async def test_history_is_truncated_to_max_turns(upstream):
    async with serving(make_app(upstream, max_turns=2)) as http:
        await chat(http, "s", "My name is Ada.")
        assert "Ada" in (await chat(http, "s", "What is my name?")).json()["reply"]
        assert "Ada" not in (await chat(http, "s", "What is my name?")).json()["reply"]
    sent = [record.body["messages"] for record in upstream.requests]
    assert [len(messages) for messages in sent] == [1, 3, 3]


@pytest.mark.parametrize("body", [{"session_id": "s", "message": "   "}, {"session_id": "s", "message": ""}])
async def test_a_blank_message_is_a_422_that_says_why(upstream, body):
    async with serving(make_app(upstream)) as http:
        response = await http.post("/chat", json=body)
        streamed = await http.post("/chat/stream", json=body)
    assert response.status_code == streamed.status_code == 422
    assert "message is empty or only whitespace" in response.json()["detail"][0]["msg"]
    assert upstream.requests == []


async def test_an_overloaded_upstream_is_an_immediate_503_with_retry_after_and_nothing_recorded(upstream):
    store = InMemorySessionStore()
    async with serving(make_app(upstream, store=store)) as http:  # the client's own max_retries=2 is overridden
        await chat(http, "s", "My name is Ada.")
        upstream.fail_next(529, times=2, retry_after_ms=2000)
        busy = await chat(http, "s", "Hello")
        busy_stream = await http.post("/chat/stream", json={"session_id": "s", "message": "Hello"})
        upstream.fail_next(529, times=1, retry_after_ms=10)
        short = await chat(http, "s", "Hello")
        health = (await http.get("/health")).json()
    assert (busy.status_code, busy.headers["retry-after"]) == (503, "2")
    assert (busy_stream.status_code, busy_stream.headers["retry-after"]) == (503, "2")
    assert busy_stream.headers["content-type"] == "application/json"
    assert (short.status_code, short.headers["retry-after"]) == (503, "1")
    assert "busy" in short.json()["detail"]
    # one attempt each: the SDK never slept on retry-after while holding an upstream slot
    assert [(r.status, r.retry_count) for r in upstream.requests[1:]] == [(529, 0)] * 3
    assert len(store.sessions["s"]) == 2  # only the first exchange
    assert (health["upstream_errors"], health["in_flight"]) == (3, 0)


async def test_a_rate_limit_without_a_delay_gets_the_default_retry_after(upstream):
    upstream.fail_next(429, times=1, retry_after_ms=None)
    async with serving(make_app(upstream, client_options={"max_retries": 0})) as http:
        response = await chat(http, "s", "Hello")
    assert (response.status_code, response.headers["retry-after"]) == (503, "5")


async def test_refused_credentials_are_a_502_that_leaks_nothing(upstream):
    async with serving(make_app(upstream, api_key="wrong-key-12345")) as http:
        response = await chat(http, "s", "Hello")
    assert response.status_code == 502
    assert "credentials" in response.json()["detail"]
    assert "wrong-key-12345" not in response.text and "bearer" not in response.text.lower()
    assert upstream.requests[-1].status == 401


async def test_a_request_the_upstream_refuses_is_a_502_without_its_body(upstream):
    async with serving(make_app(upstream, max_tokens=-1)) as http:
        response = await chat(http, "s", "Hello")
    assert upstream.requests[-1].status == 400
    assert response.status_code == 502
    assert "max_tokens" not in response.text
    assert response.json()["request_id"] == upstream.requests[-1].request_id


async def test_timeouts_and_unreachable_upstreams_are_504(upstream):
    upstream.configure(first_token_ms=500)
    slow = make_app(upstream, client_options={"timeout": 0.05, "max_retries": 0})
    nowhere = create_app(model=MODEL, client_factory=lambda: AsyncAnthropic(
        api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0))
    async with serving(slow) as http, serving(nowhere) as unreachable:
        timed_out = await chat(http, "s", "Hello")
        refused = await chat(unreachable, "s", "Hello")
    assert timed_out.status_code == refused.status_code == 504
    assert "in time" in timed_out.json()["detail"] and "reached" in refused.json()["detail"]


async def test_the_stream_sends_text_events_then_done_and_records_the_exchange(upstream):
    async with serving(make_app(upstream)) as http:
        await chat(http, "s", "My name is Ada.")
        response = await http.post("/chat/stream", json={"session_id": "s", "message": "What is my name?"})
        events = events_of(response.text)
        after = (await chat(http, "s", "What is my name?")).json()["reply"]
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done" and set(names[1:-1]) == {"text"} and len(names) > 3
    text = "".join(httpx2.Response(200, content=data).json()["text"] for name, data in events if name == "text")
    assert text == "Your name is Ada." == after
    assert '"output_tokens"' in events[-1][1] and '"stop_reason": "end_turn"' in events[-1][1]
    assert len(upstream.requests[-1].body["messages"]) == 5  # the streamed exchange was kept


async def test_a_stream_that_breaks_ends_with_an_error_event_and_records_nothing(upstream):
    store = InMemorySessionStore()
    upstream.fail_stream_next(after_events=4)
    async with serving(make_app(upstream, store=store)) as http:
        response = await http.post("/chat/stream", json={"session_id": "s", "message": "Write a story about a cat."})
    events = events_of(response.text)
    assert [name for name, _ in events][-1] == "error"
    assert '"status": 503' in events[-1][1] and '"retry_after": 5' in events[-1][1]
    assert "text" in [name for name, _ in events]
    assert "s" not in store.sessions


async def test_concurrent_requests_on_one_session_do_not_lose_exchanges(upstream):
    upstream.configure(first_token_ms=20)
    store = InMemorySessionStore()
    async with serving(make_app(upstream, store=store)) as http:
        replies = await asyncio.gather(*(chat(http, "s", f"What is {n} + 1?") for n in range(6)))
    assert [reply.status_code for reply in replies] == [200] * 6
    assert len(store.sessions["s"]) == 12
    assert sorted(len(record.body["messages"]) for record in upstream.requests) == [1, 3, 5, 7, 9, 11]


def most_at_once(records) -> int:
    """The largest number of upstream requests whose [at, finished_at] intervals overlap."""
    edges = sorted([(r.at, 1) for r in records] + [(r.finished_at, -1) for r in records], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


async def test_the_concurrency_bound_is_reached_and_never_exceeded(upstream):
    upstream.configure(first_token_ms=30, per_token_ms=1)
    async with serving(make_app(upstream, max_concurrency=3)) as http:
        replies = await asyncio.gather(*(chat(http, f"user-{n}", "Hello") for n in range(30)))
        health = (await http.get("/health")).json()
    assert [reply.status_code for reply in replies] == [200] * 30
    assert (health["max_in_flight"], health["in_flight"], health["upstream_calls"]) == (3, 0, 30)
    assert most_at_once(upstream.requests) == 3  # seen from the upstream side too


@asynccontextmanager
async def running_uvicorn(app) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)


async def test_a_caller_that_disconnects_cancels_the_upstream_stream(upstream):
    upstream.configure(first_token_ms=0, per_token_ms=20)  # the whole story would take about 3.7 s
    store = InMemorySessionStore()
    body = {"session_id": "s", "message": "Write a long story about a lighthouse."}
    async with running_uvicorn(make_app(upstream, store=store)) as url, httpx2.AsyncClient(base_url=url) as http:
        async with http.sse("/chat/stream", method="POST", json=body) as events:
            async for event in events:
                if event.event == "text":
                    break  # leaving the block closes the connection
        left = upstream.state.now()
        for _ in range(100):
            record, health = upstream.requests[-1], (await http.get("/health")).json()
            if record.finished_at is not None and health["in_flight"] == 0:
                break
            await asyncio.sleep(0.02)
        again = await http.post("/chat", json={"session_id": "s", "message": "Hello"})  # the lock was released
    assert record.stream and record.finished_at - left < 0.5
    assert record.finished_at - record.at < 1.5
    assert health["in_flight"] == 0
    assert again.status_code == 200
    assert len(store.sessions["s"]) == 2  # the abandoned reply was not recorded


def test_app_from_env_needs_a_model_and_is_hardened(upstream, monkeypatch):
    monkeypatch.delenv("CLAUDE_MODEL", raising=False)
    with pytest.raises(RuntimeError, match="CLAUDE_MODEL"):
        app_from_env()
    monkeypatch.setenv("CLAUDE_MODEL", MODEL)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", upstream.url)
    monkeypatch.setenv("ALLOWED_HOSTS", "service")

    async def call() -> tuple[httpx2.Response, ...]:
        app = app_from_env()
        async with serving(app) as http:
            guessed = await chat(http, "alice", "Hello")
            session_id = (await http.post("/sessions")).json()["session_id"]
            answered = await chat(http, session_id, "Hello")
            docs = await http.get("/docs")
        async with app.router.lifespan_context(app), httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app), base_url="http://evil.example") as other:
            wrong_host = await chat(other, session_id, "Hello")
        return guessed, answered, docs, wrong_host

    guessed, answered, docs, wrong_host = asyncio.run(call())
    assert guessed.status_code == 404 and "POST /sessions" in guessed.json()["detail"]
    assert answered.json()["reply"] == "Hello! How can I help you today?"
    assert docs.status_code == 404
    assert (wrong_host.status_code, wrong_host.text) == (400, "Invalid host header")
    assert upstream.requests[-1].body["model"] == MODEL and len(upstream.requests) == 1


async def test_an_answer_whose_caller_has_gone_is_not_stored(upstream):
    upstream.configure(first_token_ms=1000)
    store = InMemorySessionStore()
    body = {"session_id": "s", "message": "Hello"}
    async with running_uvicorn(make_app(upstream, store=store)) as url:
        async with httpx2.AsyncClient(base_url=url, timeout=httpx2.Timeout(10.0, read=0.1)) as impatient:
            with pytest.raises(httpx2.ReadTimeout):
                await impatient.post("/chat", json=body)  # gives up, closing the connection
        async with httpx2.AsyncClient(base_url=url) as http:
            for _ in range(500):
                health = (await http.get("/health")).json()
                if health["abandoned_answers"]:
                    break
                await asyncio.sleep(0.02)
            upstream.configure(first_token_ms=0)
            retried = await http.post("/chat", json=body)
    assert health["abandoned_answers"] == 1
    assert retried.status_code == 200
    assert len(store.sessions["s"]) == 2  # the retry's exchange alone: stored once
