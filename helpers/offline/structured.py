"""Structured outputs: the JSON Schema rules the API applies to `output_config.format` and strict tools, and
replies that validate against the schema."""

from __future__ import annotations

from typing import Any

from .models import ModelSpec


def check_request_schemas(body: dict[str, Any], *, betas: frozenset[str], spec: ModelSpec) -> None:
    """Refuse (ApiError 400) the schema features and combinations the API refuses; do nothing when all is well."""
