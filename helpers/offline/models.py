"""The models the offline Claude knows: the SDK's `Model` list, each with a context window and an output cap.

Not the live catalogue: the figures below are the offline Claude's own table, chosen to be of the right order
for each class of model, so that the limits lessons talk about (`max_tokens` caps, "prompt is too long") can be
shown offline. In live mode, `client.models.list()` returns the real figures (`max_input_tokens`, `max_tokens`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args

from anthropic.resources.messages.messages import DEPRECATED_MODELS
from anthropic.types import Model


@dataclass(frozen=True)
class ModelSpec:
    """What the offline Claude knows of one model id."""

    id: str
    display_name: str
    context_window: int  # input tokens the model accepts ("prompt is too long" above this)
    max_output: int  # the largest `max_tokens` the model accepts
    allows_prefill: bool  # a trailing assistant message; refused from Claude 4.6 on
    allows_sampling: bool  # temperature / top_p / top_k; refused from Opus 4.7 on
    deprecated: bool


def _version(model_id: str) -> tuple[int, int]:
    """(major, minor) of an id such as `claude-opus-4-8` or `claude-sonnet-5` (a date suffix is ignored)."""
    numbers = [int(n) for n in re.findall(r"-(\d{1,2})(?=-|$)", model_id)]
    return (numbers[0], numbers[1] if len(numbers) > 1 else 0) if numbers else (0, 0)


def _spec(model_id: str) -> ModelSpec:
    family = model_id.split("-")[1]  # opus, sonnet, haiku, fable, mythos
    major, minor = _version(model_id)
    if model_id == "claude-mythos-preview":
        major, minor = 5, 0
    big = family in {"opus", "mythos", "fable"}
    if major >= 5:
        context_window = 200_000 if family == "haiku" else 1_000_000
        max_output = 128_000 if big else 64_000
    else:
        context_window = 200_000
        max_output = 128_000 if (family == "opus" and (major, minor) >= (4, 6)) else 64_000
    version = f"{major}.{minor}" if minor else f"{major}"
    name = "Claude Mythos Preview" if model_id == "claude-mythos-preview" else f"Claude {family.title()} {version}"
    return ModelSpec(
        id=model_id,
        display_name=name,
        context_window=context_window,
        max_output=max_output,
        allows_prefill=(major, minor) < (4, 6),
        allows_sampling=major < 5 and not (family == "opus" and (major, minor) >= (4, 7)),
        deprecated=model_id in DEPRECATED_MODELS,
    )


def sdk_model_ids() -> list[str]:
    """The ids of the installed SDK's `Model` literal, in the SDK's order (newest first)."""
    literal = next(arg for arg in get_args(Model) if get_args(arg))
    return list(get_args(literal))


MODELS: dict[str, ModelSpec] = {model_id: _spec(model_id) for model_id in sdk_model_ids()}


def thinking_in_effect(body: dict, spec: ModelSpec) -> bool:
    """Whether a (validated) request runs with thinking on: its `thinking` field, else the model's default."""
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        return thinking.get("type") in ("enabled", "adaptive", "between_tools")
    return False


def model_info(model_id: str, context_window: int | None = None) -> dict[str, Any]:
    """The `ModelInfo` object `GET /v1/models/{id}` answers for a known id (`context_window` overrides the window)."""
    spec = MODELS[model_id]
    return {"type": "model", "id": spec.id, "display_name": spec.display_name,
            "created_at": "1970-01-01T00:00:00Z",  # the API's value for an unknown release date
            "lifecycle": "deprecated" if spec.deprecated else "active",
            "max_input_tokens": context_window or spec.context_window, "max_tokens": spec.max_output}


