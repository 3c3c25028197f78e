"""Measuring side by side: interleaved rounds of every contender, medians, ratios. Absolute times from one run
are shown only next to the ratios they make; comparing them across runs (on a shared machine) means nothing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int, per_round: int,
                warmup: int = 1) -> dict[str, list[float]]:
    """Per contender, the seconds of each call: calls alternate one by one (A, B, C, then B, C, A, ...), so a
    burst of load on the shared machine hits every contender alike; `rounds * per_round` calls each, after
    `warmup * per_round` unrecorded ones."""
    names = list(contenders)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range((warmup + rounds) * per_round):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            contenders[name]()
            if index >= warmup * per_round:
                samples[name].append(time.perf_counter() - start)
    return samples


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def ratio(numerator: list[float], denominator: list[float]) -> float:
    return round(statistics.median(numerator) / statistics.median(denominator), 2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]
