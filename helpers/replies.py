"""What a reply means for the conversation: the one rule that turns it into history, and its stop reason.

What it is for: every place that keeps a history (``Conversation``, ``run_tool_loop``, the chat service, the
chat widget) must send each reply back on the next request, and the API accepts back less than it sends.
``assistant_turn(reply)`` is the one rule for that, and ``check_stop_reason(reply)`` says, in one place, what
each of the SDK's ``StopReason`` values asks of the caller.

The history rule (``assistant_turn``), from the API's 400s
(``reference/messages-wire-protocol.md`` §3.2, §11 rules 18-20; ``api-2026-addendum.md`` §5):

- ``thinking`` and ``redacted_thinking`` blocks are kept unchanged and first, as they came (the API rejects
  an edited thinking block, and one that is not first);
- a ``text`` block that is empty or only whitespace is dropped ("text content blocks must be non-empty");
- a client ``tool_use`` block is kept only when the reply stopped for ``tool_use``; otherwise no
  ``tool_result`` can follow it ("`tool_use` ids were found without `tool_result` blocks"), and the last one
  of a reply cut by ``max_tokens`` has a cut ``input`` anyway;
- a turn that would be empty, or end in a thinking block ("The final block in an assistant message cannot
  be `thinking`"), is no turn at all: ``assistant_turn`` returns None and the caller keeps only the user turn.
  Two user turns in a row are valid: the API merges consecutive same-role turns.

The stop reasons (``api-2026-addendum.md`` §6; docs: build-with-claude/handling-stop-reasons):

========================================  =====================================================================
``end_turn``, ``stop_sequence``           the answer; may be empty (the docs note 2-3 token empty replies)
``max_tokens``,                           the answer, cut; ``model_context_window_exceeded`` ("the response
``model_context_window_exceeded``         filled the model's context window") is treated the same way. When the
                                          cut fell inside a tool call, ``MaxTokensError`` (never a silent return)
``tool_use``                              Claude asks for tools: answer every call (``helpers.tools``)
``pause_turn``                            a server-tool loop paused: send the assistant turn back to continue
``refusal``                               ``RefusalError``, carrying ``stop_details`` (category, explanation)
None, or a value this SDK does not know   ``IncompleteReplyError``: a stream that ended before ``message_delta``,
                                          or an API newer than this code
========================================  =====================================================================

What it is not: a validator of whole requests (the offline Claude does that), or a retry policy.
Used by the helpers of notebooks 02, 07, 08 and 09 (``Conversation``, ``run_tool_loop``, ``ChatApp``, the
service); the lessons teach the manual version of each rule.
"""

from __future__ import annotations

from typing import Any, get_args

from anthropic.types import Message, MessageParam, StopReason

STOP_REASONS: frozenset[str] = frozenset(get_args(StopReason))
CUT_STOP_REASONS = frozenset({"max_tokens", "model_context_window_exceeded"})
THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})
MAX_PAUSE_CONTINUATIONS = 8  # pause_turn continuations in one exchange before giving up (assumed; no documented cap)


class ReplyError(RuntimeError):
    """A reply that cannot be used as an answer. ``message`` is the reply, ``stop_reason`` its stop reason."""

    def __init__(self, text: str, message: Message, messages: list[MessageParam] | None = None) -> None:
        super().__init__(text)
        self.message = message
        self.stop_reason: str | None = message.stop_reason
        self.messages = messages  # the history before this reply, where the raiser had one


class RefusalError(ReplyError):
    """Claude declined (``stop_reason: "refusal"``); ``stop_details`` holds ``category`` and ``explanation``.

    ``category`` is one of "cyber", "bio", "frontier_llm", "reasoning_extraction", "general_harms" or None
    (SDK ``RefusalStopDetails``). The refused exchange is not recorded: resend differently, or start over.
    """

    def __init__(self, message: Message, messages: list[MessageParam] | None = None) -> None:
        details = message.stop_details
        self.stop_details = details
        self.category: str | None = getattr(details, "category", None)
        self.explanation: str | None = getattr(details, "explanation", None)
        why = f" (category: {self.category})" if self.category else ""
        super().__init__(f"Claude declined to answer{why}; the exchange was not recorded. Rephrase the "
                         "request or start a new conversation.", message, messages)


class MaxTokensError(ReplyError):
    """The reply was cut (``max_tokens`` or ``model_context_window_exceeded``) where a cut cannot be used.

    ``max_tokens`` is the limit the request had, when known.
    """

    def __init__(self, message: Message, max_tokens: int | None, messages: list[MessageParam] | None = None) -> None:
        self.max_tokens = max_tokens
        limit = f"max_tokens={max_tokens}" if max_tokens is not None else "max_tokens"
        if message.stop_reason == "model_context_window_exceeded":
            cause = "the reply filled the model's context window (model_context_window_exceeded)"
        else:
            cause = f"the reply reached {limit} (stop_reason max_tokens)"
        super().__init__(f"A tool call was cut off: {cause} before its input was complete. Raise max_tokens, "
                         "or shorten the history, and send the request again.", message, messages)


