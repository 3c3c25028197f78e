"""Shared pytest configuration.

The whole suite runs offline: CLAUDE_OFFLINE=1 is set at import, before any test or notebook
kernel starts (nbval kernels inherit this environment), so even a key in `.env` is never used.
`server` is a fresh offline Claude for each test, with simulated latency off; a module that wants one
server for all its tests (and resets its faults and log itself) defines its own.
"""

import os

import pytest

os.environ["CLAUDE_OFFLINE"] = "1"


@pytest.fixture
def server():
    """A fresh offline Claude (empty log, no faults, new id counters) with simulated latency off."""
    from helpers.offline import start_server

    with start_server(first_token_ms=0, per_token_ms=0) as running:
        yield running
