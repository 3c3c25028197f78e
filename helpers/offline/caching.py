"""The offline Claude's prompt cache: breakpoints, a prefix-hash store with TTLs, cache usage and cache diagnostics.

What it does, as docs: build-with-claude/prompt-caching and build-with-claude/cache-diagnostics describe
(summarised in reference/api-2026-addendum.md section 7):

- **Breakpoints.** A block carrying `cache_control` (a tool, a system block, a message content block) is a
  breakpoint; the top-level `cache_control` (automatic caching) adds one on the last cacheable block, passing over
  empty text, thinking blocks and turn-scoped system messages. More than 4 is a 400
  `A maximum of 4 blocks with cache_control may be provided. Found N.` The automatic one counts toward the 4
  (assumed: the docs leave it open).
- **The store.** The request is rendered in the API's order, tools → system → messages, block by block, into a
  running hash. The model is folded in first; `speed` at the start of the system (it invalidates system and
  messages); thinking, effort, `tool_choice` and `output_config.format` at the start of the messages (they
  invalidate messages only). `cache_control` itself is not part of the hash, so moving a breakpoint keeps the cache.
- **Reads and writes.** Each breakpoint checks itself and the 20 blocks before it for a live entry (the docs'
  "20-block lookback", read as 20 earlier block boundaries); the longest hit is read. An entry is written only
  at a breakpoint, and only when the prefix up to it holds at least the model's `min_cacheable_tokens` (below
  it nothing is cached and no error is returned). Tokens between the read point and each breakpoint are written
  at that breakpoint's TTL: `5m` (the default) or `1h`.
- **Lifetime.** An entry lives its TTL from the start of the request that wrote or last read it (a read refreshes
  it) on the server's clock (`ServerState.clock`, which tests move with `advance_clock`), and is usable once the
  writing request's reply has begun (`first_token_ms` after its start).
- **Usage.** `cache_read_input_tokens`, `cache_creation_input_tokens` and `cache_creation` split by TTL, with
  `input_tokens` the uncached remainder: input + creation + read is the request's whole input.
- **Diagnostics.** A request carrying `diagnostics` leaves a fingerprint (digests and token counts, no text) under
  its reply's id; `diagnostics.previous_message_id` names the one to compare with, and the reply says where the two
  first diverged: `model_changed`, `tools_changed`, `system_changed` or `messages_changed`, each with
  `cache_missed_input_tokens` (the previous prompt's tokens after the divergence, which could have been read had the
  prefix matched), or `previous_message_not_found`. No divergence gives `diagnostics: null`.

It is not a model of the real cache's internals (real caches are per organization and may be evicted early); it is
faithful in what a client can observe: the usage counters and what invalidates them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid
from .tokens import FRAMING_TOKENS, PER_MESSAGE_TOKENS, count_block, count_json

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
ENTRIES_KEPT = 10_000
FINGERPRINTS_KEPT = 1_000
FINGERPRINT_BLOCKS_KEPT = 200_000  # blocks held by all fingerprints together (about 100 bytes each)
UNCACHEABLE_TYPES = {"thinking", "redacted_thinking"}
SECTIONS = ("tools", "system", "messages")  # the order in which the API renders a request


@dataclass
class Block:
    """One rendered block: its section, its tokens, the running digest through it, and its breakpoint TTL."""

    section: str  # "tools", "system" or "messages"
    tokens: int
    digest: bytes = b""
    prefix_tokens: int = 0  # the request's input tokens up to and including this block
    ttl: str | None = None  # "5m" or "1h" when the block is a breakpoint
    cacheable: bool = True  # the top-level cache_control may land here


@dataclass
class Entry:
    ttl: str
    expires_at: float
    usable_at: float


@dataclass
class Fingerprint:
    """What diagnostics compare: the model, each block's digest and prefix tokens, and the whole input."""

    model: str
    blocks: list[tuple[str, bytes, int]]  # section, digest, prefix tokens
    total: int


@dataclass
class CacheResult:
    """What caching made of one request: the token split, the diagnostics to send, the fingerprint to keep."""

    read: int = 0
    written: dict[str, int] = field(default_factory=lambda: {"5m": 0, "1h": 0})
    diagnostics: Any = None
    send_diagnostics: bool = False  # the request carried `diagnostics`
    fingerprint: Fingerprint | None = None


