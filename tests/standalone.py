"""The offline Claude in its own process (`python -m helpers.offline`), for tests that need a server apart from
the test process: its memory measured on its own, clients in other languages, scripts run in live mode."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def listening_process(command: list[str], port: int, what: str, timeout_s: float = 30,
                      **popen: Any) -> Iterator[subprocess.Popen]:
    """Start `command` (which should listen on 127.0.0.1:`port`), yield the process once it listens, and stop it
    after (terminate, then kill after 10 s). Raises `RuntimeError` naming `what` if it exits or does not listen
    within `timeout_s` seconds. `popen`: more arguments for `subprocess.Popen`."""
    process = subprocess.Popen(command, **popen)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not listen within {timeout_s} s") from None
                time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def standalone_offline_claude(*options: str, output: int | IO[bytes] | IO[str] = subprocess.DEVNULL,
                              timeout_s: float = 30) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m helpers.offline` on a free loopback port with simulated latency off (plus `options`), run from
    the repository root with it on `PYTHONPATH`; yields (process, base URL) once it listens, and stops it after.

    `output` receives the server's stdout and stderr. Raises `RuntimeError` if it exits or does not listen within
    `timeout_s` seconds."""
    port = free_port()
    command = [sys.executable, "-m", "helpers.offline", "--port", str(port), "--first-token-ms", "0",
               "--per-token-ms", "0", *options]
    with listening_process(command, port, "the standalone offline Claude", timeout_s, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=output,
                           stderr=subprocess.STDOUT) as process:
        yield process, f"http://127.0.0.1:{port}"
