"""The offline Claude: a real HTTP server on 127.0.0.1 that speaks the Claude Messages API faithfully.

The official SDK talks to it exactly as it talks to the real API (set `ANTHROPIC_BASE_URL` to its `url`): it
validates requests with the API's rules and messages, answers deterministically and in context, streams with the
API's event order, and can be told from Python to fail the way the real service fails or to send any reply the API
can send (`reply_next`, `refuse_next`). `helpers.setup()` starts it for the lessons; `python -m helpers.offline`
runs it on its own. It is a stand-in for tests and lessons, not a model: its replies come from a few rules (see
`responder`).
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use, so that `import helpers.offline.pytest_plugin` (or any submodule) does not load the server.
_WHERE = {"MODELS": "models", "ModelSpec": "models", "OfflineClaude": "server", "start_server": "server",
          "Options": "state", "RequestRecord": "state"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
