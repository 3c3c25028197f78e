"""pydantic-ai (pydantic-ai-slim[anthropic]) in its default settings against the offline Claude: six scenarios.

Run by tests/test_third_party_clients.py with the client's own venv (never the project's):
`python pydantic_ai_client.py MODEL`, with ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY set; `Agent("anthropic:MODEL")`
takes both from the environment. Structured output uses `NativeOutput`, pydantic-ai's name for the API's own
structured outputs (its default `output_type=Model` goes through a tool instead); count_tokens uses
`Model.count_tokens`, the call behind `UsageLimits(count_tokens_before_request=True)`. Each scenario prints
`{"scenario": ..., "result": {...}}` or `{"scenario": ..., "error": {"type", "message", "status"}}`.
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

from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart
from pydantic_ai.models import ModelRequestParameters, infer_model

WEATHER = "18°C and sunny"


class CityAnswer(BaseModel):
    """The city the user named."""

    city: str


def stop_reason(response: ModelResponse) -> Any:
    return (response.provider_details or {}).get("finish_reason")


def plain(model: str) -> dict[str, Any]:
    result = Agent(f"anthropic:{model}").run_sync("Hello")
    return {"text": result.output, "stop_reason": stop_reason(result.response)}


def multi_turn(model: str) -> dict[str, Any]:
    agent = Agent(f"anthropic:{model}")
    first = agent.run_sync("My name is Ada.")
    reply = agent.run_sync("What is my name?", message_history=first.all_messages())
    return {"first": first.output, "text": reply.output, "stop_reason": stop_reason(reply.response)}


def streaming(model: str) -> dict[str, Any]:
    agent = Agent(f"anthropic:{model}")

    async def stream() -> tuple[list[str], Any]:
        async with agent.run_stream("Hello") as run:
            deltas = [delta async for delta in run.stream_text(delta=True)]
        return deltas, stop_reason(run.response)

    deltas, reason = asyncio.run(stream())
    return {"text_chunks": len(deltas), "text": "".join(deltas), "stop_reason": reason,
            "same_as_plain": agent.run_sync("Hello").output}


def tool_round_trip(model: str) -> dict[str, Any]:
    agent = Agent(f"anthropic:{model}")
    outputs: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        outputs.append(f"{WEATHER} in {city}")
        return outputs[-1]

    result = agent.run_sync("What is the weather in Paris?")
    responses = [m for m in result.all_messages() if isinstance(m, ModelResponse)]
    calls = [p for m in responses for p in m.parts if isinstance(p, ToolCallPart)]
    return {"tool_calls": [{"name": c.tool_name, "args": c.args_as_dict()} for c in calls],
            "first_stop_reason": stop_reason(responses[0]), "tool_outputs": outputs, "text": result.output,
            "stop_reason": stop_reason(result.response)}


def count_tokens(model: str) -> dict[str, Any]:
    counted = asyncio.run(infer_model(f"anthropic:{model}").count_tokens(
        [ModelRequest.user_text_prompt("Hello")], None, ModelRequestParameters()))
    return {"input_tokens": counted.input_tokens}


def structured_output(model: str) -> dict[str, Any]:
    result = Agent(f"anthropic:{model}", output_type=NativeOutput(CityAnswer)).run_sync(
        "The city is Paris. Give it as JSON.")
    return {"parsed": result.output.model_dump(), "stop_reason": stop_reason(result.response)}


SCENARIOS: dict[str, Callable[[str], dict[str, Any]]] = {
    "plain": plain, "multi_turn": multi_turn, "streaming": streaming, "tool_round_trip": tool_round_trip,
    "count_tokens": count_tokens, "structured_output": structured_output,
}


def mark(scenario: str) -> None:
    """Tell the recording proxy which scenario the next requests belong to (not sent to the offline Claude)."""
    base = os.environ["ANTHROPIC_BASE_URL"].rstrip("/")
    urllib.request.urlopen(urllib.request.Request(f"{base}/__scenario__/pydantic-ai/{scenario}",
                                                  method="POST", data=b""), timeout=10).read()


def error_of(exc: BaseException) -> dict[str, Any]:
    cause = exc.__cause__ or exc
    return {"type": f"{type(exc).__module__}.{type(exc).__qualname__}", "message": str(exc)[:2000],
            "status": getattr(exc, "status_code", None) or getattr(cause, "status_code", None),
            "where": traceback.format_exc(limit=-3)[-600:]}


def main() -> None:
    model = sys.argv[1]
    for name in sys.argv[2:] or list(SCENARIOS):
        mark(name)
        try:
            line = {"scenario": name, "result": SCENARIOS[name](model)}
        except Exception as exc:  # every failure is reported, then the next scenario runs
            line = {"scenario": name, "error": error_of(exc)}
        print(json.dumps(line, ensure_ascii=False, default=str), flush=True)


if __name__ == "__main__":
    main()
