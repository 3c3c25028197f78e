"""A pytest plugin that gives your own test suite the offline Claude as fixtures.

Taught in `12_testing_your_integration.ipynb`. Enable it in your project's root `conftest.py`:

    pytest_plugins = ["helpers.offline.pytest_plugin"]

(or run `pytest -p helpers.offline.pytest_plugin`). It is not loaded automatically: installing the package
changes nothing in a suite that does not ask for it, and a suite that asks for it starts no server until a test
uses one of these fixtures:

- `offline_claude`: a fresh offline Claude for each test (an `OfflineClaude`: `url`, `requests`, `reply_next`,
  `refuse_next`, `fail_next`, `fail_stream_next`, `drop_next`, `cut_stream_next`, `spend_cap_next`, ...);
- `offline_claude_shared`: one offline Claude for the whole session, cheaper for a large suite; before and after
  each test its queued faults and scripted replies are cancelled, its request log cleared and its options put back
  as they were (ids keep counting, and threads held for the SDK's tool runner are kept);
- `anthropic_client` / `async_anthropic_client`: an `Anthropic` / `AsyncAnthropic` pointed at `offline_claude`,
  with a placeholder key;
- `offline_claude_env`: `ANTHROPIC_BASE_URL` and `ANTHROPIC_API_KEY` set to `offline_claude` for the test, for code
  that builds its own `Anthropic()`;
- `offline_claude_options`: the options the servers start with (a dict; session-scoped; default: no simulated
  generation time).
  Override it in a conftest to change them, e.g. `return {"first_token_ms": 0, "per_token_ms": 0,
  "requests_per_minute": 50}`.

To run a whole suite on the shared server, override `offline_claude` in your conftest:
`@pytest.fixture` / `def offline_claude(offline_claude_shared): return offline_claude_shared`.

The servers bind to 127.0.0.1 on a free port and are stopped when their fixture ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # imported when a fixture runs, so that loading the plugin stays cheap
    from anthropic import Anthropic, AsyncAnthropic

    from helpers.offline.server import OfflineClaude

PLACEHOLDER_KEY = "sk-ant-offline-placeholder"  # the offline Claude accepts it; it can never be a real key
QUICK = {"first_token_ms": 0.0, "per_token_ms": 0.0}  # no simulated generation time: tests stay fast


def _start(options: dict[str, Any]) -> OfflineClaude:
    from helpers.offline.server import start_server

    return start_server(**options)


def _reset(server: OfflineClaude, options: Any) -> None:
    """Cancel queued faults and scripted replies, forget the request log, put the options back."""
    server.reset_faults()
    server.clear_requests()
    server.state.options = replace(options)


@pytest.fixture(scope="session")
def offline_claude_options() -> dict[str, Any]:
    """Options every offline Claude of the session starts with (see `helpers.offline.Options`)."""
    return dict(QUICK)


@pytest.fixture
def offline_claude(offline_claude_options: dict[str, Any]) -> Iterator[OfflineClaude]:
    """A fresh offline Claude for this test: empty log, nothing queued, ids counted from 1."""
    server = _start(offline_claude_options)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def _offline_claude_session(offline_claude_options: dict[str, Any]) -> Iterator[OfflineClaude]:
    server = _start(offline_claude_options)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def offline_claude_shared(_offline_claude_session: OfflineClaude) -> Iterator[OfflineClaude]:
    """The session's one offline Claude, reset before and after this test (faults, scripted replies, log,
    options)."""
    server = _offline_claude_session
    options = replace(server.options)
    _reset(server, options)
    try:
        yield server
    finally:
        _reset(server, options)


@pytest.fixture
def anthropic_client(offline_claude: OfflineClaude) -> Iterator[Anthropic]:
    """An `Anthropic` client pointed at `offline_claude` (the SDK's default retries and timeout)."""
    from anthropic import Anthropic

    client = Anthropic(api_key=PLACEHOLDER_KEY, base_url=offline_claude.url)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def async_anthropic_client(offline_claude: OfflineClaude) -> Iterator[AsyncAnthropic]:
    """An `AsyncAnthropic` client pointed at `offline_claude`; use it inside your async test (pytest-asyncio,
    anyio) or one `asyncio.run(...)`: its connections belong to the first event loop that uses it."""
    from anthropic import AsyncAnthropic

    yield AsyncAnthropic(api_key=PLACEHOLDER_KEY, base_url=offline_claude.url)


@pytest.fixture
def offline_claude_env(offline_claude: OfflineClaude, monkeypatch: pytest.MonkeyPatch) -> OfflineClaude:
    """Point a plain `Anthropic()` built by the code under test at `offline_claude` for this test."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", offline_claude.url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", PLACEHOLDER_KEY)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    return offline_claude

