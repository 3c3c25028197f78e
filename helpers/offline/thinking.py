"""Thinking blocks: signatures the server can verify, and the API's rules for sending them back."""

from __future__ import annotations

from typing import Any

from .models import ModelSpec


def check_replay(messages: list[Any], *, thinking_on: bool, spec: ModelSpec) -> None:
    """Refuse (ApiError 400) a history whose thinking blocks break the API's replay rules."""
