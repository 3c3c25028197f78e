"""One chat with Claude: the ``messages`` list you must keep and resend, owned by a small class.

What it is for: the Messages API is stateless, so a chat means appending every user turn and every
reply (as ``reply.to_param()``, never the ``Message`` itself) and sending the list again each time.
``Conversation`` does that bookkeeping with the real ``anthropic.Anthropic`` client you pass in, adds
up token usage, and only records an exchange once the call has succeeded: after an exception the
history is exactly as before, so you can simply call again.

Every reply goes through ``helpers.replies``: the history keeps it as ``assistant_turn(reply)`` (no empty
content, no empty text block, thinking blocks unchanged and first), so one empty reply cannot make every
later request fail. What each stop reason does:

- ``end_turn``, ``stop_sequence``: the text is returned, possibly ``""``. An empty reply records only the
  user turn (the API merges two user turns in a row).
- ``max_tokens``, ``model_context_window_exceeded``: the cut text is returned and recorded; check
  ``last_stop_reason``. A cut tool call raises ``MaxTokensError``.
- ``pause_turn``: the paused turn is sent back and the reply continued, up to ``MAX_PAUSE_CONTINUATIONS``.
- ``refusal``: ``RefusalError`` (with ``stop_details``); the exchange is not recorded.
- ``tool_use``: ``UnansweredToolUseError``, since a conversation runs no tools; nothing is recorded.
- none or unknown: ``IncompleteReplyError``; nothing is recorded.

The tokens of every reply received count in ``usage``, recorded or not.

``messages`` always keeps the *full* history. A ``truncate`` function (for example
``lambda m: keep_last_turns(m, 10)`` from ``helpers.truncation``) shapes only what is *sent*. That way
you can show or save the whole transcript, and change the truncation policy later without having
lost anything; the price is memory, not tokens.

What it is not: a tool loop (a reply that asks for a tool raises ``UnansweredToolUseError``; use
``helpers.tools.run_tool_loop`` for that), an async client wrapper, or a store that survives the process.

Taught by ``notebooks/02_multi_turn_state.ipynb``.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.types import Message, MessageParam

from helpers.replies import assistant_turn, check_stop_reason, continuation, text_of

__all__ = ["Conversation", "Usage", "text_of"]

# Arguments the conversation sets itself; passing them to ask() or stream() would break the history.
_OWNED_ARGUMENTS = frozenset({"messages", "stream"})


@dataclass
class Usage:
    """Running token totals over every successful request of a conversation."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    requests: int = 0

    def add(self, usage: anthropic.types.Usage) -> None:
        """Add one reply's ``usage`` to the totals."""
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_read_input_tokens += usage.cache_read_input_tokens or 0
        self.cache_creation_input_tokens += usage.cache_creation_input_tokens or 0
        self.requests += 1


class Conversation:
    """The history of one chat, sent in full (or through ``truncate``) with every new user turn."""

    def __init__(
        self,
        client: anthropic.Anthropic,
        *,
        model: str,
        max_tokens: int = 1024,
        system: str | None = None,
        truncate: Callable[[list[MessageParam]], list[MessageParam]] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.max_tokens = max_tokens
        self.system = system
        self.truncate = truncate
        self.messages: list[MessageParam] = []
        self.usage = Usage()
        self.last_message: Message | None = None

    @property
    def last_stop_reason(self) -> str | None:
        """The stop reason of the last recorded reply ("end_turn", "max_tokens", ...), or None."""
        return self.last_message.stop_reason if self.last_message is not None else None

    def __len__(self) -> int:
        """Return the number of messages in the full history."""
        return len(self.messages)

    def reset(self) -> None:
        """Forget the history and the last reply; ``usage`` keeps counting, since those tokens were spent."""
        self.messages = []
        self.last_message = None

    def ask(self, text: str, **create_kwargs: Any) -> str:
        """Send ``text`` as the next user turn and return the reply's text.

        Extra keyword arguments go to ``client.messages.create`` and may override ``model``,
        ``max_tokens`` and ``system`` for this call only. Raises the SDK's errors, and ``RefusalError``,
        ``MaxTokensError``, ``UnansweredToolUseError`` or ``IncompleteReplyError`` from ``helpers.replies``
        (all ``ReplyError``); the history is then unchanged.
        """
        user_turn, params = self._prepare(text, create_kwargs)
        replies: list[Message] = []
        while True:
            reply = self.client.messages.create(**params)
            replies.append(reply)
            if self._check(reply, params) != "pause_turn":
                break
            params = continuation(params, reply, len(replies) - 1)
        self._record(user_turn, replies)
        return "".join(text_of(reply) for reply in replies)

    def stream(self, text: str, **create_kwargs: Any) -> Iterator[str]:
        """Like ``ask`` but yield the reply's text as it arrives; the exchange is recorded at the end.

        Empty text is refused at once, before iteration. If the stream fails, or you stop iterating
        early, nothing is recorded: the history stays as it was. A connection that breaks after the
        body has started raises ``httpx2.TransportError`` as it is: the SDK wraps only earlier failures.
        """
        user_turn, params = self._prepare(text, create_kwargs)
        return self._stream(user_turn, params)

    def _stream(self, user_turn: MessageParam, params: dict[str, Any]) -> Iterator[str]:
        replies: list[Message] = []
        while True:
            with self.client.messages.stream(**params) as stream:
                yield from stream.text_stream
                reply = stream.get_final_message()
            replies.append(reply)
            if self._check(reply, params) != "pause_turn":
                break
            params = continuation(params, reply, len(replies) - 1)
        self._record(user_turn, replies)

    def _check(self, reply: Message, params: dict[str, Any]) -> str:
        """Count the reply's tokens, then apply ``check_stop_reason`` (which raises for a non-answer)."""
        self.usage.add(reply.usage)
        return check_stop_reason(reply, max_tokens=params.get("max_tokens"), messages=list(self.messages),
                                 runs_tools=False)

    def _prepare(self, text: str, create_kwargs: dict[str, Any]) -> tuple[MessageParam, dict[str, Any]]:
        if not text.strip():
            raise ValueError("Refusing to send an empty message: the API rejects blank text. Type something.")
        owned = _OWNED_ARGUMENTS.intersection(create_kwargs)
        if owned:
            raise TypeError(f"{sorted(owned)} are managed by the Conversation; use ask() or stream().")
        user_turn: MessageParam = {"role": "user", "content": text}
        to_send = [*self.messages, user_turn]
        if self.truncate is not None:
            to_send = self.truncate(to_send)
        params: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens}
        if self.system is not None:
            params["system"] = self.system
        return user_turn, {**params, **create_kwargs, "messages": to_send}

    def _record(self, user_turn: MessageParam, replies: list[Message]) -> None:
        turn = assistant_turn(*replies)
        self.messages.extend([user_turn] if turn is None else [user_turn, turn])
        self.last_message = replies[-1]
