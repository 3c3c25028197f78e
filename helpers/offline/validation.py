"""The API's request validation, rule by rule, with the API's own status, `error.type` and message.

Rules are applied in a fixed order and the first failure is reported, as the API reports one problem at a time:
headers (auth, version, betas), body (size, JSON, fields, types), model, `max_tokens`, messages (roles, content,
tool pairing, prefill), tools, sampling, stop sequences, thinking, and last the context window. Index paths such as
`messages.3.content.1` are positions in the raw list as sent, before consecutive same-role turns are merged (the
API merges them, and accepts an assistant-first conversation). The texts come from real API answers where they
are known; the few that are not (marked "inferred") follow the API's pydantic-like style.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, get_args

from anthropic.types import AnthropicBetaParam, message_count_tokens_params, message_create_params
from anthropic.types.beta import message_create_params as beta_create_params

from . import structured, thinking
from .errors import ApiError, invalid
from .models import MODELS, ModelSpec, thinking_in_effect
from .tokens import count_request

API_VERSIONS = {"2023-01-01", "2023-06-01", "2026-10-21"}
KNOWN_BETAS = frozenset(get_args(next(arg for arg in get_args(AnthropicBetaParam) if get_args(arg))))
MAX_BODY_BYTES = 32 * 1024 * 1024
_HEADER_ONLY = {"betas", "user_profile_id", "workspace_id"}  # SDK params that travel as headers
_SAMPLING = ("temperature", "top_p", "top_k")
CREATE_FIELDS = {*message_create_params.MessageCreateParamsBase.__annotations__, "stream", *_SAMPLING} - _HEADER_ONLY
BETA_CREATE_FIELDS = CREATE_FIELDS | set(beta_create_params.MessageCreateParamsBase.__annotations__) - _HEADER_ONLY
COUNT_FIELDS = set(message_count_tokens_params.MessageCountTokensParams.__annotations__) - _HEADER_ONLY
TOOL_ID_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
TOOL_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
BLOCK_TYPES = {
    "user": {"text", "image", "document", "search_result", "tool_result", "container_upload"},
    "assistant": {"text", "thinking", "redacted_thinking", "tool_use", "server_tool_use", "web_search_tool_result",
                  "web_fetch_tool_result", "code_execution_tool_result", "bash_code_execution_tool_result",
                  "text_editor_code_execution_tool_result", "tool_search_tool_result", "container_upload"},
}
BLOCK_FIELDS = {  # the fields each block type accepts (others: "Extra inputs are not permitted")
    "text": {"type", "text", "citations", "cache_control"},
    "image": {"type", "source", "cache_control"},
    "document": {"type", "source", "title", "context", "citations", "cache_control"},
    "tool_use": {"type", "id", "name", "input", "cache_control", "caller"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
    "thinking": {"type", "thinking", "signature"},
    "redacted_thinking": {"type", "data"},
}
SYSTEM_ROLE = ('messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, '
               'not "system" as an input message role.')
PREFILL = "This model does not support assistant message prefill. The conversation must end with a user message."


def check_headers(headers: Mapping[str, str], *, extra_betas: frozenset[str] = frozenset()) -> frozenset[str]:
    """Rules 1-6: a key (any `sk-ant-...`), a known `anthropic-version`, known `anthropic-beta` values.

    `extra_betas` are accepted on top of the known ones. Returns the beta names the request carries (the
    `anthropic-beta` header split on commas)."""
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
    accepted = KNOWN_BETAS | extra_betas
    unknown = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip() not in accepted]
    if any(unknown):
        raise invalid(f"Unexpected value(s) `{', '.join(unknown)}` for the `anthropic-beta` header. Please consult "
                      "our documentation at docs.claude.com or try again without the header.")
    return frozenset(b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip())


def parse_body(raw: bytes) -> dict[str, Any]:
    """Rules 7-8: at most 32 MB, valid JSON, an object."""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "Request exceeds the maximum size", bare=True)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"The request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise invalid("The request body is not valid JSON: nesting too deep") from None
    if not isinstance(body, dict):
        raise invalid("Input should be a valid dictionary or object to extract fields from")  # inferred
    return body


def check_request(body: dict[str, Any], *, endpoint: str = "create", beta: bool = False,
                  betas: frozenset[str] = frozenset(), context_window: int | None = None,
                  history: list[Any] | None = None,
                  tools_required_for_tool_blocks: bool = False) -> tuple[ModelSpec, int]:
    """Rules 9-33 for `create` or `count_tokens`; returns the model and the input tokens.

    Rule 26 (tool blocks in the history need `tools`) was seen in 2024 and may no longer hold, so it applies
    only when `tools_required_for_tool_blocks` is set.

    `history` is a server-held thread's messages, which come before the request's own in every check.
    """
    counting = endpoint == "count_tokens"
    required = ("messages", "model") if counting else ("max_tokens", "messages", "model")
    for name in required:
        if name not in body:
            raise invalid(f"{name}: Field required")
    allowed = COUNT_FIELDS if counting else (BETA_CREATE_FIELDS if beta else CREATE_FIELDS)
    for name in body:
        if name not in allowed:
            raise invalid(f"{name}: Extra inputs are not permitted")
    if not isinstance(body["model"], str):
        raise invalid("model: Input should be a valid string")
    if not counting:
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise invalid("max_tokens: Input should be a valid integer")
        if max_tokens < 0:
            raise invalid("max_tokens: Input should be greater than or equal to 0")  # inferred
    if not isinstance(body["messages"], list):
        raise invalid("messages: Input should be a valid list")
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
    check_system(body.get("system"))
    check_messages(messages)
    if messages[-1]["role"] == "assistant":
        if not spec.allows_prefill:
            raise invalid(PREFILL)
        if _text_of(messages[-1]["content"]) != _text_of(messages[-1]["content"]).rstrip():
            raise invalid("messages: final assistant content cannot end with trailing whitespace")
    check_tools(body)
    if tools_required_for_tool_blocks and not body.get("tools") and any(
            isinstance(m["content"], list) and any(b["type"] in ("tool_use", "tool_result") for b in m["content"])
            for m in messages):
        raise invalid("Requests which include `tool_use` or `tool_result` blocks must define tools.")
    check_sampling(body, spec)
    check_stop_sequences(body.get("stop_sequences"))
    check_thinking(body)
    thinking.check_replay(messages, thinking_on=thinking_in_effect(body, spec), spec=spec)
    structured.check_request_schemas(body, betas=betas, spec=spec)
    tokens = count_request(body, messages=messages)
    window = context_window or spec.context_window
    if not counting and tokens > window:
        raise invalid(f"prompt is too long: {tokens} tokens > {window} maximum")
    return spec, tokens


def check_messages(messages: list[Any]) -> None:
    """Rules 13-25: message shape, roles, content, and `tool_use`/`tool_result` pairing."""
    seen_ids: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages.{i}: Input should be a valid dictionary")
        for name in ("role", "content"):
            if name not in message:
                raise invalid(f"messages.{i}.{name}: Field required")
        for name in message:
            if name not in {"role", "content"}:
                raise invalid(f"messages.{i}.{name}: Extra inputs are not permitted")
        role, content = message["role"], message["content"]
        if not isinstance(role, str):
            raise invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if role == "system":
            raise invalid(SYSTEM_ROLE)
        if role not in {"user", "assistant"}:
            raise invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if not isinstance(content, (str, list)):
            raise invalid(f"messages.{i}.content: Input should be a valid string or a valid list")
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


def _check_block(block: Any, path: str, role: str, seen_ids: set[str]) -> None:
    if not isinstance(block, dict) or "type" not in block:
        raise invalid(f"{path}.type: Field required")
    kind = block["type"]
    if not isinstance(kind, str) or kind not in BLOCK_TYPES[role]:
        expected = ", ".join(f"'{t}'" for t in sorted(BLOCK_TYPES[role]))
        raise invalid(f"{path}: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
                      f"{expected}")
    for name in block:
        if kind in BLOCK_FIELDS and name not in BLOCK_FIELDS[kind]:
            raise invalid(f"{path}.{kind}.{name}: Extra inputs are not permitted")
    if kind == "text":
        if not isinstance(block.get("text"), str):
            raise invalid(f"{path}.text.text: Field required")
        if block["text"] == "":
            raise invalid("messages: text content blocks must be non-empty")
    elif kind == "tool_use":
        tool_id = block.get("id")
        if not isinstance(tool_id, str) or not TOOL_ID_RE.match(tool_id):
            raise invalid(f"{path}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'")
        if tool_id in seen_ids:
            raise invalid(f"{path}: `tool_use` ids must be unique")
        seen_ids.add(tool_id)
        if not isinstance(block.get("name"), str):
            raise invalid(f"{path}.tool_use.name: Field required")
        if not isinstance(block.get("input"), dict):
            raise invalid(f"{path}.tool_use.input: Input should be a valid dictionary")
    elif kind == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise invalid(f"{path}.tool_result.tool_use_id: Field required")
        result = block.get("content", "")
        if not isinstance(result, (str, list)) or (
                isinstance(result, list) and not all(isinstance(b, dict) and isinstance(b.get("type"), str)
                                                     for b in result)):
            raise invalid(f"{path}.tool_result.content: Input should be a valid string or a valid list")


def _check_pairing(messages: list[dict[str, Any]], i: int) -> None:
    """Rule 23 for message i's `tool_result` blocks, then rule 22 for its `tool_use` blocks."""
    message = messages[i]
    content = message["content"] if isinstance(message["content"], list) else []
    if message["role"] == "user":
        previous = messages[i - 1] if i > 0 else None
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
    following = messages[i + 1] if i + 1 < len(messages) else None
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
    return "".join(block.get("text", "") for block in content if block.get("type") == "text")