class PromptCache:
    """The entries (by prefix digest) and the diagnostics fingerprints (by reply id) of one server.

    Bounded whatever it is sent: at most 10,000 entries (expired ones are dropped at each request, then the least
    recently used), and at most 1,000 fingerprints holding 200,000 blocks in all (the oldest go first; naming one
    that went gives `previous_message_not_found`, as an expired fingerprint does on the API)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[bytes, Entry] = OrderedDict()
        self.fingerprints: OrderedDict[str, Fingerprint] = OrderedDict()
        self.fingerprint_blocks = 0

    def clear(self) -> None:
        """Forget every entry and fingerprint."""
        with self.lock:
            self.entries.clear()
            self.fingerprints.clear()
            self.fingerprint_blocks = 0


def _digest(previous: bytes, value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(previous + text.encode("utf-8", "surrogatepass")).digest()


def _plain(block: Any) -> Any:
    if isinstance(block, dict):
        return {k: v for k, v in block.items() if k != "cache_control"}
    return {"type": "text", "text": block}


def _ttl(block: Any) -> str | None:
    control = block.get("cache_control") if isinstance(block, dict) else None
    if not isinstance(control, dict):
        return None
    return "1h" if control.get("ttl") == "1h" else "5m"


def render(body: dict[str, Any], messages: list[Any], *, digests: bool = True) -> list[Block]:
    """The request's blocks in the API's order (tools, system, messages), with digests and running token counts
    (`digests=False`: without hashing, enough to count breakpoints).

    Token counts add up to `tokens.count_request`: framing in the first block, a message's framing in its first
    block (a message without content is a block of its own that cannot be cached)."""
    blocks: list[Block] = []
    items: list[tuple[Block, Any]] = []
    for tool in body.get("tools") or []:
        items.append((Block("tools", count_json(tool), ttl=_ttl(tool)), ("tool", _plain(tool))))
    options = {"speed": body.get("speed")}
    items.append((Block("system", 0, cacheable=False), ("options", options)))
    system = body.get("system")
    system_blocks = [system] if isinstance(system, str) and system else system if isinstance(system, list) else []
    for block in system_blocks:
        empty = isinstance(block, dict) and block.get("type") == "text" and not block.get("text")
        items.append((Block("system", count_block(block), ttl=_ttl(block), cacheable=not empty),
                      ("system", _plain(block))))
    output = body.get("output_config") or {}
    options = {"thinking": body.get("thinking"), "effort": output.get("effort"), "format": output.get("format"),
               "tool_choice": body.get("tool_choice")}
    items.append((Block("messages", 0, cacheable=False), ("options", options)))
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        parts = [content] if isinstance(content, str) and content else content if isinstance(content, list) else []
        role = message.get("role")
        turn_scoped = role == "system" and message.get("clear_at") == "next_user_message"
        if not parts:
            items.append((Block("messages", PER_MESSAGE_TOKENS, cacheable=False), ("turn", i, role, None)))
            continue
        for k, part in enumerate(parts):
            kind = part.get("type") if isinstance(part, dict) else "text"
            empty = kind == "text" and not (part.get("text") if isinstance(part, dict) else part)
            cacheable = not (turn_scoped or empty or kind in UNCACHEABLE_TYPES)
            tokens = count_block(part) + (PER_MESSAGE_TOKENS if k == 0 else 0)
            items.append((Block("messages", tokens, ttl=_ttl(part), cacheable=cacheable),
                          ("turn", i if k == 0 else None, role, _plain(part))))
    digest, running = _digest(b"", {"model": body.get("model")}), FRAMING_TOKENS
    for block, value in items:
        digest = _digest(digest, value) if digests else digest
        running += block.tokens
        block.digest, block.prefix_tokens = digest, running
        blocks.append(block)
    return blocks


def breakpoints(body: dict[str, Any], blocks: list[Block]) -> list[tuple[int, str]]:
    """The breakpoints as (block index, TTL), in order: the blocks' own, then the automatic one if it adds one.

    Raises the API's 400 when there are more than 4."""
    points = {i: b.ttl for i, b in enumerate(blocks) if b.ttl}
    automatic = body.get("cache_control")
    if isinstance(automatic, dict):
        last = next((i for i in range(len(blocks) - 1, -1, -1) if blocks[i].cacheable), None)
        if last is not None and last not in points:
            points[last] = "1h" if automatic.get("ttl") == "1h" else "5m"
    if len(points) > MAX_BREAKPOINTS:
        raise invalid(f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                      f"Found {len(points)}.")
    return sorted(points.items())


def check_breakpoints(body: dict[str, Any], messages: list[Any]) -> None:
    """The 400 for more than 4 breakpoints (validation's hook; count_tokens checks it too)."""
    if _any_cache_control(body, messages):
        breakpoints(body, render(body, messages, digests=False))


