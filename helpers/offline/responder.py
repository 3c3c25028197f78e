"""What the offline Claude says: a deterministic reply that depends only on the request it is sent.

It is not a language model. It reads the conversation it is sent (after merging consecutive same-role turns, as
the API does) and answers from a few rules, so that lessons can show state at work:

- a fact the user stated ("My name is Ada", "my favourite colour is teal") is recalled when asked ("What is my
  name?") while it is still in the messages, and not once it has been truncated away;
- greetings, simple arithmetic, capitals, counting and "write a story/essay about X" get plausible answers; any
  other question gets an honest note that this is the offline stand-in;
- a system prompt visibly shapes the reply (terse, pirate, shouting, "You are X"); `{"role": "system"}` entries
  inside `messages` count as more system text and are not turns;
- with tools offered it calls the tools whose name or description match the user's words, one call per thing
  asked, filling the required inputs from the words; after the results come back it quotes each of them;
- with `output_config.format` (or the deprecated `output_format`) it answers with JSON valid for the schema, and
  with thinking in effect it starts with a signed `thinking` block (see `structured` and `thinking`).

Whatever it is sent, a reply costs bounded work: the rules read the last `QUESTION_CHARS` characters of the
question, the first `FACT_CHARS` of each earlier user message, the first `SYSTEM_CHARS` of the system text, and
every pattern is linear in what it reads. Arithmetic is capped (`MAX_EXPRESSION_CHARS` characters, numbers of at
most `MAX_DIGITS` digits, results below `MAX_RESULT`), so no question can make it compute for long.
`max_tokens` and `stop_sequences` are applied afterwards, by `compose()`.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from . import structured, thinking
from .models import MODELS, thinking_in_effect
from .reply_rules import LEAD_WORDS, QUESTION_CHARS, entities, numbers_in, tool_calls, tool_results_reply, written_piece

FACT_CHARS = 2_000  # ... the first 2,000 characters of each user message, for stated facts
SYSTEM_CHARS = 4_000  # ... and the first 4,000 characters of the system text
MAX_EXPRESSION_CHARS = 200
MAX_DIGITS = 30
MAX_RESULT = 10.0 ** 100
STOP_REASONS = ("end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
                "model_context_window_exceeded")  # SDK 2.10 `StopReason`; the only values ever sent

FACT_RE = re.compile(r"\bmy ((?:[a-z]{1,30} ){0,2}[a-z]{1,30}) is ([^.,!?;\n]{1,200})", re.I)
NAME_RE = re.compile(r"\b(?i:i'm|i am|call me)\s{1,10}([A-Z][a-zA-Z-]{0,40})")
QUESTION_RE = re.compile(r"\bwhat(?:'s| is) my ((?:[a-z]{1,30} ){0,2}[a-z]{1,30})\b", re.I)
ARITHMETIC_RUN_RE = re.compile(r"[\d\s.+\-*/%()^]+")
CAPITALS = {"france": "Paris", "japan": "Tokyo", "italy": "Rome", "germany": "Berlin", "spain": "Madrid",
            "portugal": "Lisbon", "canada": "Ottawa", "australia": "Canberra", "brazil": "Brasília",
            "kenya": "Nairobi", "egypt": "Cairo", "india": "New Delhi", "china": "Beijing", "peru": "Lima",
            "mexico": "Mexico City", "norway": "Oslo", "poland": "Warsaw", "the united kingdom": "London"}
OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
       ast.Pow: operator.pow, ast.USub: operator.neg, ast.Mod: operator.mod}


@dataclass
class Reply:
    """A reply before `max_tokens` and stop sequences: content blocks (dicts) and the natural stop reason.

    `stop_reason` must be one of `STOP_REASONS`; `stop_details` goes to the message as is, e.g.
    `{"type": "refusal", "category": "cyber", "explanation": None}` with stop_reason "refusal". Each block is a
    dict with a string `type`; `text` blocks need a string `text`, `tool_use` blocks a string `name` and a dict
    `input`, `thinking` blocks a string `thinking`. ValueError otherwise, so a bad scripted reply fails where it
    is written, not while the server answers."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "end_turn"
    stop_details: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.stop_reason not in STOP_REASONS:
            raise ValueError(f"stop_reason must be one of {', '.join(STOP_REASONS)}, not {self.stop_reason!r}")
        needs = {"text": {"text": str}, "tool_use": {"name": str, "input": dict}, "thinking": {"thinking": str}}
        for i, block in enumerate(self.content):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise ValueError(f"content[{i}] must be a dict with a string 'type', not {block!r:.80}")
            for key, kind in needs.get(block["type"], {}).items():
                if not isinstance(block.get(key), kind):
                    raise ValueError(f"content[{i}]: a {block['type']} block needs '{key}' of type {kind.__name__}")


