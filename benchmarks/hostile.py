"""`python -m benchmarks.hostile [--n 10000]`: the offline Claude under hostile input, in figures.

The figures of the "done when" list, measured in one run against a server with simulated latency off:
- fuzzing: N bodies from the same generator as `tests/test_offline_hostile.py` (a realistic body, one hostile
  mutation each), sent as raw bytes to one in-process server: answers >= 500, no answer (connection reset, stream
  cut, hang guard), error bodies outside the API's shape (and 200s that are not a valid Message, stream or token
  count), bodies the API refuses as invalid JSON that were accepted or refused otherwise;
- the listed bodies the API refuses (how many were accepted) and the listed valid crashers (how many got 200);
- server-side time of each listed slow body (from the server's request log: first byte handled to answer sent),
  worst of three, against a normal "Hello";
- a "Hello" sent while each listed valid crasher is handled by the standalone server, against a "Hello" sent the
  same way while another "Hello" is handled (the control): the delay ratio (median of three);
- RSS of the standalone server before and after eight refused ~10 MB bodies, and after one 100 MB body.

Writes `benchmarks/results/hostile.json` and prints a markdown table. Needs the test requirements (hypothesis).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2
import psutil
from hypothesis import HealthCheck, Phase, given, seed, settings

from helpers.offline import OfflineClaude, start_server
from tests.hostile_bodies import (
    HEADERS,
    HELLO,
    REFUSED,
    SLOW_CRASHERS,
    VALID_CRASHERS,
    fuzz_cases,
    hello_during,
    judge,
    refused_10mb_bodies,
    send,
    send_large,
)
from tests.standalone import standalone_offline_claude

RESULTS = Path(__file__).parent / "results"
MB = 1024 * 1024
KINDS = ("server_error", "no_answer", "bad_shape", "accepted_invalid")
EXAMPLES_KEPT = 3


def server_seconds(server: OfflineClaude) -> float | None:
    """Server-side time of the one request in the (just cleared) log, if it finished."""
    records = server.requests
    if len(records) == 1 and records[0].finished_at is not None:
        return records[0].finished_at - records[0].at
    return None


def fuzz(server: OfflineClaude, n: int, seed_value: int, timeout: float) -> dict[str, Any]:
    """Send `n` fuzzed bodies; count each kind of problem, overall and per mutation, with a few examples."""
    counts: Counter[str] = Counter()
    by_mutation: dict[str, Counter[str]] = {}
    examples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    times: dict[str, float] = {}
    client = httpx2.Client(base_url=server.url, limits=httpx2.Limits(max_keepalive_connections=0))
    started = time.perf_counter()

    @seed(seed_value)
    @settings(max_examples=n, phases=[Phase.generate], database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(case=fuzz_cases())
    def run(case: Any) -> None:
        server.clear_requests()
        outcome = send(client, case.path, case.raw, timeout)
        verdict = judge(case, outcome)
        counts["bodies"] += 1
        tally = by_mutation.setdefault(case.mutation, Counter())
        tally["bodies"] += 1
        spent = server_seconds(server)
        if spent is not None and spent > times.get(case.mutation, -1.0):
            times[case.mutation] = spent
        if "accepted_invalid" in verdict.problems and outcome.status is not None and outcome.status < 300:
            counts["not_json_answered_200"] += 1
        for kind, problem in verdict.problems.items():
            counts[kind] += 1
            tally[kind] += 1
            kept = examples[kind]
            if len(kept) < EXAMPLES_KEPT and all(e["mutation"] != case.mutation for e in kept):
                kept.append({"path": case.path, "shape": case.shape, "mutation": case.mutation,
                                       "detail": case.detail, "body": case.excerpt(300), "problem": problem[:400]})
        if counts["bodies"] % 500 == 0:
            print(f"  fuzz: {counts['bodies']:,} bodies, {time.perf_counter() - started:.0f} s, "
                  f"{dict((k, counts[k]) for k in KINDS)}", file=sys.stderr, flush=True)

    # One request with tools and an output format to each endpoint, stable and beta: the server imports jsonschema
    # on first use (about 0.8 s) and builds each endpoint's validator on first use (about 50 ms), one-time costs
    # that would otherwise be counted as the worst time of whichever fuzzed body came first.
    warm_up = {"model": "claude-haiku-5-5", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}],
               "tools": [{"name": "f", "input_schema": {"type": "object"}}],
               "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}
    for path in ("/v1/messages", "/v1/messages?beta=true", "/v1/messages/count_tokens",
                 "/v1/messages/count_tokens?beta=true"):
        client.post(path, json=warm_up, headers=HEADERS, timeout=timeout)
    try:
        run()
    finally:
        client.close()
    return {"bodies": counts["bodies"], **{kind: counts[kind] for kind in KINDS},
            "not_json_answered_200": counts["not_json_answered_200"],
            "seconds": round(time.perf_counter() - started, 1),
            "by_mutation": {m: dict(c) for m, c in sorted(by_mutation.items())},
            "worst_server_ms_by_mutation": {m: round(s * 1000, 1) for m, s in sorted(times.items())},
            "examples": examples}


def listed(server: OfflineClaude, timeout: float) -> dict[str, Any]:
    """The listed refusals (accepted? refused with the API's error?) and the listed valid crashers (200?)."""
    results: dict[str, Any] = {"refused": {}, "valid": {}}
    with httpx2.Client(base_url=server.url, limits=httpx2.Limits(max_keepalive_connections=0)) as client:
        for entry in REFUSED:
            outcome = send(client, entry.path, entry.raw, timeout)
            verdict = judge(entry.case(), outcome, entry.expected)
            results["refused"][entry.name] = {"status": outcome.status, "problems": verdict.problems}
        for entry in VALID_CRASHERS:
            outcome = send(client, entry.path, entry.raw, timeout)
            verdict = judge(entry.case(), outcome, must_succeed=True)
            results["valid"][entry.name] = {"status": outcome.status, "problems": verdict.problems}
    refused, valid = results["refused"].values(), results["valid"].values()
    results["refused_accepted"] = sum(r["status"] is not None and r["status"] < 300 for r in refused)
    results["refused_wrong"] = sum(bool(r["problems"]) for r in refused)
    results["valid_not_answered_200"] = sum(bool(r["problems"]) for r in valid)
    return results


def reply_times(server: OfflineClaude, timeout: float, repeats: int = 3) -> dict[str, Any]:
    """Server-side ms of a normal Hello (median of 30) and of each listed valid crasher (worst of `repeats`)."""
    with httpx2.Client(base_url=server.url, timeout=timeout) as client:
        normal = []
        for _ in range(30):
            server.clear_requests()
            send(client, HELLO.path, HELLO.raw, timeout)
            normal.append(server_seconds(server) or 0.0)
        worst: dict[str, float | None] = {}
        for entry in VALID_CRASHERS:
            spent = []
            for _ in range(repeats):
                server.clear_requests()
                send(client, entry.path, entry.raw, timeout)
                spent.append(server_seconds(server))
            known = [s for s in spent if s is not None]
            worst[entry.name] = round(max(known) * 1000, 1) if known else None
    normal_ms = statistics.median(normal) * 1000
    worst_ms = max((v for v in worst.values() if v is not None), default=0.0)
    return {"normal_hello_ms": round(normal_ms, 2), "worst_ms": worst, "worst_overall_ms": worst_ms,
            "worst_ratio_to_normal": round(worst_ms / normal_ms, 1) if normal_ms else None}


def hello_seconds(client: httpx2.Client, timeout: float) -> float:
    return send(client, HELLO.path, HELLO.raw, timeout).seconds


def concurrent_hello(timeout: float, repeats: int = 3) -> dict[str, Any]:
    """Per listed valid crasher: a Hello's time while the crasher is handled, over a Hello's time while another
    Hello is handled (the control: the same procedure around a normal request). Medians."""
    ratios: dict[str, float] = {}
    with standalone_offline_claude() as (_, url), httpx2.Client(base_url=url, timeout=timeout) as client:
        for _ in range(5):
            hello_seconds(client, timeout)
        normal = statistics.median(hello_during(url, client, HELLO, timeout)[0].seconds for _ in range(15))
        for entry in VALID_CRASHERS:
            samples = [hello_during(url, client, entry, timeout)[0].seconds for _ in range(repeats)]
            ratios[entry.name] = round(statistics.median(samples) / normal, 1)
    return {"control_hello_ms": round(normal * 1000, 2), "delay_ratio": ratios,
            "worst_delay_ratio": max(ratios.values())}


def memory(timeout: float) -> dict[str, Any]:
    """RSS of the standalone server: before, after eight refused ~10 MB bodies, after a 100 MB body; and the peak."""
    with standalone_offline_claude() as (process, url), httpx2.Client(base_url=url, timeout=timeout) as client:
        rss = psutil.Process(process.pid).memory_info
        hello_seconds(client, timeout)
        peak = [rss().rss]
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.05):
                peak.append(rss().rss)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        before = rss().rss
        statuses = [send(client, HELLO.path, raw, timeout).status for raw in refused_10mb_bodies()]
        after_refused = rss().rss
        status_large, _ = send_large(url, HELLO.path, 100_000_000, timeout)
        after_large = rss().rss
        done.set()
        watcher.join()
    return {"rss_before_mb": round(before / MB), "rss_after_8_refused_10mb_mb": round(after_refused / MB),
            "rss_after_100mb_body_mb": round(after_large / MB), "rss_peak_mb": round(max(peak) / MB),
            "growth_after_8_refused_mb": round((after_refused - before) / MB),
            "growth_after_100mb_body_mb": round((after_large - before) / MB),
            "statuses_10mb": statuses, "status_100mb": status_large}


