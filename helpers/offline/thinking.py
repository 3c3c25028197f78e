"""Thinking blocks: the offline Claude's deterministic reasoning text, signatures the server can verify, and the
API's rules for sending thinking blocks back (addendum §5; docs: build-with-claude/extended-thinking,
build-with-claude/preserved-thinking, api/errors).

A signature is base64 of `payload + tag`: the payload holds a digest of the block's text and a digest of the
conversation before the block (its *prefix*: every message's role and content, thinking blocks and
`cache_control` left out, so dropping old thinking blocks or moving a cache breakpoint keeps it), and the tag is an
HMAC-SHA256 of the payload under this module's key. So on replay the server tells apart a signature that is not
its own (tampered, empty: "Invalid `signature`"), a block whose text was edited ("cannot be modified"), and a block
sent in another conversation (the prefix-binding error, on the models that run that check).

It is not the API's signature scheme: real signatures are opaque and only the API can check them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from .errors import invalid
from .models import ModelSpec

KEY = b"offline-claude thinking signatures"  # fixed, so the same request gets the same signature in every run
DIGEST_BYTES = 16
BINDING_BETA = "thinking-binding-controls-2026-08-01"
# The prefix-binding check: on by default for the models that run it (docs: build-with-claude/preserved-thinking,
# "Claude Mythos 5.1 and models before Claude Fable 5.1 don't run the prefix check"). Clear the set to turn it off,
# or add ids to turn it on for other models.
PREFIX_BINDING_MODELS: set[str] = {"claude-fable-5-1", "claude-opus-5-5", "claude-sonnet-5-5"}
THINKING_TYPES = ("thinking", "redacted_thinking")
DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
EXPECTED = ("messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When "
            "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
            "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
            "previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at "
            + DOCS)  # the API's text, "preceeding" included
NOT_FIRST = ("messages.{i}.content.0: If an assistant message contains any thinking blocks, the first block must be "
             "thinking or redacted_thinking. Found {found}.")
LAST = "messages.{i}: The final block in an assistant message cannot be `thinking`."
DISABLED = ("messages.{i}.content.{j}: When thinking is disabled, an `assistant` message in the final position "
            "cannot contain `thinking`. To use thinking blocks, enable `thinking` in your request.")
MODIFIED = ("messages.{i}.content.{j}: `thinking` or `redacted_thinking` blocks in the latest assistant message "
            "cannot be modified. These blocks must remain as they were in the original response.")
INVALID = "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"  # the position prefix is assumed
BOUND = ("messages.{i}.content.{j}: Invalid `signature` in `thinking` block. The block is bound to a different "
         "conversation. Remove the block, or set `thinking.block_binding.prefix_mismatch_behavior` to "
         '"drop_block".')
NEEDS_BETA = f" That setting requires the `{BINDING_BETA}` value in the `anthropic-beta` header."


# Signatures -----------------------------------------------------------------------------------------------------

def _digest(value: Any) -> bytes:
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except (RecursionError, ValueError, TypeError):  # nested too deeply to encode (a hostile history)
        text = "\x00unencodable"
    return hashlib.sha256(text.encode("utf-8", "replace")).digest()[:DIGEST_BYTES]


def _plain_block(block: Any) -> Any:
    if not isinstance(block, dict):
        return block
    return {k: v for k, v in block.items() if k != "cache_control"}


def prefix_digests(messages: list[Any]) -> list[bytes]:
    """`[prefix_digest(messages[:i]) for i in range(len(messages) + 1)]`, in one linear pass."""
    chain = [hashlib.sha256(b"prefix").digest()[:DIGEST_BYTES]]
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        blocks = [_plain_block(b) for b in blocks if not (isinstance(b, dict) and b.get("type") in THINKING_TYPES)] \
            if isinstance(blocks, list) else []
        role = message.get("role") if isinstance(message, dict) else None
        chain.append(hashlib.sha256(chain[-1] + _digest([role, blocks])).digest()[:DIGEST_BYTES])
    return chain


def prefix_digest(messages: list[Any]) -> bytes:
    """The digest of a conversation prefix: roles and contents, without thinking blocks or `cache_control`
    (a hash chain over the messages, so every prefix of a long history is digested in one pass)."""
    return prefix_digests(messages)[-1]


def sign(thinking: str, prefix: bytes) -> str:
    """The signature of a thinking block whose text is `thinking`, produced after the conversation `prefix`."""
    payload = b"\x01" + _digest(thinking) + prefix
    tag = hmac.new(KEY, payload, hashlib.sha256).digest()[:DIGEST_BYTES]
    return base64.b64encode(payload + tag).decode()


def read_signature(signature: Any) -> tuple[bytes, bytes] | None:
    """(text digest, prefix digest) of one of this server's signatures, or None for any other string."""
    if not isinstance(signature, str) or not signature:
        return None
    try:
        raw = base64.b64decode(signature.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    if len(raw) != 1 + 3 * DIGEST_BYTES or raw[0] != 1:
        return None
    payload, tag = raw[:-DIGEST_BYTES], raw[-DIGEST_BYTES:]
    if not hmac.compare_digest(tag, hmac.new(KEY, payload, hashlib.sha256).digest()[:DIGEST_BYTES]):
        return None
    return payload[1:1 + DIGEST_BYTES], payload[1 + DIGEST_BYTES:]


# The block a reply starts with ----------------------------------------------------------------------------------

def reasoning(question: str, content: list[dict[str, Any]]) -> str:
    """Deterministic reasoning text for a reply whose planned `content` answers `question`."""
    asked = " ".join(question.split())
    asked = asked if len(asked) <= 120 else asked[:117] + "..."
    lines = [f'The user asks: "{asked}".' if asked else "The conversation continues after the tool results."]
    calls = [b for b in content if b.get("type") == "tool_use"]
    if calls:
        names = sorted({str(b.get("name")) for b in calls})
        lines.append(f"I need {', '.join(names)} for this, so I'll make {len(calls)} tool call"
                     f"{'s' if len(calls) > 1 else ''} and answer once the results are back.")
    elif any(b.get("type") == "text" and str(b.get("text", "")).lstrip().startswith(("{", "[")) for b in content):
        lines.append("The answer must be JSON that follows the requested schema, so I'll fill each property from "
                     "what the user said.")
    else:
        lines.append("I can answer this directly, briefly and plainly.")
    return " ".join(lines)


def thinking_block(body: dict[str, Any], messages: list[Any], question: str,
                   content: list[dict[str, Any]]) -> dict[str, Any]:
    """The `thinking` block a reply starts with when thinking is in effect.

    Shape: `{"type": "thinking", "thinking": str, "signature": str}`, plus two private keys `compose()` reads and
    removes: `_tokens` (the tokens the reasoning costs, counted even when `display` is "omitted", where the text
    is "") and `_prefix` (the prefix digest, to sign the text again if `max_tokens` cuts it)."""
    from .tokens import count_text  # local: tokens is a leaf module, imported only where a block is built

    text = reasoning(question, content)
    config = body.get("thinking") if isinstance(body.get("thinking"), dict) else {}
    shown = "" if config.get("display") == "omitted" else text
    prefix = prefix_digest(messages)
    return {"type": "thinking", "thinking": shown, "signature": sign(shown, prefix), "_tokens": count_text(text),
            "_prefix": prefix}


# Replay ---------------------------------------------------------------------------------------------------------

def check_replay(messages: list[Any], *, thinking_on: bool, spec: ModelSpec,
                 betas: frozenset[str] = frozenset()) -> None:
    """Refuse (ApiError 400) a history whose thinking blocks break the API's replay rules (addendum §5):

    - any assistant message holding thinking blocks must start with one, and must not end with a `thinking` block;
    - thinking off: the final assistant message may not hold thinking blocks;
    - thinking on and a tool loop still open (the last message carries `tool_result` blocks): the assistant turn
      that made the calls must start with `thinking` or `redacted_thinking`;
    - every `thinking` block's signature must be this server's; in the latest assistant message the text must be
      the one signed ("cannot be modified"); on `PREFIX_BINDING_MODELS` the block must come after the same
      conversation it was produced in.
    `betas` (the request's `anthropic-beta` values) decide whether the binding error names the beta it needs."""
    assistant = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"]
    latest = assistant[-1] if assistant else None
    for i in assistant:
        blocks = messages[i].get("content")
        if not isinstance(blocks, list) or not blocks:
            continue
        types = [b.get("type") if isinstance(b, dict) else None for b in blocks]
        if any(t in THINKING_TYPES for t in types):
            if types[0] not in THINKING_TYPES:
                raise invalid(NOT_FIRST.format(i=i, found=types[0]))
            if types[-1] == "thinking":
                raise invalid(LAST.format(i=i))
            if not thinking_on and i == latest:
                raise invalid(DISABLED.format(i=i, j=next(j for j, t in enumerate(types) if t in THINKING_TYPES)))
    if thinking_on and latest is not None and _tool_loop_open(messages, latest):
        start = latest
        while start > 0 and isinstance(messages[start - 1], dict) and messages[start - 1].get("role") == "assistant":
            start -= 1
        first = messages[start].get("content")
        found = first[0].get("type") if isinstance(first, list) and first and isinstance(first[0], dict) else "text"
        if found not in THINKING_TYPES:
            raise invalid(EXPECTED.format(i=start, found=found))
    if not thinking_on:  # with thinking off, older blocks are not read, so their signatures are not checked
        return
    prefixes = prefix_digests(messages) if spec.id in PREFIX_BINDING_MODELS else None
    for i in assistant:
        blocks = messages[i].get("content")
        for j, block in enumerate(blocks if isinstance(blocks, list) else []):
            if isinstance(block, dict) and block.get("type") == "thinking":
                _check_signature(i, j, block, latest=i == latest, prefix=prefixes[i] if prefixes else None,
                                 betas=betas)


def _tool_loop_open(messages: list[Any], latest: int) -> bool:
    after = [m for m in messages[latest + 1:] if isinstance(m, dict) and m.get("role") == "user"]
    content = after[-1].get("content") if after else None
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def _check_signature(i: int, j: int, block: dict[str, Any], *, latest: bool, prefix: bytes | None,
                     betas: frozenset[str]) -> None:
    """`prefix` is the digest of the messages before the block's, when the model runs the prefix check."""
    read = read_signature(block.get("signature"))
    if read is None:
        raise invalid(INVALID.format(i=i, j=j))
    text_digest, signed_prefix = read
    if text_digest != _digest(block.get("thinking")):
        raise invalid((MODIFIED if latest else INVALID).format(i=i, j=j))
    if prefix is not None and signed_prefix != prefix:
        raise invalid(BOUND.format(i=i, j=j) + ("" if BINDING_BETA in betas else NEEDS_BETA))
