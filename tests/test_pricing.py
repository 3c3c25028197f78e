"""helpers.pricing: dollars from usage, with the published prices and multipliers (docs: about-claude/pricing)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from anthropic import Anthropic
from anthropic.types import Usage

from helpers.pricing import PRICES, ConversationCost, Price, cost, cost_breakdown, price_for, token_counts


def usage(input_tokens=0, output_tokens=0, write_5m=0, write_1h=0, read=0) -> Usage:
    return Usage.model_validate({
        "input_tokens": input_tokens, "output_tokens": output_tokens, "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h}})


def test_published_prices_and_multipliers():
    opus = price_for("claude-opus-5")
    assert (opus.input, opus.output, opus.cache_write_5m, opus.cache_write_1h, opus.cache_read) == (
        Decimal(5), Decimal(25), Decimal("6.25"), Decimal(10), Decimal("0.5"))
    assert price_for("claude-opus-5-5").cache_read == Decimal("0.20")  # 0.05x
    assert price_for("claude-fable-5-1").cache_read == Decimal("0.25")  # 0.025x
    assert price_for("claude-haiku-4-5-20251001") == price_for("claude-haiku-4-5")
    assert all(p.cache_write_5m == p.input * Decimal("1.25") and p.cache_write_1h == 2 * p.input
               for p in PRICES.values())


def test_an_unpriced_model_says_where_to_look():
    with pytest.raises(KeyError, match="platform.claude.com/docs/en/about-claude/pricing"):
        price_for("claude-mythos-preview")


def test_cost_of_a_cache_write_then_a_read_on_haiku_5_5():
    write = usage(input_tokens=9, write_5m=1804, output_tokens=30)
    read = usage(input_tokens=9, read=1804, output_tokens=30)
    assert cost(write, "claude-haiku-5-5") == Decimal("0.0002414")  # (9 x 0.10 + 1804 x 0.125 + 30 x 0.50) / 1M
    assert cost(read, "claude-haiku-5-5") == Decimal("0.00003394")  # (0.9 + 1804 x 0.01 + 15) / 1M
    assert cost(usage(input_tokens=1813, output_tokens=30), "claude-haiku-5-5") == Decimal("0.0001963")
    assert cost(usage(write_1h=1000), "claude-haiku-5-5") == Decimal("0.0002")
    assert cost(write, "claude-haiku-5-5", batch=True) == Decimal("0.0001207")


def test_a_long_prompt_on_haiku_5_5_is_billed_at_the_higher_band_on_every_token():
    assert cost(usage(input_tokens=100_000, output_tokens=1000), "claude-haiku-5-5") == Decimal("0.0105")
    assert cost(usage(input_tokens=90_000, read=10_001, output_tokens=1000), "claude-haiku-5-5") == \
        Decimal("0.04800005")  # (90,000 x 0.50 + 10,001 x 0.05 + 1,000 x 2.50) / 1M


def test_usage_as_a_dict_and_without_the_ttl_split():
    plain = {"input_tokens": 10, "output_tokens": 2, "cache_creation_input_tokens": 100,
             "cache_read_input_tokens": 0}
    assert token_counts(plain) == {"input": 10, "cache_write_5m": 100, "cache_write_1h": 0, "cache_read": 0,
                                   "output": 2}
    assert cost_breakdown(plain, "claude-sonnet-5")["cache_write_5m"] == Decimal("0.00025")
    custom = Price(Decimal(1), Decimal(2), Decimal(3), Decimal(4), Decimal(5))
    assert cost(plain, "my-fine-tune", price=custom) == Decimal("0.000314")


def test_conversation_totals_from_real_replies(server):
    client = Anthropic(api_key="sk-ant-api03-test", base_url=server.url, max_retries=0)
    system = [{"type": "text", "text": "You keep the tide tables. " * 200, "cache_control": {"type": "ephemeral"}}]
    tally = ConversationCost("claude-haiku-5-5")
    spent = [tally.add(client.messages.create(model="claude-haiku-5-5", max_tokens=32, system=system,
                                              messages=[{"role": "user", "content": "High tide?"}]).usage)
             for _ in range(3)]
    assert tally.requests == 3 and tally.usd == sum(spent)
    assert spent[0] > spent[1] == spent[2]  # a write costs more than a plain input, a read much less
    assert tally.tokens["cache_write_5m"] == tally.tokens["cache_read"] // 2 > 0
    assert tally.input_tokens == 3 * client.messages.count_tokens(
        model="claude-haiku-5-5", system=system, messages=[{"role": "user", "content": "High tide?"}]).input_tokens
