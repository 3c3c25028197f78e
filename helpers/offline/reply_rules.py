"""The offline Claude's tool use and longer writing: which tools to call with which inputs, what to say once the
results are back, and deterministic stories and explanations for streaming and `max_tokens` demonstrations.

Tools are matched on words: a tool is called when the user's words meet the words of its name (or, failing that,
of its description), with a few synonyms (weather/temperature/forecast, time/clock, calculate/plus/times...).
Required inputs are filled from the user's words: an enum from the value mentioned, numbers in order, an
expression from the arithmetic in the text, and place-like strings from capitalised names, with one call per name
("Paris and Tokyo" gives two calls) unless `disable_parallel_tool_use` is set.

Any JSON may sit where a schema is expected (`{"city": "string"}` as `properties`): what is not a schema object is
read as an empty schema. Work is bounded: the question is its last `QUESTION_CHARS` characters, a description its
first `DESCRIPTION_CHARS`, at most `MAX_PROPERTIES` properties and `MAX_ENUM` enum values are read, a reply makes at
most `MAX_CALLS` calls and quotes at most `MAX_RESULTS` results of at most `RESULT_CHARS` characters each, and
numbers are used as inputs only when finite and below `MAX_NUMBER`.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
from typing import Any

from . import structured

QUESTION_CHARS = 2_000
DESCRIPTION_CHARS = 2_000
MAX_PROPERTIES = 256
MAX_ENUM = 256
MAX_CALLS = 16
MAX_RESULTS = 64
RESULT_CHARS = 1_000
MAX_NUMBER = 1e15

STOP_WORDS = set("""get the a an for of to in on at and or is are what whats with by from this that given return
returns current use tool value me my you your please can tell do does how it be as if into about some any all one
two will would could should i we our their there here now today then than also just like""".split())
SYNONYMS = [
    {"weather", "temperature", "forecast", "rain", "raining", "sunny", "cold", "hot", "warm", "degrees"},
    {"time", "clock", "hour", "hours", "timezone", "date"},
    {"calculate", "calculator", "math", "arithmetic", "compute", "expression", "sum", "add", "multiply", "plus",
     "times", "minus", "divide", "divided", "evaluate"},
    {"search", "find", "lookup", "look", "documentation", "docs"},
    {"stock", "price", "share", "shares", "ticker", "quote"},
    {"convert", "conversion", "exchange", "currency"},
]
QUESTION_WORDS = set("""What Whats What's How Is Are Can Could Please Tell The I In And Also Check Get Look Compare
Do Does Find Show Give Hi Hello Hey Then Now Use Call Weather Time Calculate Search Convert Which Who Why When
Where Should Would Will Let""".split())
# Capitalised words that open a sentence without being a name, skipped when filling strict schemas
LEAD_WORDS = QUESTION_WORDS | set("""Book Forecast Extract Return Make Create Generate List Parse Describe Write Plan
Send Schedule Order Buy Set Add Remind Translate Summarize Summarise Classify Fill Reserve Note Record Save
He She His Her They Their It Its My Our We You Your This That These Those There""".split())
ENTITY_RE = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|del|da|la|le|of))*")
QUOTED_RE = re.compile(r"\"([^\"]+)\"|'([^']{2,})'")
NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")
WHOLE_TEXT_NAMES = re.compile(r"query|text|question|prompt|message|content|input|sentence|topic|request", re.I)
EXPRESSION_NAMES = re.compile(r"expr|formula|calculation|equation", re.I)


def _stem(word: str) -> str:
    return word[:5] if len(word) >= 5 else word


def _words(text: str) -> set[str]:
    found = {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 1 and w not in STOP_WORDS}
    for group in SYNONYMS:
        if found & group:
            found |= group
    return {_stem(w) for w in found}


@functools.lru_cache(maxsize=4096)
def _name_words(name: str) -> frozenset[str]:
    """The stems of a tool's name (`get_weather`, `getWeather`: get, weath), remembered: a conversation sends the
    same tools with every turn. (Names are cut to 200 characters, so the cache stays small.)"""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name).replace("_", " ").replace("-", " ")
    return frozenset(_stem(w) for w in re.findall(r"[a-z]+", spaced.lower()) if w not in STOP_WORDS and len(w) > 1)


@functools.lru_cache(maxsize=4096)
def _description_words(description: str) -> frozenset[str]:
    """`_words` of a tool's description (cut to `DESCRIPTION_CHARS`), remembered like `_name_words`."""
    return frozenset(_words(description))


