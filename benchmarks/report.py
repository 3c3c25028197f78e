"""The benchmark figures as a markdown table (with an earlier run's figures beside them, if given) and as plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# (label, path into bench.json, target text, check of the value or None, unit)
Row = tuple[str, tuple[str, ...], str, Any, str]
ROWS: list[Row] = [
    ("create, in-thread: offline / raw floor (canned JSON)", ("overhead", "in_thread", "create", "offline_over_raw"),
     "<= 1.4x", lambda v: v <= 1.4, "x"),
    ("create, in-thread: offline / uvicorn+Starlette", ("overhead", "in_thread", "create", "offline_over_starlette"),
     "-", None, "x"),
    ("create, own process: offline / raw floor (canned JSON)",
     ("overhead", "own_process", "create", "offline_over_raw"), "<= 1.4x", lambda v: v <= 1.4, "x"),
    ("create, own process: offline / uvicorn+Starlette",
     ("overhead", "own_process", "create", "offline_over_starlette"), "-", None, "x"),
    ("stream, in-thread: offline / canned SSE floor", ("overhead", "in_thread", "stream", "offline_over_raw"),
     "<= 1.6x", lambda v: v <= 1.6, "x"),
    ("stream, in-thread: offline / uvicorn+Starlette", ("overhead", "in_thread", "stream", "offline_over_starlette"),
     "-", None, "x"),
    ("stream, own process: offline / canned SSE floor", ("overhead", "own_process", "stream", "offline_over_raw"),
     "<= 1.6x", lambda v: v <= 1.6, "x"),
    ("stream, own process: offline / uvicorn+Starlette",
     ("overhead", "own_process", "stream", "offline_over_starlette"), "-", None, "x"),
    ("create, own process: offline / baseline tree (BENCH_BASELINE)",
     ("overhead", "own_process", "create", "offline_over_baseline"), "< 1", lambda v: v < 1, "x"),
    ("stream, own process: offline / baseline tree (BENCH_BASELINE)",
     ("overhead", "own_process", "stream", "offline_over_baseline"), "< 1", lambda v: v < 1, "x"),
    ("server time per message of history", ("scaling", "us_per_message"), "-", None, " µs"),
    ("  ... as a share of a 1-message request", ("scaling", "message_share_of_request"), "-", None, ""),
    ("server time per tool defined", ("scaling", "us_per_tool"), "-", None, " µs"),
    ("  ... as a share of a 1-message request", ("scaling", "tool_share_of_request"), "-", None, ""),
    ("1 connection: requests/s, offline / floor", ("load", "connections_1", "ratios", "throughput_offline_over_raw"),
     "-", None, "x"),
    ("10 connections: requests/s, offline / floor",
     ("load", "connections_10", "ratios", "throughput_offline_over_raw"), "-", None, "x"),
    ("100 connections: requests/s, offline / floor",
     ("load", "connections_100", "ratios", "throughput_offline_over_raw"), "-", None, "x"),
    ("100 connections: requests/s", ("load", "connections_100", "offline", "requests_per_s"), "-", None, ""),
    ("100 connections: p50", ("load", "connections_100", "offline", "p50_ms"), "-", None, " ms"),
    ("100 connections: p99", ("load", "connections_100", "offline", "p99_ms"), "<= 40 ms", lambda v: v <= 40, " ms"),
    ("100 connections: p99, frozen / unfrozen import-time objects",
     ("load", "connections_100", "ratios", "p99_offline_over_unfrozen"), "-", None, "x"),
    ("100 connections: p99, offline / baseline tree", ("load", "connections_100", "ratios",
                                                       "p99_offline_over_baseline"), "< 1", lambda v: v < 1, "x"),
    ("100 connections: requests/s, offline / baseline tree",
     ("load", "connections_100", "ratios", "throughput_offline_over_baseline"), "> 1", lambda v: v > 1, "x"),
    ("async speedup, N=10 (ideal 10)", ("latency", "speedup", "offline", "speedup_n10"), "-", None, "x"),
    ("async speedup, N=50 (ideal 50)", ("latency", "speedup", "offline", "speedup_n50"), ">= 39x",
     lambda v: v >= 39, "x"),
    ("  ... raw floor waiting the same 200 ms (same client)", ("latency", "speedup", "raw", "speedup_n50"), "-", None,
     "x"),
    ("async speedup, N=200 (ideal 200)", ("latency", "speedup", "offline", "speedup_n200"), ">= 75x",
     lambda v: v >= 75, "x"),
    ("  ... raw floor waiting the same 200 ms (same client)", ("latency", "speedup", "raw", "speedup_n200"), "-", None,
     "x"),
    ("time to message_start / configured first_token_ms (150 ms)",
     ("latency", "first_token", 0, "first_over_configured"), "~1", None, "x"),
    ("whole stream / configured time (150 ms + 6 ms per token)",
     ("latency", "first_token", 0, "total_over_configured"), "~1", None, "x"),
    ("RSS of the server, full log", ("memory", "rss_full_log_mb"), "< 150 MB", lambda v: v < 150, " MB"),
    ("RSS after 10k requests of 40 KB", ("memory", "rss_after_10000_mb"), "< 150 MB", lambda v: v < 150, " MB"),
    ("RSS after 50k requests of 40 KB", ("memory", "rss_after_50000_mb"), "< 150 MB", lambda v: v < 150, " MB"),
    ("hostile: fuzzed bodies answered >= 500", ("hostile", "fuzz", "server_error"), "0", lambda v: v == 0, ""),
    ("hostile: fuzzed bodies with no answer", ("hostile", "fuzz", "no_answer"), "0", lambda v: v == 0, ""),
    ("hostile: answers outside the API's shape", ("hostile", "fuzz", "bad_shape"), "0", lambda v: v == 0, ""),
    ("hostile: worst listed crasher / normal Hello (server time)", ("hostile", "reply_time", "worst_ratio_to_normal"),
     "-", None, "x"),
    ("hostile: concurrent Hello / control Hello (worst)", ("hostile", "concurrent_hello", "worst_delay_ratio"),
     "<= 2x", lambda v: v <= 2, "x"),
    ("hostile: RSS growth after a 100 MB body", ("hostile", "memory", "growth_after_100mb_body_mb"), "< 100 MB",
     lambda v: v < 100, " MB"),
]


def get(figures: dict[str, Any] | None, path: tuple[Any, ...]) -> Any:
    value: Any = figures
    for key in path:
        if isinstance(value, dict):
            value = value.get(key, value.get(str(key)))
        elif isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return None
    return value


def _show(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:,}{unit}" if isinstance(value, int | float) else str(value)


def table(figures: dict[str, Any], before: dict[str, Any] | None = None) -> str:
    head = ["figure", "target"] + (["before"] if before else []) + ["measured", "met"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, path, target, check, unit in ROWS:
        value = get(figures, path)
        met = "-" if check is None or value is None else "yes" if check(value) else "NO"
        cells = [label, target] + ([_show(get(before, path), unit)] if before else []) + [_show(value, unit), met]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plots(figures: dict[str, Any], out: Path) -> None:
    """`overhead.png`, `scaling.png`, `load.png`, `speedup.png` and `memory.png` for the figures present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)

    if "overhead" in figures:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=False)
        for ax, mode in zip(axes, ("create", "stream"), strict=True):
            groups = ("in_thread", "own_process")
            kinds = ("offline", "starlette", "raw")
            for offset, kind in enumerate(kinds):  # the baseline tree, when measured, is in the table
                values = [figures["overhead"][g][mode]["median_ms"][kind] for g in groups]
                ax.bar([i + offset * 0.27 for i in range(2)], values, width=0.27, label=kind)
            ax.set_xticks([i + 0.27 for i in range(2)], ["server in-thread", "server in own process"])
            ax.set_ylabel("median ms per request (this run)")
            ax.set_title(f"messages.create{'(stream=True)' if mode == 'stream' else '()'} through the SDK")
            ax.legend()
        save(fig, "overhead.png")
    if "scaling" in figures:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, key, label in ((axes[0], "server_us_by_history", "messages of history"),
                               (axes[1], "server_us_by_tools", "tools defined")):
            series = figures["scaling"][key]
            xs, ys = [int(x) for x in series], list(series.values())
            ax.plot(xs, ys, "o-")
            ax.set_xlabel(label)
            ax.set_ylabel("server-side µs per request (median)")
            ax.set_ylim(bottom=0)
        axes[0].set_title(f"{figures['scaling']['us_per_message']} µs per message")
        axes[1].set_title(f"{figures['scaling']['us_per_tool']} µs per tool")
        save(fig, "scaling.png")
    if "load" in figures:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        levels = [k for k in figures["load"] if k.startswith("connections_")]
        xs = [int(k.split("_")[1]) for k in levels]
        kinds = [k for k in ("offline", "offline-unfrozen", "raw", "baseline") if k in figures["load"][levels[0]]]
        for kind, color in zip(kinds, ("C0", "C1", "C2", "C3"), strict=False):
            axes[0].plot(xs, [figures["load"][k][kind]["requests_per_s"] for k in levels], "o-", color=color,
                         label=kind)
            axes[1].plot(xs, [figures["load"][k][kind]["p99_ms"] for k in levels], "o-", color=color,
                         label=f"{kind} p99")
            axes[1].plot(xs, [figures["load"][k][kind]["p50_ms"] for k in levels], "x--", color=color,
                         label=f"{kind} p50")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_xticks(xs, [str(x) for x in xs])
            ax.set_xlabel("concurrent connections")
            ax.legend(fontsize=7)
        axes[0].set_ylabel("requests/s (median of rounds)")
        axes[0].set_yscale("log")
        axes[1].set_ylabel("latency, ms")
        axes[1].set_yscale("log")
        save(fig, "load.png")
    if "latency" in figures:
        speedup = figures["latency"]["speedup"]
        sizes = sorted(int(k.removeprefix("speedup_n")) for k in speedup["offline"] if k.startswith("speedup_n"))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(sizes, sizes, "k:", label="ideal (N)")
        for kind, label in (("raw", "limit: raw floor, same client"), ("offline", "offline Claude")):
            ax.plot(sizes, [speedup[kind][f"speedup_n{n}"] for n in sizes], "o-", label=label)
        ax.set_xlabel("N requests at once (200 ms simulated each)")
        ax.set_ylabel("speedup over one after the other")
        ax.legend()
        save(fig, "speedup.png")
    if "memory" in figures:
        mem = figures["memory"]
        keys = ["rss_start_mb", "rss_full_log_mb", *(f"rss_after_{m}_mb" for m in mem["marks"])]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.bar(["start", "full log", *(f"{m // 1000}k" for m in mem["marks"])], [mem[k] for k in keys])
        ax.axhline(150, color="red", linestyle=":", label="150 MB")
        ax.set_ylabel("server RSS, MB")
        ax.set_title(f"requests of {mem['body_bytes'] // 1000} KB")
        ax.legend()
        save(fig, "memory.png")
