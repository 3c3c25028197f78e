"""Shared fixtures of the tests (the environment every test and notebook runs in is set by the root conftest.py).

`server` is a fresh offline Claude for each test, with simulated latency off; a module that wants one
server for all its tests (and resets its faults and log itself) defines its own.
"""

import threading

import pytest

_stopping: list[threading.Thread] = []  # servers whose tests are over, stopping in the background


@pytest.fixture
def server():
    """A fresh offline Claude (empty log, no faults, new id counters) with simulated latency off.

    After the test it stops in the background: uvicorn takes 0.1-0.2 s to stop (it checks for the signal every
    0.1 s, then gives open connections 0.1 s), which hundreds of tests would otherwise spend waiting. The test
    that follows gets its own server on another port; every server has stopped before the session ends.
    """
    from helpers.offline import start_server

    running = start_server(first_token_ms=0, per_token_ms=0)
    try:
        yield running
    finally:
        stopping = threading.Thread(target=running.stop, name="offline-claude-stop", daemon=True)
        stopping.start()
        _stopping.append(stopping)


def pytest_sessionfinish(session, exitstatus):
    """Wait for the servers still stopping."""
    for stopping in _stopping:
        stopping.join(timeout=15)
