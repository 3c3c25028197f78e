"""RedisSessionStore against a real redis-server on a free loopback port, and two uvicorn workers sharing a session.

The redis-server binary comes from Debian (`apt-get install redis-server`; .ci/run installs it). Without it the
tests skip and say so, except under CI=true, where they fail: CI must run them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import api_replies as api
import httpx2
import pytest
from api_replies import MODEL, ScriptedAPI, async_client
from redis.asyncio import Redis

from helpers.offline import start_server
from helpers.service import create_app
from helpers.session_store import RedisSessionStore, SessionLockTimeout
from tests.standalone import free_port

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def anyio_backend():
    return "asyncio"


def wait_until(ready, what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {seconds} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed: apt-get install redis-server"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                               "no", "--dir", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    return conn.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_until(answers, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
async def redis(redis_url) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


async def test_sessions_are_saved_loaded_and_issued(redis, redis_url):
    store = RedisSessionStore(redis)
    session_id = await store.create()
    assert len(session_id) == 32 and await store.exists(session_id)
    assert not await store.exists("guessed") and await store.load("guessed") == []
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]}]
    await store.save(session_id, turns)
    other_worker = Redis.from_url(redis_url)
    assert await RedisSessionStore(other_worker).load(session_id) == turns  # another worker's client sees it
    await other_worker.aclose()
    assert 0 < await redis.ttl(f"chat:session:{session_id}") <= 7 * 24 * 3600


async def test_sessions_past_the_bound_are_evicted_oldest_first(redis):
    store = RedisSessionStore(redis, max_sessions=2)
    first, second, third = [await store.create() for _ in range(3)]
    assert [await store.exists(s) for s in (first, second, third)] == [False, True, True]
    assert await redis.zcard("chat:sessions") == 2


async def test_the_lock_excludes_a_second_holder_even_from_another_client(redis, redis_url):
    second_client = Redis.from_url(redis_url)
    one, other = RedisSessionStore(redis), RedisSessionStore(second_client, lock_wait=0.2)
    order: list[str] = []

    async def hold(store: RedisSessionStore, name: str) -> None:
        async with store.lock("s"):
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(hold(one, "a"), hold(RedisSessionStore(second_client), "b"))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
    async with one.lock("s"):
        with pytest.raises(SessionLockTimeout, match="session busy"):
            async with other.lock("s"):
                pass
    async with other.lock("s"):  # released: free again
        pass
    await second_client.aclose()


async def test_answers_are_remembered_by_idempotency_key(redis):
    store = RedisSessionStore(redis)
    await store.remember("s", "k", {"reply": "Hi", "stop_reason": "end_turn"})
    assert await store.recall("s", "k") == {"reply": "Hi", "stop_reason": "end_turn"}
    assert await store.recall("s", "other") is None and await store.recall("t", "k") is None


async def test_the_service_keeps_sessions_in_redis_and_loses_no_exchange(redis):
    scripted = ScriptedAPI(*[api.text(f"Answer {n}.") for n in range(6)])
    app = create_app(model=MODEL, store=RedisSessionStore(redis), issued_session_ids=True,
                     client_factory=lambda: async_client(scripted))
    async with app.router.lifespan_context(app), httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://service") as http:
        session_id = (await http.post("/sessions")).json()["session_id"]
        replies = await asyncio.gather(*(http.post("/chat", json={"session_id": session_id, "message": f"Q{n}"})
                                         for n in range(6)))
    assert [reply.status_code for reply in replies] == [200] * 6
    assert sorted(len(body["messages"]) for body in scripted.bodies) == [1, 3, 5, 7, 9, 11]
    assert len(await RedisSessionStore(redis).load(session_id)) == 12


@asynccontextmanager
async def worker(port: int, env: dict[str, str]) -> AsyncIterator[str]:
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "helpers.service:app_from_env",
                                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"worker exited: {process.stderr.read().decode()[-2000:]}")
            try:
                return httpx2.get(f"{url}/health", timeout=0.5).status_code == 200
            except httpx2.TransportError:
                return False

        await asyncio.to_thread(wait_until, up, f"uvicorn worker on port {port}")
        yield url
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 10)


async def test_two_uvicorn_workers_share_one_session_without_interleaving(redis, redis_url):
    with start_server(first_token_ms=30, per_token_ms=0) as upstream:
        env = {**os.environ, "CLAUDE_MODEL": MODEL, "ANTHROPIC_API_KEY": "sk-ant-test-key-for-the-workers",
               "ANTHROPIC_BASE_URL": upstream.url, "REDIS_URL": redis_url, "ALLOWED_HOSTS": "127.0.0.1",
               "PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1,localhost"}
        async with worker(free_port(), env) as one, worker(free_port(), env) as two, httpx2.AsyncClient() as http:
            session_id = (await http.post(f"{one}/sessions")).json()["session_id"]
            await http.post(f"{one}/chat", json={"session_id": session_id, "message": "My name is Ada."})
            remembered = await http.post(f"{two}/chat", json={"session_id": session_id, "message": "What is my name?"})
            both = await asyncio.gather(*(http.post(f"{url}/chat", json={"session_id": session_id,
                                                                        "message": f"What is {n} + 1?"})
                                          for n, url in enumerate([one, two] * 3)))
            health = [(await http.get(f"{url}/health")).json() for url in (one, two)]
        sent = sorted(len(record.body["messages"]) for record in upstream.requests)
    assert remembered.json()["reply"] == "Your name is Ada."  # worker two read what worker one stored
    assert [reply.status_code for reply in both] == [200] * 6
    assert sent == [1, 3, 5, 7, 9, 11, 13, 15]  # each request saw every exchange before it: none interleaved
    assert [h["upstream_calls"] for h in health] == [4, 4]
    assert len(await RedisSessionStore(redis).load(session_id)) == 16


async def test_a_lock_held_longer_than_its_timeout_is_renewed_while_held(redis, redis_url):
    second_client = Redis.from_url(redis_url)
    holder = RedisSessionStore(redis, lock_timeout=1.0)
    other = RedisSessionStore(second_client, lock_wait=0.05)
    async with holder.lock("s"):
        for _ in range(4):  # well past lock_timeout in all
            await asyncio.sleep(0.4)
            with pytest.raises(SessionLockTimeout):
                async with other.lock("s"):
                    pass
    async with other.lock("s"):
        pass
    await second_client.aclose()
