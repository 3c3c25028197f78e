"""What a reply cost in US dollars: one dated price table and `cost(usage, model)`, taught in lesson 10.

Prices change: check https://platform.claude.com/docs/en/about-claude/pricing before you bill anyone, and pass
your own `Price` where this table is out of date. This module is not a bill: it ignores data-residency
(`inference_geo`) multipliers, fast mode, server-tool fees (web search, code execution) and taxes.

Sources, read 2026-12-01 (all prices USD per million tokens, "MTok"):

- docs: about-claude/pricing, "Model pricing" table: Fable 5.1 and Mythos 5.1 ($10 / $50, cache hits $0.25),
  Fable 5 and Mythos 5 ($10 / $50), Opus 5, 4.8, 4.7, 4.6 and 4.5 ($5 / $25).
- docs: models/opus-5-5/overview ($4 / $20, cache read $0.20), models/sonnet-5/overview ($2 / $10),
  models/sonnet-5-5/overview ($2 / $10), models/haiku-5-5/overview ($0.10 / $0.50 for prompts up to 100,000
  tokens, $0.50 / $2.50 above, on every token of the request), and the comparison tables on those pages for
  Haiku 4.5 ($1 / $5).
- Sonnet 5.5's cache read is $0.10 (0.05x) from 2026-10-07, as three sources quoting the pricing page report
  (docs.rs synaps 0.10.2, verified 2026-10-10; kurofune/claudit v1.9.2; TheKrush/PromptFuel v1.0.23); the
  overview page read still showed $0.20.
- Sonnet 4.6 ($3 / $15): the pricing page as quoted by docs.rs synaps 0.10.2 ("Sonnet (other)").
- Multipliers (docs: build-with-claude/prompt-caching; addendum section 7): a 5-minute cache write costs 1.25x the
  base input price, a 1-hour write 2x, a cache read 0.1x (0.05x on Opus 5.5 and Sonnet 5.5, 0.025x on Fable 5.1 and
  Mythos 5.1); the Batch API halves every price, and the discounts stack (docs: build-with-claude/batch-processing).
- Not found on any page read, so left out (`price_for` raises): Fable 5.2, Mythos 5.2, Mythos Preview.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

PRICES_READ_ON = "2026-12-01"
PRICING_PAGE = "https://platform.claude.com/docs/en/about-claude/pricing"
MILLION = Decimal(1_000_000)
BATCH_DISCOUNT = Decimal("0.5")
WRITE_5M, WRITE_1H, READ = Decimal("1.25"), Decimal(2), Decimal("0.1")


@dataclass(frozen=True)
class Price:
    """A model's prices in USD per million tokens; `long_prompt` is (threshold, prices above it) where a longer
    prompt (input + cache writes + cache reads) is billed at other rates, on every token of that request."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    long_prompt: tuple[int, Price] | None = None


def _plain(value: Decimal) -> Decimal:
    """`value` without trailing zeros (0.1250 -> 0.125), whole numbers kept whole (10, not 1E+1)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value


def _price(input_: str, output: str, read: str | None = None, long_prompt: tuple[int, Price] | None = None) -> Price:
    base = Decimal(input_)
    return Price(*(_plain(v) for v in (base, Decimal(output), base * WRITE_5M, base * WRITE_1H,
                                        Decimal(read) if read is not None else base * READ)), long_prompt)


PRICES: dict[str, Price] = {
    "claude-fable-5-1": _price("10", "50", read="0.25"),
    "claude-mythos-5-1": _price("10", "50", read="0.25"),
    "claude-fable-5": _price("10", "50"),
    "claude-mythos-5": _price("10", "50"),
    "claude-opus-5-5": _price("4", "20", read="0.20"),
    "claude-opus-5": _price("5", "25"),
    "claude-opus-4-8": _price("5", "25"),
    "claude-opus-4-7": _price("5", "25"),
    "claude-opus-4-6": _price("5", "25"),
    "claude-opus-4-5": _price("5", "25"),
    "claude-sonnet-5-5": _price("2", "10", read="0.10"),
    "claude-sonnet-5": _price("2", "10"),
    "claude-sonnet-4-6": _price("3", "15"),
    "claude-haiku-5-5": _price("0.10", "0.50", long_prompt=(100_000, _price("0.50", "2.50"))),
    "claude-haiku-4-5": _price("1", "5"),
}
# Not priced: Sonnet 4.5, retired 2026-11-30 (the SDK's deprecation list); Fable 5.2, Mythos 5.2 and
# Mythos Preview, for which no price was found.
DATED_ID = re.compile(r"-\d{8}$")  # claude-haiku-4-5-20251001 is priced as claude-haiku-4-5


def price_for(model: str) -> Price:
    """The `Price` of a model id (a dated id such as `claude-haiku-4-5-20251001` counts as its alias).

    Raises `KeyError` naming the pricing page when the table has no price for it."""
    price = PRICES.get(model) or PRICES.get(DATED_ID.sub("", model))
    if price is None:
        raise KeyError(f"no price for {model!r} in helpers.pricing (prices read {PRICES_READ_ON}); look it up at "
                       f"{PRICING_PAGE} and pass price=Price(...)")
    return price


def _field(usage: Any, name: str) -> Any:
    return usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)


def token_counts(usage: Any) -> dict[str, int]:
    """A `Usage` (or its dict) as five counts: input, cache_write_5m, cache_write_1h, cache_read, output.

    Without the `cache_creation` split, every cache write counts as a 5-minute write (the default TTL)."""
    written = _field(usage, "cache_creation_input_tokens") or 0
    split = _field(usage, "cache_creation")
    one_hour = (_field(split, "ephemeral_1h_input_tokens") or 0) if split is not None else 0
    return {"input": _field(usage, "input_tokens") or 0, "cache_write_5m": written - one_hour,
            "cache_write_1h": one_hour, "cache_read": _field(usage, "cache_read_input_tokens") or 0,
            "output": _field(usage, "output_tokens") or 0}


def cost_breakdown(usage: Any, model: str, *, batch: bool = False, price: Price | None = None) -> dict[str, Decimal]:
    """What each kind of token in `usage` cost, in USD (keys as in `token_counts`)."""
    price = price or price_for(model)
    counts = token_counts(usage)
    prompt = counts["input"] + counts["cache_write_5m"] + counts["cache_write_1h"] + counts["cache_read"]
    if price.long_prompt is not None and prompt > price.long_prompt[0]:
        price = price.long_prompt[1]
    factor = BATCH_DISCOUNT if batch else Decimal(1)
    return {kind: count * getattr(price, kind) * factor / MILLION for kind, count in counts.items()}


def cost(usage: Any, model: str, *, batch: bool = False, price: Price | None = None) -> Decimal:
    """The cost in USD of one reply's `usage` on `model` (`batch=True`: through the Message Batches API)."""
    return sum(cost_breakdown(usage, model, batch=batch, price=price).values(), Decimal(0))


@dataclass
class ConversationCost:
    """Running totals for a conversation (or a service): tokens of each kind, requests and dollars."""

    model: str
    batch: bool = False
    requests: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output"), 0))
    usd: Decimal = Decimal(0)

    def add(self, usage: Any, model: str | None = None) -> Decimal:
        """Count one reply's usage; returns its cost in USD."""
        spent = cost(usage, model or self.model, batch=self.batch)
        for kind, count in token_counts(usage).items():
            self.tokens[kind] += count
        self.requests += 1
        self.usd += spent
        return spent

    @property
    def input_tokens(self) -> int:
        """All input tokens, cached or not (input + cache writes + cache reads)."""
        return sum(n for kind, n in self.tokens.items() if kind != "output")
