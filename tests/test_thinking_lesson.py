"""The code paths of `notebooks/14_thinking_and_stop_reasons.ipynb`, through the real SDK against the offline Claude.

What a reader sees: thinking blocks with signatures (adaptive on the default model, a budget on the model the Models
API reports as budget-only), streamed thinking and signature events, the API's 400 for a tool-loop turn sent back
without its thinking block, `run_tool_loop` keeping thinking blocks unchanged, each of the seven stop reasons
produced (naturally or scripted) and sorted by `helpers.replies.check_stop_reason`, and the Production version run
as a script in live mode.
"""

from __future__ import annotations

import anthropic
import pytest
from anthropic import Anthropic
from test_structured_lesson import run_production_cell

from helpers.replies import MaxTokensError, RefusalError, check_stop_reason, text_of
from helpers.settings import default_model
from helpers.tools import answer_tool_calls, run_tool_loop, tool_definitions

MODEL = default_model()
THINKING = {"type": "enabled", "budget_tokens": 1024}
EXPECTED = ("messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. When "
            "`thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
            "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
            "previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at "
            "https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
SEARCH = {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {"query": "Paris"}}
FOUND = {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": [
    {"type": "web_search_result", "url": "https://weather.example/paris", "title": "Paris",
     "encrypted_content": "EqgfCioIARgB", "page_age": None}]}
CUT_CALL = {"type": "tool_use", "name": "get_weather", "input": {}}


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
        city: City name, e.g. Paris.
    """
    return {"Paris": "18°C, sunny", "Lima": "22°C, cloudy"}.get(city, f"no weather station in {city}")


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def client(server):
    with Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def budget_model(client) -> str:
    """The lesson's choice: the first active model that thinks only with a budget, read from the Models API."""
    return next(m.id for m in client.models.list() if m.capabilities and m.lifecycle == "active"
                and m.capabilities.thinking.types.enabled.supported
                and not m.capabilities.thinking.types.adaptive.supported)


def test_adaptive_thinking_on_the_default_model_gives_a_signed_block(client):
    reply = client.messages.create(model=MODEL, max_tokens=2048, thinking={"type": "adaptive"},
                                   messages=ask("What is 17 * 23?"))
    assert [block.type for block in reply.content] == ["thinking", "text"]
    thinking = reply.content[0]
    assert thinking.thinking and len(thinking.signature) == 68
    assert text_of(reply) == "17 * 23 = 391."
    assert reply.usage.output_tokens_details.thinking_tokens == 23 < reply.usage.output_tokens


def test_the_default_model_takes_adaptive_and_not_a_budget(client):
    types = client.models.retrieve(MODEL).capabilities.thinking.types
    assert (types.adaptive.supported, types.enabled.supported) == (True, False)
    with pytest.raises(anthropic.BadRequestError, match='"thinking.type.enabled" is not supported for this model'):
        client.messages.create(model=MODEL, max_tokens=2048, thinking=THINKING, messages=ask("Hi"))


def test_the_budget_model_is_found_and_thinks_with_a_budget(client, budget_model):
    assert budget_model == "claude-haiku-4-5"
    reply = client.messages.create(model=budget_model, max_tokens=2048, thinking=THINKING,
                                   messages=ask("Is 391 a prime number?"))
    assert [block.type for block in reply.content] == ["thinking", "text"]


def test_streamed_thinking_arrives_as_deltas_then_one_signature(client):
    seen: list[str] = []
    with client.messages.stream(model=MODEL, max_tokens=2048, thinking={"type": "adaptive"},
                                messages=ask("Why is the sky blue?")) as stream:
        seen = [event.type for event in stream if event.type in ("thinking", "signature", "text")]
        final = stream.get_final_message()
    assert seen.count("signature") == 1 and seen.count("thinking") > 1
    assert seen.index("signature") > max(i for i, kind in enumerate(seen) if kind == "thinking")
    assert seen.index("signature") < seen.index("text")
    assert final.content[0].type == "thinking" and final.content[0].signature


def test_a_tool_turn_without_its_thinking_block_is_the_apis_400_and_with_it_is_answered(client, budget_model):
    tools = tool_definitions([get_weather])
    question = ask("What's the weather in Paris right now?")
    first = client.messages.create(model=budget_model, max_tokens=2048, thinking=THINKING, tools=tools,
                                   messages=question)
    assert [block.type for block in first.content] == ["thinking", "text", "tool_use"]
    results = answer_tool_calls(first, [get_weather])
    stripped = {"role": "assistant", "content": [b for b in first.content if b.type != "thinking"]}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=budget_model, max_tokens=2048, thinking=THINKING, tools=tools,
                               messages=[*question, stripped, results])
    assert caught.value.status_code == 400 and caught.value.body["error"]["message"] == EXPECTED
    second = client.messages.create(model=budget_model, max_tokens=2048, thinking=THINKING, tools=tools,
                                    messages=[*question, {"role": "assistant", "content": first.content}, results])
    assert second.stop_reason == "end_turn" and text_of(second) == 'get_weather(city="Paris") returned: 18°C, sunny.'


def test_an_edited_thinking_block_is_refused(client, budget_model):
    tools = tool_definitions([get_weather])
    question = ask("What's the weather in Paris right now?")
    first = client.messages.create(model=budget_model, max_tokens=2048, thinking=THINKING, tools=tools,
                                   messages=question)
    edited = [first.content[0].model_copy(update={"thinking": "Something else."}), *first.content[1:]]
    with pytest.raises(anthropic.BadRequestError, match="cannot be modified"):
        client.messages.create(model=budget_model, max_tokens=2048, thinking=THINKING, tools=tools,
                               messages=[*question, {"role": "assistant", "content": edited},
                                         answer_tool_calls(first, [get_weather])])


