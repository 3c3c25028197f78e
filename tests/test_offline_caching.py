"""Prompt caching on the offline Claude, through the real SDK: what `usage` says when a prefix is written, read,
too short, expired or invalidated, and what cache diagnostics report (docs: build-with-claude/prompt-caching,
build-with-claude/cache-diagnostics; reference/api-2026-addendum.md section 7)."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from anthropic import Anthropic

from helpers.offline import caching

MODEL = "claude-haiku-5-5"  # minimum cacheable prompt: 512 tokens
LONG_MINIMUM_MODEL = "claude-haiku-4-5"  # minimum cacheable prompt: 4,096 tokens
RULES = "You answer questions about the harbour's tide tables, politely and in one sentence. " * 100
EPHEMERAL = {"type": "ephemeral"}
WEATHER = {"name": "get_weather", "description": "The weather in a city, from the harbour station. " * 60,
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
def client(server) -> Anthropic:
    return Anthropic(api_key="sk-ant-api03-test", base_url=server.url, max_retries=0)


def ask(client: Anthropic, question: str = "When is high tide?", **fields) -> anthropic.types.Message:
    fields.setdefault("system", [{"type": "text", "text": RULES, "cache_control": EPHEMERAL}])
    fields.setdefault("messages", [{"role": "user", "content": question}])
    return client.messages.create(model=fields.pop("model", MODEL), max_tokens=64, **fields)


def split(message: anthropic.types.Message) -> tuple[int, int, int, int, int]:
    """input, cache written (5m), cache written (1h), cache read, output."""
    u = message.usage
    assert u.cache_creation_input_tokens == u.cache_creation.ephemeral_5m_input_tokens + \
        u.cache_creation.ephemeral_1h_input_tokens
    return (u.input_tokens, u.cache_creation.ephemeral_5m_input_tokens, u.cache_creation.ephemeral_1h_input_tokens,
            u.cache_read_input_tokens, u.output_tokens)


def total_input(message: anthropic.types.Message) -> int:
    u = message.usage
    return u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens


def test_a_system_prompt_is_written_then_read(client):
    first, second = ask(client), ask(client)
    counted = client.messages.count_tokens(model=MODEL, system=[{"type": "text", "text": RULES}],
                                           messages=[{"role": "user", "content": "When is high tide?"}])
    assert split(first)[:4] == (9, 1804, 0, 0)
    assert split(second)[:4] == (9, 0, 0, 1804)
    assert total_input(first) == total_input(second) == counted.input_tokens == 1813


def test_without_cache_control_nothing_is_cached(client):
    plain = [{"type": "text", "text": RULES}]
    ask(client, system=plain)
    assert split(ask(client, system=plain))[:4] == (1813, 0, 0, 0)


def test_a_prefix_below_the_model_minimum_is_not_cached_and_no_error(client):
    """1,804 tokens: under Haiku 4.5's 4,096, over Haiku 5.5's 512."""
    first, second = ask(client, model=LONG_MINIMUM_MODEL), ask(client, model=LONG_MINIMUM_MODEL)
    assert split(first)[:4] == split(second)[:4] == (1813, 0, 0, 0)
    assert split(ask(client))[:4] == (9, 1804, 0, 0)


def test_four_breakpoints_are_accepted_and_five_refused(client):
    blocks = [{"type": "text", "text": f"Part {n}. " + RULES, "cache_control": EPHEMERAL} for n in range(5)]
    assert ask(client, system=blocks[:4]).usage.cache_creation_input_tokens > 0
    with pytest.raises(anthropic.BadRequestError) as refused:
        ask(client, system=blocks)
    assert refused.value.status_code == 400
    assert refused.value.body["error"]["type"] == "invalid_request_error"
    assert refused.value.body["error"]["message"] == (
        "A maximum of 4 blocks with cache_control may be provided. Found 5.")
    with pytest.raises(anthropic.BadRequestError, match="Found 5"):  # count_tokens checks it too
        client.messages.count_tokens(model=MODEL, system=blocks, messages=[{"role": "user", "content": "Hi"}])


def test_the_automatic_breakpoint_counts_toward_the_four(client):
    """Assumed (the docs leave it open): top-level cache_control on a fifth block makes five."""
    blocks = [{"type": "text", "text": f"Part {n}. " + RULES, "cache_control": EPHEMERAL} for n in range(4)]
    with pytest.raises(anthropic.BadRequestError, match="Found 5"):
        ask(client, system=blocks, cache_control=EPHEMERAL)
    on_last = [*blocks[:3], {"type": "text", "text": "Hi", "cache_control": EPHEMERAL}]
    message = ask(client, system=blocks[:3], cache_control=EPHEMERAL,
                  messages=[{"role": "user", "content": on_last[3:]}])  # the automatic one lands on a marked block
    assert message.usage.cache_creation_input_tokens > 0


def test_a_5_minute_entry_expires_and_a_read_refreshes_it(client, server):
    ask(client)
    server.state.advance_clock(299)
    assert split(ask(client))[3] == 1804  # read at 299 s: the entry now lives until 599 s
    server.state.advance_clock(299)
    assert split(ask(client))[3] == 1804  # 598 s after the write, 299 s after the last read
    server.state.advance_clock(301)
    assert split(ask(client))[:4] == (9, 1804, 0, 0)  # expired: written again


def test_a_1_hour_entry_outlives_a_5_minute_one(client, server):
    hour = [{"type": "text", "text": RULES, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    assert split(ask(client, system=hour))[:4] == (9, 0, 1804, 0)
    ask(client, "Another question about the tides?", system=[{"type": "text", "text": "Short. " + RULES,
                                                              "cache_control": EPHEMERAL}])
    server.state.advance_clock(1800)
    assert split(ask(client, system=hour))[:4] == (9, 0, 0, 1804)
    assert split(ask(client, "Another question about the tides?", system=[
        {"type": "text", "text": "Short. " + RULES, "cache_control": EPHEMERAL}]))[3] == 0
    server.state.advance_clock(3601)
    assert split(ask(client, system=hour))[:4] == (9, 0, 1804, 0)


def layered(client: Anthropic, *, tools=(WEATHER,), rules: str = RULES, **fields) -> anthropic.types.Message:
    """Breakpoints after the tools, after the system prompt and on the last message."""
    *others, last = [dict(t) for t in tools]
    return ask(client, tools=[*others, {**last, "cache_control": EPHEMERAL}],
               system=[{"type": "text", "text": rules, "cache_control": EPHEMERAL}],
               messages=[{"role": "user", "content": [{"type": "text", "text": "Tide at noon? " * 60,
                                                       "cache_control": EPHEMERAL}]}], **fields)


def test_what_invalidates_what(client):
    first = layered(client)
    tools_part, system_part, messages_part = split(first)[1], None, None
    assert split(layered(client))[:4] == (0, 0, 0, total_input(first))
    # tool_choice: messages only; tools and system are still read
    auto = layered(client, tool_choice={"type": "auto"})
    read = split(auto)[3]
    messages_part = total_input(first) - read
    assert 0 < messages_part < tools_part and split(auto)[1] == messages_part
    # the system prompt: system and messages; the tools are still read
    other_rules = layered(client, rules=RULES + " Be brief.")
    tools_only = split(other_rules)[3]
    assert 0 < tools_only < read
    system_part = read - tools_only
    assert split(other_rules)[1] == total_input(other_rules) - tools_only
    # the tools: everything
    renamed = layered(client, tools=({**WEATHER, "name": "weather_now"},))
    assert split(renamed)[3] == 0 and split(renamed)[1] == total_input(renamed)
    assert tools_only + system_part + messages_part == total_input(first)


def test_automatic_caching_moves_forward_as_the_conversation_grows(client):
    history: list[dict] = []
    reads, writes = [], []
    for question in ["When is high tide?", "And low tide?", "Is Sunday different?"]:
        history.append({"role": "user", "content": question})
        reply = client.messages.create(model=MODEL, max_tokens=64, system=RULES, messages=history,
                                       cache_control=EPHEMERAL)
        history.append({"role": "assistant", "content": reply.content})
        reads.append(reply.usage.cache_read_input_tokens)
        writes.append(reply.usage.cache_creation_input_tokens)
        assert reply.usage.input_tokens == 0  # the breakpoint is on the last block: all of it is cached
        if len(reads) > 1:  # each turn reads everything the previous request sent
            assert reads[-1] == reads[-2] + writes[-2]
    assert reads[0] == 0 and reads[1] > 0 and reads[2] > reads[1]


def test_a_breakpoint_looks_back_20_blocks(client):
    """The automatic breakpoint on the last block finds the entry written 20 blocks earlier, not 21."""
    notes = [{"type": "text", "text": f"Note {n}."} for n in range(20)]
    question = {"role": "user", "content": "When is high tide?"}
    ask(client, system=RULES, cache_control=EPHEMERAL, messages=[question])
    near = [question, {"role": "assistant", "content": "At noon."}, {"role": "user", "content": notes[:19]}]
    assert ask(client, system=RULES, cache_control=EPHEMERAL, messages=near).usage.cache_read_input_tokens == 1813
    ask(client, system=RULES, cache_control=EPHEMERAL, messages=[{"role": "user", "content": "Low tide?"}])
    far = [{"role": "user", "content": "Low tide?"}, {"role": "assistant", "content": "At six."},
           {"role": "user", "content": notes}]
    assert ask(client, system=RULES, cache_control=EPHEMERAL, messages=far).usage.cache_read_input_tokens == 0


def test_streaming_reports_cache_usage_on_message_start_and_message_delta(client, server):
    ask(client)
    with client.messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hi"}],
                                system=[{"type": "text", "text": RULES, "cache_control": EPHEMERAL}]) as stream:
        start = next(event for event in stream if event.type == "message_start")
        final = stream.get_final_message()
    assert (start.message.usage.cache_read_input_tokens, start.message.usage.output_tokens) == (1804, 1)
    assert final.usage.cache_read_input_tokens == 1804 and final.usage.output_tokens > 1
    raw = httpx2.post(f"{server.url}/v1/messages", headers={"x-api-key": "sk-ant-api03-test",
                                                           "anthropic-version": "2023-06-01"},
                      json={"model": MODEL, "max_tokens": 16, "stream": True, "messages": [
                          {"role": "user", "content": "Hi"}], "system": [
                          {"type": "text", "text": RULES, "cache_control": EPHEMERAL}]})
    delta = next(line for line in raw.text.splitlines() if line.startswith('data: {"type":"message_delta"'))
    assert '"cache_read_input_tokens":1804' in delta


def test_diagnostics_name_the_first_divergence(client):
    first = ask(client, diagnostics={"previous_message_id": None})
    assert first.diagnostics is None
    same = ask(client, diagnostics={"previous_message_id": first.id})
    assert same.diagnostics is None  # no divergence
    changed = ask(client, system=[{"type": "text", "text": "Today: Monday. " + RULES, "cache_control": EPHEMERAL}],
                  diagnostics={"previous_message_id": same.id})
    reason = changed.diagnostics.cache_miss_reason
    assert (reason.type, reason.cache_missed_input_tokens) == ("system_changed", 1813 - 3)  # all but the framing
    other_model = ask(client, model="claude-sonnet-5-5", diagnostics={"previous_message_id": same.id})
    assert other_model.diagnostics.cache_miss_reason.type == "model_changed"
    tools = ask(client, tools=[WEATHER], diagnostics={"previous_message_id": same.id})
    assert tools.diagnostics.cache_miss_reason.type == "tools_changed"
    missing = ask(client, diagnostics={"previous_message_id": "msg_01nothere"})
    assert missing.diagnostics.cache_miss_reason.type == "previous_message_not_found"
    untracked = ask(client)  # no `diagnostics`: no fingerprint kept
    later = ask(client, diagnostics={"previous_message_id": untracked.id})
    assert later.diagnostics.cache_miss_reason.type == "previous_message_not_found"


def test_diagnostics_on_a_growing_conversation_and_an_edited_one(client):
    history = [{"role": "user", "content": "When is high tide?"}]
    first = ask(client, messages=history, diagnostics={"previous_message_id": None})
    history += [{"role": "assistant", "content": first.content}, {"role": "user", "content": "And low tide?"}]
    second = ask(client, messages=history, diagnostics={"previous_message_id": first.id})
    assert second.diagnostics is None
    edited = [{"role": "user", "content": "When is high tide on Sunday?"}, *history[1:]]
    third = ask(client, messages=edited, diagnostics={"previous_message_id": second.id})
    reason = third.diagnostics.cache_miss_reason
    assert reason.type == "messages_changed"
    assert reason.cache_missed_input_tokens == total_input(second) - 1804  # all after the system prompt


def test_automatic_caching_passes_over_a_turn_scoped_system_message(client):
    """The breakpoint lands on the user's block, so changing the turn-scoped note keeps the cache."""
    for note, expected_read in (("Answer in French.", 0), ("Answer in German.", 1813)):
        reply = client.messages.create(
            model=MODEL, max_tokens=64, system=RULES, cache_control=EPHEMERAL,
            messages=[{"role": "user", "content": "When is high tide?"},
                      {"role": "system", "content": note, "clear_at": "next_user_message"}],
            extra_headers={"anthropic-beta": "mid-conversation-system-clear-at-2026-08-21"})
        assert reply.usage.cache_read_input_tokens == expected_read
        assert reply.usage.input_tokens > 0  # the note is after the breakpoint: never cached