def merge_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive same-role messages merged into one, content as lists of blocks (the API does the same).

    `{"role": "system"}` entries are left out: they are system text (see `system_text`), not turns."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            continue
        blocks = as_blocks(message.get("content"))
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"] = merged[-1]["content"] + blocks
        else:
            merged.append({"role": message["role"], "content": list(blocks)})
    return merged


def as_blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content as a list of blocks (anything that is not a block is left out)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def text_of(blocks: Any) -> str:
    """The text blocks of a content list (or a plain string), joined."""
    return "\n".join(b["text"] for b in as_blocks(blocks) if b.get("type") == "text" and isinstance(b.get("text"), str))


def system_text(system: Any, messages: list[Any] = ()) -> str:
    """The system prompt as plain text: the `system` field (a string or text blocks), then the text of every
    `{"role": "system"}` entry in `messages`, at most `SYSTEM_CHARS` characters."""
    parts = [text_of(system)] + [text_of(m.get("content")) for m in messages
                                 if isinstance(m, dict) and m.get("role") == "system"]
    return "\n".join(p for p in parts if p)[:SYSTEM_CHARS]


def last_user_text(turns: list[dict[str, Any]]) -> str:
    """The user's question as the rules read it: its last `QUESTION_CHARS` characters."""
    return text_of(turns[-1]["content"])[-QUESTION_CHARS:] if turns else ""


def respond(body: dict[str, Any], messages: list[dict[str, Any]]) -> Reply:
    """The reply to a validated request whose full conversation is `messages`.

    With thinking in effect (`models.thinking_in_effect`), the reply starts with a signed `thinking` block."""
    reply = _respond(body, messages)
    spec = MODELS.get(str(body.get("model")))
    if spec is not None and thinking_in_effect(body, spec):
        block = thinking.thinking_block(body, messages, _question(merge_turns(messages)), reply.content)
        reply.content.insert(0, block)
    return reply


def _respond(body: dict[str, Any], messages: list[dict[str, Any]]) -> Reply:
    turns = merge_turns(messages)
    system = system_text(body.get("system"), messages)
    offered = body.get("tools") if isinstance(body.get("tools"), list) else []
    tools = [t for t in offered if isinstance(t, dict) and t.get("type") in (None, "custom")
             and isinstance(t.get("name"), str)]
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {"type": "auto"}
    choice = {**choice, "type": choice.get("type") if isinstance(choice.get("type"), str) else "auto"}
    prefill = ""
    if turns and turns[-1]["role"] == "assistant":  # a prefill (older models): continue from it
        prefill = text_of(turns[-1]["content"])
        turns = turns[:-1]
    if not turns:
        return Reply([])
    schema = structured.requested_schema(body)
    last = turns[-1]["content"]
    after_results = bool(last) and last[0].get("type") == "tool_result"
    if tools and choice["type"] != "none":
        calls = tool_calls(turns, tools, choice, exclude_called=after_results)
        if schema is not None:  # under a format every text is the JSON answer: no preface before the calls
            calls = [c for c in calls if c["type"] == "tool_use"]
        if calls:
            return Reply(calls, "tool_use")
    if schema is not None:  # the answer, once any tool results are back, is JSON for the schema
        question = _question(turns)
        text = structured.json_reply(schema, question, entities=entities(question, LEAD_WORDS),
                                     numbers=numbers_in(question))
        return Reply([{"type": "text", "text": text}])
    if after_results:
        return Reply([{"type": "text", "text": shape(tool_results_reply(turns), system)}])
    text = shape(answer(last_user_text(turns), turns, system), system)
    if prefill:
        text = text[len(prefill):] if text.startswith(prefill) else " " + text
    return Reply([{"type": "text", "text": text}] if text else [])


def _question(turns: list[dict[str, Any]]) -> str:
    """The last user text that is not only tool results (bounded), for structured replies and thinking."""
    for turn in reversed(turns):
        text = text_of(turn["content"]) if turn["role"] == "user" else ""
        if text:
            return text[-QUESTION_CHARS:]
    return ""


def facts_in(turns: list[dict[str, Any]]) -> dict[str, str]:
    """What the user said about themselves in the conversation sent, later statements winning."""
    facts: dict[str, str] = {}
    for turn in turns:
        if turn["role"] != "user":
            continue
        text = text_of(turn["content"])[:FACT_CHARS]
        for name in NAME_RE.findall(text):
            facts["name"] = name
        for key, value in FACT_RE.findall(text):
            facts[_norm_key(key)] = value.strip()
    return facts


def _norm_key(key: str) -> str:
    return key.lower().replace("favorite", "favourite").replace("color", "colour")


