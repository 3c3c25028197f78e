"""The standalone offline Claude's memory under a long run of large requests: RSS after 10k and 50k requests of
about 40 KB each (40 turns of history), sent over 4 keep-alive connections, so the request log is full (1,000
records, 32 MB of bodies kept whole) long before the end. Figures: RSS in MB at start, after the warm-up, after
10k and 50k requests (quick: 2k and 10k), and the ratio of the last to the first full-log figure (1.0: flat).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import psutil

from benchmarks import servers

MB = 1024 * 1024
TURN = "Tell me again about the history of Paris, its bridges, its river and its people. " * 12


def large_body() -> bytes:
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"{i}: {TURN}"} for i in range(39)]
    return json.dumps(servers.request_body(False, history)).encode()


async def _send(url: str, count: int, connections: int = 4) -> None:
    host, port = url.removeprefix("http://").split(":")
    body = large_body()
    head = "".join(f"{k}: {v}\r\n" for k, v in servers.HEADERS.items())
    request = (f"POST /v1/messages HTTP/1.1\r\nhost: {host}:{port}\r\n{head}content-length: {len(body)}\r\n\r\n"
               ).encode() + body
    left = [count]

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while left[0] > 0:
                left[0] -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"unexpected answer: {head[:80]!r}")
                length = next(int(line[15:]) for line in head.lower().split(b"\r\n")
                              if line.startswith(b"content-length:"))
                await reader.readexactly(length)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(connections)))


def run(quick: bool = False) -> dict[str, Any]:
    marks = (2_000, 10_000) if quick else (10_000, 50_000)
    figures: dict[str, Any] = {"body_bytes": len(large_body())}
    with servers.own_process("offline") as (process, url):
        rss = psutil.Process(process.pid).memory_info
        figures["rss_start_mb"] = round(rss().rss / MB, 1)
        asyncio.run(_send(url, 1_200))  # the log is full: 1,000 records, 32 MB of bodies
        figures["rss_full_log_mb"] = round(rss().rss / MB, 1)
        sent = 1_200
        for mark in marks:
            asyncio.run(_send(url, mark - sent))
            sent = mark
            figures[f"rss_after_{mark}_mb"] = round(rss().rss / MB, 1)
    figures["last_over_full_log"] = round(figures[f"rss_after_{marks[-1]}_mb"] / figures["rss_full_log_mb"], 3)
    figures["marks"] = list(marks)
    return figures
