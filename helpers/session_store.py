"""Where the chat service keeps conversations between requests: in this process, or in Redis for several workers.

What it is for: ``helpers.service`` needs, per session id, the history (JSON-ready message dicts), a lock so
two requests on one session never interleave, and a short memory of answers by ``Idempotency-Key`` so a
retried request is stored once. ``SessionStore`` is the minimum a store must offer (``load``, ``save``); the
two stores here also issue unguessable ids, bound the number of sessions, and lock:

- ``InMemorySessionStore``: a dict in this process, least recently used session evicted past
  ``max_sessions``. Lost on restart, not shared between workers.
- ``RedisSessionStore``: redis-py's asyncio client. A session is one key with a TTL (``idle_ttl`` seconds
  since last use); a sorted set of last uses bounds the number (oldest evicted past ``max_sessions``); the
  lock is a Redis lock (``SET NX PX`` with a token, released by a script), so two uvicorn workers, or two
  hosts, never run one session's requests at once.

What it is not: authentication (a session id is a bearer secret: whoever holds it reads the history),
encryption at rest, or a transcript archive (history is truncated by the service before it is saved).
Taught by ``notebooks/09_fastapi_backend.ipynb``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, runtime_checkable

IDEMPOTENCY_TTL = 24 * 3600  # seconds an answer is replayed for a repeated Idempotency-Key (assumed policy)
MAX_IDEMPOTENCY_RECORDS = 10_000  # answers kept in memory for replay


def new_session_id() -> str:
    """An unguessable session id: 32 URL-safe characters from 24 random bytes (``secrets``)."""
    return secrets.token_urlsafe(24)


@runtime_checkable
class SessionStore(Protocol):
    """The minimum a store offers: a session's messages (JSON-ready dicts) loaded and saved whole."""

    async def load(self, session_id: str) -> list[dict[str, Any]]: ...
    async def save(self, session_id: str, messages: list[dict[str, Any]]) -> None: ...


