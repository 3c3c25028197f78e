"""Many requests at once, never more than `limit` in flight: the bounded `asyncio.gather`.

What it is for: sending a batch of calls through one `AsyncAnthropic` client without bursting past your
rate limit. `gather_bounded` takes coroutines (such as `client.messages.create(...)`, which does nothing
until awaited), runs at most `limit` of them at a time, and returns their results in input order.
With `return_exceptions=True` a failed call leaves its exception in its slot and the batch goes on;
without it, the first failure cancels the calls still waiting or running and is raised. `on_done` is
called as each call finishes, for a progress bar (`on_done=bar.update`).

What it is not: a rate limiter (it bounds how many calls are in flight, not how many start per minute;
the two are tied by throughput = limit / latency, and `aiometer` or `aiolimiter` pace by the second),
a retry policy (the SDK's `max_retries` retries 429s and honours `retry-after`), nor a job queue that
survives the process (for large offline jobs, see the Message Batches API).

Taught by `notebooks/05_async_and_concurrency.ipynb`.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal, TypeVar, overload

T = TypeVar("T")


@overload
async def gather_bounded(aws: Iterable[Awaitable[T]], *, limit: int, return_exceptions: Literal[False] = ...,
                         on_done: Callable[[], object] | None = ...) -> list[T]: ...


@overload
async def gather_bounded(aws: Iterable[Awaitable[T]], *, limit: int, return_exceptions: Literal[True],
                         on_done: Callable[[], object] | None = ...) -> list[T | BaseException]: ...


async def gather_bounded(aws: Iterable[Awaitable[T]], *, limit: int, return_exceptions: bool = False,
                         on_done: Callable[[], object] | None = None) -> list[Any]:
    """Await every coroutine in `aws` with at most `limit` running at once; return the results in input order."""
    pending = list(aws)
    started = [aw for aw in pending if isinstance(aw, asyncio.Future)]
    if started or limit < 1:
        _close_unstarted(pending)
        if started:
            raise TypeError("gather_bounded needs coroutines, not tasks or futures: a task is already running, "
                            "so no limit could hold it back")
        raise ValueError(f"limit must be at least 1, not {limit}")
    semaphore = asyncio.Semaphore(limit)
    failed = False

    async def run(aw: Awaitable[T]) -> T:
        nonlocal failed
        try:
            async with semaphore:
                if failed:  # a call already failed and will be raised: start nothing new
                    raise asyncio.CancelledError
                try:
                    return await aw
                except Exception:
                    if not return_exceptions:
                        failed = True
                    raise
                finally:
                    if on_done is not None:
                        on_done()
        finally:
            _close_unstarted([aw])  # never started (cancelled, or skipped): no "never awaited" warning

    tasks = [asyncio.ensure_future(run(aw)) for aw in pending]
    try:
        return await asyncio.gather(*tasks, return_exceptions=return_exceptions)
    finally:
        for task in tasks:
            task.cancel()  # a no-op for the tasks that are done; stops the rest after a failure
        await asyncio.gather(*tasks, return_exceptions=True)


def _close_unstarted(aws: Iterable[Awaitable[Any]]) -> None:
    """Close coroutines that will never run (closing one that has finished does nothing)."""
    for aw in aws:
        if inspect.iscoroutine(aw):
            aw.close()
