"""Hostile request bodies for the offline Claude, and how to judge what it answers to them.

Shared by `tests/test_offline_hostile.py` (the acceptance tests) and `benchmarks/hostile.py` (the figures):

- `fuzz_cases()`: a hypothesis strategy of realistic Messages bodies (plain text, system, multi-turn, tools with
  `tool_use`/`tool_result` pairs, streaming, `count_tokens`) each given exactly one mutation: a wrong type at a
  random path, junk inserted at a random path, bad unicode (lone surrogate escapes, invalid UTF-8 bytes), a huge
  number or a number literal JSON lacks (NaN, Infinity, +1, 0x10, ...) written raw into the JSON text, deep
  nesting, a huge string, or pathological text. Bodies go out as raw bytes.
- `REFUSED`: bodies the real API refuses with 400 `invalid_request_error`, each with what its message must say.
- `VALID_CRASHERS`: valid requests (arithmetic, counting, "capital of" with 60,000 spaces, ...) that must be
  answered 200 with a well-formed Message or stream.
- `judge()`: what is wrong with one answer, by kind: `no_answer` (connection reset, stream cut, hang guard),
  `server_error` (status >= 500), `bad_shape` (an error body outside the API's shape, or a 200 that is not a valid
  Message / SSE stream / token count), `accepted_invalid` (a body the API refuses was accepted, or refused with
  another error).
- `hello_during()`, `send_large()`, `refused_10mb_bodies()`: the separate-process server,
  the concurrent Hello and the big bodies for the stall and memory checks.

Sources for the expected answers: the wire reference (`messages-wire-protocol.md` sections 3, 5, 6, 11) and its
2026 addendum; where a text is quoted from public reports of the real API, the entry says so.
"""

from __future__ import annotations

import copy
import json
import re
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent
from hypothesis import strategies as st
from pydantic import TypeAdapter

HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "content-type": "application/json"}
MESSAGES_PATH = "/v1/messages"
COUNT_PATH = "/v1/messages/count_tokens"
MODEL = "claude-haiku-5-5"
ROOT = Path(__file__).resolve().parent.parent

# The API's error types by HTTP status (wire reference 5.2; 409 `conflict_error` from the addendum, section 10.9).
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 409: "conflict_error",
               413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 504: "timeout_error",
               529: "overloaded_error"}
INVALID_JSON = "The request body is not valid JSON: "  # wire reference 11.7, observed
EDGE_413 = {"error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}}  # wire ref 3.7
STREAM_EVENT = TypeAdapter(RawMessageStreamEvent)
MARK = "@@HOSTILE-MARK@@"  # placeholder swapped for raw bytes after serialising

# -- the bodies ----------------------------------------------------------------------------------------------

MODELS = ("claude-haiku-5-5", "claude-haiku-4-5", "claude-sonnet-5", "claude-opus-4-6")
PROMPTS = ("Hello", "What is the capital of France?", "What's the weather in Paris and Tokyo?", "What is 12 * 7?",
           "Count to 5.", "Tell me a short story about a lighthouse.", "My name is Ada.", "What is my name?",
           "Convert 100 EUR to USD.", "Search the docs for streaming.", "Add 2 and 40.",
           "Écris un haïku sur la mer 🌊", "東京の天気は？")
WEATHER = {"name": "get_weather", "description": "Current weather for a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string", "description": "A city"}},
                            "required": ["city"]}}
