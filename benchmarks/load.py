"""Throughput and latency under concurrent connections: 1, 10 and 100 keep-alive connections, each sending
`messages.create` bodies back to back for a fixed time, against servers in their own processes: the offline
Claude (latency off), the same without `gc.freeze()` at start (`offline-unfrozen`) and the raw asyncio floor.

The client is a minimal asyncio HTTP/1.1 client (the SDK's own cost would swamp the servers' at 100
connections); its process freezes its own import-time objects while it measures, alike for every server. Servers
take turns level by level, rounds interleaved. Figures: requests/s, p50 and p99 ms (over all rounds), and the
offline Claude's ratios to the floor and to its unfrozen self. Requests/s is the median over rounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import statistics
import time
from typing import Any

from benchmarks import servers
from benchmarks.timing import percentile

LEVELS = (1, 10, 100)
CONTENDERS = ("offline", "offline-unfrozen", "raw", *(("baseline",) if servers.BASELINE else ()))


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
                      go: asyncio.Event, until: list[float], latencies: list[float]) -> None:
    await go.wait()
    try:
        while time.perf_counter() < until[0]:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.lower().split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line[15:])
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"unexpected answer: {head[:80]!r}")
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _drive(url: str, connections: int, seconds: float) -> tuple[list[float], float]:
    """Open `connections` connections and send one request on each (not counted: a connection's first request
    pays its setup), then send back to back on all of them for `seconds`: (latencies, seconds elapsed)."""
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(servers.request_body(False)).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in servers.HEADERS.items())
    request = f"POST /v1/messages HTTP/1.1\r\nhost: {host}:{port}\r\n{head}content-length: {len(body)}\r\n\r\n"
    request_bytes = request.encode() + body
    opened = await asyncio.gather(*(asyncio.open_connection(host, int(port)) for _ in range(connections)))
    go, until = asyncio.Event(), [0.0]
    for _, writer in opened:  # one request each, to set the connection up
        writer.write(request_bytes)
    for reader, _ in opened:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line[15:]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:"))
        await reader.readexactly(length)
    latencies: list[float] = []
    tasks = [asyncio.ensure_future(_connection(r, w, request_bytes, go, until, latencies)) for r, w in opened]
    await asyncio.sleep(0)
    start = time.perf_counter()
    until[0] = start + seconds
    go.set()
    await asyncio.gather(*tasks)
    return latencies, time.perf_counter() - start


def run(quick: bool = False) -> dict[str, Any]:
    seconds, rounds = (0.3, 4) if quick else (0.4, 10)
    servers.save_canned(servers.canned())
    gc.collect()
    gc.freeze()
    results: dict[str, Any] = {"seconds_per_round": seconds, "rounds": rounds}
    try:
        with contextlib.ExitStack() as stack:
            urls = {kind: stack.enter_context(servers.own_process(kind))[1] for kind in CONTENDERS}
            for url in urls.values():  # warm up: first requests import and compile
                asyncio.run(_drive(url, 2, 0.3))
            for level in LEVELS:
                latencies: dict[str, list[float]] = {kind: [] for kind in CONTENDERS}
                throughput: dict[str, list[float]] = {kind: [] for kind in CONTENDERS}
                for index in range(rounds):
                    for kind in CONTENDERS[index % len(CONTENDERS):] + CONTENDERS[:index % len(CONTENDERS)]:
                        done, spent = asyncio.run(_drive(urls[kind], level, seconds))
                        latencies[kind] += done
                        throughput[kind].append(len(done) / spent)
                figures = {kind: {"requests_per_s": round(statistics.median(throughput[kind])),
                                  "p50_ms": round(percentile(latencies[kind], 50) * 1000, 2),
                                  "p99_ms": round(percentile(latencies[kind], 99) * 1000, 2),
                                  "requests": len(latencies[kind])} for kind in CONTENDERS}
                offline, unfrozen, raw = figures["offline"], figures["offline-unfrozen"], figures["raw"]
                figures["ratios"] = {
                    "throughput_offline_over_raw": round(offline["requests_per_s"] / raw["requests_per_s"], 2),
                    "p99_offline_over_raw": round(offline["p99_ms"] / raw["p99_ms"], 2),
                    "p99_offline_over_unfrozen": round(offline["p99_ms"] / unfrozen["p99_ms"], 2),
                    "throughput_offline_over_unfrozen": round(offline["requests_per_s"] / unfrozen["requests_per_s"],
                                                              2)}
                if "baseline" in figures:
                    figures["ratios"].update(
                        p99_offline_over_baseline=round(offline["p99_ms"] / figures["baseline"]["p99_ms"], 2),
                        p50_offline_over_baseline=round(offline["p50_ms"] / figures["baseline"]["p50_ms"], 2),
                        throughput_offline_over_baseline=round(
                            offline["requests_per_s"] / figures["baseline"]["requests_per_s"], 2))
                results[f"connections_{level}"] = figures
    finally:
        gc.unfreeze()
    return results
