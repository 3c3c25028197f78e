"""`make bench` (`python -m benchmarks [--quick] [--only NAME ...] [--before FILE] [--out DIR] [--report]`): run
every benchmark, write its figures to `<out>/bench.json`, a markdown table to `<out>/bench.md` and plots to
`<out>/*.png` (default out: `benchmarks/results/`, whose files are committed: the README's table; a `--quick` run
writes to `benchmarks/results/quick/`, which is not).

Every figure is a ratio of things measured side by side in this one run (interleaved rounds, medians), or a size
(RSS); absolute times are printed only next to the ratios they make. `--before FILE` adds the figures of an
earlier run's `bench.json` as a column of the table (each still measured in its own single run). `--report`
remakes the table and plots from `bench.json` without running anything. `--quick` shortens every benchmark
(fewer rounds, 300 fuzzed bodies, 2k/10k requests for memory) for a look in about two minutes; the full run takes
about four.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import latency, load, memory, overhead, report, scaling

RESULTS = Path(__file__).parent / "results"  # the committed figures of the last full run (the README's table)
QUICK = RESULTS / "quick"  # a quick run's, not committed
ROOT = Path(__file__).resolve().parent.parent


def hostile(quick: bool = False, out: Path = RESULTS) -> dict[str, Any]:
    """`benchmarks/hostile.py` in its own process (it prints its own table), its figures read back."""
    n = 300 if quick else 2_000
    subprocess.run([sys.executable, "-m", "benchmarks.hostile", "--n", str(n), "--out", str(out)], cwd=ROOT,
                   check=True)
    return json.loads((out / "hostile.json").read_text())


BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "overhead": overhead.run, "scaling": scaling.run, "load": load.run, "latency": latency.run,
    "memory": memory.run, "hostile": hostile}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests: a look, not the figures")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--before", type=Path, help="an earlier run's bench.json, shown as a column")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"folder for the results (default: {RESULTS}, committed; with --quick: {QUICK})")
    parser.add_argument("--report", action="store_true", help="run nothing: remake the table and plots of bench.json")
    args = parser.parse_args(argv)
    args.out = args.out or (QUICK if args.quick else RESULTS)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench.json"
    figures: dict[str, Any] = json.loads(path.read_text()) if (args.only or args.report) and path.exists() else {}
    for name in [] if args.report else args.only or BENCHMARKS:
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        run = BENCHMARKS[name]
        figures[name] = run(quick=args.quick, out=args.out) if name == "hostile" else run(quick=args.quick)
        figures[name]["seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps(figures[name]), file=sys.stderr, flush=True)
    if not args.report:
        figures["run"] = {"quick": args.quick, "python": platform.python_version(), "machine": platform.machine(),
                          "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        path.write_text(json.dumps(figures, indent=2) + "\n")
    before = json.loads(args.before.read_text()) if args.before else None
    table = report.table(figures, before)
    (args.out / "bench.md").write_text(table + "\n")
    report.plots(figures, args.out)
    print(table)
    if args.quick:
        print("\n(a quick run: fewer rounds and requests, so noisier figures than a full run's; NO here may be noise)")
    print(f"\nfigures: {path}; table: {args.out / 'bench.md'}; plots: {args.out}/*.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