def answer(question: str, turns: list[dict[str, Any]], system: str) -> str:
    """The text answer to the user's last message (`question`, already bounded by the caller)."""
    q = question[-QUESTION_CHARS:].strip()
    low = q.lower()
    asked = QUESTION_RE.search(q)
    if asked:
        key = _norm_key(asked.group(1))
        value = facts_in(turns).get(key)
        if value:
            return f"Your {asked.group(1)} is {value}."
        return (f"I don't know your {asked.group(1)}: it isn't anywhere in this conversation. I only know what the "
                "messages you send me contain.")
    stated = FACT_RE.findall(q) or [("name", n) for n in NAME_RE.findall(q)]
    if stated:
        key, value = stated[-1]
        if _norm_key(key) == "name":
            return f"Nice to meet you, {value.strip()}! What can I do for you today?"
        return f"Got it: your {key} is {value.strip()}. I'll keep that in mind."
    if re.search(r"\bwho are you\b", low):
        persona = re.search(r"\byou are ([^.\n]{1,200})", system, re.I)
        return (f"I'm {persona.group(1).strip()}." if persona else
                "I'm Claude, an AI assistant made by Anthropic, answering here as the offline stand-in.")
    if re.fullmatch(r"(hi|hello|hey|good (morning|afternoon|evening))\b[\s\S]{0,20}", low):
        return "Hello! How can I help you today?"
    capital = re.search(r"capital of ([a-z ]++)\??$", low)
    country = capital.group(1).strip() if capital else ""
    if country in CAPITALS:
        return f"The capital of {country[0].upper() + country[1:]} is {CAPITALS[country]}."
    counting = re.search(r"\bcount (?:from (\d{1,7}) )?to (\d{1,7})(?!\d)", low)
    if counting:
        start, end = int(counting.group(1) or 1), min(int(counting.group(2)), 10_000)
        return ", ".join(str(n) for n in range(start, end + 1)) + "."
    arithmetic = _arithmetic(q)
    if arithmetic:
        return arithmetic
    piece = written_piece(q)
    if piece:
        return piece
    quoted = re.search(r"\b(?:repeat|say)(?: after me)?:?\s+(.+)$", q, re.I)
    if quoted:
        return quoted.group(1).strip().strip("\"'")
    snippet = q if len(q) <= 80 else q[:77] + "..."
    return (f'This is the offline Claude, a deterministic stand-in for the real model, so I cannot really answer '
            f'"{snippet}". With an API key in .env, Claude answers here instead.')


def arithmetic_span(text: str) -> str | None:
    """The first arithmetic-looking span of `text` (a run of digits, spaces and `.+-*/%()^` that holds two digits,
    from the `-`/`(` right before its first digit to the `)`s after its last one), or None. Linear time."""
    for run in ARITHMETIC_RUN_RE.finditer(text):
        span = run.group(0)
        digits = [i for i, c in enumerate(span) if c.isdigit()]
        if len(digits) < 2:
            continue
        start, end = digits[0], digits[-1] + 1
        while start > 0 and span[start - 1] in "-(":
            start -= 1
        while end < len(span) and span[end] == ")":
            end += 1
        return span[start:end]
    return None


def _arithmetic(question: str) -> str | None:
    words = {"plus": "+", "minus": "-", "times": "*", "multiplied by": "*", "divided by": "/", "x": "*"}
    text = question.lower()
    for word, symbol in words.items():
        text = re.sub(rf"\b{word}\b", symbol, text)
    span = arithmetic_span(text)
    if not span or not re.search(r"[+\-*/%^]", span) or len(span) > MAX_EXPRESSION_CHARS:
        return None
    expression = span.strip().replace("^", "**")
    if re.search(rf"\d{{{MAX_DIGITS + 1}}}", expression):
        return None
    try:
        value = _evaluate(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError, RecursionError, MemoryError):
        return None
    shown = int(value) if isinstance(value, float) and value.is_integer() else round(value, 6)
    return f"{expression} = {shown}."


def _evaluate(node: ast.AST) -> float:
    """The value of an arithmetic expression tree, refusing (ValueError) anything beyond `MAX_RESULT`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        value = node.value
    elif isinstance(node, ast.BinOp) and type(node.op) in OPS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or (
                abs(left) > 1 and abs(right) * math.log10(abs(left)) > math.log10(MAX_RESULT))):
            raise ValueError("power too large")
        value = OPS[type(node.op)](left, right)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in OPS:
        value = OPS[type(node.op)](_evaluate(node.operand))
    else:
        raise ValueError("not arithmetic")
    if not isinstance(value, (int, float)) or not math.isfinite(value) or abs(value) >= MAX_RESULT:
        raise ValueError("result out of range")  # complex (a root of a negative number), inf, or too large
    return value


def shape(text: str, system: str) -> str:
    """Apply the system prompt's visible instructions to a reply."""
    low = system.lower()
    if re.search(r"\b(terse|concise|brief|one sentence|short answers?)\b", low):
        first = re.match(r"[\s\S]*?[.!?](?=\s|$)", text)
        text = first.group(0) if first else text
    if "pirate" in low:
        text = "Arr! " + re.sub(r"\bHello\b", "Ahoy", text).replace("my friend", "matey")
    if re.search(r"\b(uppercase|all caps|shout)", low):
        text = text.upper()
    return text