ADD = {"name": "add_numbers", "description": "Add two numbers.",
       "input_schema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                        "required": ["a", "b"]}}
CONVERT = {"name": "convert_currency", "description": "Convert an amount between currencies.",
           "input_schema": {"type": "object",
                            "properties": {"amount": {"type": "number"},
                                           "to": {"type": "string", "enum": ["USD", "EUR", "JPY"]}},
                            "required": ["amount", "to"]}}
SEARCH = {"name": "search_docs", "description": "Search the documentation.",
          "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}
TOOL_INPUTS = {"get_weather": {"city": "Paris"}, "add_numbers": {"a": 2, "b": 40},
               "convert_currency": {"amount": 100, "to": "USD"}, "search_docs": {"query": "streaming"}}
TOOL_IDS = ("toolu_01A09q90qw90lq917835lq9", "toolu_01Hg5Jk7Lm9Np2Qr4St6Uv8W", "toolu_01Bx7Ty3Mn5Pq8Rs2Tu4Vw6Y")

texts = st.one_of(st.sampled_from(PROMPTS), st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != ""))


def text_content(draw: Callable[..., Any], text: str) -> Any:
    """A message's content: the plain string, or a list with one text block."""
    return text if draw(st.booleans()) else [{"type": "text", "text": text}]


@st.composite
def plain_body(draw: Callable[..., Any]) -> dict[str, Any]:
    return {"model": draw(st.sampled_from(MODELS)), "max_tokens": draw(st.integers(1, 1024)),
            "messages": [{"role": "user", "content": text_content(draw, draw(texts))}]}


@st.composite
def system_body(draw: Callable[..., Any]) -> dict[str, Any]:
    body = draw(plain_body())
    system = draw(texts)
    body["system"] = system if draw(st.booleans()) else [{"type": "text", "text": system}]
    return body


@st.composite
def multi_turn_body(draw: Callable[..., Any]) -> dict[str, Any]:
    messages = []
    for _ in range(draw(st.integers(1, 3))):
        messages.append({"role": "user", "content": text_content(draw, draw(texts))})
        messages.append({"role": "assistant", "content": text_content(draw, draw(st.sampled_from(PROMPTS)))})
    messages.append({"role": "user", "content": text_content(draw, draw(texts))})
    return {"model": draw(st.sampled_from(MODELS)), "max_tokens": draw(st.integers(1, 1024)), "messages": messages}


@st.composite
def tools_body(draw: Callable[..., Any]) -> dict[str, Any]:
    tools = draw(st.lists(st.sampled_from([WEATHER, ADD, CONVERT, SEARCH]), min_size=1, max_size=4, unique_by=lambda
                          t: t["name"]))
    called = tools[: draw(st.integers(1, min(2, len(tools))))]
    calls = [{"type": "tool_use", "id": TOOL_IDS[i], "name": tool["name"], "input": TOOL_INPUTS[tool["name"]]}
             for i, tool in enumerate(called)]
    results = []
    for call in calls:
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call["id"]}
        shape = draw(st.sampled_from(["string", "blocks", "none"]))
        if shape == "string":
            result["content"] = "18°C and sunny"
        elif shape == "blocks":
            result["content"] = [{"type": "text", "text": "42"}]
        if draw(st.booleans()):
            result["is_error"] = draw(st.booleans())
        results.append(result)
    if draw(st.booleans()):
        results.append({"type": "text", "text": "Answer in one line."})
    lead = [{"type": "text", "text": "Let me check."}] if draw(st.booleans()) else []
    messages = [{"role": "user", "content": draw(texts)}, {"role": "assistant", "content": lead + calls},
                {"role": "user", "content": results}]
    if draw(st.booleans()):
        messages += [{"role": "assistant", "content": "Done."}, {"role": "user", "content": draw(texts)}]
    body = {"model": draw(st.sampled_from(MODELS)), "max_tokens": draw(st.integers(1, 1024)), "tools": tools,
            "messages": messages}
    if draw(st.booleans()):
        body["tool_choice"] = {"type": "auto"}
    return body


SHAPES = {"plain": plain_body(), "system": system_body(), "multi_turn": multi_turn_body(), "tools": tools_body()}


@st.composite
def base_case(draw: Callable[..., Any]) -> tuple[str, str, dict[str, Any]]:
    """(shape name, path, a valid body), with optional fields now and then, streamed or sent to count_tokens."""
    name = draw(st.sampled_from(list(SHAPES)))
    body = draw(SHAPES[name])
    if draw(st.booleans()):
        body["stop_sequences"] = ["\n\nHuman:"]
    if draw(st.booleans()):
        body["metadata"] = {"user_id": "user-1"}
    endpoint = draw(st.sampled_from(["json", "stream", "count_tokens"]))
    if endpoint == "stream":
        return f"{name}+stream", MESSAGES_PATH, {**body, "stream": True}
    if endpoint == "count_tokens":
        body = {k: v for k, v in body.items() if k not in ("max_tokens", "stop_sequences", "metadata")}
        return f"{name}+count_tokens", COUNT_PATH, body
    return name, MESSAGES_PATH, body


# -- one mutation ----------------------------------------------------------------------------------------------

JUNK = (0, 5, -1, 1.5, "", "x", "string", [], [1], [{}], {}, {"type": "text"}, {"type": "text", "text": 5},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "tool_use", "id": "toolu_x", "name": "y", "input": "z"}, {"type": "tool_result", "tool_use_id": 5},
        {"role": "system", "content": "x"}, None, True, False)
JUNK_KEYS = ("type", "text", "content", "role", "stream", "metadata", "cache_control", "is_error", "input", "id",
             "name", "properties", "citations", "", "é", "__proto__")
BAD_UNICODE = (b"\\ud800", b"\\udfff", b"\\udc00\\ud800", b"\\ud800\\u0041", b"\xff", b"\xc3\x28", b"\xed\xa0\x80",
               b"\xc0\xaf", b"\xe2\x82", b"\xf4\x90\x80\x80")
HUGE_NUMBERS = ("9" * 400, "-" + "9" * 400, "1e308", "1.7976931348623157e308", "1e309", "-1e400", "1e-400",
                "0." + "0" * 399 + "1", "1" + "0" * 400 + ".5", "123456789012345678901234567890")