def check_system(system: Any) -> None:
    """`system` is a string or a list of text blocks."""
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or a valid list")  # inferred
    for k, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise invalid(f"system.{k}.text: Field required")  # inferred


def check_tools(body: dict[str, Any]) -> None:
    """Rules 27-28 and `tool_choice`: valid, unique tool names; a named tool choice names an offered tool."""
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names: list[str] = []
    for n, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise invalid(f"tools.{n}: Input should be a valid dictionary")
        if tool.get("type") not in (None, "custom"):
            names.append(str(tool.get("name", tool["type"])))  # a server tool, e.g. web_search_20250305
            continue
        name = tool.get("name")
        if not isinstance(name, str):
            raise invalid(f"tools.{n}.custom.name: Field required")
        if len(name) > 128:
            raise invalid(f"tools.{n}.custom.name: String should have at most 128 characters")
        if not TOOL_NAME_RE.match(name):
            raise invalid(f"tools.{n}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        if not isinstance(tool.get("input_schema"), dict):
            raise invalid(f"tools.{n}.custom.input_schema: Field required")
        names.append(name)
    if len(set(names)) != len(names):
        raise invalid("tools: Tool names must be unique.")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise invalid("tool_choice: Input tag found using 'type' does not match any of the expected tags: "
                      "'auto', 'any', 'tool', 'none'")
    if choice["type"] == "tool" and not isinstance(choice.get("name"), str):
        raise invalid("tool_choice.tool.name: Field required")
    if choice["type"] == "tool" and choice["name"] not in names:
        raise invalid(f"tool_choice: tool '{choice.get('name')}' was not found in `tools`")  # inferred


def check_sampling(body: dict[str, Any], spec: ModelSpec) -> None:
    """Rules 29-30: sampling parameters are refused by newer models, and range-checked by older ones."""
    for name in _SAMPLING:
        if name in body and not spec.allows_sampling:
            raise invalid(f"`{name}` is deprecated for this model.")
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise invalid(f"{name}: range: 0..1")
    top_k = body.get("top_k")
    if top_k is not None and not (isinstance(top_k, int) and top_k >= 0):
        raise invalid("top_k: Input should be greater than or equal to 0")  # inferred


def check_stop_sequences(stop_sequences: Any) -> None:
    """Rule 31: every stop sequence is a non-empty, non-blank string."""
    if stop_sequences is None:
        return
    if not isinstance(stop_sequences, list) or not all(isinstance(s, str) for s in stop_sequences):
        raise invalid("stop_sequences: Input should be a valid list of strings")  # inferred
    if any(s == "" for s in stop_sequences):
        raise invalid("stop_sequences: each stop sequence must be non-empty")
    if any(not s.strip() for s in stop_sequences):
        raise invalid("stop_sequences: each stop sequence must contain non-whitespace")


def check_thinking(body: dict[str, Any]) -> None:
    """Rule 32: an explicit thinking budget is at least 1024 and below `max_tokens`."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if "max_tokens" in body and body["max_tokens"] <= budget:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
                      "at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-"
                      "window-size")
