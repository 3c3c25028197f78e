"""The API's request validation, rule by rule, with the API's own status, `error.type` and message.

Rules are applied in a fixed order and the first failure is reported, as the API reports one problem at a time:
headers (auth, version, betas), body (size, strict JSON, then its shape against the SDK's own types: see
`schema`), model, `max_tokens`, messages (roles, system messages, content, tool pairing), tools, thinking,
prefill, forced `tool_choice`, sampling, stop sequences, thinking replay, structured-output schemas, and last the
context window. Per-model rules come from `models` (today's API: `reference/api-2026-addendum.md`). Index paths such as
`messages.3.content.1` are positions in the raw list as sent, before consecutive same-role turns are merged (the
API merges them, and accepts an assistant-first conversation). The texts come from real API answers where they
are known; the few that are not (marked "inferred") follow the API's pydantic-like style.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from typing import Any, get_args

import pydantic_core
from anthropic.types import AnthropicBetaParam

from . import caching, structured, thinking
from .errors import ApiError, invalid
from .models import MODELS, ModelSpec, thinking_in_effect
from .schema import check_shape
from .tokens import count_request

API_VERSIONS = {"2023-01-01", "2023-06-01", "2026-10-21"}
SDK_BETAS = frozenset(get_args(next(arg for arg in get_args(AnthropicBetaParam) if get_args(arg))))
KNOWN_BETAS = SDK_BETAS | {  # addendum §2, "What an imitation should do": the SDK's list and
    "oauth-2025-04-20",  # sent by the SDK itself on every request made with `credentials=`
    "web-fetch-2025-09-10", "fine-grained-tool-streaming-2025-05-14",  # sent by clients (sources in §2)
    "advanced-tool-use-2025-11-20", "code-execution-2025-08-25", "tool-search-tool-2025-10-19",
    "tool-examples-2025-10-29",  # sent by clients (earlier client research, not rechecked)
    *("structured-outputs-2025-11-13", "thinking-binding-controls-2026-08-01",  # required by the features they name
      "mid-conversation-system-clear-at-2026-08-21", "inline-tools-2026-09-15", "mcp-client-2026-09-15",
      "mid-conversation-tool-changes-2026-07-01", "mid-conversation-output-config-2026-07-01",
      "cache-diagnosis-2026-04-07", "output-300k-2026-03-24", "managed-agents-2026-04-01", "mcp-tunnels-2026-06-22",
      "agent-memory-2026-07-22"),
}
MAX_BODY_BYTES = 32 * 1024 * 1024
_SAMPLING = ("temperature", "top_p", "top_k")
TOOL_ID_RE = re.compile(r"[a-zA-Z0-9_-]+")  # used with fullmatch: `$` would also match before a final newline
TOOL_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,128}")
LONE_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# A number literal that may overflow a float: an exponent of three digits or more, or 309 digits in a row (the
# largest float is about 1.8e308). Only a body that has one is walked for an infinite value.
INFINITY_CANDIDATE = re.compile(rb"\d[eE]\+?\d{3}|\d{309}")
BLOCK_TYPES = {
    "system": {"text", "tool_addition", "tool_removal"},
    "user": {"text", "image", "document", "search_result", "tool_result", "container_upload"},
    "assistant": {"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use", "web_search_tool_result",
                  "web_fetch_tool_result", "code_execution_tool_result", "bash_code_execution_tool_result",
                  "text_editor_code_execution_tool_result", "tool_search_tool_result", "container_upload"},
}
SYSTEM_ROLE_REFUSED = "role 'system' is not supported on this model"  # addendum §3, observed since 2026-05
SYSTEM_PLACEMENT = "a role 'system' message must follow a user turn and precede an assistant turn"  # invented
SYSTEM_FIRST = "a role 'system' message that carries content cannot be the first message"  # invented
TURN_SCOPED = "(clear_at: 'next_user_message')"
PREFILL = "This model does not support assistant message prefill. The conversation must end with a user message."
PREFILL_THINKING = ("Assistant message prefill is not supported when thinking is enabled. The conversation must end "
                    "with a user message.")  # inferred; docs: "You can't prefill the assistant response while thinking"
EFFORT_WITHOUT_THINKING = ("output_config.effort '{effort}' is not supported when thinking is disabled on this model. "
                           "Use effort 'high' or below, or enable thinking.")  # docs: api/errors


def check_headers(headers: Mapping[str, str], *, extra_betas: frozenset[str] = frozenset()) -> frozenset[str]:
    """Rules 1-6: a key (any `sk-ant-...`), a known `anthropic-version`, known `anthropic-beta` values.

    Beta names are the `anthropic-beta` header split on commas and trimmed; a header sent several times counts as
    one comma list. Known names are `KNOWN_BETAS` (addendum §2) and `extra_betas`; every other name is listed in
    one 400, each in backticks (the text of docs: api/beta-headers). Returns the names the request carries."""
    api_key, authorization = headers.get("x-api-key"), headers.get("authorization")
    if api_key is None and authorization is None:
        raise ApiError(401, "x-api-key header is required")
    if api_key is not None and not api_key.startswith("sk-ant-"):
        raise ApiError(401, "invalid x-api-key")
    if api_key is None and not (authorization or "").startswith("Bearer sk-ant-"):
        raise ApiError(401, "Invalid bearer token")
    version = headers.get("anthropic-version")
    if version is None:
        raise invalid("anthropic-version: header is required")
    if version not in API_VERSIONS:
        raise invalid(f'anthropic-version: "{version}" is not a valid version')
    sent = [name.strip() for value in _all_values(headers, "anthropic-beta") for name in value.split(",")]
    sent = [name for name in sent if name]
    accepted = KNOWN_BETAS | extra_betas
    unknown = list(dict.fromkeys(name for name in sent if name not in accepted))
    if unknown:
        raise invalid(f"Unexpected value(s) {', '.join(f'`{name}`' for name in unknown)} for the `anthropic-beta` "
                      "header. Please consult our documentation at platform.claude.com/docs or try again without the "
                      "header.")
    return frozenset(sent)


def _all_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Every value of a header sent more than once (Starlette's `Headers.getlist`), else the one value."""
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        return list(getlist(name))
    value = headers.get(name)
    return [] if value is None else [value]


