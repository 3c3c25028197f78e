"""How the offline Claude's own cost grows with a request: per message of history and per tool defined.

Requests with 1 to 161 messages of history (alternating turns of about 30 words) and with 0 to 64 tools (each
with a small JSON Schema) go over loopback to an in-thread offline Claude (latency off), interleaved. The cost is
the server-side time from the request log (first byte handled to answer composed), so the client is left out.
Figures: median µs per size, the least-squares slope (µs per message, per tool), and the slope as a share of a
one-message request's own cost (the ratio that says how much a message or a tool adds).
"""

from __future__ import annotations

import json
import statistics
from typing import Any

import httpx2

from benchmarks import servers

HISTORY = (1, 21, 41, 81, 161)
TOOLS = (0, 8, 16, 32, 64)
WORDS = ("the quick brown fox jumps over the lazy dog while the offline Claude answers every single question "
         "it is asked about Paris and its history ") * 1


def history(n: int) -> list[dict[str, Any]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": f"Turn {i}: {WORDS}"} for i in range(n)]


def tools(n: int) -> list[dict[str, Any]]:
    return [{"name": f"get_weather_{i}", "description": f"Weather for a city, variant {i}.",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"},
                                                               "unit": {"enum": ["celsius", "fahrenheit"]}},
                              "required": ["city"]}} for i in range(n)]


def slope(xs: tuple[int, ...], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def _server_us(server: Any, client: httpx2.Client, raw: bytes, n: int) -> float:
    server.clear_requests()
    for _ in range(n):
        client.post("/v1/messages", content=raw, headers=servers.HEADERS).raise_for_status()
    spent = [r.finished_at - r.at for r in server.requests if r.finished_at is not None]
    return statistics.median(spent) * 1e6


def _series(server: Any, client: httpx2.Client, bodies: dict[int, bytes], rounds: int, per_round: int
            ) -> dict[int, float]:
    samples: dict[int, list[float]] = {size: [] for size in bodies}
    sizes = list(bodies)
    for index in range(rounds + 1):
        for size in sizes[index % len(sizes):] + sizes[:index % len(sizes)]:
            spent = _server_us(server, client, bodies[size], per_round)
            if index:
                samples[size].append(spent)
    return {size: statistics.median(s) for size, s in samples.items()}


def run(quick: bool = False) -> dict[str, Any]:
    from helpers.offline import start_server

    rounds, per_round = (5, 10) if quick else (11, 20)
    by_history = {n: json.dumps(servers.request_body(False, history(n))).encode() for n in HISTORY}
    by_tools = {n: json.dumps(servers.request_body(False, tools=tools(n))).encode() for n in TOOLS}
    with start_server(first_token_ms=0, per_token_ms=0) as server, httpx2.Client(base_url=server.url) as client:
        per_history = _series(server, client, by_history, rounds, per_round)
        per_tools = _series(server, client, by_tools, rounds, per_round)
    base = per_history[1]
    us_message = slope(HISTORY, [per_history[n] for n in HISTORY])
    us_tool = slope(TOOLS, [per_tools[n] for n in TOOLS])
    return {"rounds": rounds, "requests_per_round": per_round,
            "server_us_by_history": {n: round(v, 1) for n, v in per_history.items()},
            "server_us_by_tools": {n: round(v, 1) for n, v in per_tools.items()},
            "us_per_message": round(us_message, 2), "us_per_tool": round(us_tool, 2),
            "one_message_request_us": round(base, 1),
            "message_share_of_request": round(us_message / base, 4), "tool_share_of_request": round(us_tool / base, 4)}
