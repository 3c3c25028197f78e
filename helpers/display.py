"""Display helpers for the lessons: one line per message or turn, so a conversation's shape can be read at a glance.

Not production code and not about the API: plumbing that lessons 03 (history truncation) and 07 (the tool-use
loop) use to print what they build. Both accept messages as dicts (`MessageParam`) or as the SDK's objects.
"""

from __future__ import annotations

from typing import Any


def _blocks(message: Any) -> list[dict[str, Any]]:
    content = message["content"] if isinstance(message, dict) else message.content
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block if isinstance(block, dict) else block.model_dump() for block in content]


def _role(message: Any) -> str:
    return message["role"] if isinstance(message, dict) else message.role


def kinds(message: Any) -> str:
    """A message's role and its content blocks' types, e.g. `'user tool_result'` or `'assistant text+tool_use'`."""
    return _role(message) + " " + "+".join(block["type"] for block in _blocks(message))


def show(messages: list[Any]) -> None:
    """Print one line per message: the role, then a short view of each block (text cut to 45 characters, a tool
    call with its input, a tool result with its first 50 characters and `is_error`)."""
    for message in messages:
        parts = []
        for block in _blocks(message):
            if block["type"] == "text":
                parts.append(repr(block["text"][:45]))
            elif block["type"] == "tool_use":
                parts.append(f"tool_use {block['name']}({block['input']})")
            elif block["type"] == "tool_result":
                content = block.get("content", "")
                text = content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)
                parts.append(f"tool_result{' is_error' if block.get('is_error') else ''} {text[:50]!r}")
            else:
                parts.append(block["type"])
        print(f"{_role(message):>9}: " + " | ".join(parts))
