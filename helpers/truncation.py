"""Trim a Messages API history so it fits, without breaking the rules the API enforces.

What it is for: the Messages API keeps no state, so every request carries the whole history and a long
chat eventually costs too much or overflows the context window. These functions cut the *oldest* turns
and return a shorter list you can send as ``messages=``. Every result keeps three promises:

- it is a suffix of your list (the same message objects, in a new list; your list is never changed);
- it starts with a user message that is not a ``tool_result`` message (a "turn start");
- it never separates an assistant ``tool_use`` from the user message holding its ``tool_result``, so the
  API never answers 400 "unexpected `tool_use_id` found in `tool_result` blocks".

A *turn* is a user message typed by a person plus everything after it up to the next one: Claude's
reply and any tool rounds (assistant ``tool_use`` -> user ``tool_result`` -> ...) in between.

What it is not: a summariser (dropped turns are gone, not condensed), a tokenizer (bring your own ``count``,
normally ``client.messages.count_tokens``; ``estimated_counter`` turns one such count into a free estimate), or
the API's server-side context management.

Taught by ``notebooks/03_history_truncation.ipynb``.
"""

import json
import math
from collections.abc import Callable, Sequence
from typing import Any


class TokenBudgetError(ValueError):
    """Raised when even the most recent turn alone is larger than the token budget."""

    def __init__(self, budget: int, last_turn_tokens: int) -> None:
        self.budget = budget
        self.last_turn_tokens = last_turn_tokens
        super().__init__(
            f"The last turn alone is {last_turn_tokens} tokens, over the budget of {budget} tokens; "
            "nothing older can be dropped to make it fit. Raise the budget or shorten the message."
        )


def _block_type(block: Any) -> str | None:
    """Return a content block's ``type``, whether it is a dict or an SDK object."""
    if isinstance(block, dict):
        return block.get("type")
    return getattr(block, "type", None)


def is_tool_result_message(message: Any) -> bool:
    """Tell whether ``message`` is a user message carrying ``tool_result`` blocks (a turn continuation)."""
    if message["role"] != "user":
        return False
    content = message["content"]
    if isinstance(content, str):
        return False
    # The API requires tool_result blocks to come first. A malformed message with text first is still
    # treated as a tool-result message, so that a cut can never separate it from its tool_use.
    return any(_block_type(block) == "tool_result" for block in content)


def turn_starts(messages: Sequence[Any]) -> list[int]:
    """Return the indexes of the user messages that start a turn (user messages that are not tool results)."""
    return [
        index
        for index, message in enumerate(messages)
        if message["role"] == "user" and not is_tool_result_message(message)
    ]


def keep_last_turns(messages: Sequence[Any], max_turns: int) -> list[Any]:
    """Return the last ``max_turns`` turns of ``messages`` (a new list; the input is not changed).

    With fewer turns than ``max_turns``, everything from the first turn start is kept: leading assistant
    or tool-result messages that no turn owns are dropped. With no turn start at all the result is ``[]``.
    """
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1 (got {max_turns!r}); keeping no turn sends nothing.")
    starts = turn_starts(messages)
    if not starts:
        return []
    return list(messages[starts[max(0, len(starts) - max_turns)]:])


def fit_to_token_budget(
    messages: Sequence[Any], budget: int, count: Callable[[list[Any]], int]
) -> list[Any]:
    """Drop the oldest turns until ``count(result) <= budget``; return the longest such suffix.

    ``count`` takes a list of messages and returns its size in tokens. With the real API::

        def count(candidate):
            return client.messages.count_tokens(model=MODEL, messages=candidate).input_tokens

        messages_to_send = fit_to_token_budget(history, budget=50_000, count=count)

    Pass the same ``system`` and ``tools`` to ``count_tokens`` as you will to ``create``: they count too.

    Each ``count_tokens`` call is an HTTP request, so ``count`` is called as few times as possible. The
    whole history is tried first (one call when it fits, the usual case); then the last turn alone; then,
    because dropping turns can only shrink the count, a binary search over the turn starts finds the
    cut. A history of ``t`` turns costs at most ``2 + ceil(log2(t - 1))`` calls, not ``t``.

    Raises ``ValueError`` if ``budget`` is not positive and ``TokenBudgetError`` if the last turn alone
    does not fit. With no turn start at all the result is ``[]`` and ``count`` is not called.
    """
    if budget <= 0:
        raise ValueError(f"budget must be a positive number of tokens (got {budget!r}).")
    starts = turn_starts(messages)
    if not starts:
        return []

    def fits(turn: int) -> tuple[bool, int]:
        tokens = count(list(messages[starts[turn]:]))
        return tokens <= budget, tokens

    fits_budget, tokens = fits(0)
    if fits_budget:
        return list(messages[starts[0]:])
    last = len(starts) - 1
    if last > 0:
        fits_budget, tokens = fits(last)
    if not fits_budget:
        raise TokenBudgetError(budget, tokens)
    # Invariant: turn `low - 1` does not fit, turn `high` fits. Find the first turn that fits.
    low, high = 1, last
    while low < high:
        middle = (low + high) // 2
        if fits(middle)[0]:
            high = middle
        else:
            low = middle + 1
    return list(messages[starts[high]:])


def _as_json(value: Any) -> Any:
    """Turn an SDK object (a ``TextBlock``, ``ToolUseBlock``...) into the dict it is sent as."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"{type(value).__name__} is not a message part the API takes; send dicts or SDK blocks.")


def json_size(messages: Sequence[Any]) -> int:
    """The length in characters of ``messages`` as JSON (SDK blocks as their dicts): the unit of the estimate."""
    return len(json.dumps(list(messages), default=_as_json, ensure_ascii=False))


def estimated_counter(count: Callable[[list[Any]], int], sample: Sequence[Any]) -> Callable[[Sequence[Any]], int]:
    """Return a token counter that sends no request, calibrated with one ``count(list(sample))`` call.

    The calibration gives tokens per character of JSON; the counter returns ``ceil(json_size(messages) *
    tokens_per_character)``, so it is exact on ``sample`` and close on messages of the same kind of text. The
    ratio absorbs whatever fixed tokens ``count`` adds (``system``, ``tools``), which makes much smaller lists
    look larger than they are: calibrate on a sample about as large as what you will estimate. Use it where a
    few percent do not matter (choosing what to send under a budget with headroom, a simulation), and count
    exactly what must not go over. Raises ``ValueError`` for an empty sample or a count that is not positive.
    """
    if not sample:
        raise ValueError("sample is empty: calibrate on messages like the ones you will estimate.")
    tokens = count(list(sample))
    if tokens <= 0:
        raise ValueError(f"count(sample) returned {tokens!r}; a calibration needs a positive number of tokens.")
    tokens_per_character = tokens / json_size(sample)

    def estimate(messages: Sequence[Any]) -> int:
        return math.ceil(json_size(messages) * tokens_per_character - 1e-9)

    return estimate
