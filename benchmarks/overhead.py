"""What the offline Claude costs per request through the SDK, against transport floors that answer the same bytes.

For `messages.create` and for a stream (`messages.create(stream=True)`, every event read), the same SDK client
calls the offline Claude (latency off), bare uvicorn + Starlette, and a raw asyncio server (`benchmarks.servers`),
interleaved; each server runs in a thread of the measuring process (as in a notebook) and then in its own process
(as for a team's test suite; with `BENCH_BASELINE=/path/to/an/older/checkout`, that tree's offline Claude
too, side by side). Figures: median ms per request and the ratios offline / floor.
"""

from __future__ import annotations

import contextlib
from typing import Any

from anthropic import Anthropic

from benchmarks import servers
from benchmarks.timing import interleaved, median_ms, ratio

FLOORS = ("raw", "starlette")


def _calls(url: str) -> tuple[Any, Any]:
    client = Anthropic(api_key="sk-ant-bench", base_url=url, max_retries=0)

    def create() -> None:
        client.messages.create(**servers.request_body(False))

    def stream() -> None:
        for _ in client.messages.create(**servers.request_body(True)):
            pass

    return create, stream


def _figures(urls: dict[str, str], rounds: int, per_round: int) -> dict[str, Any]:
    calls = {kind: _calls(url) for kind, url in urls.items()}
    out: dict[str, Any] = {}
    for index, mode in enumerate(("create", "stream")):
        samples = interleaved({kind: pair[index] for kind, pair in calls.items()}, rounds, per_round)
        out[mode] = {"median_ms": {kind: median_ms(s) for kind, s in samples.items()},
                     **{f"offline_over_{other}": ratio(samples["offline"], samples[other])
                        for other in (*FLOORS, "baseline") if other in samples}}
    return out


def run(quick: bool = False) -> dict[str, Any]:
    rounds, per_round = (7, 20) if quick else (15, 40)
    answers = servers.canned()
    servers.save_canned(answers)
    figures: dict[str, Any] = {"rounds": rounds, "requests_per_round": per_round}
    with servers.in_thread("offline", answers) as offline, servers.in_thread("raw", answers) as raw, \
            servers.in_thread("starlette", answers) as starlette:
        figures["in_thread"] = _figures({"offline": offline, "raw": raw, "starlette": starlette}, rounds, per_round)
    with contextlib.ExitStack() as stack:
        kinds = ("offline", "raw", "starlette", *(("baseline",) if servers.BASELINE else ()))
        urls = {kind: stack.enter_context(servers.own_process(kind))[1] for kind in kinds}
        figures["own_process"] = _figures(urls, rounds, per_round)
    return figures
