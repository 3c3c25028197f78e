"""`make bench` (`python -m benchmarks`): run every benchmark, print its figures and write them to
`benchmarks/results/<name>.json`. Figures are ratios measured in one run, never thresholds checked by tests."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from benchmarks import offline_overhead

RESULTS = Path(__file__).parent / "results"
BENCHMARKS = {"offline_overhead": offline_overhead.run}


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    for name, run in BENCHMARKS.items():
        figures = {**run(), "python": platform.python_version(), "machine": platform.machine()}
        (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
        print(f"{name}: {json.dumps(figures)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