def test_run_tool_loop_sends_the_thinking_blocks_back_unchanged(client, server):
    result = run_tool_loop(client, model=MODEL, messages=ask("What's the weather in Paris and Lima?"),
                           tools=[get_weather], max_tokens=2048, thinking={"type": "adaptive"})
    assert result.iterations == 2 and result.stop_reason == "end_turn"
    first_reply = result.messages[1]["content"]
    assert [block.type for block in first_reply] == ["thinking", "text", "tool_use", "tool_use"]
    sent = server.requests[-1].body["messages"][1]["content"][0]
    assert sent == {"type": "thinking", "thinking": first_reply[0].thinking, "signature": first_reply[0].signature}
    assert "Paris" in text_of(result.message) and "Lima" in text_of(result.message)


def test_the_natural_stop_reasons(client):
    tools = tool_definitions([get_weather])
    reasons = [client.messages.create(model=MODEL, **request) for request in (
        dict(max_tokens=300, messages=ask("What is 17 * 23?")),
        dict(max_tokens=5, messages=ask("Explain photosynthesis in detail.")),
        dict(max_tokens=300, stop_sequences=["5"], messages=ask("Count from 1 to 10.")),
        dict(max_tokens=300, tools=tools, messages=ask("What's the weather in Paris?")),
    )]
    assert [check_stop_reason(reply) for reply in reasons] == ["end_turn", "max_tokens", "stop_sequence", "tool_use"]
    assert reasons[2].stop_sequence == "5" and text_of(reasons[2]) == "1, 2, 3, 4, "


def test_the_scripted_stop_reasons_are_sorted_by_check_stop_reason(client, server):
    server.reply_next(content=[{"type": "text", "text": "Let me check."}, CUT_CALL], stop_reason="max_tokens")
    server.reply_next(content=[SEARCH, FOUND], stop_reason="pause_turn")
    server.refuse_next(category="cyber")
    server.reply_next(content=[{"type": "text", "text": "The report begins"}],
                      stop_reason="model_context_window_exceeded")
    replies = [client.messages.create(model=MODEL, max_tokens=300, tools=tool_definitions([get_weather]),
                                      messages=ask("What's the weather in Paris?")) for _ in range(4)]
    assert [reply.stop_reason for reply in replies] == ["max_tokens", "pause_turn", "refusal",
                                                        "model_context_window_exceeded"]
    with pytest.raises(MaxTokensError, match=r"max_tokens=300"):
        check_stop_reason(replies[0], max_tokens=300)
    assert check_stop_reason(replies[1]) == "pause_turn"
    with pytest.raises(RefusalError, match=r"category: cyber"):
        check_stop_reason(replies[2])
    assert check_stop_reason(replies[3]) == "model_context_window_exceeded"


def test_run_tool_loop_retries_a_cut_call_and_continues_a_paused_turn(client, server):
    server.reply_next(content=[CUT_CALL], stop_reason="max_tokens")
    server.reply_next(content=[SEARCH, FOUND], stop_reason="pause_turn")
    result = run_tool_loop(client, model=MODEL, messages=ask("What's the weather in Paris?"), tools=[get_weather],
                           max_tokens=60, max_tokens_retry=1024)
    assert (result.iterations, result.stop_reason) == (4, "end_turn")
    assert text_of(result.message) == 'get_weather(city="Paris") returned: 18°C, sunny.'
    sent = [record.body for record in server.requests if record.path == "/v1/messages"]
    assert [body["max_tokens"] for body in sent] == [60, 1024, 1024, 1024]
    assert [[turn["role"] for turn in body["messages"]] for body in sent] == [
        ["user"], ["user"], ["user", "assistant"], ["user", "assistant", "assistant", "user"]]
    assert sent[2]["messages"][1]["content"] == [SEARCH, FOUND]  # the paused turn, sent back as it came


def test_the_production_version_answers_with_thinking_kept(server, tmp_path):
    done = run_production_cell("14_thinking_and_stop_reasons.ipynb", server.url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["end_turn: 2 request(s), 2 thinking block(s) kept",
                                        'get_weather(city="Paris") returned: 18°C, sunny.']


def test_the_production_version_uses_a_budget_where_the_model_takes_no_adaptive(server, tmp_path):
    done = run_production_cell("14_thinking_and_stop_reasons.ipynb", server.url, tmp_path,
                               CLAUDE_MODEL="claude-haiku-4-5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "end_turn: 2 request(s), 2 thinking block(s) kept"
    thinking = [record.body.get("thinking") for record in server.requests if record.path == "/v1/messages"]
    assert thinking == [{"type": "enabled", "budget_tokens": 2048}] * 2


def test_the_production_version_turns_a_refusal_into_an_answer(server, tmp_path):
    server.refuse_next(category="cyber")
    done = run_production_cell("14_thinking_and_stop_reasons.ipynb", server.url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["refusal: 1 request(s), 0 thinking block(s) kept",
                                        "Claude declined to answer (cyber)."]


def test_the_production_version_turns_a_call_cut_twice_into_an_answer(server, tmp_path):
    server.reply_next(content=[CUT_CALL], stop_reason="max_tokens", times=2)
    done = run_production_cell("14_thinking_and_stop_reasons.ipynb", server.url, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["max_tokens: 2 request(s), 0 thinking block(s) kept",
                                        "The reply was cut at max_tokens=8192, twice."]
    assert [record.body["max_tokens"] for record in server.requests if record.path == "/v1/messages"] == [4096, 8192]
