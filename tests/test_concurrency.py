"""gather_bounded driving the real AsyncAnthropic client against the offline Claude."""

import asyncio
import gc
import itertools
import warnings

import anthropic
import pytest
from anthropic import AsyncAnthropic

from helpers.concurrency import gather_bounded

MODEL = "claude-haiku-5-5"


def ask(client: AsyncAnthropic, n: int):
    """A coroutine (not yet running) asking for n * 7."""
    question = {"role": "user", "content": f"What is {n} * 7?"}
    return client.messages.create(model=MODEL, max_tokens=50, messages=[question])


def peak_in_flight(records) -> int:
    """The largest number of requests the server was handling at the same time."""
    edges = sorted([(r.at, 1) for r in records] + [(r.finished_at, -1) for r in records])
    return max(itertools.accumulate(step for _, step in edges))


def run(coroutine):
    return asyncio.run(coroutine)


def test_results_come_back_in_input_order_whatever_finishes_first(server):
    async def main():
        async with AsyncAnthropic(api_key="sk-ant-test", base_url=server.url) as client:
            # Longer replies for the first questions, so they finish last.
            server.configure(per_token_ms=3)
            prompts = [f"Count to {60 - 5 * i}" for i in range(10)]
            coroutines = [client.messages.create(model=MODEL, max_tokens=500,
                                                 messages=[{"role": "user", "content": p}]) for p in prompts]
            return await gather_bounded(coroutines, limit=10)

    replies = run(main())
    assert [r.content[0].text.split(", ")[-1] for r in replies] == [f"{60 - 5 * i}." for i in range(10)]
    finished = sorted(server.requests, key=lambda r: r.finished_at)
    assert finished[0].body["messages"][0]["content"] != "Count to 60"  # they really finished out of order


@pytest.mark.parametrize("limit", [1, 3])
def test_never_more_than_limit_in_flight(server, limit):
    server.configure(first_token_ms=30)

    async def main():
        async with AsyncAnthropic(api_key="sk-ant-test", base_url=server.url) as client:
            return await gather_bounded((ask(client, n) for n in range(9)), limit=limit)

    replies = run(main())
    assert [r.content[0].text for r in replies] == [f"{n} * 7 = {n * 7}." for n in range(9)]
    assert peak_in_flight(server.requests) == limit


def test_return_exceptions_keeps_each_failure_in_its_slot(server):
    server.fail_next(529, times=2)

    async def main():
        async with AsyncAnthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as client:
            return await gather_bounded([ask(client, n) for n in range(4)], limit=1, return_exceptions=True)

    results = run(main())
    assert [type(r).__name__ for r in results] == ["OverloadedError", "OverloadedError", "Message", "Message"]
    assert results[3].content[0].text == "3 * 7 = 21."


def test_first_failure_is_raised_and_the_rest_never_sent(server):
    server.fail_next(400)
    calls_done = []

    async def main():
        async with AsyncAnthropic(api_key="sk-ant-test", base_url=server.url) as client:
            await gather_bounded([ask(client, n) for n in range(5)], limit=1, on_done=lambda: calls_done.append(1))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(anthropic.BadRequestError):
            run(main())
        gc.collect()
    assert len(server.requests) == 1
    assert len(calls_done) == 1
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


def test_on_done_is_called_once_per_call(server):
    done = []

    async def main():
        async with AsyncAnthropic(api_key="sk-ant-test", base_url=server.url) as client:
            return await gather_bounded([ask(client, n) for n in range(6)], limit=2, on_done=lambda: done.append(1))

    assert len(run(main())) == 6
    assert len(done) == 6


def test_tasks_and_a_zero_limit_are_refused_without_sending_anything(server):
    async def main(make_task: bool, limit: int):
        async with AsyncAnthropic(api_key="sk-ant-test", base_url=server.url) as client:
            first = asyncio.ensure_future(ask(client, 1)) if make_task else ask(client, 1)
            try:
                await gather_bounded([first, ask(client, 2)], limit=limit)
            finally:
                if make_task:
                    first.cancel()

    with pytest.raises(TypeError, match="not tasks"):
        run(main(make_task=True, limit=2))
    with pytest.raises(ValueError, match="at least 1"):
        run(main(make_task=False, limit=0))
    assert len(server.requests) == 0