def test_an_entry_is_usable_once_the_reply_that_wrote_it_has_begun():
    """Two requests at once both write; the entry serves requests that start after the first reply began."""
    store = caching.PromptCache()
    body = {"model": MODEL, "system": RULES, "cache_control": EPHEMERAL,
            "messages": [{"role": "user", "content": "When is high tide?"}]}

    def at(now: float) -> caching.CacheResult:
        return caching.account(store, body, body["messages"], min_tokens=512, now=now, usable_after=0.5, total=1813)

    assert (at(0.0).written["5m"], at(0.2).written["5m"], at(0.6).read) == (1813, 1813, 1813)


def test_the_store_stays_bounded():
    store = caching.PromptCache()
    result = caching.CacheResult(fingerprint=caching.Fingerprint(MODEL, [("messages", b"x" * 32, 1)] * 1_000, 1))
    for n in range(1_200):
        caching.remember(store, f"msg_{n}", result)
    assert len(store.fingerprints) == 200 and store.fingerprint_blocks == 200_000
    assert "msg_1199" in store.fingerprints and "msg_999" not in store.fingerprints


def test_input_token_headers_count_cache_writes_but_not_cache_reads(client):
    """Uncached input and cache writes count toward the input-token limit, reads do not (assumed from docs:
    api/rate-limits, "cache-aware ITPM"; the stored copies read did not cover it)."""
    system = [{"type": "text", "text": RULES * 60, "cache_control": EPHEMERAL}]
    remaining, usages = [], []
    for _ in range(2):
        raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=16, system=system,
                                                       messages=[{"role": "user", "content": "High tide?"}])
        remaining.append(int(raw.headers["anthropic-ratelimit-input-tokens-remaining"]))
        usages.append(raw.parse().usage)
    written, read = usages[0].cache_creation_input_tokens, usages[1].cache_read_input_tokens
    assert written == read > 100_000
    limit = int(raw.headers["anthropic-ratelimit-input-tokens-limit"])
    assert remaining[0] <= limit - written + 1_000  # the write was spent
    assert remaining[1] >= remaining[0] - 1_000  # the read was not