def parse_body(raw: bytes, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """Rules 7-8: at most `limit` bytes (32 MB for a Messages request; else 413), strict JSON (UTF-8, no
    `NaN`/`Infinity`, no lone surrogate, no number too large for a float, at most 200 levels deep), an object.
    Anything else is a 400 `invalid_request_error` reading `The request body is not valid JSON: <what and where>`.
    """
    if len(raw) > limit:
        raise ApiError(413, "Request exceeds the maximum size", bare=True)
    try:
        body = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise invalid(f"The request body is not valid JSON: {_json_detail(raw, str(exc))}") from None
    if INFINITY_CANDIDATE.search(raw) and _has_infinity(body):  # a literal too large for a float (1e400) reads as inf
        raise invalid("The request body is not valid JSON: a number is too large")  # inferred
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary or object to extract fields from")  # inferred
    return body


def _json_detail(raw: bytes, detail: str) -> str:
    """The parser's detail, with the cause named where the parser's words are vague (texts inferred)."""
    if detail.startswith("recursion limit exceeded"):
        return "nesting too deep"
    if re.search(rb"(?<![\w\"])-?(?:NaN|Infinity)\b", raw) and detail.startswith(("expected value", "invalid number")):
        return f"NaN and Infinity are not valid JSON numbers ({detail})"
    if "surrogate" in detail or (LONE_SURROGATE_ESCAPE.search(raw) and "hex escape" in detail):
        return f"a \\u escape is a lone surrogate, which is not a character ({detail})"
    if "invalid unicode code point" in detail:
        return f"the body is not valid UTF-8 ({detail})"
    return detail


def _has_infinity(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and math.isinf(item):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_request(body: dict[str, Any], *, endpoint: str = "create", beta: bool = False,
                  betas: frozenset[str] = frozenset(), context_window: int | None = None,
                  history: list[Any] | None = None,
                  tools_required_for_tool_blocks: bool = False) -> tuple[ModelSpec, int]:
    """Rules 9-33 for `create` or `count_tokens`; returns the model and the input tokens.

    The body's shape (required fields, types, unknown fields) is checked first, against the SDK's own request
    types (`schema.check_shape`); then the rules that are about meaning, in the API's order. Raises `ApiError`
    and nothing else, whatever JSON value `body` holds.

    Rule 26 (tool blocks in the history need `tools`) was seen in 2024 and may no longer hold, so it applies
    only when `tools_required_for_tool_blocks` is set.

    `history` is a server-held thread's messages, which come before the request's own in every check.
    """
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary or object to extract fields from")  # inferred
    counting = endpoint == "count_tokens"
    check_shape(body, endpoint=endpoint, beta=beta, betas=betas)
    if not counting and body["max_tokens"] < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")  # inferred
    spec = MODELS.get(body["model"])
    if spec is None:
        raise ApiError(404, f"model: {body['model']}")
    if not counting and body["max_tokens"] > spec.max_output:
        raise invalid(f"max_tokens: {body['max_tokens']} > {spec.max_output}, which is the maximum allowed number "
                      f"of output tokens for {spec.id}")
    messages = [*(history or []), *body["messages"]]
    continuing = history is not None
    if not messages or (not body["messages"] and not continuing):
        raise invalid("messages: at least one message is required")
    check_messages(messages, spec=spec, betas=betas)
    check_tools(body)
    caching.check_breakpoints(body, messages)
    if tools_required_for_tool_blocks and not body.get("tools") and any(
            isinstance(m["content"], list) and any(b["type"] in ("tool_use", "tool_result") for b in m["content"])
            for m in messages):
        raise invalid("Requests which include `tool_use` or `tool_result` blocks must define tools.")
    check_thinking(body, spec)
    check_prefill(body, messages, spec)
    check_tool_choice(body, spec)
    check_sampling(body, spec)
    check_stop_sequences(body.get("stop_sequences"))
    thinking.check_replay(messages, thinking_on=thinking_in_effect(body, spec), spec=spec)
    structured.check_request_schemas(body, betas=betas, spec=spec)
    tokens = count_request(body, messages=messages)
    window = context_window or spec.context_window
    if not counting and tokens > window:  # input plus max_tokens over it is no error: the reply stops at the window
        raise invalid(f"prompt is too long: {tokens} tokens > {window} maximum")
    return spec, tokens


def check_prefill(body: dict[str, Any], messages: list[dict[str, Any]], spec: ModelSpec) -> None:
    """Rules 17 and 21 as of today (addendum §3, §6, §10.12): a conversation ending in an assistant turn (system
    messages aside) is refused from Claude 4.6 on and on any model while thinking is on, except the continuation of
    a paused turn (an assistant turn ending in a server tool's result), which every model accepts."""
    turns = [m for m in messages if m["role"] != "system"]
    if not turns or turns[-1]["role"] != "assistant" or _ends_in_server_result(turns[-1]):
        return
    if not spec.allows_prefill:
        raise invalid(PREFILL)
    if thinking_in_effect(body, spec):
        raise invalid(PREFILL_THINKING)
    if _text_of(turns[-1]["content"]) != _text_of(turns[-1]["content"]).rstrip():
        raise invalid("messages: final assistant content cannot end with trailing whitespace")


def check_messages(messages: list[dict[str, Any]], *, spec: ModelSpec | None = None,
                   betas: frozenset[str] = frozenset()) -> None:
    """Rules 15-25 on well-shaped messages: roles (`system` per model, addendum §3), content, and
    `tool_use`/`tool_result` pairing."""
    seen_ids: set[str] = set()
    for i, message in enumerate(messages):
        role, content = message["role"], message["content"]
        if role == "system":
            if spec is None or spec.system_role == "reject":
                raise invalid(SYSTEM_ROLE_REFUSED)
            if _effort_only(message):
                continue
            _check_system_message(messages, i, betas)
        if not content and not (i == len(messages) - 1 and role == "assistant"):
            raise invalid(f"messages.{i}: all messages must have non-empty content except for the optional final "
                          "assistant message")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) and content else content or []
        for k, block in enumerate(blocks):
            _check_block(block, f"messages.{i}.content.{k}", role, seen_ids)
        texts = [b["text"] for b in blocks if b["type"] == "text"]
        if texts and len(texts) == len(blocks) and not "".join(texts).strip():
            raise invalid("messages: text content blocks must contain non-whitespace text")
    for i in range(len(messages)):
        _check_pairing(messages, i)


def _effort_only(message: dict[str, Any]) -> bool:
    """A system message with no content that only sets `output_config.effort` (beta): accepted anywhere."""
    return not message["content"] and bool(message.get("output_config"))


def _check_system_message(messages: list[dict[str, Any]], i: int, betas: frozenset[str]) -> None:
    """Placement (addendum §3, docs: build-with-claude/mid-conversation-system-messages): a group of consecutive
    system messages follows a user turn (or an assistant turn ending in a server tool's result), is not first,
    and is last or followed by an assistant turn. The placement texts are invented; the turn-scoped ones are the
    docs' own."""
    message = messages[i]
    if message.get("clear_at") is not None and "mid-conversation-system-clear-at-2026-08-21" not in betas:
        raise invalid(f"messages.{i}.clear_at: Extra inputs are not permitted")
    if message.get("clear_at") == "next_user_message":
        content = message["content"]
        if isinstance(content, list) and any(block["type"] != "text" for block in content):
            raise invalid(f"messages.{i}: a turn-scoped system message supports text blocks only {TURN_SCOPED}")
        if message.get("output_config"):
            raise invalid(f"messages.{i}: output_config is not permitted on a turn-scoped system message {TURN_SCOPED}")
        for k, block in enumerate(content if isinstance(content, list) else []):
            if block.get("cache_control"):
                raise invalid(f"messages.{i}.content.{k}: cache_control is not permitted on a turn-scoped system "
                              f"message {TURN_SCOPED}")
    start = i
    while start > 0 and messages[start - 1]["role"] == "system":
        start -= 1
    before = next((m for m in reversed(messages[:start]) if not _effort_only(m)), None)
    if before is None:
        raise invalid(f"messages.{start}: {SYSTEM_FIRST}")
    end = i
    while end + 1 < len(messages) and messages[end + 1]["role"] == "system":
        end += 1
    after = messages[end + 1] if end + 1 < len(messages) else None
    follows_turn = before["role"] == "user" or (before["role"] == "assistant" and _ends_in_server_result(before))
    if not follows_turn or (after is not None and after["role"] != "assistant"):
        raise invalid(f"messages.{start}: {SYSTEM_PLACEMENT}")


def _ends_in_server_result(message: dict[str, Any]) -> bool:
    """An assistant turn whose last block is a server tool's result (web search, code execution, ...)."""
    content = message["content"]
    return isinstance(content, list) and bool(content) and content[-1]["type"].endswith("_tool_result")


def _check_block(block: dict[str, Any], path: str, role: str, seen_ids: set[str]) -> None:
    kind = block["type"]
    if kind not in BLOCK_TYPES[role]:
        expected = ", ".join(f"'{t}'" for t in sorted(BLOCK_TYPES[role]))
        raise invalid(f"{path}: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
                      f"{expected}")  # inferred: the blocks a {role} message may hold
    if kind == "text" and block["text"] == "":
        raise invalid("messages: text content blocks must be non-empty")
    if kind == "tool_use":
        tool_id = block["id"]
        if not TOOL_ID_RE.fullmatch(tool_id):
            raise invalid(f"{path}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
        if tool_id in seen_ids:
            raise invalid(f"{path}: `tool_use` ids must be unique")
        seen_ids.add(tool_id)
    if kind == "tool_result" and block.get("is_error") and isinstance(block.get("content"), list) and any(
            part["type"] != "text" for part in block["content"]):
        raise invalid(f"{path}: all content must be type 'text' if 'is_error' is true")  # text observed, path inferred


def _check_pairing(messages: list[dict[str, Any]], i: int) -> None:
    """Rule 23 for message i's `tool_result` blocks, then rule 22 for its `tool_use` blocks (system messages, which
    cannot sit inside a tool pair, are passed over)."""
    message = messages[i]
    content = message["content"] if isinstance(message["content"], list) else []
    if message["role"] == "user":
        previous = next((m for m in reversed(messages[:i]) if m["role"] != "system"), None)
        asked = set(_tool_use_ids(previous)) if previous and previous["role"] == "assistant" else set()
        for k, block in enumerate(content):
            if block["type"] == "tool_result" and block["tool_use_id"] not in asked:
                raise invalid(f"messages.{i}.content.{k}: unexpected `tool_use_id` found in `tool_result` blocks: "
                              f"{block['tool_use_id']}. Each `tool_result` block must have a corresponding "
                              "`tool_use` block in the previous message.")
        return
    ids = _tool_use_ids(message)
    if not ids:
        return
    following = next((m for m in messages[i + 1:] if m["role"] != "system"), None)
    answered: set[str] = set()
    if following and following["role"] == "user" and isinstance(following["content"], list):
        for block in following["content"]:
            if block["type"] != "tool_result":
                break
            answered.add(block["tool_use_id"])
    missing = [tool_id for tool_id in ids if tool_id not in answered]
    if missing:
        raise invalid(f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                      f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block "
                      "in the next message.")


def _tool_use_ids(message: dict[str, Any]) -> list[str]:
    content = message["content"] if isinstance(message["content"], list) else []
    return [block["id"] for block in content if block["type"] == "tool_use"]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(block["text"] for block in content if block["type"] == "text")


def check_tools(body: dict[str, Any]) -> None:
    """Rules 27-28 and `tool_choice`: valid, unique tool names; a named tool choice names an offered tool."""
    names: list[str] = []
    for n, tool in enumerate(body.get("tools") or []):
        name = tool.get("name", tool.get("type"))
        if tool.get("type") in (None, "custom"):
            if len(name) > 128:
                raise invalid(f"tools.{n}.custom.name: String should have at most 128 characters")
            if not TOOL_NAME_RE.fullmatch(name):
                raise invalid(f"tools.{n}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
            if not _is_json_schema(tool.get("input_schema")):
                raise invalid(f"tools.{n}.custom.input_schema: {INVALID_SCHEMA}")
        names.append(str(name))  # a server tool's name, e.g. web_search
    if len(set(names)) != len(names):
        raise invalid("tools: Tool names must be unique.")
    choice = body.get("tool_choice")
    if choice and choice["type"] == "tool" and choice["name"] not in names:
        raise invalid(f"tool_choice: tool '{choice['name']}' was not found in `tools`")  # inferred


INVALID_SCHEMA = ("JSON schema is invalid. It must match JSON Schema draft 2020-12 (https://json-schema.org/draft/"
                  "2020-12). Learn more about tool use at https://docs.anthropic.com/en/docs/tool-use.")  # observed:
# anthropics/claude-code#7365 (2025-09), also through Bedrock (acomagu/vscode-as-mcp-server#6)


def _is_json_schema(schema: Any) -> bool:
    """Whether a tool's `input_schema` is a valid JSON Schema (draft 2020-12 meta-schema, checked by `jsonschema`).

    A check costs about 0.4 ms, so results are kept by the schema's JSON text: a tool loop sends the same tools
    every turn."""
    try:
        return _schema_text_is_valid(json.dumps(schema, sort_keys=True))
    except (TypeError, ValueError, RecursionError):
        return False


@functools.lru_cache(maxsize=512)
def _schema_text_is_valid(text: str) -> bool:
    from jsonschema import Draft202012Validator  # imported on first use: `import jsonschema` costs about 0.8 s
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(json.loads(text))
    except (SchemaError, RecursionError):
        return False
    return True


def check_tool_choice(body: dict[str, Any], spec: ModelSpec) -> None:
    """Forced tool use (`tool_choice` `any` or `tool`, addendum §4, §5, §10.14): refused on the models that refuse
    it on every request (count_tokens included, docs: api/errors), and together with `enabled` thinking."""
    choice = body.get("tool_choice")
    if not choice or choice["type"] not in ("any", "tool"):
        return
    if not spec.forced_tool_choice:
        raise invalid('tool_choice: type "tool" and "any" are not supported for this model.')
    if (body.get("thinking") or {}).get("type") == "enabled":
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


SAMPLING_DEFAULTS = {"temperature": 1.0, "top_p": 1.0}  # top_k has no default: any value is a choice (assumed)


def check_sampling(body: dict[str, Any], spec: ModelSpec) -> None:
    """Rules 29-30 as of today (addendum §10.4): on the models the docs list, a non-default `temperature`, `top_p`
    or `top_k` is refused on every request; elsewhere values are range-checked, and while thinking is on
    `temperature` must be 1, `top_p` between 0.95 and 1, and `top_k` unset."""
    for name in _SAMPLING:
        if name in body and spec.sampling_default_only and body[name] != SAMPLING_DEFAULTS.get(name):
            raise invalid(f"`{name}` is deprecated for this model.")
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and not 0 <= value <= 1:
            raise invalid(f"{name}: range: 0..1")
    if body.get("top_k", 0) < 0:
        raise invalid("top_k: Input should be greater than or equal to 0")  # inferred
    if not thinking_in_effect(body, spec):
        return
    if body.get("temperature", 1) != 1:
        raise invalid("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode")  # observed
    if body.get("top_p", 1) < 0.95:
        raise invalid("`top_p` must be between 0.95 and 1 when thinking is enabled or in adaptive mode")  # inferred
    if "top_k" in body:
        raise invalid("`top_k` may not be set when thinking is enabled or in adaptive mode")  # inferred


def check_stop_sequences(stop_sequences: list[str] | None) -> None:
    """Rule 31: every stop sequence is a non-empty, non-blank string."""
    if any(s == "" for s in stop_sequences or []):
        raise invalid("stop_sequences: each stop sequence must be non-empty")
    if any(not s.strip() for s in stop_sequences or []):
        raise invalid("stop_sequences: each stop sequence must contain non-whitespace")


def check_thinking(body: dict[str, Any], spec: ModelSpec) -> None:
    """Thinking configuration per model (addendum §5, §10.3, §10.13): a `thinking.type` the model refuses gets
    the API's text; effort `xhigh`/`max` with thinking off is refused on Opus 5 (`disabled`) and Sonnet 5.5
    (`between_tools`, the same text assumed); then rule 32, the budget, where `enabled` is accepted."""
    config = body.get("thinking")
    effort = (body.get("output_config") or {}).get("effort")
    if config:
        refusal = spec.thinking.refusal(config["type"])
        if refusal:
            raise invalid(refusal)
    kind = config["type"] if config else None
    if effort in ("xhigh", "max") and (spec.id, kind) in {("claude-opus-5", "disabled"),
                                                           ("claude-sonnet-5-5", "between_tools")}:
        raise invalid(EFFORT_WITHOUT_THINKING.format(effort=effort))
    if kind != "enabled":
        return
    if config["budget_tokens"] < 1024:
        raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if "max_tokens" in body and body["max_tokens"] <= config["budget_tokens"]:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
                      "at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-"
                      "window-size")
