"""The offline Claude: a real HTTP server on 127.0.0.1 that speaks the Claude Messages API faithfully.

The official SDK talks to it exactly as it talks to the real API (set `ANTHROPIC_BASE_URL` to its `url`): it
validates requests with the API's rules and messages, answers deterministically and in context, streams with the
API's event order, and can be told from Python to fail the way the real service fails or to send any reply the API
can send (`reply_next`, `refuse_next`). `helpers.setup()` starts it for the lessons; `python -m helpers.offline`
runs it on its own. It is a stand-in for tests and lessons, not a model: its replies come from a few rules (see
`responder`).
"""

from .models import MODELS, ModelSpec
from .server import OfflineClaude, start_server
from .state import Options, RequestRecord

__all__ = ["MODELS", "ModelSpec", "OfflineClaude", "Options", "RequestRecord", "start_server"]