def table(figures: dict[str, Any]) -> str:
    fz, ls, rt, ch, mem = (figures[k] for k in ("fuzz", "listed", "reply_time", "concurrent_hello", "memory"))
    patho = fz["worst_server_ms_by_mutation"].get("pathological_text", 0.0)
    rows = [
        (f"fuzzed bodies answered >= 500 (of {fz['bodies']:,})", "0", fz["server_error"], fz["server_error"] == 0),
        ("fuzzed bodies with no answer (reset, cut stream)", "0", fz["no_answer"], fz["no_answer"] == 0),
        ("error bodies outside the API's shape (5xx included), malformed 200s", "0", fz["bad_shape"],
         fz["bad_shape"] == 0),
        ("fuzzed non-JSON bodies (bad unicode, NaN, ...) not refused as invalid JSON", "0", fz["accepted_invalid"],
         fz["accepted_invalid"] == 0),
        ("  ... of which answered 200", "0", fz["not_json_answered_200"], fz["not_json_answered_200"] == 0),
        (f"listed refused bodies accepted (of {len(REFUSED)})", "0", ls["refused_accepted"],
         ls["refused_accepted"] == 0),
        (f"listed refused bodies without the API's 400 (of {len(REFUSED)})", "0", ls["refused_wrong"],
         ls["refused_wrong"] == 0),
        (f"listed valid crashers not answered 200 (of {len(VALID_CRASHERS)})", "0", ls["valid_not_answered_200"],
         ls["valid_not_answered_200"] == 0),
        ("worst server-side time of a fuzzed pathological text", "~50 ms", f"{patho:,.1f} ms", patho <= 50),
        ("worst server-side time of a listed valid crasher (crashed ones have none)", "~50 ms",
         f"{rt['worst_overall_ms']:,.1f} ms", rt["worst_overall_ms"] <= 50),
        ("  ... over a normal Hello's", "-", f"{rt['worst_ratio_to_normal']:,}x ({rt['normal_hello_ms']} ms)", None),
        ("concurrent Hello's time over the control Hello's (worst)", "<= 2x", f"{ch['worst_delay_ratio']:,}x",
         ch["worst_delay_ratio"] <= 2),
        ("RSS growth after eight refused 10 MB bodies", "< 100 MB", f"{mem['growth_after_8_refused_mb']} MB",
         mem["growth_after_8_refused_mb"] < 100),
        ("RSS growth after a 100 MB body too", "< 100 MB", f"{mem['growth_after_100mb_body_mb']} MB "
         f"({mem['status_100mb']})", mem["growth_after_100mb_body_mb"] < 100),
    ]
    lines = ["| figure | done when | measured | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {target} | {value} | {'-' if met is None else 'yes' if met else 'NO'} |"
              for name, target, value, met in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hostile", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="fuzzed bodies to send (default: 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the body generator (default: 0)")
    parser.add_argument("--timeout", type=float, default=120.0, help="hang guard per request, in s (default: 120)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"folder for hostile.json (default: {RESULTS})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with start_server(first_token_ms=0, per_token_ms=0) as server:
        logging.getLogger("uvicorn.error").setLevel(logging.CRITICAL)  # its tracebacks would bury the table
        print(f"fuzzing with {args.n:,} bodies...", file=sys.stderr, flush=True)
        figures: dict[str, Any] = {"fuzz": fuzz(server, args.n, args.seed, args.timeout)}
        print("listed bodies and reply times...", file=sys.stderr, flush=True)
        figures["listed"] = listed(server, args.timeout)
        figures["reply_time"] = reply_times(server, args.timeout)
    print("concurrent Hello and memory (standalone server)...", file=sys.stderr, flush=True)
    figures["concurrent_hello"] = concurrent_hello(args.timeout)
    figures["memory"] = memory(args.timeout)
    figures.update(seed=args.seed, seconds=round(time.perf_counter() - started, 1),
                   python=platform.python_version(), machine=platform.machine())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hostile.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(table(figures))
    for kind, examples in figures["fuzz"]["examples"].items():
        for example in examples:
            print(f"- {kind}: {example['shape']} {example['path']}, {example['mutation']}: {example['detail']}\n"
                  f"  {example['problem'][:200]}")
    print(f"\n(slow bodies: {', '.join(sorted(SLOW_CRASHERS))}; figures in {args.out / 'hostile.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
