"""Shared fixtures of the tests (the environment every test and notebook runs in is set by the root conftest.py).

`server` is a fresh offline Claude for each test, with simulated latency off; a module that wants one
server for all its tests (and resets its faults and log itself) defines its own.
"""

import pytest


@pytest.fixture
def server():
    """A fresh offline Claude (empty log, no faults, new id counters) with simulated latency off."""
    from helpers.offline import start_server

    with start_server(first_token_ms=0, per_token_ms=0) as running:
        yield running


@pytest.fixture(params=["httptools", "h11"])
def server_each_parser(request, monkeypatch):
    """`server`, once with uvicorn's httptools parser (used when installed) and once with its h11 fallback: the
    fault hooks that close connections live in the protocol, so each must hold on both."""
    from helpers.offline import server as module

    if request.param == "h11":
        monkeypatch.setattr(module, "HttpToolsProtocol", None)
    with module.start_server(first_token_ms=0, per_token_ms=0) as running:
        assert running._server.config.http.__mro__[1].__name__ == (
            "H11Protocol" if request.param == "h11" else "HttpToolsProtocol")
        yield running
