"""The offline Claude's one token estimate, used for usage, `count_tokens` and the context-window check alike.

A token here is a run of at most 8 letters, or at most 3 digits, or one other visible character, each with the
single space before it; any other run of whitespace is a token of its own. English prose comes out at roughly
1.3 tokens per word, the same order as a real tokenizer, and joining the tokens gives back the text exactly, so
the streamed deltas are slices of the reply. It is an estimate, not Claude's tokenizer: real counts differ.

A request counts: 3 tokens of framing, 4 per message, the system prompt, every content block (text, a tool
call's name and JSON input, a tool result's content; 1,000 per image or document) and each tool definition as
JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

TOKEN_RE = re.compile(r"\s?(?:[^\W\d_]{1,8}|\d{1,3}|\S)|\s+")
FRAMING_TOKENS = 3
PER_MESSAGE_TOKENS = 4
PER_MEDIA_TOKENS = 1_000


def split_tokens(text: str) -> list[str]:
    """The tokens of `text`; `"".join(split_tokens(text)) == text`."""
    return TOKEN_RE.findall(text)


def count_text(text: str) -> int:
    """The number of tokens in `text`."""
    return len(split_tokens(text))


def count_json(value: Any) -> int:
    """The tokens of a value as compact JSON (tool inputs and tool definitions)."""
    return count_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def count_block(block: Any) -> int:
    """The tokens of one content block (or a plain string)."""
    if isinstance(block, str):
        return count_text(block)
    if not isinstance(block, dict):
        return 0
    kind = block.get("type")
    if kind == "text":
        return count_text(str(block.get("text", "")))
    if kind in {"tool_use", "server_tool_use"}:
        return count_text(str(block.get("name", ""))) + count_json(block.get("input", {}))
    if kind == "tool_result":
        return count_content(block.get("content", ""))
    if kind in {"thinking"}:
        return count_text(str(block.get("thinking", "")))
    if kind in {"image", "document"}:
        return PER_MEDIA_TOKENS
    return count_json(block)


def count_content(content: Any) -> int:
    """The tokens of a message's content, a string or a list of blocks."""
    if isinstance(content, list):
        return sum(count_block(block) for block in content)
    return count_block(content)


def count_request(body: dict[str, Any], *, messages: list[dict[str, Any]] | None = None) -> int:
    """Input tokens of a Messages request body (`messages` overrides the body's, e.g. a whole thread)."""
    messages = body.get("messages", []) if messages is None else messages
    total = FRAMING_TOKENS + count_content(body.get("system") or "")
    total += sum(PER_MESSAGE_TOKENS + count_content(m.get("content", "")) for m in messages if isinstance(m, dict))
    total += sum(count_json(tool) for tool in body.get("tools") or [])
    return total
