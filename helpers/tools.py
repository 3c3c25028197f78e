"""Claude's tool-use loop, with plain Python functions as the tools.

What it is for: you pass typed functions with docstrings. Each becomes a tool definition: the name comes
from the function, the description from its docstring, and ``input_schema`` from its signature. The SDK's
``anthropic.beta_tool`` builds them with pydantic, and it also validates the inputs before each call.
``run_tool_loop`` sends the request. When the reply asks for tools, it runs every ``tool_use`` block and
sends all the ``tool_result`` blocks back in one user turn. It repeats until Claude stops asking. A tool
cannot kill the loop: an unknown tool name, inputs that do not fit the schema, and an exception raised by
the tool each become a ``tool_result`` with ``is_error: true`` and a clear message, so Claude can recover.
A tool's output that cannot be sent as JSON (a dict that contains itself, a dict with tuple keys) becomes
such a result too. After ``max_iterations`` requests the loop stops with ``ToolLoopLimitError``.

Every reply goes through ``helpers.replies``: the history holds ``assistant_turn(reply)`` (no empty text block
beside a ``tool_use``, thinking blocks unchanged and first), and each stop reason is handled on purpose:

- ``tool_use``: every call is run and all results go back in one user turn; the loop goes on.
- ``end_turn``, ``stop_sequence``: the loop returns. An empty final reply adds no turn to ``messages``.
- ``max_tokens``, ``model_context_window_exceeded``: a cut text answer is returned like ``end_turn`` (check
  ``result.stop_reason``); a cut *tool call* is never handed back: with ``max_tokens_retry`` the same request is
  sent once more with that larger ``max_tokens``, otherwise (or if it is cut again) ``MaxTokensError`` is raised,
  its ``messages`` the history without the cut reply.
- ``pause_turn``: the paused turn is sent back so Claude continues; each continuation counts as a request.
- ``refusal``: ``RefusalError`` with ``stop_details``; ``IncompleteReplyError`` for no or an unknown reason.

Every call is logged at INFO on the ``helpers.tools`` logger, with the traceback when a tool raised.

What it is not: a streaming or async loop, or a sandbox. Tools run in your process with your
permissions, so timeouts, idempotency and side effects are each tool's job. It is not the SDK's
``client.beta.messages.tool_runner`` either, which does the same job in beta with server-held threads.
This module sends only stable ``client.messages.create`` requests. ``beta_tool`` runs locally and sends
nothing.

Taught by ``notebooks/07_tool_use_loop.ipynb``.
"""

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import anthropic
import pydantic
from anthropic import beta_tool
from anthropic.lib.tools import BetaFunctionTool, ToolError
from anthropic.types import Message, MessageParam, ToolParam, ToolResultBlockParam, ToolUseBlock

from helpers.replies import assistant_turn, check_stop_reason, is_cut_tool_call

log = logging.getLogger(__name__)

Tool = Callable[..., Any] | BetaFunctionTool[Any]
# Arguments the loop sets itself; passing them through **create_kwargs would break it.
_OWNED_ARGUMENTS = frozenset({"messages", "tools", "stream"})


class ToolLoopLimitError(RuntimeError):
    """Claude still asked for tools after ``max_iterations`` requests.

    ``message`` is the last reply. Its tool calls were not run: ``answer_tool_calls`` runs them.
    ``messages`` is the history up to and including that reply.
    """

    def __init__(self, max_iterations: int, message: Message, messages: list[MessageParam]) -> None:
        self.max_iterations = max_iterations
        self.message = message
        self.messages = messages
        calls = ", ".join(block.name for block in message.content if block.type == "tool_use")
        if message.stop_reason == "pause_turn":
            super().__init__(f"Claude's turn was still paused (pause_turn) after {max_iterations} requests; "
                             "raise max_iterations.")
            return
        super().__init__(f"Claude still asked for tools ({calls}) after {max_iterations} requests; "
                         "raise max_iterations, or check the prompt and tool_choice.")


@dataclass(frozen=True)
class ToolLoopResult:
    """How the loop ended: the final reply, the full history (a new list) and the number of requests."""

    message: Message
    messages: list[MessageParam]
    iterations: int

    @property
    def stop_reason(self) -> str | None:
        """The final reply's stop reason: "end_turn", "stop_sequence", "max_tokens" or the context window's."""
        return self.message.stop_reason


def as_tool(function: Tool) -> BetaFunctionTool[Any]:
    """Return the SDK tool for ``function``, or ``function`` itself when it already is one (``@beta_tool``)."""
    return function if isinstance(function, BetaFunctionTool) else beta_tool(function)


def tool_definitions(tools: Iterable[Tool]) -> list[ToolParam]:
    """Return the definitions to send as ``tools=``, built from the functions' signatures and docstrings."""
    return [cast(ToolParam, tool.to_dict()) for tool in _registry(tools).values()]


def answer_tool_calls(message: Message, tools: Iterable[Tool]) -> MessageParam:
    """Run every ``tool_use`` block of ``message`` and return ONE user turn holding all their results."""
    registry = _registry(tools)
    results = [_run(block, registry) for block in message.content if block.type == "tool_use"]
    return {"role": "user", "content": results}


