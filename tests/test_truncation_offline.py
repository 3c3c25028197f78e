"""Truncated histories against the offline Claude: whatever the cut, the API accepts what the helpers return.

Hypothesis builds valid histories with tool rounds (user text; assistant text, or tool_use blocks answered by a
user message that starts with the matching tool_result blocks); every history it builds is first checked to be
accepted whole. Then every cut that `keep_last_turns` and `fit_to_token_budget` make (the budget counted by the
offline Claude's own `count_tokens`, through the SDK) must be accepted by `client.messages.create` too, while the
naive `messages[-k:]` that starts on a tool_result must be refused with the API's 400, so the test can fail.
"""

import itertools

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.offline import start_server
from helpers.settings import default_model
from helpers.truncation import TokenBudgetError, fit_to_token_budget, is_tool_result_message, keep_last_turns

MODEL = default_model()
TOOLS = [
    {
        "name": "lookup",
        "description": "Look a word up in the dictionary.",
        "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
    }
]
WORDS = st.text(alphabet="abcdefgh", min_size=1, max_size=8)
PHRASES = st.lists(WORDS, min_size=1, max_size=6).map(" ".join)


@pytest.fixture(scope="module")
def client():
    with start_server(first_token_ms=0, per_token_ms=0) as server:
        yield anthropic.Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0)


@st.composite
def histories(draw: st.DrawFn) -> list[dict]:
    """A valid history of 1-8 turns, at least one tool round, ending on the user's new question."""
    ids = (f"toolu_{n:04d}" for n in itertools.count())

    def text(role: str) -> dict:
        if role == "user" and draw(st.booleans()):
            return {"role": "user", "content": draw(PHRASES)}
        return {"role": role, "content": [{"type": "text", "text": draw(PHRASES)}]}

    def tool_round() -> list[dict]:
        calls = [{"type": "tool_use", "id": next(ids), "name": "lookup", "input": {"word": draw(WORDS)}}
                 for _ in range(draw(st.integers(1, 3)))]
        preface = [{"type": "text", "text": draw(PHRASES)}] if draw(st.booleans()) else []
        results = [{"type": "tool_result", "tool_use_id": call["id"], "content": draw(PHRASES),
                    **({"is_error": True} if draw(st.booleans()) else {})} for call in calls]
        return [{"role": "assistant", "content": preface + calls}, {"role": "user", "content": results}]

    rounds_per_turn = draw(st.lists(st.integers(0, 2), min_size=1, max_size=8).filter(any))
    messages: list[dict] = []
    for rounds in rounds_per_turn:
        messages.append(text("user"))
        for _ in range(rounds):
            messages += tool_round()
        if rounds == 0 or draw(st.booleans()):  # after tool results, Claude's closing text is optional
            messages.append(text("assistant"))
    messages.append(text("user"))
    return messages


def accepted(client: anthropic.Anthropic, messages: list[dict]) -> bool:
    """Send `messages`; True if the API answers with a message."""
    reply = client.messages.create(model=MODEL, max_tokens=64, tools=TOOLS, messages=messages)
    return reply.type == "message"


@settings(max_examples=60, deadline=None)
@given(history=histories(), data=st.data())
def test_every_cut_the_helpers_make_is_accepted_and_a_naive_slice_is_not(client, history, data):
    calls = []

    def count(candidate: list) -> int:
        calls.append(len(candidate))
        return client.messages.count_tokens(model=MODEL, messages=candidate, tools=TOOLS).input_tokens

    assert accepted(client, history)  # the generated history itself is valid

    max_turns = data.draw(st.integers(1, 9), label="max_turns")
    assert accepted(client, keep_last_turns(history, max_turns))

    whole = count(history)
    budget = data.draw(st.integers(1, whole + 20), label="budget")
    calls.clear()
    try:
        fitted = fit_to_token_budget(history, budget, count)
    except TokenBudgetError as error:
        assert error.last_turn_tokens > budget
    else:
        assert len(calls) <= 2 + 3  # at most 9 turns: the whole, the last turn, then at most 3 halvings
        assert count(fitted) <= budget
        assert accepted(client, fitted)

    orphans = [k for k in range(1, len(history)) if is_tool_result_message(history[-k])]
    assert orphans  # every generated history has a tool round, so a naive slice can start on its results
    k = data.draw(st.sampled_from(orphans), label="k")
    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use_id` found in `tool_result` blocks"):
        accepted(client, history[-k:])
