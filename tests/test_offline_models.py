"""The offline Claude's model table against today's API (addendum §1, §10.4): caps, windows, `GET /v1/models`
through the real SDK, and the sampling-parameter rule. Raw HTTP (`httpx2`) where the SDK would refuse locally
(a non-streaming `max_tokens` above 21,333, sampling parameters the SDK no longer has)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from anthropic import Anthropic

from helpers.offline import MODELS
from helpers.offline.models import sdk_model_ids

HEADERS = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
HI = [{"role": "user", "content": "Hi"}]
FAMILY_4_5 = ["claude-haiku-4-5", "claude-haiku-4-5-20251001", "claude-opus-4-5", "claude-opus-4-5-20251101",
              "claude-sonnet-4-5", "claude-sonnet-4-5-20250929"]
# addendum §10.4: non-default sampling values refused on every request
SAMPLING_REFUSED = ["claude-fable-5-1", "claude-mythos-5-1", "claude-fable-5", "claude-mythos-5",
                    "claude-mythos-preview", "claude-opus-5", "claude-opus-4-8", "claude-opus-4-7", "claude-sonnet-5"]


@pytest.fixture
def http(server) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.url, headers=HEADERS, timeout=30) as client:
        yield client


@pytest.fixture
def sdk(server) -> Iterator[Anthropic]:
    with Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as client:
        yield client


def error_of(resp: httpx2.Response) -> tuple[int, str, str]:
    body = resp.json()
    return resp.status_code, body["error"]["type"], body["error"]["message"]


def create(http: httpx2.Client, model: str, **fields: Any) -> httpx2.Response:
    return http.post("/v1/messages", json={"model": model, "max_tokens": 100, "messages": HI, **fields})


def test_one_row_per_id_of_the_sdk_model_literal():
    assert list(MODELS) == sdk_model_ids()


@pytest.mark.parametrize("model_id", sdk_model_ids())
def test_caps_and_windows_are_the_docs_figures(model_id):
    spec = MODELS[model_id]
    if model_id in FAMILY_4_5:
        assert (spec.context_window, spec.max_output) == (200_000, 64_000)
    else:
        assert (spec.context_window, spec.max_output) == (1_000_000, 128_000)


def test_models_retrieve_and_list_parse_into_the_sdk_types_with_the_table_figures(sdk):
    listed = list(sdk.models.list(limit=100))
    assert [m.id for m in listed] == sdk_model_ids()
    for info in listed:
        spec = MODELS[info.id]
        assert (info.max_input_tokens, info.max_tokens) == (spec.context_window, spec.max_output)
        assert info.display_name == spec.display_name and info.line == spec.line
    haiku = sdk.models.retrieve("claude-haiku-5-5")
    assert (haiku.max_input_tokens, haiku.max_tokens, haiku.lifecycle) == (1_000_000, 128_000, "active")
    assert haiku.created_at.isoformat() == "2026-10-07T00:00:00+00:00"
    sonnet = sdk.models.retrieve("claude-sonnet-4-5-20250929")
    assert (sonnet.max_input_tokens, sonnet.max_tokens, sonnet.lifecycle) == (200_000, 64_000, "deprecated")
    assert sonnet.retires_at.isoformat() == "2026-11-30T00:00:00+00:00"


@pytest.mark.parametrize(("model_id", "types"), [
    ("claude-opus-4-6", {"adaptive": True, "enabled": True, "disabled": True, "between_tools": False}),
    ("claude-haiku-4-5", {"adaptive": False, "enabled": True, "disabled": True, "between_tools": False}),
    ("claude-opus-5-5", {"adaptive": True, "enabled": False, "disabled": False, "between_tools": False}),
    ("claude-sonnet-5-5", {"adaptive": True, "enabled": False, "disabled": False, "between_tools": True}),
    ("claude-opus-5", {"adaptive": True, "enabled": False, "disabled": True, "between_tools": False}),
])
def test_model_capabilities_say_which_thinking_types_are_accepted(sdk, model_id, types):
    thinking = sdk.models.retrieve(model_id).capabilities.thinking
    assert {kind: getattr(thinking.types, kind).supported for kind in types} == types


def test_max_tokens_128000_on_haiku_5_5_is_accepted(http):
    """langchain and others send 128,000 by default."""
    resp = create(http, "claude-haiku-5-5", max_tokens=128_000)
    assert resp.status_code == 200, resp.text
    assert resp.json()["stop_reason"] == "end_turn"


def test_max_tokens_128000_through_the_sdk_stream(sdk):
    with sdk.messages.stream(model="claude-haiku-5-5", max_tokens=128_000, messages=HI) as stream:
        assert stream.get_final_message().stop_reason == "end_turn"


@pytest.mark.parametrize(("model", "cap"), [("claude-haiku-5-5", 128_000), ("claude-opus-4-6", 128_000),
                                            ("claude-sonnet-4-6", 128_000), ("claude-haiku-4-5", 64_000),
                                            ("claude-opus-4-5-20251101", 64_000)])
def test_max_tokens_over_the_cap(http, model, cap):
    assert create(http, model, max_tokens=cap).status_code == 200
    assert error_of(create(http, model, max_tokens=200_000)) == (
        400, "invalid_request_error",
        f"max_tokens: 200000 > {cap}, which is the maximum allowed number of output tokens for {model}")


@pytest.mark.parametrize("model", SAMPLING_REFUSED)
@pytest.mark.parametrize(("name", "value"), [("temperature", 0.2), ("top_p", 0.5), ("top_k", 10)])
def test_non_default_sampling_values_are_refused_on_the_listed_models(http, model, name, value):
    assert error_of(create(http, model, **{name: value})) == (
        400, "invalid_request_error", f"`{name}` is deprecated for this model.")


@pytest.mark.parametrize("model", SAMPLING_REFUSED)
def test_default_sampling_values_are_accepted_on_the_listed_models(http, model):
    assert create(http, model, temperature=1.0, top_p=1.0).status_code == 200


@pytest.mark.parametrize(("model", "fields"), [
    ("claude-haiku-5-5", {}), ("claude-haiku-4-5", {}), ("claude-sonnet-5-5", {"thinking": {"type": "between_tools"}}),
])
def test_sampling_values_are_accepted_where_no_rule_is_documented(http, model, fields):
    """Opus 5.5, Sonnet 5.5 and Haiku 5.5 are not in the docs' list; with thinking off, any value in range passes."""
    assert create(http, model, temperature=0.2, top_p=0.9, **fields).status_code == 200


def test_thinking_on_by_default_restricts_temperature_on_opus_5_5(http):
    assert error_of(create(http, "claude-opus-5-5", temperature=0.2)) == (
        400, "invalid_request_error", "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode")


@pytest.mark.parametrize(("fields", "message"), [
    ({"temperature": 0.5}, "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode"),
    ({"top_p": 0.9}, "`top_p` must be between 0.95 and 1 when thinking is enabled or in adaptive mode"),
    ({"top_k": 5}, "`top_k` may not be set when thinking is enabled or in adaptive mode"),
])
def test_sampling_while_thinking_on_older_models(http, fields, message):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    assert error_of(create(http, "claude-haiku-4-5", max_tokens=2048, thinking=thinking, **fields)) == (
        400, "invalid_request_error", message)
    assert create(http, "claude-haiku-4-5", temperature=1, top_p=0.95, max_tokens=2048,
                  thinking=thinking).status_code == 200


def test_rows_are_hashable_and_distinct():
    """A row can key a cache (frozen, hashable), and no two ids share one."""
    assert len(set(MODELS.values())) == len(MODELS)
