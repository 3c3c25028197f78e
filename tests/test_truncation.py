"""History truncation: each function, each guarantee, and properties over random histories with tools."""

import copy
import json
import math
from typing import Any

import pytest
from anthropic.types import TextBlock, ToolUseBlock
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.truncation import (
    TokenBudgetError,
    estimated_counter,
    fit_to_token_budget,
    is_tool_result_message,
    json_size,
    keep_last_turns,
    turn_starts,
)


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def tool_call(*ids: str) -> dict:
    return {"role": "assistant", "content": [{"type": "tool_use", "id": i, "name": "get_weather", "input": {}}
                                             for i in ids]}


def tool_results(*ids: str) -> dict:
    blocks = [{"type": "tool_result", "tool_use_id": i, "content": "18C"} for i in ids]
    return {"role": "user", "content": blocks}


def plain(block: Any) -> Any:
    """A content block as a dict, whether it was given as a dict or an SDK object."""
    return block if isinstance(block, dict) else block.model_dump(exclude_none=True)


def count_chars(messages: list) -> int:
    """A deterministic stand-in for count_tokens: the length of the messages as JSON."""
    return sum(len(json.dumps({**m, "content": m["content"] if isinstance(m["content"], str)
                               else [plain(b) for b in m["content"]]})) for m in messages)


