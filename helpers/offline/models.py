"""The models the offline Claude knows: one row per id of the SDK's `Model` literal, with the limits and rules of
today's API for that model (sources: `reference/api-2026-addendum.md`, which cites the docs pages).

Per model: context window and output cap (addendum §1.2, the "docs" column), whether `{"role": "system"}` messages
are accepted (§3), the thinking configurations accepted and refused with the API's texts (§5), whether a forced
`tool_choice` is refused (§4), whether non-default sampling parameters are refused (§10.4), prefill (§10.12),
structured-output support (§4), the minimum cacheable prompt (§7) and the Batch API ceiling with
`output-300k-2026-03-24` (§1.2). Rows or figures no source gives are marked "assumed" next to them.

Not the live catalogue: in live mode `client.models.list()` returns the real figures. `model_info()` serves these
rows in the shape of the SDK's `ModelInfo`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, get_args

from anthropic.resources.messages.messages import DEPRECATED_MODELS
from anthropic.types import Model

SystemRole = Literal["accept", "accept_ignore", "reject"]
ThinkingType = Literal["enabled", "adaptive", "disabled", "between_tools"]

# The API's texts for refused thinking configurations (docs: build-with-claude/thinking-troubleshooting, api/errors)
USE_ADAPTIVE = 'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
ENABLED_REFUSED = f'"thinking.type.enabled" is not supported for this model. {USE_ADAPTIVE}'
DISABLED_REFUSED = f'"thinking.type.disabled" is not supported for this model. {USE_ADAPTIVE}'
DISABLED_REFUSED_MYTHOS_PREVIEW = ('"thinking.type.disabled" is not supported for this model. Thinking defaults to '
                                   'adaptive mode when not specified; use "thinking.type.enabled" with '
                                   '"budget_tokens" for extended thinking.')
DISABLED_REFUSED_SONNET_5_5 = ('"thinking.type.disabled" is not supported for this model. Use '
                               '"thinking.type.between_tools" for the lowest thinking setting, or '
                               '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.')
BETWEEN_TOOLS_REFUSED = '"thinking.type.between_tools" is not supported for this model.'
ADAPTIVE_REFUSED = "adaptive thinking is not supported on this model"


@dataclass(frozen=True)
class Thinking:
    """A model's thinking configurations: those it accepts, whether thinking is on when the request says nothing,
    and the API's text for each refused `thinking.type` (every type not accepted has one)."""

    accepted: frozenset[str]
    default_on: bool
    refused: dict[str, str] = field(default_factory=dict, hash=False)

    def refusal(self, kind: str) -> str | None:
        """The API's 400 text for `thinking.type == kind`, or None when the model accepts it."""
        if kind in self.accepted:
            return None
        return self.refused.get(kind) or (BETWEEN_TOOLS_REFUSED if kind == "between_tools" else
                                          ADAPTIVE_REFUSED if kind == "adaptive" else ENABLED_REFUSED)


ADAPTIVE_ONLY_ON = Thinking(frozenset({"adaptive"}), True, {"enabled": ENABLED_REFUSED, "disabled": DISABLED_REFUSED})
ADAPTIVE_ONLY_OFF = Thinking(frozenset({"adaptive", "disabled"}), False, {"enabled": ENABLED_REFUSED})
ADAPTIVE_OR_EXTENDED_OFF = Thinking(frozenset({"adaptive", "enabled", "disabled"}), False)
EXTENDED_ONLY_OFF = Thinking(frozenset({"enabled", "disabled"}), False, {"adaptive": ADAPTIVE_REFUSED})