NOT_JSON_NUMBERS = ("NaN", "Infinity", "-Infinity", "+1", "0x10", ".5", "1.", "01")  # not JSON (RFC 8259 section 6)
MUTATIONS = ("wrong_type", "insert_junk", "bad_unicode", "huge_number", "not_json_number", "deep_nesting",
             "huge_string", "pathological_text")
NOT_JSON_MUTATIONS = ("bad_unicode", "not_json_number")  # the API answers 400 "The request body is not valid JSON"
HUGE_STRINGS = ("a", " ", "1+", "(", "9", "🙂", "\n", "word ", "Paris ")


def pathological_texts() -> st.SearchStrategy[tuple[str, str]]:
    """(label, text): the slow or crashing texts listed as hostile input, at sizes up to the listed ones."""
    sizes = st.integers
    return st.one_of(
        sizes(2, 5000).map(lambda n: (f"'1+1+...' with {n} terms", "+".join(["1"] * n))),
        st.sampled_from(["((9**64)**64)**2", "9**9**9**9", "2**2**2**2**2**2", "10**100000",
                         "(2**64)**(2**64)"]).map(lambda t: (repr(t), t)),
        sizes(1, 5000).map(lambda n: (f"'count to ' + {n} digits", "count to " + "9" * n)),
        sizes(0, 60000).map(lambda n: (f"'capital of' + {n} spaces + '!'",
                                       "What is the capital of" + " " * n + "!")),
        sizes(1, 20000).map(lambda n: (f"'(' * {n}", "(" * n)),
        sizes(1, 400).map(lambda n: (f"'add ' + {n}-digit number", f"Add {'9' * n} and 2.")),
    )


@dataclass(frozen=True)
class Case:
    """One request: where it goes, its raw bytes, and how it was made (for reports)."""

    path: str
    raw: bytes
    shape: str
    mutation: str  # the mutation's kind
    detail: str  # what exactly was done, and where
    refused_as_invalid_json: bool = False  # the API answers 400 "The request body is not valid JSON: ..."

    def excerpt(self, limit: int = 400) -> str:
        raw = self.raw if len(self.raw) <= limit else self.raw[:limit] + b"..."
        return f"{raw!r} ({len(self.raw):,} bytes)"

    def __repr__(self) -> str:
        return f"Case({self.shape}, {self.path}, {self.mutation}: {self.detail}; body {self.excerpt(200)})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in a JSON tree, root first, depth first."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths_of(value, (*prefix, i))
    return found


def at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def replaced(body: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copied = copy.deepcopy(body)
    at(copied, path[:-1])[path[-1]] = value
    return copied


def dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(step) for step in path) or "<root>"


