"""Run every lesson top to bottom in LIVE mode against a rate-limited offline Claude, and say what it cost.

A lesson must complete "Run All" against the real API at 50 requests per minute with at most about 60 requests.
This harness checks that without a key: it starts an offline Claude in this process
(`helpers.offline.start_server(requests_per_minute=50)`, default simulated latency), and runs each notebook in a
fresh kernel whose environment is live mode: a real-looking key (`sk-ant-api03-...`), `ANTHROPIC_BASE_URL` pointing
at that server and `CLAUDE_OFFLINE` unset, so `setup()` says "live", offline-only cells do nothing, and every request
goes through the rate limit as a reader's would. Notebooks are read, never written back. From the repo root:

    make test-live-sim                                    # every lesson
    .venv/bin/python tests/live_sim.py --lesson 05        # one lesson (repeat --lesson for several)
    .venv/bin/python tests/live_sim.py --rpm 30           # another rate limit

For each lesson it prints whether it completed (cells tagged `raises-exception` must raise, any other error fails
it), the requests the server logged while it ran, how many of them were refused with 429, and the wall time
(kernel start included). A lesson fails if it did not complete or if it made more than `--max-requests` (60)
requests that were not refused with 429 (a 429 is not billed; the SDK retries it). Exit status 0 when every
lesson passed. It is not part of `make test`: with simulated latency and the limit it takes minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RPM = 50  # LESSONS.md: every lesson completes against a live-like API limited to 50 requests per minute
MAX_REQUESTS = 60  # LESSONS.md: at most about 60 requests in live mode
CELL_TIMEOUT_S = 300
# A key shaped like a real one (sk-ant-api03- and 86 characters), built here so that no key-shaped string sits in
# the source; the offline Claude accepts any sk-ant- key, and setup() checks only that it is printable ASCII.
LIVE_LOOKING_KEY = "sk-ant-api03-" + ("livesim" * 13)[:84] + "AA"
# What must not leak from the caller's environment into a live kernel: the offline switch, another key or endpoint.
DROPPED = ("CLAUDE_OFFLINE", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


@dataclass
class LessonRun:
    """What one lesson did in live mode. `requests` counts every request the server logged while it ran
    (`rate_limited` of them answered 429); `seconds` is the wall time, kernel start included."""

    name: str
    completed: bool
    requests: int
    rate_limited: int
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def billed(self) -> int:
        """Requests the API would have answered (a 429 is refused before any work)."""
        return self.requests - self.rate_limited


def kernel_environment(base_url: str) -> dict[str, str]:
    """This process's environment, turned live: the key, the base URL, no offline switch, the repo importable,
    loopback out of any proxy."""
    env = {name: value for name, value in os.environ.items() if name not in DROPPED}
    no_proxy = [host for host in env.get("NO_PROXY", "").split(",") if host.strip()]
    env.update(
        ANTHROPIC_API_KEY=LIVE_LOOKING_KEY,
        ANTHROPIC_BASE_URL=base_url,
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        NO_PROXY=",".join(dict.fromkeys([*no_proxy, "127.0.0.1", "localhost"])),
    )
    env["no_proxy"] = env["NO_PROXY"]
    return env


def tagged_to_raise(cell: Any) -> bool:
    return cell.cell_type == "code" and "raises-exception" in cell.metadata.get("tags", [])


def cell_errors(nb: nbformat.NotebookNode) -> list[str]:
    """`code cell N: Name: message` for every error output of a cell not tagged `raises-exception`."""
    errors = []
    for index, cell in enumerate(cell for cell in nb.cells if cell.cell_type == "code"):
        for output in cell.get("outputs", []):
            if output.output_type == "error" and not tagged_to_raise(cell):
                errors.append(f"code cell {index}: {output.ename}: {output.evalue}"[:300])
    return errors


def unraised(nb: nbformat.NotebookNode) -> list[str]:
    """`code cell N` for every cell tagged `raises-exception` that ran without raising."""
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    return [f"code cell {index} is tagged raises-exception but did not raise"
            for index, cell in enumerate(code)
            if tagged_to_raise(cell) and cell.get("execution_count") is not None
            and not any(output.output_type == "error" for output in cell.outputs)]


def setup_line(nb: nbformat.NotebookNode) -> str:
    """The first line the first code cell printed (setup()'s line, when the lesson starts as it should)."""
    first = next((cell for cell in nb.cells if cell.cell_type == "code"), None)
    text = "".join(output.get("text", "") for output in (first.outputs if first else [])
                   if output.output_type == "stream" and output.get("name") == "stdout")
    return text.splitlines()[0] if text.strip() else ""


def run_lesson(path: Path, server: Any, cell_timeout: int = CELL_TIMEOUT_S) -> LessonRun:
    """Execute one notebook in a fresh live kernel against `server` (an OfflineClaude); never write it back."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":  # forget the committed offline run: only this run's outputs count
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, kernel_name="python3", timeout=cell_timeout, store_widget_state=False,
                            resources={"metadata": {"path": str(path.parent)}})
    server.clear_requests()
    problems: list[str] = []
    started = time.perf_counter()
    try:
        client.execute(env=kernel_environment(server.url))
    except CellExecutionError:
        pass  # the error is in the cell's outputs; cell_errors() reports it
    except CellTimeoutError:
        problems.append(f"a cell ran longer than {cell_timeout} s")
    except DeadKernelError as error:
        problems.append(f"the kernel died: {error}")
    seconds = time.perf_counter() - started
    log = server.requests
    line = setup_line(nb)
    if not line.startswith("Claude API: live"):
        problems.append(f"setup() did not go live (a CLAUDE_OFFLINE=1 in .env?): {line!r}")
    problems += cell_errors(nb) + unraised(nb)
    not_run = sum(1 for cell in nb.cells if cell.cell_type == "code" and cell.get("execution_count") is None)
    if not_run and not problems:
        problems.append(f"{not_run} code cells did not run")
    return LessonRun(name=path.name, completed=not problems, requests=len(log),
                     rate_limited=sum(1 for record in log if record.status == 429), seconds=seconds,
                     problems=problems)


def verdict(run: LessonRun, max_requests: int = MAX_REQUESTS) -> list[str]:
    """Why the lesson fails live mode (empty when it passes): it did not complete, or it cost too many requests."""
    problems = list(run.problems)
    if run.billed > max_requests:
        problems.append(f"{run.billed} requests (not counting 429s), more than {max_requests}")
    return problems


def table(runs: list[LessonRun], max_requests: int) -> str:
    rows = [f"{'lesson':<34} {'completed':>9} {'requests':>8} {'429s':>5} {'time':>8}  verdict"]
    for run in runs:
        problems = verdict(run, max_requests)
        rows.append(f"{run.name:<34} {'yes' if run.completed else 'NO':>9} {run.requests:>8} {run.rate_limited:>5} "
                    f"{run.seconds:>7.1f}s  {'ok' if not problems else 'FAIL'}")
        rows += [f"    - {problem}" for problem in problems]
    return "\n".join(rows)


def lesson_paths(numbers: list[str] | None) -> list[Path]:
    """The notebooks to run: all of notebooks/, or those whose name starts with each of `numbers` ("05" or "5")."""
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not numbers:
        return paths
    chosen = []
    for number in numbers:
        matches = [path for path in paths if path.name.startswith(f"{int(number):02d}_")]
        if not matches:
            raise SystemExit(f"no lesson {number} in {NOTEBOOKS}")
        chosen += matches
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests/live_sim.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lesson", action="append", metavar="NN", help="run only this lesson (repeatable)")
    parser.add_argument("--rpm", type=int, default=RPM, help=f"requests per minute the server allows ({RPM})")
    parser.add_argument("--max-requests", type=int, default=MAX_REQUESTS,
                        help=f"most requests (429s not counted) a lesson may make ({MAX_REQUESTS})")
    args = parser.parse_args(argv)
    paths = lesson_paths(args.lesson)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # run as a script, this file's folder (tests/) is on the path, not the root
    from helpers.offline import start_server

    runs = []
    with start_server(requests_per_minute=args.rpm) as server:
        print(f"Live simulation: {len(paths)} lessons, {args.rpm} requests per minute, at most "
              f"{args.max_requests} requests each, offline Claude at {server.url}", flush=True)
        for path in paths:
            run = run_lesson(path, server)
            runs.append(run)
            print(f"{run.name}: {'completed' if run.completed else 'NOT completed'}, {run.requests} requests, "
                  f"{run.rate_limited} 429s, {run.seconds:.1f} s", flush=True)
            for problem in run.problems:
                print(f"    - {problem}", flush=True)
    print()
    print(table(runs, args.max_requests))
    failed = [run.name for run in runs if verdict(run, args.max_requests)]
    print(f"\n{len(runs) - len(failed)} of {len(runs)} lessons pass live mode" +
          (f"; failing: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