@dataclass(frozen=True)
class ModelSpec:
    """What the offline Claude knows of one model id. Figures are tokens."""

    id: str
    display_name: str
    context_window: int  # input tokens the model accepts ("prompt is too long" above this)
    max_output: int  # the largest `max_tokens` the model accepts
    thinking: Thinking
    system_role: SystemRole = "reject"  # a {"role": "system"} message: accepted, accepted and ignored, or refused
    forced_tool_choice: bool = True  # tool_choice "any"/"tool" accepted (refused on a few models, even by count_tokens)
    sampling_default_only: bool = False  # non-default temperature/top_p/top_k refused on every request
    allows_prefill: bool = False  # a final assistant message; refused from Claude 4.6 on, and on Mythos Preview
    structured_outputs: bool = True  # output_config.format and strict tools
    min_cacheable_tokens: int = 1024  # a shorter prompt is not cached (no error)
    batch_max_output: int | None = None  # `max_tokens` ceiling in a batch with output-300k-2026-03-24; None: none
    deprecated: bool = False
    assumed: bool = False  # the row or some of its figures are assumptions (see the table)
    release: str = "1970-01-01T00:00:00Z"  # the API's epoch value for an unknown release date

    @property
    def allows_sampling(self) -> bool:
        """Whether any temperature/top_p/top_k value may be sent (defaults are always accepted)."""
        return not self.sampling_default_only

    @property
    def line(self) -> str:
        """The model line: opus, sonnet, haiku, fable or mythos."""
        return self.id.split("-")[1]


