"""What the offline Claude says: a deterministic reply that depends only on the request it is sent.

It is not a language model. It reads the conversation it is sent (after merging consecutive same-role turns, as
the API does) and answers from a few rules, so that lessons can show state at work:

- a fact the user stated ("My name is Ada", "my favourite colour is teal") is recalled when asked ("What is my
  name?") while it is still in the messages, and not once it has been truncated away;
- greetings, simple arithmetic, capitals, counting and "write a story/essay about X" get plausible answers; any
  other question gets an honest note that this is the offline stand-in;
- a system prompt visibly shapes the reply (terse, pirate, shouting, "You are X");
- with tools offered it calls the tools whose name or description match the user's words, one call per thing
  asked, filling the required inputs from the words; after the results come back it quotes each of them.

`max_tokens` and `stop_sequences` are applied afterwards, by `compose()`.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from .reply_rules import tool_calls, tool_results_reply, written_piece

FACT_RE = re.compile(r"\bmy ((?:[a-z]+ ){0,2}[a-z]+) is ([^.,!?;\n]+)", re.I)
NAME_RE = re.compile(r"\b(?i:i'm|i am|call me)\s+([A-Z][a-zA-Z-]+)")
QUESTION_RE = re.compile(r"\bwhat(?:'s| is) my ((?:[a-z]+ ){0,2}[a-z]+)\b", re.I)
CAPITALS = {"france": "Paris", "japan": "Tokyo", "italy": "Rome", "germany": "Berlin", "spain": "Madrid",
            "portugal": "Lisbon", "canada": "Ottawa", "australia": "Canberra", "brazil": "Brasília",
            "kenya": "Nairobi", "egypt": "Cairo", "india": "New Delhi", "china": "Beijing", "peru": "Lima",
            "mexico": "Mexico City", "norway": "Oslo", "poland": "Warsaw", "the united kingdom": "London"}
OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
       ast.Pow: operator.pow, ast.USub: operator.neg, ast.Mod: operator.mod}


@dataclass
class Reply:
    """A reply before `max_tokens` and stop sequences: content blocks (dicts) and the natural stop reason."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "end_turn"
    stop_details: dict[str, Any] | None = None  # with stop_reason "refusal": {"type": "refusal", "category", ...}


def merge_turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive same-role messages merged into one, content as lists of blocks (the API does the same)."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        blocks = as_blocks(message["content"])
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"] = merged[-1]["content"] + blocks
        else:
            merged.append({"role": message["role"], "content": list(blocks)})
    return merged


def as_blocks(content: Any) -> list[dict[str, Any]]:
    """A message's content as a list of blocks."""
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def text_of(blocks: list[dict[str, Any]]) -> str:
    """The text blocks of a content list, joined."""
    return "\n".join(b["text"] for b in blocks if b.get("type") == "text")


def system_text(system: Any) -> str:
    """The system prompt as plain text (it may be a string or a list of text blocks)."""
    return system if isinstance(system, str) else text_of(system or [])


def respond(body: dict[str, Any], messages: list[dict[str, Any]]) -> Reply:
    """The reply to a validated request whose full conversation is `messages`."""
    turns = merge_turns(messages)
    system = system_text(body.get("system"))
    tools = [t for t in body.get("tools") or [] if t.get("type") in (None, "custom")]
    choice = body.get("tool_choice") or {"type": "auto"}
    prefill = ""
    if turns[-1]["role"] == "assistant":  # a prefill (older models): continue from it
        prefill = text_of(turns[-1]["content"])
        turns = turns[:-1]
    if not turns:
        return Reply([])
    last = turns[-1]["content"]
    if last and last[0].get("type") == "tool_result":
        if tools and choice["type"] != "none":
            calls = tool_calls(turns, tools, choice, exclude_called=True)
            if calls:
                return Reply(calls, "tool_use")
        return Reply([{"type": "text", "text": shape(tool_results_reply(turns), system)}])
    if tools and choice["type"] != "none":
        calls = tool_calls(turns, tools, choice, exclude_called=False)
        if calls:
            return Reply(calls, "tool_use")
    text = shape(answer(text_of(last), turns, system), system)
    if prefill:
        text = text[len(prefill):] if text.startswith(prefill) else " " + text
    return Reply([{"type": "text", "text": text}])


def facts_in(turns: list[dict[str, Any]]) -> dict[str, str]:
    """What the user said about themselves in the conversation sent, later statements winning."""
    facts: dict[str, str] = {}
    for turn in turns:
        if turn["role"] != "user":
            continue
        text = text_of(turn["content"])
        for name in NAME_RE.findall(text):
            facts["name"] = name
        for key, value in FACT_RE.findall(text):
            facts[_norm_key(key)] = value.strip()
    return facts


def _norm_key(key: str) -> str:
    return key.lower().replace("favorite", "favourite").replace("color", "colour")


def answer(question: str, turns: list[dict[str, Any]], system: str) -> str:
    """The text answer to the user's last message."""
    q = question.strip()
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
        persona = re.search(r"\byou are ([^.\n]+)", system, re.I)
        return (f"I'm {persona.group(1).strip()}." if persona else
                "I'm Claude, an AI assistant made by Anthropic, answering here as the offline stand-in.")
    if re.fullmatch(r"(hi|hello|hey|good (morning|afternoon|evening))\b[\s\S]{0,20}", low):
        return "Hello! How can I help you today?"
    capital = re.search(r"capital of ([a-z ]+?)\s*\??$", low)
    if capital and capital.group(1) in CAPITALS:
        country = capital.group(1)
        return f"The capital of {country[0].upper() + country[1:]} is {CAPITALS[country]}."
    counting = re.search(r"\bcount (?:from (\d+) )?to (\d+)", low)
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


def _arithmetic(question: str) -> str | None:
    words = {"plus": "+", "minus": "-", "times": "*", "multiplied by": "*", "divided by": "/", "x": "*"}
    text = question.lower()
    for word, symbol in words.items():
        text = re.sub(rf"\b{word}\b", symbol, text)
    match = re.search(r"[-(]*\d[\d\s.+\-*/%()^]*\d\)*|\d+\s*\*\*\s*\d+", text)
    if not match or not re.search(r"[+\-*/%^]", match.group(0)):
        return None
    expression = match.group(0).strip().replace("^", "**")
    try:
        value = _evaluate(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None
    shown = int(value) if isinstance(value, float) and value.is_integer() else round(value, 6)
    return f"{expression} = {shown}."


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in OPS:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ValueError("exponent too large")
        return OPS[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in OPS:
        return OPS[type(node.op)](_evaluate(node.operand))
    raise ValueError("not arithmetic")


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