class CountingCounter:
    """Wraps count_chars and records how many times it was called."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, messages: list) -> int:
        self.calls += 1
        return count_chars(messages)


# U1 asks, Claude calls two tools, gets both results, answers; U2 asks, Claude answers.
HISTORY = [
    user("Weather in Paris and Lyon?"),
    tool_call("toolu_a", "toolu_b"),
    tool_results("toolu_a", "toolu_b"),
    assistant("Sunny in both."),
    user("And tomorrow?"),
    assistant("Rain."),
]


# --- is_tool_result_message and turn_starts ---------------------------------------------------------

def test_is_tool_result_message():
    assert is_tool_result_message(tool_results("toolu_a"))
    assert not is_tool_result_message(user("hi"))
    assert not is_tool_result_message({"role": "user", "content": [{"type": "text", "text": "hi"}]})
    assert not is_tool_result_message({"role": "user", "content": []})
    assert not is_tool_result_message(tool_call("toolu_a"))


def test_a_tool_result_after_text_still_counts_so_no_cut_can_orphan_it():
    malformed = {"role": "user", "content": [{"type": "text", "text": "here"}, *tool_results("t")["content"]]}
    assert is_tool_result_message(malformed)
    assert keep_last_turns([user("q"), tool_call("t"), malformed], 1)[0] == user("q")


def test_turn_starts():
    assert turn_starts(HISTORY) == [0, 4]
    assert turn_starts([]) == []
    assert turn_starts([assistant("hi"), tool_results("x")]) == []


# --- keep_last_turns ---------------------------------------------------------------------------------

def test_keep_last_turns_keeps_whole_turns():
    assert keep_last_turns(HISTORY, 1) == HISTORY[4:]
    assert keep_last_turns(HISTORY, 2) == HISTORY


def test_a_naive_slice_orphans_a_tool_result_but_keep_last_turns_does_not():
    naive = HISTORY[-4:]
    assert is_tool_result_message(naive[0])  # the API would answer 400 "unexpected `tool_use_id`"
    kept = keep_last_turns(HISTORY, 1)
    assert kept[0]["role"] == "user" and not is_tool_result_message(kept[0])


def test_keep_last_turns_returns_a_new_list_of_the_same_messages_and_leaves_the_input_alone():
    before = copy.deepcopy(HISTORY)
    kept = keep_last_turns(HISTORY, 5)
    assert kept == HISTORY and kept is not HISTORY
    assert all(a is b for a, b in zip(kept, HISTORY, strict=True))
    assert HISTORY == before


def test_keep_last_turns_drops_leading_debris():
    debris = [assistant("left over"), tool_results("toolu_gone")]
    assert keep_last_turns(debris + HISTORY, 10) == HISTORY
    assert keep_last_turns(debris, 3) == []
    assert keep_last_turns([], 3) == []


@pytest.mark.parametrize("max_turns", [0, -1])
def test_keep_last_turns_refuses_fewer_than_one_turn(max_turns):
    with pytest.raises(ValueError, match="max_turns must be at least 1"):
        keep_last_turns(HISTORY, max_turns)


# --- fit_to_token_budget ---------------------------------------------------------------------------

def test_fit_returns_everything_with_one_count_when_it_fits():
    count = CountingCounter()
    assert fit_to_token_budget(HISTORY, 10**6, count) == HISTORY
    assert count.calls == 1


def test_fit_drops_the_oldest_turns():
    budget = count_chars(HISTORY[4:])
    assert fit_to_token_budget(HISTORY, budget, count_chars) == HISTORY[4:]
    assert fit_to_token_budget(HISTORY, count_chars(HISTORY) - 1, count_chars) == HISTORY[4:]


def test_fit_raises_a_clear_error_when_the_last_turn_alone_is_too_big():
    last_turn = count_chars(HISTORY[4:])
    with pytest.raises(TokenBudgetError) as caught:
        fit_to_token_budget(HISTORY, last_turn - 1, count_chars)
    message = str(caught.value)
    assert str(last_turn - 1) in message and str(last_turn) in message
    assert "Raise the budget or shorten the message" in message
    assert isinstance(caught.value, ValueError)
    assert (caught.value.budget, caught.value.last_turn_tokens) == (last_turn - 1, last_turn)


def test_fit_with_a_single_turn_too_big_counts_once():
    count = CountingCounter()
    with pytest.raises(TokenBudgetError):
        fit_to_token_budget([user("x" * 100)], 10, count)
    assert count.calls == 1


@pytest.mark.parametrize("budget", [0, -5])
def test_fit_refuses_a_budget_that_is_not_positive(budget):
    with pytest.raises(ValueError, match="budget must be a positive"):
        fit_to_token_budget(HISTORY, budget, count_chars)


def test_fit_without_a_turn_start_returns_nothing_and_counts_nothing():
    count = CountingCounter()
    assert fit_to_token_budget([assistant("orphan")], 100, count) == []
    assert count.calls == 0


def test_fit_on_a_long_history_counts_logarithmically():
    history = [m for i in range(1000) for m in (user(f"question {i}"), assistant(f"answer {i}"))]
    count = CountingCounter()
    kept = fit_to_token_budget(history, count_chars(history[-200:]), count)
    assert kept == history[-200:]
    assert count.calls <= 2 + math.ceil(math.log2(999))  # 12 requests instead of up to 1000


# --- properties over random histories --------------------------------------------------------------

@st.composite
def histories(draw: st.DrawFn) -> list[dict]:
    """Random histories: text turns, tool rounds of 1-3 calls, str or block content, dicts or SDK objects."""
    next_id = iter(range(10**6))
    words = st.text(alphabet="abc xyz", min_size=1, max_size=12)

    def text_block() -> Any:
        text = draw(words)
        return TextBlock(type="text", text=text) if draw(st.booleans()) else {"type": "text", "text": text}

    def content() -> Any:
        return draw(words) if draw(st.booleans()) else [text_block() for _ in range(draw(st.integers(1, 2)))]

    messages: list[dict] = []
    debris = draw(st.sampled_from(["none", "assistant", "orphan_result"]))
    if debris == "assistant":
        messages.append({"role": "assistant", "content": content()})
    elif debris == "orphan_result":
        messages.append(tool_results("toolu_lost"))
    for kind in draw(st.lists(st.sampled_from(["user", "assistant", "tools"]), max_size=40)):
        if kind == "tools":
            ids = [f"toolu_{next(next_id)}" for _ in range(draw(st.integers(1, 3)))]
            blocks = [text_block()] if draw(st.booleans()) else []
            for i in ids:
                block = {"type": "tool_use", "id": i, "name": "lookup", "input": {"q": draw(words)}}
                blocks.append(ToolUseBlock(**block) if draw(st.booleans()) else block)
            answer = tool_results(*ids)
            if draw(st.booleans()):
                answer["content"].append({"type": "text", "text": draw(words)})
            messages += [{"role": "assistant", "content": blocks}, answer]
        else:
            messages.append({"role": kind, "content": content()})
    return messages


def block_ids(message: dict, block_type: str, key: str) -> set[str]:
    if isinstance(message["content"], str):
        return set()
    return {plain(b)[key] for b in message["content"] if plain(b)["type"] == block_type}


def assert_guarantees(original: list, result: list) -> None:
    """Suffix of the same objects, starts at a turn start, and every tool_use/tool_result pair intact."""
    assert result is not original
    if not result:
        assert turn_starts(original) == []
        return
    assert all(a is b for a, b in zip(result, original[len(original) - len(result):], strict=True))
    assert result[0]["role"] == "user" and not is_tool_result_message(result[0])
    for i, message in enumerate(result):
        results = block_ids(message, "tool_result", "tool_use_id")
        if results:
            assert i > 0 and results <= block_ids(result[i - 1], "tool_use", "id")
        calls = block_ids(message, "tool_use", "id")
        if calls:
            assert i + 1 < len(result) and calls <= block_ids(result[i + 1], "tool_result", "tool_use_id")


@settings(max_examples=200, deadline=None)
@given(history=histories(), max_turns=st.integers(1, 12))
def test_keep_last_turns_keeps_every_guarantee(history, max_turns):
    before = copy.deepcopy(history)
    kept = keep_last_turns(history, max_turns)
    assert history == before
    assert_guarantees(history, kept)
    assert len(turn_starts(kept)) == min(max_turns, len(turn_starts(history)))


@settings(max_examples=200, deadline=None)
@given(history=histories(), data=st.data())
def test_fit_to_token_budget_keeps_every_guarantee_and_keeps_the_most(history, data):
    budget = data.draw(st.integers(1, count_chars(history) + 50), label="budget")
    before = copy.deepcopy(history)
    count = CountingCounter()
    starts = turn_starts(history)
    try:
        kept = fit_to_token_budget(history, budget, count)
    except TokenBudgetError as error:
        assert count_chars(history[starts[-1]:]) == error.last_turn_tokens > budget
    else:
        assert_guarantees(history, kept)
        if kept:
            assert count_chars(kept) <= budget
            first = starts.index(len(history) - len(kept))
            assert first == 0 or count_chars(history[starts[first - 1]:]) > budget  # the longest that fits
    assert history == before
    assert count.calls <= 2 + math.ceil(math.log2(max(len(starts) - 1, 1)))


def test_estimated_counter_counts_once_and_is_exact_on_its_sample():
    calls = []

    def count(messages: list) -> int:
        calls.append(len(messages))
        return 300

    sample = [user("What's the weather in Paris?"), assistant("Sunny, 21 degrees, and a light wind from the west.")]
    estimate = estimated_counter(count, sample)
    assert calls == [2]
    assert estimate(sample) == 300
    assert estimate(sample[:1]) == math.ceil(json_size(sample[:1]) * 300 / json_size(sample))
    assert estimate(sample * 10) in (2_999, 3_000, 3_001)  # ten times the JSON, ten times the tokens
    assert calls == [2]  # estimating sent nothing more


def test_estimated_counter_reads_sdk_blocks_as_the_dicts_they_are_sent_as():
    as_dicts = [user("hi"), assistant("hello there")]
    as_blocks = [user("hi"), {"role": "assistant", "content": [TextBlock(type="text", text="hello there")]}]
    assert json_size(as_blocks) == json_size(as_dicts)


@pytest.mark.parametrize(("sample", "tokens", "message"), [
    ([], 10, "sample is empty"),
    ([{"role": "user", "content": "hi"}], 0, r"count\(sample\) returned 0"),
])
def test_estimated_counter_refuses_a_calibration_it_cannot_use(sample, tokens, message):
    with pytest.raises(ValueError, match=message):
        estimated_counter(lambda messages: tokens, sample)


def test_json_size_names_what_it_cannot_send():
    with pytest.raises(TypeError, match="set is not a message part the API takes"):
        json_size([{"role": "user", "content": {1}}])