def _description(tool: dict[str, Any]) -> str:
    description = tool.get("description")
    return description[:DESCRIPTION_CHARS] if isinstance(description, str) else ""


def _matching_tools(question: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    asked = _words(question)
    if re.search(r"\d\s*[-+*/x^]\s*\d", question):
        asked |= {_stem(w) for w in SYNONYMS[2]}
    by_name = [t for t in tools if _name_words(str(t["name"])[:200]) & asked]
    if by_name:
        return by_name
    scored = [(len(_description_words(_description(t)) & asked), i) for i, t in enumerate(tools)]
    best = max(scored, default=(0, 0))
    return [tools[best[1]]] if best[0] > 0 else []


def entities(question: str, lead_words: set[str] = QUESTION_WORDS) -> list[str]:
    """Quoted strings and capitalised names in the user's words, in order, without duplicates (capitalised
    `lead_words` that open a name are left out of it)."""
    found = [a or b for a, b in QUOTED_RE.findall(question)]
    for match in ENTITY_RE.findall(QUOTED_RE.sub(" ", question)):
        for sentence in re.split(r"(?<=[.!?])\s+", match):  # "Paris. And Tokyo" is two names, not one
            words = sentence.split()
            while words and words[0].strip("'’") in lead_words:
                words = words[1:]
            if words:
                found.append(" ".join(words).rstrip(".'’"))
    if not found:
        found = [m for m in re.findall(r"\b(?:in|for|at)\s+([a-z][a-z]+)\b", question) if m not in STOP_WORDS]
    return list(dict.fromkeys(found))


def as_object(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else {} (so any JSON can stand where a schema is expected)."""
    return value if isinstance(value, dict) else {}


def _schema_type(prop: Any) -> str:
    prop = as_object(prop)
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None and isinstance(prop.get("anyOf"), list):
        kind = next((p.get("type") for p in prop["anyOf"] if isinstance(p, dict) and p.get("type") not in
                     (None, "null")), "string")
    return kind if isinstance(kind, str) and kind else "string"


def _schema_parts(schema: Any) -> tuple[dict[str, Any], list[str]]:
    """The first `MAX_PROPERTIES` properties of a tool's input schema, and its required names that are strings."""
    schema = as_object(schema)
    props = dict(list(as_object(schema.get("properties")).items())[:MAX_PROPERTIES])
    required = schema.get("required")
    return props, [r for r in required[:MAX_PROPERTIES] if isinstance(r, str)] if isinstance(required, list) else []


def _entity_property(schema: Any) -> str | None:
    """The required string input that takes a name ("city"), if the tool has one."""
    props, required = _schema_parts(schema)
    for name in required:
        prop = as_object(props.get(name))
        if _schema_type(prop) == "string" and "enum" not in prop and not (
                WHOLE_TEXT_NAMES.search(name) or EXPRESSION_NAMES.search(name)):
            return name
    return None


def numbers_in(text: str) -> list[float]:
    """The numbers written in `text`, in order, leaving out any whose size is `MAX_NUMBER` or more."""
    return [x for x in (float(n) for n in NUMBER_RE.findall(text)) if math.isfinite(x) and abs(x) < MAX_NUMBER]


def expression_span(text: str) -> str | None:
    """The first arithmetic-looking span of `text` (digits, spaces, `.+-*/%()^x`; from its first `-`, `(` or digit
    to its last digit and one `)`), or None when no run holds two digits. Linear time."""
    for run in re.finditer(r"[\d\s.+\-*/%()^x]+", text):
        span = run.group(0)
        digits = [i for i, c in enumerate(span) if c.isdigit()]
        start = next((i for i, c in enumerate(span) if c in "-(" or c.isdigit()), len(span))
        if not digits or digits[-1] <= start:
            continue
        end = digits[-1] + 1
        return span[start:end + 1 if span[end:end + 1] == ")" else end]
    return None


def _fill(schema: Any, question: str, entity: str | None) -> dict[str, Any]:
    numbers = numbers_in(question)
    props, required = _schema_parts(schema)
    low = question.lower()
    values: dict[str, Any] = {}
    for name, prop in props.items():
        prop = as_object(prop)
        kind, enum = _schema_type(prop), prop.get("enum")
        if isinstance(enum, list) and enum:
            enum = enum[:MAX_ENUM]
            enum = [v for v in enum if v is None or isinstance(v, (str, int, float))]  # never echo deep values
            mentioned = [v for v in enum if v is not None and str(v).lower() in low]
            if enum and (mentioned or name in required):
                values[name] = (mentioned or enum)[0]
        elif name not in required:
            continue
        elif kind in {"integer", "number"}:
            number = numbers.pop(0) if numbers else 0
            values[name] = int(number) if kind == "integer" else number
        elif kind == "boolean":
            values[name] = name.lower() in question.lower()
        elif kind == "array":
            values[name] = entities(question) or [question.strip().rstrip("?")]
        elif kind == "object":
            values[name] = {}
        elif EXPRESSION_NAMES.search(name):
            found = expression_span(question)
            values[name] = found.strip() if found else question.strip().rstrip("?")
        elif WHOLE_TEXT_NAMES.search(name) or entity is None:
            values[name] = question.strip().rstrip("?")
        else:
            values[name] = entity
    return values


def split_turns(turns: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The user's question (the last user turn that is not tool results) and the turns after it."""
    for i in range(len(turns) - 1, -1, -1):
        content = turns[i]["content"]
        if turns[i]["role"] == "user" and not (content and content[0].get("type") == "tool_result"):
            text = "\n".join(b["text"] for b in content if b.get("type") == "text" and isinstance(b.get("text"), str))
            return text[-QUESTION_CHARS:], turns[i + 1:]
    return "", turns


def tool_calls(turns: list[dict[str, Any]], tools: list[dict[str, Any]], choice: dict[str, Any], *,
               exclude_called: bool) -> list[dict[str, Any]]:
    """The `tool_use` blocks (without ids) for the user's question, or [] to answer in text."""
    question, after = split_turns(turns)
    called = [_call_key(b) for t in after if t["role"] == "assistant" for b in t["content"] if _is_call(b)]
    if choice["type"] == "tool":
        chosen = [t for t in tools if t["name"] == choice.get("name")]
    else:
        chosen = _matching_tools(question, tools) or (tools[:1] if choice["type"] == "any" else [])
    every: list[dict[str, Any]] = []
    for tool in chosen:
        schema = tool.get("input_schema") or {}
        strict = tool.get("strict") is True  # a strict tool's input validates against its schema
        names = entities(question, LEAD_WORDS if strict else QUESTION_WORDS) if _entity_property(schema) else []
        for entity in names or [None]:
            if strict:
                found = [entity] if entity else []
                given = structured.fill(schema, question, entities=found + [e for e in entities(question, LEAD_WORDS)
                                                                            if e not in found],
                                        numbers=numbers_in(question))
                given = given if isinstance(given, dict) else {}  # a schema that is not an object's (refused by
                # check_request_schemas before any reply)
            else:
                given = _fill(schema, question, entity)
            every.append({"type": "tool_use", "name": tool["name"], "input": given})
    # After results come back, ask only for what has not been asked yet (so calls refused in parallel come
    # one by one); a forced choice ("any", "tool") calls again even then, as the API forces a call every turn.
    calls = [c for c in every if _call_key(c) not in called] if exclude_called else every
    if not calls and choice["type"] in {"any", "tool"}:
        calls = every[:1]
    calls = calls[:1] if choice.get("disable_parallel_tool_use") else calls[:MAX_CALLS]
    if not calls or choice["type"] != "auto":
        return calls
    targets = [str(next(iter(c["input"].values()))) for c in calls if c["input"]]
    about = f" for {_join(list(dict.fromkeys(targets)))}" if targets and len(targets) <= 4 else ""
    preface = f"I'll use {_join(list(dict.fromkeys(c['name'] for c in calls)))}{about}."
    return [{"type": "text", "text": preface}, *calls]


def _is_call(block: dict[str, Any]) -> bool:
    return block.get("type") == "tool_use" and isinstance(block.get("name"), str) and isinstance(block.get("input"),
                                                                                                dict)


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps(value)`, or "{…}" for a value too deeply nested to encode (a hostile history)."""
    try:
        return json.dumps(value, **options)
    except (RecursionError, ValueError, TypeError):
        return "{…}"


def _call_key(block: dict[str, Any]) -> str:
    return block["name"] + dumps(block["input"], sort_keys=True)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _call_label(block: dict[str, Any]) -> str:
    args = ", ".join(f"{k}={dumps(v, ensure_ascii=False)[:RESULT_CHARS]}" for k, v in
                     list(block["input"].items())[:MAX_PROPERTIES])
    return f"{block['name']}({args})"


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content[:RESULT_CHARS]
    if not isinstance(content, list):
        return ""
    parts = [b["text"] if isinstance(b.get("text"), str) else f"[{str(b.get('type'))[:40]}]"
             for b in content[:MAX_RESULTS] if isinstance(b, dict)]
    return " ".join(parts)[:RESULT_CHARS]


def tool_results_reply(turns: list[dict[str, Any]]) -> str:
    """The closing text once the tool results are back: each result quoted, failures said plainly."""
    _, after = split_turns(turns)
    calls = {str(b.get("id")): b for t in after if t["role"] == "assistant" for b in t["content"] if _is_call(b)}
    lines: list[str] = []
    failed: list[str] = []
    for turn in after:
        for block in turn["content"] if turn["role"] == "user" else []:
            if block.get("type") != "tool_result" or len(lines) >= MAX_RESULTS:
                continue
            key = block.get("tool_use_id")
            call = calls.get(key if isinstance(key, str) else None, {"name": "the tool", "input": {}})
            text = _result_text(block.get("content", "")).strip() or "(no content)"
            if block.get("is_error"):
                failed.append(call["name"])
                lines.append(f"{_call_label(call)} failed: {text}")
            else:
                lines.append(f"{_call_label(call)} returned: {text}")
    if not lines:
        return "I have no tool results to report."
    summary = lines[0] + "." if len(lines) == 1 else "Here is what I found:\n" + "\n".join(f"- {x}" for x in lines)
    if failed:
        summary += ("\nThe call to " + _join(list(dict.fromkeys(failed))) +
                    " reported an error, so I can't give you that part of the answer.")
    return summary


STORY = ["Every morning, {t} woke before the sun and listened to the sea.", "Nobody in the village knew where {t} "
         "had come from.", "One winter, a storm arrived that changed everything for {t}.", "The old keeper said "
         "that {t} had a habit of turning up exactly when it was needed.", "By spring, the whole coast was "
         "talking about {t}.", "It was not brave, exactly, but it was patient, and patience is rarer.", "The "
         "children drew pictures of {t} on the harbour wall.", "Some nights the light went out, and {t} kept "
         "watch anyway.", "A traveller once asked why; the answer was simply that someone had to.", "Years "
         "later, the story of {t} was still told on long evenings.", "And that, more or less, is how it ended: "
         "quietly, and well."]
EXPLAIN = ["{T} is easier to understand once you see its parts.", "At its core, {t} is about turning an input "
           "into a useful result.", "The first idea to grasp is what {t} is for, before how it works.", "Most "
           "mistakes with {t} come from skipping that first step.", "A small example usually teaches more than a "
           "long definition.", "Once the basics are clear, the details of {t} fall into place.", "It helps to "
           "measure before changing anything.", "Experienced engineers treat {t} as a tool, not a goal.", "The "
           "trade-offs are worth writing down.", "In short, {t} rewards care more than cleverness."]


def _topic(question: str) -> str:
    """What follows the first "about/on/of/explain/describe" on the question's last line, without the closing
    punctuation ("" when there is none). Linear time, unlike a lazy `(.+?)\\s*[.?!]*$`."""
    end = len(question.rstrip().rstrip(".?!").rstrip())
    line_start = question.rfind("\n", 0, end) + 1
    for match in re.finditer(r"\b(?:about|on|of|explain|describe)\s+", question[:end], re.I):
        if match.end() >= line_start:
            return question[match.end():end].strip()
    return ""


def written_piece(question: str) -> str | None:
    """A deterministic story or explanation when asked for one ("Write a story about a lighthouse")."""
    low = question.lower()
    story = re.search(r"\b(story|tale|poem|haiku|fable)\b", low)
    if not (story or re.search(r"\b(explain|describe|essay|paragraph|article|overview)\b", low)):
        return None
    topic = _topic(question) or "a lighthouse"
    count = 12 if "long" in low else 3 if re.search(r"\b(short|brief)\b", low) else 6
    asked = re.search(r"\b(\d{1,3}) sentences?\b", low)
    count = min(int(asked.group(1)), 200) if asked else count
    pool = STORY if story else EXPLAIN
    rng = random.Random(question)
    first = f"Once upon a time, there was {topic}." if story else pool[0]
    order = rng.sample(pool[1:-1], len(pool) - 2)  # each sentence once before any repeats; the last one ends it
    middle = [order[i % len(order)] for i in range(max(0, count - 2))]
    sentences = ([first] + middle + [pool[-1]])[:count]
    again = re.sub(r"^(?:a|an)\s+", "the ", topic, flags=re.I)  # "a lighthouse", then "the lighthouse"
    title = topic[0].upper() + topic[1:]
    return " ".join(s.format(t=again if i else topic, T=title) for i, s in enumerate(sentences))