def json_type(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def encode(body: Any, raw: bytes | None = None, *, quoted: bool = True, ascii_only: bool = False) -> bytes:
    """The body as JSON bytes; `raw` replaces the mark (with its quotes when `quoted`, else inside its string)."""
    data = json.dumps(body, ensure_ascii=ascii_only).encode()
    if raw is None:
        return data
    mark = json.dumps(MARK).encode() if quoted else MARK.encode()
    assert data.count(mark) == 1
    return data.replace(mark, raw)


def user_text_paths(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Paths of the user's text: a string `content` or a text block's `text` in a user message."""
    found = []
    for i, message in enumerate(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        if isinstance(message["content"], str):
            found.append(("messages", i, "content"))
        else:
            found += [("messages", i, "content", k, "text") for k, block in enumerate(message["content"])
                      if block.get("type") == "text"]
    return found


@st.composite
def fuzz_cases(draw: Callable[..., Any], kinds: tuple[str, ...] = MUTATIONS) -> Case:
    """A realistic body with exactly one hostile mutation of one of `kinds` (see the module docstring)."""
    shape, path, body = draw(base_case())
    ascii_only = draw(st.booleans())
    paths = paths_of(body)
    kind = draw(st.sampled_from(kinds))
    if kind == "wrong_type":
        where = draw(st.sampled_from(paths))
        old = at(body, where)
        value = draw(st.sampled_from([j for j in JUNK if json_type(j) != json_type(old)]))
        return Case(path, encode(replaced(body, where, value), ascii_only=ascii_only), shape, kind,
                    f"{dotted(where)} = {json.dumps(value)}")
    if kind == "insert_junk":
        where = draw(st.sampled_from([p for p in paths if isinstance(at(body, p), (dict, list))]))
        container = copy.deepcopy(at(body, where))
        value = draw(st.sampled_from(JUNK))
        if isinstance(container, dict):
            key = draw(st.sampled_from(JUNK_KEYS))
            container[key] = value
            detail = f"{dotted(where)}[{key!r}] = {json.dumps(value)}"
        else:
            index = draw(st.integers(0, len(container)))
            container.insert(index, value)
            detail = f"{dotted(where)}.insert({index}, {json.dumps(value)})"
        return Case(path, encode(replaced(body, where, container), ascii_only=ascii_only), shape, kind, detail)
    if kind == "bad_unicode":
        payload = draw(st.sampled_from(BAD_UNICODE))
        strings = [p for p in paths if isinstance(at(body, p), str)]
        keys = [(p, k) for p in paths if isinstance(at(body, p), dict) for k in at(body, p)]
        if draw(st.booleans()) or not keys:
            where = draw(st.sampled_from(strings))
            old = at(body, where)
            cut = draw(st.integers(0, len(old)))
            mutated = replaced(body, where, old[:cut] + MARK + old[cut:])
            detail = f"{payload!r} inside the string at {dotted(where)}"
        else:
            where, key = draw(st.sampled_from(keys))
            container = {(MARK + k if k == key else k): v for k, v in at(body, where).items()}
            mutated = replaced(body, where, container)
            detail = f"{payload!r} before the key {key!r} at {dotted(where)}"
        return Case(path, encode(mutated, payload, quoted=False, ascii_only=ascii_only), shape, kind, detail,
                    refused_as_invalid_json=True)
    if kind in ("huge_number", "not_json_number"):
        where = draw(st.sampled_from(paths))
        number = draw(st.sampled_from(HUGE_NUMBERS if kind == "huge_number" else NOT_JSON_NUMBERS))
        shown = number if len(number) < 20 else f"{number[:8]}...({len(number)} chars)"
        return Case(path, encode(replaced(body, where, MARK), number.encode(), ascii_only=ascii_only), shape, kind,
                    f"{dotted(where)} = {shown}", refused_as_invalid_json=kind == "not_json_number")
    if kind == "deep_nesting":
        where = draw(st.sampled_from(paths[1:]))
        depth = draw(st.integers(1, 100_000))
        nested = "[" * depth + "]" * depth if draw(st.booleans()) else '{"a":' * depth + "1" + "}" * depth
        return Case(path, encode(replaced(body, where, MARK), nested.encode(), ascii_only=ascii_only), shape, kind,
                    f"{dotted(where)} = {nested[:6]}... nested {depth} deep")
    if kind == "huge_string":
        where = draw(st.sampled_from(paths))
        unit = draw(st.sampled_from(HUGE_STRINGS))
        count = draw(st.integers(1, 1_000_000 // len(unit.encode())))
        return Case(path, encode(replaced(body, where, unit * count), ascii_only=ascii_only), shape, kind,
                    f"{dotted(where)} = {unit!r} * {count}")
    where = draw(st.sampled_from(user_text_paths(body)))
    label, text = draw(pathological_texts())
    if draw(st.booleans()):
        text = f"{at(body, where)} {text}"
        label = f"original text + {label}"
    return Case(path, encode(replaced(body, where, text), ascii_only=ascii_only), shape, "pathological_text",
                f"{dotted(where)} = {label}")


# -- fixed lists -----------------------------------------------------------------------------------------------


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def chat(text: str, **fields: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": text}], **fields}


def tool_turns(tool_id: str = TOOL_IDS[0], result: dict[str, Any] | None = None,
               tool_input: Any = None) -> list[dict[str, Any]]:
    """user asks, assistant calls `get_weather`, user answers with a tool_result (overridable fields)."""
    call = {"type": "tool_use", "id": tool_id, "name": "get_weather", "input": tool_input or {"city": "Paris"}}
    answer = {"type": "tool_result", "tool_use_id": tool_id, "content": "18°C and sunny", **(result or {})}
    return [{"role": "user", "content": "What's the weather in Paris?"},
            {"role": "assistant", "content": [call]}, {"role": "user", "content": [answer]}]


def tools_chat(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 256, "tools": tools or [WEATHER], "messages": messages}


PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                   "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
                                           "60e6kgAAAABJRU5ErkJggg=="}}


@dataclass(frozen=True)
class Expected:
    """What a refusal must say: 400 `invalid_request_error`, and a message that is, starts with or holds this."""

    exact: str | None = None
    prefix: str | None = None
    contains: tuple[str, ...] = ()

    def problem(self, message: str) -> str | None:
        if self.exact is not None and message != self.exact:
            return f"message should be {self.exact!r}"
        if self.prefix is not None and not message.startswith(self.prefix):
            return f"message should start with {self.prefix!r}"
        missing = [part for part in self.contains if part not in message]
        return f"message should contain {missing!r}" if missing else None


@dataclass(frozen=True)
class Listed:
    """A fixed body from the hostile-input list."""

    name: str
    path: str
    raw: bytes
    expected: Expected | None = None  # None: a valid request, answered 200

    def case(self) -> Case:
        return Case(self.path, self.raw, "listed", "listed", self.name)


def surrogate(stream: bool) -> bytes:
    flag = ',"stream":true' if stream else ""
    return (f'{{"model":"{MODEL}","max_tokens":256{flag},'
            '"messages":[{"role":"user","content":"say \\ud800 hi"}]}').encode()


def raw_literal(field_name: str, literal: str, path: str = MESSAGES_PATH) -> bytes:
    body = chat("Hello") if path == MESSAGES_PATH else {"model": MODEL, "messages": [{"role": "user",
                                                                                     "content": "Hello"}]}
    return encode({**body, field_name: MARK}, literal.encode())


INVALID_SCHEMA = ("tools.0.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft 2020-12")
REFUSED: list[Listed] = [
    # Not JSON (RFC 8259): the API's parser refuses NaN/Infinity literals and lone surrogates (observed:
    # "The request body is not valid JSON: no low surrogate in string: line 1 column N (char N-1)").
    Listed("NaN literal", MESSAGES_PATH, raw_literal("temperature", "NaN"), Expected(prefix=INVALID_JSON)),
    Listed("Infinity literal", MESSAGES_PATH, raw_literal("max_tokens", "Infinity"), Expected(prefix=INVALID_JSON)),
    Listed("-Infinity literal", MESSAGES_PATH, raw_literal("top_p", "-Infinity"), Expected(prefix=INVALID_JSON)),
    Listed("NaN in a tool_use input", MESSAGES_PATH,
           encode(tools_chat(tool_turns(tool_input={"city": MARK})), b"NaN"), Expected(prefix=INVALID_JSON)),
    Listed("NaN literal to count_tokens", COUNT_PATH, raw_literal("max_tokens", "NaN", COUNT_PATH),
           Expected(prefix=INVALID_JSON)),
    Listed("lone surrogate", MESSAGES_PATH, surrogate(False), Expected(prefix=INVALID_JSON, contains=("surrogate",))),
    Listed("lone surrogate, streamed", MESSAGES_PATH, surrogate(True),
           Expected(prefix=INVALID_JSON, contains=("surrogate",))),
    Listed("invalid UTF-8 byte", MESSAGES_PATH, encode(chat(f"say {MARK} hi"), b"\xff", quoted=False),
           Expected(prefix=INVALID_JSON)),
    Listed("nesting 100,000 deep", MESSAGES_PATH,
           encode(chat("Hello", metadata={"user_id": MARK}), b"[" * 100_000 + b"]" * 100_000), Expected()),
    # Tool names and ids: the API matches the whole string (wire reference 11.25 and 11.27, observed texts).
    Listed("tool name ending in a newline", MESSAGES_PATH,
           dumps(tools_chat([{"role": "user", "content": "Weather in Paris?"}],
                            [{**WEATHER, "name": "get_weather\n"}])),
           Expected(exact="tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")),
    Listed("tool_use id ending in a newline", MESSAGES_PATH, dumps(tools_chat(tool_turns("toolu_01abc\n"))),
           Expected(exact="messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'")),
    # Observed in public reports of the real API: "all content must be type 'text' if 'is_error' is true".
    Listed("is_error tool_result holding an image", MESSAGES_PATH,
           dumps(tools_chat(tool_turns(result={"is_error": True, "content": [PNG]}))),
           Expected(contains=("all content must be type 'text' if 'is_error' is true",))),
    # Wrong types in optional fields: the API names the field first (`<field>: ...`, wire reference 3.1); the rest
    # of these texts is not documented, so only the path is checked.  # inferred
    Listed("stream: [1]", MESSAGES_PATH, dumps(chat("Hello", stream=[1])), Expected(prefix="stream: ")),
    Listed("metadata: 5", MESSAGES_PATH, dumps(chat("Hello", metadata=5)), Expected(prefix="metadata: ")),
    Listed("tool_result text block whose text is 5", MESSAGES_PATH,
           dumps(tools_chat(tool_turns(result={"content": [{"type": "text", "text": 5}]}))),
           Expected(prefix="messages.2.content.0.")),
    # Observed: "tools.N.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft 2020-12
    # (https://json-schema.org/draft/2020-12). Learn more about tool use at <docs URL>." A property's schema
    # must be an object or a boolean, so {"city": "string"} is not a schema.
    Listed("input_schema property given as a string", MESSAGES_PATH,
           dumps(tools_chat([{"role": "user", "content": "Weather in Paris?"}],
                            [{**WEATHER, "input_schema": {"type": "object", "properties": {"city": "string"}}}])),
           Expected(prefix=INVALID_SCHEMA)),
]

BIG_SUM = "+".join(["1"] * 5000)
CAPITAL = "What is the capital of" + " " * 60_000 + "!"
VALID_CRASHERS: list[Listed] = [
    Listed("'1+1+...' with 5,000 terms", MESSAGES_PATH, dumps(chat(BIG_SUM))),
    Listed("((9**64)**64)**2", MESSAGES_PATH, dumps(chat("((9**64)**64)**2"))),
    Listed("'count to' + 5,000 digits", MESSAGES_PATH, dumps(chat("count to " + "9" * 5000))),
    Listed("'capital of' + 60,000 spaces + '!'", MESSAGES_PATH, dumps(chat(CAPITAL))),
    Listed("'(' * 20,000", MESSAGES_PATH, dumps(chat("(" * 20_000))),
    Listed("400-digit number for a numeric tool input", MESSAGES_PATH,
           dumps(tools_chat([{"role": "user", "content": f"Add {'9' * 400} and 2."}], [ADD]))),
    Listed("400-digit number inside a tool_use input", MESSAGES_PATH,
           encode(tools_chat(tool_turns(tool_input={"city": MARK})), b"9" * 400)),
    Listed("'1+1+...' with 5,000 terms, streamed", MESSAGES_PATH, dumps(chat(BIG_SUM, stream=True))),
    Listed("'count to' + 5,000 digits, streamed", MESSAGES_PATH, dumps(chat("count to " + "9" * 5000, stream=True))),
    Listed("'1+1+...' with 5,000 terms, count_tokens", COUNT_PATH,
           dumps({"model": MODEL, "messages": [{"role": "user", "content": BIG_SUM}]})),
]
SLOW_CRASHERS = {"'capital of' + 60,000 spaces + '!'", "'(' * 20,000"}  # the ones that stall the server today
HELLO = Listed("Hello", MESSAGES_PATH, dumps(chat("Hello")))


# -- sending and judging -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What came back: status (None when no answer), headers, body, seconds on the client."""

    status: int | None
    headers: dict[str, str]
    content: bytes
    seconds: float
    failure: str | None = None  # the transport error, when the answer never came or was cut
    local_port: int | None = None  # the client's port: the same port means the same connection


def send(client: httpx2.Client, path: str, raw: bytes, timeout: float = 90.0) -> Outcome:
    """POST raw bytes with valid headers and read the whole answer (a cut stream is a failure)."""
    start = time.perf_counter()
    try:
        response = client.post(path, content=raw, headers=HEADERS, timeout=timeout)
    except httpx2.TransportError as error:
        return Outcome(None, {}, b"", time.perf_counter() - start, f"{type(error).__name__}: {error}")
    stream = response.extensions.get("network_stream")
    try:
        address = stream.get_extra_info("client_addr") if stream is not None else None
    except OSError:  # the server closed the connection after answering
        address = None
    return Outcome(response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content,
                   time.perf_counter() - start, local_port=address[1] if address else None)


def hello_during(url: str, client: httpx2.Client, other: Listed, timeout: float = 180.0) -> tuple[Outcome, Outcome]:
    """Send `other` from a second thread and connection, then, once it has (most likely) reached the server, a
    Hello on `client`: (the Hello's outcome, `other`'s outcome). With `other` = HELLO this is the control: the
    same procedure around a normal request, so ratios to it cancel the procedure's own cost."""
    outcomes: list[Outcome] = []
    with httpx2.Client(base_url=url, timeout=timeout) as second:
        thread = threading.Thread(target=lambda: outcomes.append(send(second, other.path, other.raw, timeout)))
        thread.start()
        time.sleep(0.03)  # let `other` reach the server first
        hello = send(client, HELLO.path, HELLO.raw, timeout)
        thread.join()
    return hello, outcomes[0]


def strict_json(content: bytes) -> Any:
    """JSON as RFC 8259 has it: UTF-8, no NaN/Infinity, no lone surrogate in any string."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    value = json.loads(content.decode("utf-8"), parse_constant=refuse)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return value


def error_shape_problem(outcome: Outcome) -> str | None:
    """Why an error answer is not the API's error (wire reference 5.1, 11.37; the 413 edge body of 3.7)."""
    if not outcome.headers.get("content-type", "").startswith("application/json"):
        return f"content-type {outcome.headers.get('content-type')!r} is not application/json"
    try:
        body = strict_json(outcome.content)
    except ValueError as error:
        return f"not JSON: {error}"
    if outcome.status == 413 and body == EDGE_413:
        return None
    if not isinstance(body, dict) or set(body) != {"type", "error", "request_id"} or body["type"] != "error":
        return "not {'type': 'error', 'error': {...}, 'request_id': ...}"
    error = body["error"]
    if not isinstance(error, dict) or not {"type", "message"} <= set(error) <= {"type", "message", "details"}:
        return "`error` is not {'type', 'message'} (and optional 'details')"
    if error["type"] != ERROR_TYPES.get(outcome.status or 0):
        return f"error.type {error['type']!r} is not the API's type for {outcome.status}"
    if not isinstance(error["message"], str) or not error["message"].strip():
        return "error.message is not a non-empty string"
    if error.get("details") is not None and not isinstance(error["details"], dict):
        return "error.details is neither null nor an object"
    request_id = body["request_id"]
    if not isinstance(request_id, str) or not request_id.startswith("req_"):
        return f"request_id {request_id!r} is not 'req_...'"
    if outcome.headers.get("request-id") != request_id:
        return f"request-id header {outcome.headers.get('request-id')!r} differs from the body's {request_id!r}"
    return None


def sse_events(content: bytes) -> list[tuple[str, Any]]:
    """(event name, data) of each SSE frame; a frame with no `event:` or no `data:` line raises ValueError."""
    events = []
    for frame in re.split(r"\r\n\r\n|\n\n|\r\r", content.decode("utf-8")):
        if not frame.strip():
            continue
        lines = re.split(r"\r\n|\n|\r", frame)
        names = [line[6:].strip() for line in lines if line.startswith("event:")]
        data = "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))
        if len(names) != 1 or not data:
            raise ValueError(f"frame without exactly one event: and a data: line: {frame[:200]!r}")
        events.append((names[0], strict_json(data.encode())))
    return events


def stream_problem(content: bytes) -> str | None:
    """Why a 200 stream is not the API's event sequence (wire reference 6.1, 6.2)."""
    try:
        events = sse_events(content)
    except ValueError as error:
        return str(error)
    names = [name for name, _ in events if name != "ping"]
    if not names or names[0] != "message_start" or names[-1] != "message_stop":
        return f"events {names[:3]}...{names[-2:]} do not run from message_start to message_stop"
    if names.count("message_delta") != 1 or names[-2] != "message_delta":
        return "not exactly one message_delta, just before message_stop"
    blocks: list[dict[str, Any]] = []
    partial: dict[int, str] = {}
    message: dict[str, Any] = {}
    for name, data in events:
        if not isinstance(data, dict) or data.get("type") != name:
            return f"event {name!r} carries data of type {data.get('type') if isinstance(data, dict) else data!r}"
        if name == "error":
            return f"the stream carries an error event: {data}"
        if name == "ping":
            continue
        try:
            STREAM_EVENT.validate_python(data)
        except ValueError as error:
            return f"{name} is not the SDK's event: {str(error)[:300]}"
        if name == "message_start":
            message = dict(data["message"])
        elif name == "content_block_start":
            if data["index"] != len(blocks):
                return f"content_block_start index {data['index']} out of order"
            blocks.append(dict(data["content_block"]))
        elif name == "content_block_delta":
            if data["index"] != len(blocks) - 1:
                return f"content_block_delta for index {data['index']} outside its block"
            delta, block = data["delta"], blocks[-1]
            if delta["type"] == "text_delta":
                block["text"] = block.get("text", "") + delta["text"]
            elif delta["type"] == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif name == "message_delta":
            message.update(data["delta"])
            message["usage"] = {**message.get("usage", {}), **data["usage"]}
    for index, text in partial.items():
        try:
            blocks[index]["input"] = strict_json(text.encode())
        except ValueError as error:
            return f"tool_use input at index {index} is not JSON: {error}"
    try:
        Message.model_validate({**message, "content": blocks})
    except ValueError as error:
        return f"the accumulated message is not a Message: {str(error)[:300]}"
    return None


def success_problem(path: str, outcome: Outcome) -> str | None:
    """Why a 200 is not a valid Message, stream or token count."""
    if not outcome.headers.get("request-id", "").startswith("req_"):
        return "no request-id header"
    content_type = outcome.headers.get("content-type", "")
    if content_type.startswith("text/event-stream"):
        return stream_problem(outcome.content) if path == MESSAGES_PATH else "count_tokens answered with a stream"
    if not content_type.startswith("application/json"):
        return f"content-type {content_type!r}"
    try:
        body = strict_json(outcome.content)
        if path == COUNT_PATH:
            count = MessageTokensCount.model_validate(body)
            return None if count.input_tokens >= 0 else "negative input_tokens"
        message = Message.model_validate(body)
    except ValueError as error:
        return f"not a {'token count' if path == COUNT_PATH else 'Message'}: {str(error)[:300]}"
    return None if message.stop_reason is not None else "stop_reason is null"


@dataclass
class Verdict:
    """The problems of one answer, by kind (empty: the answer is right)."""

    problems: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return not self.problems


def judge(case: Case, outcome: Outcome, expected: Expected | None = None, *, must_succeed: bool = False) -> Verdict:
    """Check one answer: an answer came, status < 500, the API's shapes, and refusals where the API refuses."""
    verdict = Verdict()
    if outcome.status is None:
        verdict.problems["no_answer"] = outcome.failure or "no answer"
        return verdict
    if outcome.status >= 500:
        verdict.problems["server_error"] = f"{outcome.status}: {outcome.content[:200]!r}"
        problem = error_shape_problem(outcome)
        if problem:
            verdict.problems["bad_shape"] = f"{outcome.status}: {problem}: {outcome.content[:200]!r}"
        return verdict
    if outcome.status == 200:
        problem = success_problem(case.path, outcome)
        if problem:
            verdict.problems["bad_shape"] = f"200 but {problem}"
    elif 400 <= outcome.status < 500:
        problem = error_shape_problem(outcome)
        if problem:
            verdict.problems["bad_shape"] = f"{outcome.status}: {problem}: {outcome.content[:200]!r}"
    else:
        verdict.problems["bad_shape"] = f"status {outcome.status} is neither 200 nor 4xx"
    if case.refused_as_invalid_json and expected is None:
        expected = Expected(prefix=INVALID_JSON)
    if expected is not None:
        problem = refusal_problem(outcome, expected)
        if problem:
            verdict.problems["accepted_invalid"] = problem
    if must_succeed and outcome.status != 200:
        verdict.problems["refused_valid"] = f"{outcome.status}: {outcome.content[:300]!r}"
    return verdict


def refusal_problem(outcome: Outcome, expected: Expected) -> str | None:
    if outcome.status is not None and outcome.status < 300:
        return f"accepted ({outcome.status}) where the API answers 400 invalid_request_error"
    try:
        error = json.loads(outcome.content)["error"]
    except (ValueError, KeyError, TypeError):
        return f"{outcome.status} without an error body"
    if outcome.status != 400 or error.get("type") != "invalid_request_error":
        return f"{outcome.status} {error.get('type')} instead of 400 invalid_request_error: {error.get('message')!r}"
    problem = expected.problem(str(error.get("message")))
    return f"{problem}, got {error.get('message')!r}" if problem else None


def report(case: Case, outcome: Outcome, verdict: Verdict) -> str:
    """A readable account of one failing exchange, for assertion messages."""
    answer = (outcome.failure if outcome.status is None
              else f"{outcome.status} {outcome.headers.get('content-type')} {outcome.content[:300]!r}")
    lines = [f"sent {case.path}: {case.shape}, {case.mutation}: {case.detail}", f"body: {case.excerpt()}",
             f"answer ({outcome.seconds:.2f} s): {answer}"]
    lines += [f"{kind}: {problem}" for kind, problem in verdict.problems.items()]
    return "\n".join(lines)


# -- a standalone server, big bodies, memory -----------------------------------------------------------------------


def refused_10mb_bodies(size: int = 9_900_000) -> list[bytes]:
    """Eight valid-JSON bodies of about 10 MB, mostly `{}`, each refused by the API for a different field."""
    count = (size - 200) // 3

    def filled(template: str) -> bytes:
        raw = ("{}," * count)[:-1]
        return template.replace(MARK, raw).encode()

    hi = '"messages":[{"role":"user","content":"Hi"}]'
    templates = [
        f'{{"model":"{MODEL}","max_tokens":10,{hi},"stop_sequences":[{MARK}]}}',  # items must be strings
        f'{{"model":"{MODEL}","max_tokens":10,"messages":[{{"role":"user","content":[{MARK}]}}]}}',  # no block type
        f'{{"model":"{MODEL}","max_tokens":10,{hi},"junk":[{MARK}]}}',  # extra inputs are not permitted
        f'{{"model":"{MODEL}","max_tokens":10,{hi},"tools":[{MARK}]}}',  # tools without names
    ]
    return [filled(templates[i % len(templates)]) for i in range(8)]


def large_body_chunks(size: int, chunk: int = 1 << 18) -> Iterator[bytes]:
    """A JSON body of exactly `size` bytes: a valid request whose one user text fills it."""
    head = f'{{"model":"{MODEL}","max_tokens":10,"messages":[{{"role":"user","content":"'.encode()
    tail = b'"}]}'
    yield head
    left = size - len(head) - len(tail)
    while left > 0:
        yield b"a" * min(chunk, left)
        left -= chunk
    yield tail


def send_large(url: str, path: str, size: int, timeout: float = 120.0) -> tuple[int | None, bytes]:
    """POST a `size`-byte body with its Content-Length over a raw socket, and stop sending as soon as the server
    answers (as curl does), so an early 413 is read rather than lost. Returns (status or None, body)."""
    host, port = url.removeprefix("http://").split(":")
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {size}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items()) + "\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            for piece in large_body_chunks(size):
                if select.select([sock], [], [], 0)[0]:
                    break
                sock.sendall(piece)
        except OSError:
            pass  # the server closed its side: read what it said
        received = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
                head_end = received.find(b"\r\n\r\n")
                if head_end >= 0:
                    length = re.search(rb"(?im)^content-length:\s*(\d+)", received[:head_end])
                    if length and len(received) >= head_end + 4 + int(length.group(1)):
                        break
        except OSError:
            pass
    status = re.match(rb"HTTP/1\.[01] (\d{3})", received)
    head_end = received.find(b"\r\n\r\n")
    return (int(status.group(1)) if status else None), (received[head_end + 4:] if head_end >= 0 else b"")