def _any_cache_control(body: dict[str, Any], messages: list[Any]) -> bool:
    if body.get("cache_control"):
        return True
    blocks: list[Any] = [*(body.get("tools") or [])]
    if isinstance(body.get("system"), list):
        blocks += body["system"]
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("content"), list):
            blocks += message["content"]
    return any(isinstance(b, dict) and b.get("cache_control") for b in blocks)


def account(cache: PromptCache, body: dict[str, Any], messages: list[Any], *, min_tokens: int, now: float,
            usable_after: float, total: int) -> CacheResult:
    """Read and write the cache for one request that started at `now` (server clock, seconds) and return the split.

    `min_tokens` is the model's minimum cacheable prefix; `usable_after` is how long after `now` a new entry can be
    read (the time to the reply's first byte); `total` is the request's whole input in tokens."""
    result = CacheResult()
    diagnostics = body.get("diagnostics")
    wants_diagnostics = isinstance(diagnostics, dict)
    if not _any_cache_control(body, messages) and not wants_diagnostics:
        return result
    blocks = render(body, messages)
    points = breakpoints(body, blocks)
    with cache.lock:
        hit = -1
        for index, _ in points:
            if blocks[index].prefix_tokens < min_tokens:
                continue
            for j in range(index, max(-1, index - LOOKBACK_BLOCKS - 1), -1):
                entry = cache.entries.get(blocks[j].digest)
                if entry is not None and entry.usable_at <= now < entry.expires_at:
                    entry.expires_at = now + TTL_SECONDS[entry.ttl]  # a read refreshes the entry
                    cache.entries.move_to_end(blocks[j].digest)
                    hit = max(hit, j)
                    break
        result.read = boundary = blocks[hit].prefix_tokens if hit >= 0 else 0
        for index, ttl in points:
            block = blocks[index]
            if block.prefix_tokens < min_tokens or index <= hit:
                continue
            usable_at = now + usable_after
            pending = cache.entries.get(block.digest)  # written by a request whose reply has not begun yet
            if pending is not None and pending.expires_at > now:
                usable_at = min(usable_at, pending.usable_at)
            cache.entries[block.digest] = Entry(ttl, now + TTL_SECONDS[ttl], usable_at)
            cache.entries.move_to_end(block.digest)
            result.written[ttl] += block.prefix_tokens - boundary
            boundary = block.prefix_tokens
        _prune(cache, now)
        if wants_diagnostics:
            result.send_diagnostics = True
            result.fingerprint = Fingerprint(str(body.get("model")),
                                             [(b.section, b.digest, b.prefix_tokens) for b in blocks], total)
            previous = diagnostics.get("previous_message_id")
            if isinstance(previous, str):
                result.diagnostics = _compare(cache.fingerprints.get(previous), result.fingerprint)
    return result


def _prune(cache: PromptCache, now: float) -> None:
    for digest in [d for d, e in cache.entries.items() if e.expires_at <= now]:
        del cache.entries[digest]
    while len(cache.entries) > ENTRIES_KEPT:
        cache.entries.popitem(last=False)


def _compare(before: Fingerprint | None, after: Fingerprint) -> dict[str, Any] | None:
    """The `diagnostics` object for `after` compared with `before`: the first divergence, or None for none."""
    if before is None:
        return {"cache_miss_reason": {"type": "previous_message_not_found"}}
    if before.model != after.model:
        return {"cache_miss_reason": {"type": "model_changed", "cache_missed_input_tokens": before.total}}
    common = 0
    for (section, digest, tokens), (new_section, new_digest, _) in zip(before.blocks, after.blocks, strict=False):
        if digest != new_digest:  # the earlier section of the two: a tool added where none was is tools_changed
            first = min(section, new_section, key=SECTIONS.index)
            return {"cache_miss_reason": {"type": f"{first}_changed",
                                          "cache_missed_input_tokens": before.total - common}}
        common = tokens
    if len(after.blocks) < len(before.blocks):  # the history was cut: the messages no longer extend the old ones
        return {"cache_miss_reason": {"type": "messages_changed", "cache_missed_input_tokens": before.total - common}}
    return None


def remember(cache: PromptCache, message_id: str, result: CacheResult) -> None:
    """Keep the fingerprint of a request that carried `diagnostics`, under its reply's id."""
    if result.fingerprint is None:
        return
    with cache.lock:
        cache.fingerprints[message_id] = result.fingerprint
        cache.fingerprint_blocks += len(result.fingerprint.blocks)
        while len(cache.fingerprints) > FINGERPRINTS_KEPT or (
                cache.fingerprint_blocks > FINGERPRINT_BLOCKS_KEPT and len(cache.fingerprints) > 1):
            _, old = cache.fingerprints.popitem(last=False)
            cache.fingerprint_blocks -= len(old.blocks)

