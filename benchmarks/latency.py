"""Simulated latency, as a lesson sees it through the SDK, against what the offline Claude is configured to take.

- Async speedup: with 200 ms of simulated time per reply, N requests one after the other (sync client; median of
  a few, times N) over N at once (`AsyncAnthropic`, `asyncio.gather`), for N = 10, 50, 200; against an in-thread
  offline Claude (as in a lesson) and against the raw floor that waits the same 200 ms, interleaved. The ideal is
  N; what keeps it from N is the client's own work per request. The offline Claude counts its simulated time from
  each request's arrival, so its own work overlaps the wait. Each N has its own client, as a program that sends N
  at once has N connections (the SDK's pool checks every idle connection for each request, so a pool left with
  200 would slow a batch of 50 by a fifth), and each timed batch follows an untimed one on the same client, as in
  a program that sends batches back to back (the pool drops connections idle for 5 s and keeps at most 100, so a
  batch after a pause would also measure opening connections).
- Time to first token: a stream's time to `message_start` and to its last event, over the configured
  `first_token_ms` and `first_token_ms + per_token_ms * output_tokens`, for two configurations.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from anthropic import Anthropic, AsyncAnthropic

from benchmarks import servers

DELAY_MS = 200.0
SIZES = (10, 50, 200)
TTFT_CONFIGS = ((150.0, 6.0), (500.0, 2.0))


def _speedups(urls: dict[str, str], rounds: int, sequential_n: int) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    sync = {kind: Anthropic(api_key="sk-ant-bench", base_url=url, max_retries=0) for kind, url in urls.items()}
    clients = {(kind, n): AsyncAnthropic(api_key="sk-ant-bench", base_url=url, max_retries=0)
               for kind, url in urls.items() for n in SIZES}
    body = servers.request_body(False)

    async def together(client: AsyncAnthropic, n: int) -> float:
        start = time.perf_counter()
        await asyncio.gather(*(client.messages.create(**body) for _ in range(n)))
        return time.perf_counter() - start

    single: dict[str, list[float]] = {kind: [] for kind in urls}
    concurrent: dict[str, dict[int, list[float]]] = {kind: {n: [] for n in SIZES} for kind in urls}
    try:
        for (_, n), client in clients.items():  # warm up: open the connections a batch of n needs
            loop.run_until_complete(together(client, n))
        kinds = list(urls)
        for index in range(rounds):
            for kind in kinds[index % 2:] + kinds[:index % 2]:
                for _ in range(sequential_n):
                    start = time.perf_counter()
                    sync[kind].messages.create(**body)
                    single[kind].append(time.perf_counter() - start)
                for n in SIZES:  # one batch to open the connections again (idle ones expire after 5 s), one timed
                    loop.run_until_complete(together(clients[kind, n], n))
                    concurrent[kind][n].append(loop.run_until_complete(together(clients[kind, n], n)))
    finally:
        for client in clients.values():
            loop.run_until_complete(client.close())
        loop.close()
    out: dict[str, Any] = {}
    for kind in urls:
        one = statistics.median(single[kind])
        out[kind] = {"single_request_ms": round(one * 1000, 1),
                     **{f"speedup_n{n}": round(n * one / statistics.median(concurrent[kind][n]), 1) for n in SIZES}}
    for n in SIZES:
        out[f"offline_over_raw_n{n}"] = round(out["offline"][f"speedup_n{n}"] / out["raw"][f"speedup_n{n}"], 2)
    return out


def _first_token(url: str, repeats: int) -> dict[str, Any]:
    client = Anthropic(api_key="sk-ant-bench", base_url=url, max_retries=0)
    first, total, output_tokens = [], [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        for event in client.messages.create(**servers.request_body(True)):
            if event.type == "message_start":
                first.append(time.perf_counter() - start)
            elif event.type == "message_delta":
                output_tokens = event.usage.output_tokens
        total.append(time.perf_counter() - start)
    return {"first": statistics.median(first), "total": statistics.median(total), "output_tokens": output_tokens}


def run(quick: bool = False) -> dict[str, Any]:
    from helpers.offline import start_server

    rounds, sequential_n, repeats = (2, 4, 3) if quick else (3, 6, 7)
    answers = servers.canned()
    figures: dict[str, Any] = {"delay_ms": DELAY_MS, "rounds": rounds, "sequential_per_round": sequential_n}
    with servers.in_thread("offline", answers, DELAY_MS) as offline, servers.in_thread("raw", answers, DELAY_MS) as raw:
        figures["speedup"] = _speedups({"offline": offline, "raw": raw}, rounds, sequential_n)
    ttft = []
    with start_server(per_token_ms=0) as server:
        for first_ms, per_token_ms in TTFT_CONFIGS:
            server.configure(first_token_ms=first_ms, per_token_ms=per_token_ms)
            seen = _first_token(server.url, repeats)
            configured_total = first_ms + per_token_ms * seen["output_tokens"]
            ttft.append({"first_token_ms": first_ms, "per_token_ms": per_token_ms,
                         "output_tokens": seen["output_tokens"],
                         "time_to_message_start_ms": round(seen["first"] * 1000, 1),
                         "first_over_configured": round(seen["first"] * 1000 / first_ms, 3),
                         "total_ms": round(seen["total"] * 1000, 1), "configured_total_ms": configured_total,
                         "total_over_configured": round(seen["total"] * 1000 / configured_total, 3)})
    figures["first_token"] = ttft
    return figures