def run_tool_loop(
    client: anthropic.Anthropic,
    *,
    model: str,
    messages: Iterable[MessageParam],
    tools: Iterable[Tool],
    max_tokens: int,
    max_iterations: int = 10,
    max_tokens_retry: int | None = None,
    **create_kwargs: Any,
) -> ToolLoopResult:
    """Call Claude and run the tools it asks for until it stops asking (or ``max_iterations`` requests).

    Extra keyword arguments (``system``, ``tool_choice``, ``timeout``...) go to ``client.messages.create``
    on every request. Your ``messages`` are never changed: the result holds a new list. ``max_tokens_retry``
    (tokens, larger than ``max_tokens``) is the limit for one more try when a tool call is cut by
    ``max_tokens``; the requests that follow keep it. Raises ``ToolLoopLimitError``, and ``RefusalError``,
    ``MaxTokensError`` or ``IncompleteReplyError`` from ``helpers.replies`` (their ``messages`` is the history
    before the reply); see the module docstring for every stop reason.
    """
    owned = _OWNED_ARGUMENTS.intersection(create_kwargs)
    if owned:
        raise TypeError(f"{sorted(owned)} are managed by run_tool_loop; pass messages= and tools= instead.")
    if max_iterations < 1:
        raise ValueError(f"max_iterations must be at least 1, not {max_iterations}")
    registry = _registry(tools)
    definitions = [cast(ToolParam, tool.to_dict()) for tool in registry.values()]
    history = list(messages)
    limit = max_tokens
    for iteration in range(1, max_iterations + 1):
        reply = client.messages.create(model=model, max_tokens=limit, messages=history, tools=definitions,
                                       **create_kwargs)
        retry = max_tokens_retry is not None and limit < max_tokens_retry and iteration < max_iterations
        if retry and is_cut_tool_call(reply):
            log.info("a tool call was cut at max_tokens=%s; sending again with %s", limit, max_tokens_retry)
            limit = max_tokens_retry
            continue
        reason = check_stop_reason(reply, max_tokens=limit, messages=list(history))
        turn = assistant_turn(reply)
        if reason == "pause_turn":
            _append_paused(history, turn)
            continue
        if turn is not None:
            history.append(turn)
        if reason != "tool_use":
            return ToolLoopResult(message=reply, messages=history, iterations=iteration)
        if iteration < max_iterations:
            history.append(answer_tool_calls(reply, registry.values()))
    raise ToolLoopLimitError(max_iterations, reply, history)


def _append_paused(history: list[MessageParam], turn: MessageParam | None) -> None:
    """Send a paused turn back last; a second pause extends the same assistant turn."""
    if turn is None:
        return
    if history and history[-1]["role"] == "assistant":
        turn = {"role": "assistant", "content": [*history.pop()["content"], *turn["content"]]}
    history.append(turn)


def _registry(tools: Iterable[Tool]) -> dict[str, BetaFunctionTool[Any]]:
    """Map each tool's name to its SDK tool; two tools with one name are refused."""
    registry: dict[str, BetaFunctionTool[Any]] = {}
    for tool in map(as_tool, tools):
        if tool.name in registry:
            raise ValueError(f"two tools are named {tool.name!r}; tool names must be unique")
        registry[tool.name] = tool
    return registry


def _run(block: ToolUseBlock, registry: dict[str, BetaFunctionTool[Any]]) -> ToolResultBlockParam:
    """Run one tool call; every way it can fail becomes an ``is_error`` result that tells Claude why."""
    tool = registry.get(block.name)
    if tool is None:
        known = ", ".join(registry) or "none"
        return _result(block, f"Error: there is no tool named {block.name!r}; available tools: {known}.", True)
    try:
        output = tool.call(block.input)
    except ToolError as error:  # the tool's own message for Claude, sent as it is
        return _result(block, error.content, True)
    except ValueError as error:
        if not isinstance(error.__cause__, pydantic.ValidationError):
            return _failed(block, error)
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}"
                             for e in error.__cause__.errors(include_url=False))
        return _result(block, f"Error: invalid arguments for {block.name}: {problems}.", True)
    except Exception as error:  # a failing tool must not end the loop: Claude is told, and can recover
        return _failed(block, error)
    try:
        text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError) as error:  # a dict that holds itself, non-string keys...
        log.info("tool %s (%s) returned a value that is not JSON", block.name, block.id, exc_info=error)
        return _result(block, f"Error: {block.name} returned a {type(output).__name__} that cannot be sent as "
                              f"JSON ({type(error).__name__}: {error}).", True)
    # A lone surrogate cannot be encoded in the request body; "?" takes its place.
    return _result(block, text.encode("utf-8", "replace").decode("utf-8"), False)


def _failed(block: ToolUseBlock, error: Exception) -> ToolResultBlockParam:
    log.info("tool %s (%s) raised", block.name, block.id, exc_info=error)
    return _result(block, f"Error: {block.name} raised {type(error).__name__}: {error}", True)


def _result(block: ToolUseBlock, content: Any, is_error: bool) -> ToolResultBlockParam:
    log.info("tool %s(%s) id=%s is_error=%s", block.name, block.input, block.id, is_error)
    result: ToolResultBlockParam = {"type": "tool_result", "tool_use_id": block.id, "content": content}
    if is_error:
        result["is_error"] = True
    return result