class InMemorySessionStore:
    """Sessions in a dict of this process, the least recently used evicted past ``max_sessions``."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, not {max_sessions}")
        self.max_sessions = max_sessions
        self.sessions: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self.evicted = 0
        self._answers: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def create(self) -> str:
        """Issue a new, empty session and return its id."""
        session_id = new_session_id()
        await self.save(session_id, [])
        return session_id

    async def exists(self, session_id: str) -> bool:
        """True when the session is held (it may have been evicted since it was issued)."""
        return session_id in self.sessions

    async def load(self, session_id: str) -> list[dict[str, Any]]:
        """Return a copy of the session's messages ([] for a new session)."""
        if session_id in self.sessions:
            self.sessions.move_to_end(session_id)
        return list(self.sessions.get(session_id, []))

    async def save(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        """Replace the session's messages; evict the least recently used sessions past ``max_sessions``."""
        self.sessions[session_id] = list(messages)
        self.sessions.move_to_end(session_id)
        while len(self.sessions) > self.max_sessions:
            self.sessions.popitem(last=False)
            self.evicted += 1

    def lock(self, session_id: str) -> AbstractAsyncContextManager[Any]:
        """A lock held while one request runs on the session; freed when no request holds or waits for it."""
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    async def recall(self, session_id: str, key: str) -> dict[str, Any] | None:
        """The answer recorded for this session and Idempotency-Key, if still kept."""
        found = self._answers.get(f"{session_id}\n{key}")
        return found[1] if found and time.monotonic() - found[0] < IDEMPOTENCY_TTL else None

    async def remember(self, session_id: str, key: str, answer: dict[str, Any]) -> None:
        """Record the answer given for this session and Idempotency-Key."""
        self._answers[f"{session_id}\n{key}"] = (time.monotonic(), answer)
        while len(self._answers) > MAX_IDEMPOTENCY_RECORDS:
            self._answers.popitem(last=False)


class SessionLockTimeout(TimeoutError):
    """Another request held the session's lock for longer than the store waits."""


class RedisSessionStore:
    """Sessions in Redis (redis-py ``redis.asyncio``), shared by every worker that uses the same server and prefix.

    ``redis`` is a ``redis.asyncio.Redis`` client (``Redis.from_url("redis://...")``); the store does not close
    it. Keys: ``{prefix}session:{id}`` (JSON list, TTL ``idle_ttl`` s), ``{prefix}sessions`` (sorted set of
    last uses), ``{prefix}lock:{id}``, ``{prefix}answer:{id}:{key}``. ``lock_timeout`` (s) is how long a lock
    lives if its holder dies (a live holder renews it every third of that); ``lock_wait`` (s) is how long a
    request waits for it before ``SessionLockTimeout``.
    """

    def __init__(self, redis: Any, *, prefix: str = "chat:", max_sessions: int = 100_000,
                 idle_ttl: int = 7 * 24 * 3600, lock_timeout: float = 120.0, lock_wait: float = 150.0) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, not {max_sessions}")
        self.redis, self.prefix, self.max_sessions, self.idle_ttl = redis, prefix, max_sessions, idle_ttl
        self.lock_timeout, self.lock_wait = lock_timeout, lock_wait

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    async def create(self) -> str:
        """Issue a new, empty session and return its id."""
        session_id = new_session_id()
        await self.save(session_id, [])
        return session_id

    async def exists(self, session_id: str) -> bool:
        """True when the session is held (not expired, not evicted)."""
        return bool(await self.redis.exists(self._key(session_id)))

    async def load(self, session_id: str) -> list[dict[str, Any]]:
        """Return the session's messages ([] for a new or expired session)."""
        raw = await self.redis.get(self._key(session_id))
        return json.loads(raw) if raw else []

    async def save(self, session_id: str, messages: list[dict[str, Any]]) -> None:
        """Replace the session's messages, refresh its TTL, and evict the oldest sessions past ``max_sessions``."""
        index = f"{self.prefix}sessions"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(session_id), json.dumps(messages), ex=self.idle_ttl)
            pipe.zadd(index, {session_id: time.time()})
            pipe.zremrangebyscore(index, "-inf", time.time() - self.idle_ttl)  # expired keys leave the index
            await pipe.execute()
        excess = await self.redis.zcard(index) - self.max_sessions
        if excess > 0:
            oldest = await self.redis.zpopmin(index, excess)
            if oldest:
                await self.redis.delete(*(self._key(_text(member)) for member, _ in oldest))

    @asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[None]:
        """Hold the session's Redis lock while one request runs on it (every worker sharing the server obeys it)."""
        from redis.exceptions import LockError

        lock = self.redis.lock(f"{self.prefix}lock:{session_id}", timeout=self.lock_timeout,
                               blocking_timeout=self.lock_wait, sleep=0.02)
        if not await lock.acquire():
            raise SessionLockTimeout(f"session busy for over {self.lock_wait} s; try again")

        async def keep_alive() -> None:  # a long stream keeps the lock; a dead worker's lock still expires
            while True:
                await asyncio.sleep(self.lock_timeout / 3)
                await lock.reacquire()

        keeper = asyncio.create_task(keep_alive())
        try:
            yield
        finally:
            keeper.cancel()
            try:
                await lock.release()
            except LockError:  # it expired and may be someone else's now
                pass

    async def recall(self, session_id: str, key: str) -> dict[str, Any] | None:
        """The answer recorded for this session and Idempotency-Key, if still kept."""
        raw = await self.redis.get(f"{self.prefix}answer:{session_id}:{key}")
        return json.loads(raw) if raw else None

    async def remember(self, session_id: str, key: str, answer: dict[str, Any]) -> None:
        """Record the answer given for this session and Idempotency-Key (kept ``IDEMPOTENCY_TTL`` s)."""
        await self.redis.set(f"{self.prefix}answer:{session_id}:{key}", json.dumps(answer), ex=IDEMPOTENCY_TTL)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