class IncompleteReplyError(ReplyError):
    """The reply has no stop reason (a stream that ended early) or one this code does not know."""

    def __init__(self, message: Message, messages: list[MessageParam] | None = None) -> None:
        reason = message.stop_reason
        what = ("the reply ended without a stop_reason (the stream stopped before message_delta)"
                if reason is None else f"stop_reason {reason!r} is not one this code knows ({sorted(STOP_REASONS)})")
        super().__init__(f"Cannot use this reply: {what}. Send the request again.", message, messages)


class UnansweredToolUseError(ReplyError):
    """Claude asked for tools (``stop_reason: "tool_use"``) where nothing runs them; nothing was recorded."""

    def __init__(self, message: Message, messages: list[MessageParam] | None = None) -> None:
        names = ", ".join(block.name for block in message.content if block.type == "tool_use") or "unnamed"
        super().__init__(f"Claude asked for tools ({names}), and this code does not run tools: use "
                         "helpers.tools.run_tool_loop, or leave tools out of the request.", message, messages)


def _field(block: Any, name: str) -> Any:
    return block.get(name) if isinstance(block, dict) else getattr(block, name, None)


def as_json_block(block: Any) -> dict[str, Any]:
    """A content block (an SDK object or a dict) as a JSON-ready dict, for a store outside the process."""
    return block if isinstance(block, dict) else block.model_dump(mode="json", exclude_none=True)


def _keep(block: Any, stop_reason: str | None) -> bool:
    kind = _field(block, "type")
    if kind == "text":
        return bool((_field(block, "text") or "").strip())
    return kind != "tool_use" or stop_reason == "tool_use"


def assistant_turn(*messages: Message) -> MessageParam | None:
    """The reply as an assistant turn the API accepts back, or None when nothing in it can be sent back.

    Several messages (a reply paused with ``pause_turn`` and its continuations) make one turn, in order. The
    blocks are the reply's own objects (SDK blocks stay SDK objects, as in ``Message.to_param()``).
    """
    content = [block for message in messages for block in message.content if _keep(block, message.stop_reason)]
    if content and _field(content[-1], "type") in THINKING_TYPES:
        content = []
    return {"role": "assistant", "content": content} if content else None  # type: ignore[typeddict-item]


def is_cut_tool_call(message: Message) -> bool:
    """True when a cut reply (``max_tokens`` or the context window) ends inside a ``tool_use`` block."""
    return message.stop_reason in CUT_STOP_REASONS and bool(message.content) and \
        message.content[-1].type == "tool_use"


def check_stop_reason(message: Message, *, max_tokens: int | None = None,
                      messages: list[MessageParam] | None = None, runs_tools: bool = True) -> str:
    """Raise for a reply that is no answer; otherwise return its stop reason for the caller to act on.

    Raises ``RefusalError`` (refusal), ``MaxTokensError`` (a tool call cut by ``max_tokens`` or the context
    window), ``IncompleteReplyError`` (no stop reason, or an unknown one) and, when ``runs_tools`` is false,
    ``UnansweredToolUseError`` (tool_use). Returns "end_turn", "stop_sequence", "max_tokens",
    "model_context_window_exceeded", "tool_use" or "pause_turn". ``messages`` (the history before the reply)
    is attached to the error raised.
    """
    reason = message.stop_reason
    if reason == "refusal":
        raise RefusalError(message, messages)
    if reason is None or reason not in STOP_REASONS:
        raise IncompleteReplyError(message, messages)
    if is_cut_tool_call(message):
        raise MaxTokensError(message, max_tokens, messages)
    if reason == "tool_use" and not runs_tools:
        raise UnansweredToolUseError(message, messages)
    return reason


def continuation(params: dict[str, Any], paused: Message, continuations: int) -> dict[str, Any]:
    """The request that continues a ``pause_turn`` reply: the same one, with the paused turn sent back last.

    ``continuations`` counts the continuations already sent; at ``MAX_PAUSE_CONTINUATIONS`` it raises
    ``ReplyError`` rather than loop for ever.
    """
    if continuations >= MAX_PAUSE_CONTINUATIONS:
        raise ReplyError(f"Claude paused its turn (pause_turn) {continuations + 1} times in a row; gave up. "
                         "Send the request again later.", paused)
    turn = assistant_turn(paused)
    sent = list(params["messages"])
    if turn is not None:
        if sent and sent[-1]["role"] == "assistant":  # an earlier continuation: extend the same turn
            turn = {"role": "assistant", "content": [*sent.pop()["content"], *turn["content"]]}
        sent.append(turn)
    return {**params, "messages": sent}


def text_of(message: Message) -> str:
    """Join the text blocks of a reply (tool_use and thinking blocks are skipped)."""
    return "".join(block.text for block in message.content if block.type == "text")