M, K = 1_000_000, 1_000
FORCED_REFUSED = {"forced_tool_choice": False}
SAMPLING_REFUSED = {"sampling_default_only": True}
ROWS: dict[str, dict[str, Any]] = {
    # Fable 5.2, Mythos 5.2: no docs page read. 1M / 128K and Fable 5.1's thinking are assumed; system role "accept"
    # (docs: "Fable 5.x, Mythos 5.x"); sampling and forced tool use unknown, so accepted.
    "claude-fable-5-2": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_ON,
                             system_role="accept", min_cacheable_tokens=512, assumed=True),
    "claude-mythos-5-2": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_ON,
                              system_role="accept", min_cacheable_tokens=512, assumed=True),
    # Haiku 5.5: docs models/haiku-5-5/overview (1M / 128K, 300K batch quoted by a third party, released
    # 2026-10-07). Not in the thinking table: adaptive with effort; default off and `enabled` refused are assumed.
    "claude-haiku-5-5": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_OFF,
                             system_role="accept", min_cacheable_tokens=512, batch_max_output=300 * K,
                             assumed=True, release="2026-10-07T00:00:00Z"),
    # Sonnet 5.5: docs models/sonnet-5-5/overview; thinking: adaptive or between_tools, on by default
    "claude-sonnet-5-5": dict(context_window=1 * M, max_output=128 * K, system_role="accept",
                              thinking=Thinking(frozenset({"adaptive", "between_tools"}), True,
                                                {"enabled": ENABLED_REFUSED, "disabled": DISABLED_REFUSED_SONNET_5_5}),
                              min_cacheable_tokens=512, batch_max_output=300 * K, **FORCED_REFUSED),
    # Fable 5.1: comparison tables and the thinking output-limits table
    "claude-fable-5-1": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_ON,
                             system_role="accept", min_cacheable_tokens=512, **FORCED_REFUSED, **SAMPLING_REFUSED),
    # Opus 5.5: models/opus-5-5 rows in the comparison tables
    "claude-opus-5-5": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_ON, system_role="accept",
                            min_cacheable_tokens=512, batch_max_output=300 * K, **FORCED_REFUSED),
    # Mythos 5.1: "shares" Fable 5.1's specifications (thinking output-limits table)
    "claude-mythos-5-1": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_ON,
                              system_role="accept", min_cacheable_tokens=512, **FORCED_REFUSED, **SAMPLING_REFUSED),
    # Sonnet 5: models/sonnet-5/overview. System messages: docs "not available", pydantic-ai "200 and ignored"
    "claude-sonnet-5": dict(context_window=1 * M, max_output=128 * K, system_role="accept_ignore",
                            thinking=Thinking(frozenset({"adaptive", "disabled"}), True, {"enabled": ENABLED_REFUSED}),
                            batch_max_output=300 * K, **SAMPLING_REFUSED),
    # Fable 5, Mythos 5: models/fable-5/overview ("Fable vs. Mythos": Mythos shares Fable 5's specifications)
    "claude-fable-5": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_ON, system_role="accept",
                           min_cacheable_tokens=512, **SAMPLING_REFUSED),
    "claude-mythos-5": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_ON, system_role="accept",
                            min_cacheable_tokens=512, **SAMPLING_REFUSED),
    # Opus 5: models/opus-5/overview; `disabled` is refused only with effort xhigh or max (see validation)
    "claude-opus-5": dict(context_window=1 * M, max_output=128 * K, system_role="accept",
                          thinking=Thinking(frozenset({"adaptive", "disabled"}), True, {"enabled": ENABLED_REFUSED}),
                          min_cacheable_tokens=512, batch_max_output=300 * K, **SAMPLING_REFUSED),
    # Opus 4.8: models/opus-4-8/overview
    "claude-opus-4-8": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_OFF, system_role="accept",
                            batch_max_output=300 * K, **SAMPLING_REFUSED),
    # Opus 4.7: Bedrock and Google Cloud model cards; thinking table
    "claude-opus-4-7": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_ONLY_OFF,
                            min_cacheable_tokens=2048, batch_max_output=300 * K, **SAMPLING_REFUSED),
    # Mythos Preview: thinking table (128K); the 1M window is assumed (litellm 1.110.2 says 1M, no docs page found)
    "claude-mythos-preview": dict(context_window=1 * M, max_output=128 * K, min_cacheable_tokens=2048, assumed=True,
                                  thinking=Thinking(frozenset({"adaptive", "enabled"}), True,
                                                    {"disabled": DISABLED_REFUSED_MYTHOS_PREVIEW}),
                                  **SAMPLING_REFUSED),
    # Opus 4.6, Sonnet 4.6: models/opus-4-6/overview, models/sonnet-4-6/overview; `enabled` deprecated, not refused
    "claude-opus-4-6": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_OR_EXTENDED_OFF,
                            min_cacheable_tokens=4096, batch_max_output=300 * K),
    "claude-sonnet-4-6": dict(context_window=1 * M, max_output=128 * K, thinking=ADAPTIVE_OR_EXTENDED_OFF,
                              batch_max_output=300 * K),
    # The 4.5 family: comparison tables; models/opus-4-5/overview, models/sonnet-4-5/overview (200K / 64K)
    "claude-haiku-4-5": dict(context_window=200 * K, max_output=64 * K, thinking=EXTENDED_ONLY_OFF,
                             allows_prefill=True, min_cacheable_tokens=4096),
    "claude-opus-4-5": dict(context_window=200 * K, max_output=64 * K, thinking=EXTENDED_ONLY_OFF,
                            allows_prefill=True, min_cacheable_tokens=4096),
    "claude-sonnet-4-5": dict(context_window=200 * K, max_output=64 * K, thinking=EXTENDED_ONLY_OFF,
                              allows_prefill=True),
}
ALIASES = {"claude-haiku-4-5-20251001": "claude-haiku-4-5", "claude-opus-4-5-20251101": "claude-opus-4-5",
           "claude-sonnet-4-5-20250929": "claude-sonnet-4-5"}


def sdk_model_ids() -> list[str]:
    """The ids of the installed SDK's `Model` literal, in the SDK's order (newest first)."""
    literal = next(arg for arg in get_args(Model) if get_args(arg))
    return list(get_args(literal))


def _display_name(model_id: str) -> str:
    if model_id == "claude-mythos-preview":
        return "Claude Mythos Preview"
    numbers = re.findall(r"-(\d{1,2})(?=-|$)", model_id)
    return f"Claude {model_id.split('-')[1].title()} {'.'.join(numbers)}"


