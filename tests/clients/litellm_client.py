"""litellm in its default settings against the offline Claude: six scenarios, one JSON line each.

Run by tests/test_third_party_clients.py with the client's own venv (never the project's):
`python litellm_client.py MODEL`, with ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY set (litellm reads both) and
LITELLM_OFFLINE_MODE=true, litellm's own switch that stops it fetching its model price list from the internet at
import (it then uses the copy it ships). litellm speaks the OpenAI chat format, so the stop reason the caller sees
is "stop", not "end_turn"; tools are OpenAI `function` tools, structured output is `response_format` with a JSON
schema, and count_tokens is `litellm.acount_tokens`, which calls the provider's counting endpoint. Each scenario
prints `{"scenario": ..., "result": {...}}` or `{"scenario": ..., "error": {"type", "message", "status"}}`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
import urllib.request
from collections.abc import Callable
from typing import Any

import litellm

WEATHER = "18°C and sunny"
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
CITY_FORMAT = {"type": "json_schema", "json_schema": {"name": "city_answer", "strict": True, "schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}


def plain(model: str) -> dict[str, Any]:
    response = litellm.completion(model=model, messages=[{"role": "user", "content": "Hello"}])
    choice = response.choices[0]
    return {"text": choice.message.content, "stop_reason": choice.finish_reason}


def multi_turn(model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "My name is Ada."}]
    first = litellm.completion(model=model, messages=messages).choices[0].message
    messages += [{"role": "assistant", "content": first.content}, {"role": "user", "content": "What is my name?"}]
    reply = litellm.completion(model=model, messages=messages).choices[0]
    return {"first": first.content, "text": reply.message.content, "stop_reason": reply.finish_reason}


def streaming(model: str) -> dict[str, Any]:
    deltas, reason = [], None
    for chunk in litellm.completion(model=model, messages=[{"role": "user", "content": "Hello"}], stream=True):
        choice = chunk.choices[0]
        if choice.delta.content:
            deltas.append(choice.delta.content)
        reason = choice.finish_reason or reason
    same = litellm.completion(model=model, messages=[{"role": "user", "content": "Hello"}]).choices[0].message.content
    return {"text_chunks": len(deltas), "text": "".join(deltas), "stop_reason": reason, "same_as_plain": same}


def tool_round_trip(model: str) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris?"}]
    asked = litellm.completion(model=model, messages=messages, tools=[WEATHER_TOOL]).choices[0]
    calls = asked.message.tool_calls or []
    messages.append(asked.message.model_dump(exclude_none=True))
    outputs = []
    for call in calls:
        outputs.append(f"{WEATHER} in {json.loads(call.function.arguments)['city']}")
        messages.append({"role": "tool", "tool_call_id": call.id, "content": outputs[-1]})
    final = litellm.completion(model=model, messages=messages, tools=[WEATHER_TOOL]).choices[0]
    return {"tool_calls": [{"name": c.function.name, "args": json.loads(c.function.arguments)} for c in calls],
            "first_stop_reason": asked.finish_reason, "tool_outputs": outputs, "text": final.message.content,
            "stop_reason": final.finish_reason}


def count_tokens(model: str) -> dict[str, Any]:
    counted = asyncio.run(litellm.acount_tokens(model=model, messages=[{"role": "user", "content": "Hello"}]))
    return {"input_tokens": counted.total_tokens, "tokenizer": getattr(counted, "tokenizer_type", None)}


def structured_output(model: str) -> dict[str, Any]:
    response = litellm.completion(model=model, response_format=CITY_FORMAT,
                                  messages=[{"role": "user", "content": "The city is Paris. Give it as JSON."}])
    choice = response.choices[0]
    return {"parsed": json.loads(choice.message.content), "stop_reason": choice.finish_reason}


SCENARIOS: dict[str, Callable[[str], dict[str, Any]]] = {
    "plain": plain, "multi_turn": multi_turn, "streaming": streaming, "tool_round_trip": tool_round_trip,
    "count_tokens": count_tokens, "structured_output": structured_output,
}


def mark(scenario: str) -> None:
    """Tell the recording proxy which scenario the next requests belong to (not sent to the offline Claude)."""
    base = os.environ["ANTHROPIC_BASE_URL"].rstrip("/")
    urllib.request.urlopen(urllib.request.Request(f"{base}/__scenario__/litellm/{scenario}",
                                                  method="POST", data=b""), timeout=10).read()


def error_of(exc: BaseException) -> dict[str, Any]:
    return {"type": f"{type(exc).__module__}.{type(exc).__qualname__}", "message": str(exc)[:2000],
            "status": getattr(exc, "status_code", None), "where": traceback.format_exc(limit=-3)[-600:]}


def main() -> None:
    model = f"anthropic/{sys.argv[1]}"
    for name in sys.argv[2:] or list(SCENARIOS):
        mark(name)
        try:
            line = {"scenario": name, "result": SCENARIOS[name](model)}
        except Exception as exc:  # every failure is reported, then the next scenario runs
            line = {"scenario": name, "error": error_of(exc)}
        print(json.dumps(line, ensure_ascii=False, default=str), flush=True)


if __name__ == "__main__":
    main()
