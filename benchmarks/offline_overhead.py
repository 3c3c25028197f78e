"""What the offline Claude costs per request, against the cheapest possible fake: `httpx2.MockTransport`.

Both sides use the real SDK (`Anthropic().messages.create`); one goes over loopback HTTP to the offline Claude
(validation, reply, JSON), the other to an in-process handler that returns a canned Message. Simulated latency is
off on the server, so the figure is pure overhead. Both are measured in the same run, alternating, and reported as
medians and their ratio.
"""

from __future__ import annotations

import statistics
import time

import httpx2
from anthropic import Anthropic

from helpers.offline import start_server

MODEL = "claude-haiku-5-5"
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
CANNED = {"id": "msg_01", "type": "message", "role": "assistant", "model": MODEL,
          "content": [{"type": "text", "text": "The capital of France is Paris."}], "stop_reason": "end_turn",
          "stop_sequence": None, "usage": {"input_tokens": 14, "output_tokens": 8}}


def _time_one(client: Anthropic) -> float:
    start = time.perf_counter()
    client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    return time.perf_counter() - start


def run(requests: int = 300, warmup: int = 20) -> dict[str, float]:
    """Median seconds per request for each side, and the ratio offline / MockTransport."""
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=CANNED))
    mock = Anthropic(api_key="sk-ant-bench", base_url="http://mock.invalid",
                     http_client=httpx2.Client(transport=transport))
    with start_server(first_token_ms=0, per_token_ms=0) as server:
        offline = Anthropic(api_key="sk-ant-bench", base_url=server.url)
        for _ in range(warmup):
            _time_one(offline), _time_one(mock)
        offline_times, mock_times = [], []
        for _ in range(requests):
            offline_times.append(_time_one(offline))
            mock_times.append(_time_one(mock))
    offline_median, mock_median = statistics.median(offline_times), statistics.median(mock_times)
    return {"requests": requests, "offline_median_ms": round(offline_median * 1000, 3),
            "mock_transport_median_ms": round(mock_median * 1000, 3),
            "ratio_offline_over_mock": round(offline_median / mock_median, 2)}