def _spec(model_id: str) -> ModelSpec:
    row = dict(ROWS[ALIASES.get(model_id, model_id)])
    dated = re.search(r"-(\d{4})(\d{2})(\d{2})$", model_id)
    if dated:
        row["release"] = f"{dated[1]}-{dated[2]}-{dated[3]}T00:00:00Z"
    return ModelSpec(id=model_id, display_name=_display_name(model_id), deprecated=model_id in DEPRECATED_MODELS,
                     **row)


MODELS: dict[str, ModelSpec] = {model_id: _spec(model_id) for model_id in sdk_model_ids() if
                                 ALIASES.get(model_id, model_id) in ROWS}


def override(model_id: str, **fields: Any) -> ModelSpec:
    """Change one row for this process (e.g. `system_role="reject"` for Sonnet 5); returns the row it replaced."""
    previous = MODELS[model_id]
    MODELS[model_id] = replace(previous, **fields)
    return previous


def thinking_in_effect(body: dict[str, Any], spec: ModelSpec) -> bool:
    """Whether a (validated) request runs with thinking on: its `thinking.type` (`enabled` or `adaptive`; not
    `disabled`, nor `between_tools`, which the SDK documents as thinking turned off with progress notes that come
    back as thinking blocks), else the model's default (`spec.thinking.default_on`)."""
    config = body.get("thinking")
    if isinstance(config, dict) and isinstance(config.get("type"), str):
        return config["type"] in ("enabled", "adaptive")
    return spec.thinking.default_on


def _retires_at(model_id: str) -> str | None:
    when = DEPRECATED_MODELS.get(model_id)
    if not when:
        return None
    return datetime.strptime(re.sub(r"(\d)(st|nd|rd|th)", r"\1", when), "%B %d, %Y").strftime("%Y-%m-%dT00:00:00Z")


def _supported(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def model_info(model_id: str, context_window: int | None = None) -> dict[str, Any]:
    """The SDK's `ModelInfo` for a known id, as `GET /v1/models/{id}` answers it: `max_input_tokens` (the context
    window, or `context_window` when the server overrides it), `max_tokens` (the output cap) and `capabilities`.

    Capabilities not in the sources (batch, citations, code execution, context management, image and PDF input,
    server tools, the effort levels) are assumed supported; `thinking.types` and `structured_outputs` come from the
    table. Raises KeyError for an unknown id."""
    spec = MODELS[model_id]
    kinds: tuple[ThinkingType, ...] = ("adaptive", "between_tools", "disabled", "enabled")
    effort = "adaptive" in spec.thinking.accepted  # effort steers adaptive thinking (assumed elsewhere)
    capabilities = {
        "batch": _supported(True), "citations": _supported(True), "code_execution": _supported(True),
        "context_management": {"supported": True, "clear_thinking_20251015": _supported(True),
                               "clear_tool_uses_20250919": _supported(True), "compact_20260112": _supported(True)},
        "effort": {"supported": effort, **{level: _supported(effort) for level in ("low", "medium", "high", "max")},
                   "xhigh": _supported(effort)},
        "image_input": _supported(True), "pdf_input": _supported(True),
        "server_tools": {"supported": True, "code_execution": _supported(True), "web_search": _supported(True)},
        "structured_outputs": _supported(spec.structured_outputs),
        "thinking": {"supported": True, "types": {kind: _supported(kind in spec.thinking.accepted or (
            kind == "disabled" and "disabled" not in spec.thinking.refused)) for kind in kinds}},
    }
    retires_at = _retires_at(model_id)
    return {"type": "model", "id": spec.id, "display_name": spec.display_name, "created_at": spec.release,
            "lifecycle": "deprecated" if spec.deprecated else "active", "line": spec.line,
            "deprecated_at": None, "retires_at": retires_at, "capabilities": capabilities,
            "max_input_tokens": context_window or spec.context_window, "max_tokens": spec.max_output}
