"""langchain-anthropic in its default settings against the offline Claude: six scenarios, one JSON line each.

Run by tests/test_third_party_clients.py with the client's own venv (never the project's):
`python langchain_anthropic_client.py MODEL`, with ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY set. Nothing here
changes a default of the client: the model and the messages are all it is given. Each scenario prints
`{"scenario": ..., "result": {...}}` or `{"scenario": ..., "error": {"type", "message", "status"}}`.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import urllib.request
from collections.abc import Callable
from typing import Any

from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

WEATHER = "18°C and sunny"


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"{WEATHER} in {city}"


class CityAnswer(BaseModel):
    """The city the user named."""

    city: str


def plain(llm: ChatAnthropic) -> dict[str, Any]:
    reply = llm.invoke("Hello")
    return {"text": reply.text, "stop_reason": reply.response_metadata.get("stop_reason")}


def multi_turn(llm: ChatAnthropic) -> dict[str, Any]:
    history: list[Any] = [HumanMessage("My name is Ada.")]
    history.append(llm.invoke(history))
    history.append(HumanMessage("What is my name?"))
    reply = llm.invoke(history)
    return {"first": history[1].text, "text": reply.text, "stop_reason": reply.response_metadata.get("stop_reason")}


def streaming(llm: ChatAnthropic) -> dict[str, Any]:
    chunks = list(llm.stream("Hello"))
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole = whole + chunk
    texts = [c.text for c in chunks if c.text]
    return {"text_chunks": len(texts), "text": "".join(texts),
            "stop_reason": whole.response_metadata.get("stop_reason"), "same_as_plain": llm.invoke("Hello").text}


def tool_round_trip(llm: ChatAnthropic) -> dict[str, Any]:
    with_tools = llm.bind_tools([get_weather])
    history: list[Any] = [HumanMessage("What is the weather in Paris?")]
    asked: AIMessage = with_tools.invoke(history)
    history.append(asked)
    outputs = []
    for call in asked.tool_calls:
        output = get_weather.invoke(call["args"])
        outputs.append(output)
        history.append(ToolMessage(output, tool_call_id=call["id"]))
    final = with_tools.invoke(history)
    return {"tool_calls": [{"name": c["name"], "args": c["args"]} for c in asked.tool_calls],
            "first_stop_reason": asked.response_metadata.get("stop_reason"), "tool_outputs": outputs,
            "text": final.text, "stop_reason": final.response_metadata.get("stop_reason")}


def count_tokens(llm: ChatAnthropic) -> dict[str, Any]:
    return {"input_tokens": llm.get_num_tokens_from_messages([HumanMessage("Hello")])}


def structured_output(llm: ChatAnthropic) -> dict[str, Any]:
    answer = llm.with_structured_output(CityAnswer, method="json_schema").invoke("The city is Paris. Give it as JSON.")
    return {"parsed": answer.model_dump() if isinstance(answer, BaseModel) else answer,
            "type": type(answer).__name__}


SCENARIOS: dict[str, Callable[[ChatAnthropic], dict[str, Any]]] = {
    "plain": plain, "multi_turn": multi_turn, "streaming": streaming, "tool_round_trip": tool_round_trip,
    "count_tokens": count_tokens, "structured_output": structured_output,
}


def mark(scenario: str) -> None:
    """Tell the recording proxy which scenario the next requests belong to (not sent to the offline Claude)."""
    base = os.environ["ANTHROPIC_BASE_URL"].rstrip("/")
    urllib.request.urlopen(urllib.request.Request(f"{base}/__scenario__/langchain-anthropic/{scenario}",
                                                  method="POST", data=b""), timeout=10).read()


def error_of(exc: BaseException) -> dict[str, Any]:
    return {"type": f"{type(exc).__module__}.{type(exc).__qualname__}", "message": str(exc)[:2000],
            "status": getattr(exc, "status_code", None), "where": traceback.format_exc(limit=-3)[-1500:]}


def main() -> None:
    model = sys.argv[1]
    wanted = sys.argv[2:] or list(SCENARIOS)
    for name in wanted:
        mark(name)
        try:
            line = {"scenario": name, "result": SCENARIOS[name](ChatAnthropic(model=model))}
        except Exception as exc:  # every failure is reported, then the next scenario runs
            line = {"scenario": name, "error": error_of(exc)}
        print(json.dumps(line, ensure_ascii=False, default=str), flush=True)


if __name__ == "__main__":
    main()
