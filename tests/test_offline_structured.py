"""Structured outputs and strict tools (addendum §4), through the real SDK and raw HTTP against the offline Claude.

Every JSON value the offline Claude produces is checked with the `jsonschema` package (Draft 2020-12 with its
FormatChecker), and `messages.parse()` checks it again with the pydantic model, as it does against the API.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import anthropic
import httpx2
import jsonschema
import pydantic
import pytest
from anthropic import Anthropic
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.offline.errors import ApiError
from helpers.offline.models import MODELS
from helpers.offline.responder import respond
from helpers.offline.structured import check_request_schemas, fill, minimal_match

MODEL = "claude-haiku-4-5"
ASK = [{"role": "user", "content": "Ada Lovelace is 36, kind b, and lives in London. Her email is ada@example.org."}]


class Address(pydantic.BaseModel):
    city: str
    country: str = "England"


class Person(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=0, le=150, description="years")
    email: str | None = None
    kind: Literal["a", "b"]
    address: Address


@pytest.fixture
def client(server):
    with Anthropic(api_key="sk-ant-test", base_url=server.url, max_retries=0) as sdk:
        yield sdk


def valid(schema: dict[str, Any], value: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return [error.message for error in validator.iter_errors(value)]


def test_parse_returns_the_model_filled_from_the_words(client):
    reply = client.messages.parse(model=MODEL, max_tokens=500, messages=ASK, output_format=Person)
    assert reply.parsed_output == Person(name="Ada Lovelace", age=36, email="ada@example.org", kind="b",
                                         address=Address(city="London", country=""))
    assert [b.type for b in reply.content] == ["text"]
    assert list(json.loads(reply.content[0].text)) == ["name", "age", "kind", "address", "email"]  # required first


def test_stream_with_output_format_gives_a_parsed_final_message(client):
    with client.messages.stream(model=MODEL, max_tokens=500, messages=ASK, output_format=Person) as stream:
        final = stream.get_final_message()
    assert final.parsed_output.name == "Ada Lovelace" and final.parsed_output.address.city == "London"


def test_max_tokens_cuts_the_json_and_parse_raises_validation_error(client):
    with pytest.raises(pydantic.ValidationError):
        client.messages.parse(model=MODEL, max_tokens=8, messages=ASK, output_format=Person)
    cut = client.messages.create(model=MODEL, max_tokens=8, messages=ASK, output_config={"format": {
        "type": "json_schema", "schema": anthropic.lib._parse._transform.transform_schema(Person)}})
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 8
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content[0].text)


RICH = {
    "type": "object",
    "additionalProperties": False,
    "$defs": {"Stop": {"type": "object", "additionalProperties": False, "properties": {
        "city": {"type": "string"}, "day": {"type": "string", "format": "date"}}, "required": ["city", "day"]}},
    "properties": {
        "trip_id": {"type": "string", "format": "uuid"},
        "traveller": {"type": "string", "format": "email"},
        "booked_at": {"type": "string", "format": "date-time"},
        "site": {"type": "string", "format": "uri"},
        "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}, "minItems": 1},
        "class": {"enum": ["economy", "business", "first"]},
        "version": {"const": 2},
        "nights": {"type": "integer"},
        "budget": {"anyOf": [{"type": "number"}, {"type": "null"}]},
        "code": {"type": "string", "pattern": "^[A-Z]{3}-\\d{2}$"},
        "extra": {"allOf": [{"type": "object", "additionalProperties": False,
                             "properties": {"note": {"type": "string"}}, "required": ["note"]}]},
        "direct": {"type": "boolean"},
    },
    "required": ["stops", "class", "nights", "trip_id"],
}


def test_a_raw_json_schema_gets_valid_json_in_schema_order(client):
    reply = client.messages.create(model=MODEL, max_tokens=1000, output_config={"format": {
        "type": "json_schema", "schema": RICH}}, messages=[{"role": "user", "content": (
            "Book 3 nights in business class via Paris on 2026-05-01, direct, for bob@example.com.")}])
    assert reply.stop_reason == "end_turn" and len(reply.content) == 1
    value = json.loads(reply.content[0].text)
    assert valid(RICH, value) == []
    assert list(value) == ["trip_id", "stops", "class", "nights", "traveller", "booked_at", "site", "version",
                           "budget", "code", "extra", "direct"]
    assert value["stops"] == [{"city": "Paris", "day": "2026-05-01"}]
    assert (value["class"], value["nights"], value["traveller"], value["direct"]) == ("business", 3,
                                                                                       "bob@example.com", True)
    assert value["version"] == 2 and value["code"] == "AAA-00"


def test_a_strict_tool_gets_input_valid_for_its_schema(client):
    schema = {"type": "object", "additionalProperties": False, "required": ["city", "unit", "when"],
              "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]},
                             "when": {"type": "string", "format": "date"}}}
    reply = client.messages.create(model=MODEL, max_tokens=500, tools=[
        {"name": "get_forecast", "description": "Weather forecast for a city", "input_schema": schema,
         "strict": True}], messages=[{"role": "user", "content": "Forecast for Paris in fahrenheit?"}])
    calls = [b for b in reply.content if b.type == "tool_use"]
    assert reply.stop_reason == "tool_use"
    assert [c.input for c in calls] == [{"city": "Paris", "unit": "fahrenheit", "when": "2026-01-01"}]
    assert valid(schema, calls[0].input) == []


def refused(client, schema: dict[str, Any], **extra: Any) -> str:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=100, messages=ASK,
                               output_config={"format": {"type": "json_schema", "schema": schema}}, **extra)
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    return caught.value.body["error"]["message"]


def obj(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": list(properties)}


@pytest.mark.parametrize(("schema", "message"), [
    (obj(age={"type": "integer", "minimum": 0}),
     "output_config.format.schema: For 'integer' type, property 'minimum' is not supported"),
    (obj(name={"type": "string", "maxLength": 5}),
     "output_config.format.schema: For 'string' type, property 'maxLength' is not supported"),
    (obj(tags={"type": "array", "items": {"type": "string"}, "uniqueItems": True}),
     "output_config.format.schema: For 'array' type, property 'uniqueItems' is not supported"),
    (obj(tags={"type": "array", "items": {"type": "string"}, "minItems": 2}),
     "output_config.format.schema: For 'array' type, property 'minItems' only supports values 0 and 1"),
    (obj(x={"oneOf": [{"type": "string"}, {"type": "integer"}]}), "Schema type 'oneOf' is not supported"),
    ({"type": "object", "properties": {"a": {"type": "string"}}},
     "output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly set to false"),
    (obj(a={"$ref": "https://example.com/a.json"}),
     "output_config.format.schema: External $ref is not supported: https://example.com/a.json"),
    ({**obj(child={"$ref": "#/$defs/Node"}), "$defs": {"Node": obj(next={"$ref": "#/$defs/Node"})}},
     "output_config.format.schema: Recursive schemas are not supported"),
    (obj(code={"type": "string", "pattern": "(a)\\1"}),
     "output_config.format.schema: For 'string' type, property 'pattern' uses a regex feature that is not "
     "supported (backreferences, lookaround, word boundaries or large repetitions)"),
    ({"type": "object", "additionalProperties": False, "properties": {f"p{i}": {"type": "string"} for i in range(25)}},
     "Schema is too complex for compilation."),
    (obj(a={"type": "strin"}), "output_config.format.schema: Invalid JSON Schema: 'type' must be one of array, "
                                "boolean, integer, null, number, object, string"),
    (obj(a={"const": {"x": 1}}), "output_config.format.schema: const values must be strings, numbers, booleans or "
                                  "null"),
])
def test_unsupported_schemas_are_refused(client, schema, message):
    assert refused(client, schema) == message


def test_unknown_keywords_are_ignored(client):
    schema = {**obj(name={"type": "string", "x-widget": "text", "examples": ["Ada"]}), "$comment": "hi"}
    reply = client.messages.create(model=MODEL, max_tokens=100, messages=ASK,
                                   output_config={"format": {"type": "json_schema", "schema": schema}})
    assert json.loads(reply.content[0].text) == {"name": "Ada Lovelace"}


def test_too_many_strict_tools_and_citations_are_refused(client):
    tools = [{"name": f"t{i}", "input_schema": obj(a={"type": "string"}), "strict": True} for i in range(21)]
    with pytest.raises(anthropic.BadRequestError, match="Schema is too complex for compilation."):
        client.messages.create(model=MODEL, max_tokens=100, messages=ASK, tools=tools)
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Ada is 36."},
                "citations": {"enabled": True}}
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=MODEL, max_tokens=100, output_config={"format": {
            "type": "json_schema", "schema": obj(name={"type": "string"})}}, messages=[
            {"role": "user", "content": [document, {"type": "text", "text": "Who?"}]}])
    assert caught.value.body["error"]["message"] == ("output_config.format: structured outputs cannot be used with "
                                                     "citations enabled.")


def test_the_deprecated_output_format_needs_its_beta(server):
    headers = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01", "anthropic-beta": "files-api-2025-04-14"}
    body = {"model": MODEL, "max_tokens": 200, "messages": ASK,
            "output_format": {"type": "json_schema", "schema": obj(name={"type": "string"})}}
    with httpx2.Client(base_url=server.url, headers=headers) as http:
        without = http.post("/v1/messages?beta=true", json=body)
    assert without.status_code == 400
    assert without.json()["error"]["message"] == "output_format: Extra inputs are not permitted"
    assert check(body) == "output_format: Extra inputs are not permitted"
    assert check(body, frozenset({"structured-outputs-2025-11-13"})) is None
    assert json.loads(respond(body, body["messages"]).content[0]["text"]) == {"name": "Ada Lovelace"}
    both = {**body, "output_config": {"format": body["output_format"]}}
    assert check(both, frozenset({"structured-outputs-2025-11-13"})) == (
        "Both output_format and output_config.format were provided. Please use only output_config.format "
        "(output_format is deprecated).")


def check(body: dict[str, Any], betas: frozenset[str] = frozenset()) -> str | None:
    try:
        check_request_schemas(body, betas=betas, spec=MODELS[MODEL])
    except ApiError as error:
        return error.message
    return None


def test_check_request_schemas_takes_any_json_without_crashing():
    assert check({"output_config": {"format": "json"}}) == "output_config.format.type: Input should be 'json_schema'"
    assert check({"output_config": {"format": {"type": "json_schema", "schema": [1]}}}) == \
        "output_config.format.schema: Input should be a valid dictionary"
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(2000):
        deep = {"anyOf": [deep]}
    assert check({"output_config": {"format": {"type": "json_schema", "schema": deep}}}) == \
        "Schema is too complex for compilation."
    assert check({"tools": [{"name": "a", "strict": True, "input_schema": "nope"}]}) == \
        "tools.0.custom.input_schema: Input should be a valid dictionary"


def test_minimal_match_finds_a_string_each_simple_pattern_matches():
    for pattern in [r"^\d{3}-[A-Z]{2}$", r"[^abc]x+", r"(foo|bar)\.baz", r"^[a-z0-9._%+-]+@[a-z]+\.[a-z]{2,}$",
                    r"^\S+$", r"[^\d\s]{2}"]:
        import re
        assert re.search(pattern, minimal_match(pattern)), pattern


NAMES = st.sampled_from(["name", "city", "age", "count", "email", "flag", "is_open", "tags", "notes", "kind"])
LEAF = st.one_of(
    st.sampled_from([{"type": t} for t in ("string", "integer", "number", "boolean", "null")]),
    st.sampled_from([{"type": "string", "format": f} for f in ("date", "date-time", "email", "uri", "uuid",
                                                               "ipv4", "ipv6", "hostname", "time")]),
    st.lists(st.one_of(st.text(max_size=8), st.integers(), st.booleans(), st.none()), min_size=1, max_size=4,
             unique_by=lambda v: (type(v), v)).map(lambda values: {"enum": values}),
    st.one_of(st.text(max_size=8), st.integers(-5, 5)).map(lambda v: {"const": v}),
    st.sampled_from([{"type": "string", "pattern": p} for p in (r"^[A-Z]{2}\d$", r"x+y", r"^(a|b)c$")]),
)


def _schemas(inner: st.SearchStrategy) -> st.SearchStrategy:
    objects = st.dictionaries(NAMES, inner, min_size=1, max_size=4).flatmap(lambda props: st.builds(
        lambda required: {"type": "object", "additionalProperties": False, "properties": props,
                          "required": required}, st.lists(st.sampled_from(sorted(props)), unique=True)))
    arrays = st.builds(lambda items, low: {"type": "array", "items": items, "minItems": low}, inner,
                       st.sampled_from([0, 1]))
    unions = st.lists(inner, min_size=1, max_size=3).map(lambda branches: {"anyOf": branches})
    return st.one_of(objects, arrays, unions)


SCHEMAS = st.recursive(LEAF, _schemas, max_leaves=12).map(
    lambda s: {"type": "object", "additionalProperties": False, "properties": {"value": s}, "required": ["value"]})


@settings(max_examples=300, deadline=None)
@given(schema=SCHEMAS, text=st.text(max_size=80) | st.sampled_from(["Paris is 3 and b", "name is Ada, age 7"]))
def test_every_supported_schema_gets_a_valid_value(schema, text):
    if check({"output_config": {"format": {"type": "json_schema", "schema": schema}}}) is not None:
        return  # a schema the API refuses (too complex): nothing to fill
    value = fill(schema, text, entities=["Paris"], numbers=[3.0])
    assert valid(schema, value) == []
    assert fill(schema, text, entities=["Paris"], numbers=[3.0]) == value  # deterministic


def test_a_schema_that_expands_exponentially_is_too_complex():
    defs = {f"D{i}": {"type": "object", "additionalProperties": False, "required": ["a", "b"],
                      "properties": {"a": {"$ref": f"#/$defs/D{i + 1}"}, "b": {"$ref": f"#/$defs/D{i + 1}"}}}
            for i in range(40)}
    defs["D40"] = {"type": "string"}
    schema = {"$ref": "#/$defs/D0", "$defs": defs}
    assert check({"output_config": {"format": {"type": "json_schema", "schema": schema}}}) == \
        "Schema is too complex for compilation."
    assert fill(schema, "", entities=[], numbers=[]) is None


ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                            st.sampled_from(["type", "properties", "required", "enum", "const", "anyOf", "allOf",
                                             "$ref", "$defs", "items", "format", "pattern", "additionalProperties",
                                             "minItems", "default", "name"]) | st.text(max_size=5), inner,
                            max_size=5), max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(schema=ANY_JSON, text=st.text(max_size=60))
def test_any_json_as_a_schema_is_refused_or_filled_never_a_crash(schema, text):
    body = {"output_config": {"format": {"type": "json_schema", "schema": schema}},
            "tools": [{"name": "t", "strict": True, "input_schema": schema}]}
    message = check(body)
    value = fill(schema, text, entities=["Paris"], numbers=[2.0])
    json.dumps(value, allow_nan=False)
    if message is None and isinstance(schema, dict):
        reply = respond({"model": MODEL, "max_tokens": 100, **body, "messages": [{"role": "user", "content": text
                                                                                   or "x"}]}, ASK)
        assert len(reply.content) == 1 and reply.content[0]["type"] == "text"


def test_a_refusal_with_an_empty_text_block_makes_parse_raise():
    from helpers.offline.compose import compose
    from helpers.offline.responder import Reply

    details = {"type": "refusal", "category": None, "explanation": None}
    message = compose(Reply([{"type": "text", "text": ""}], "refusal", details), {"model": MODEL, "max_tokens": 99},
                      input_tokens=5, message_id="msg_01", new_tool_id=lambda: "toolu_01")
    assert message["content"] == [{"type": "text", "text": ""}] and message["stop_details"] == details
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=message))
    with Anthropic(api_key="sk-ant-test", base_url="http://offline.test", http_client=httpx2.Client(
            transport=transport)) as client, pytest.raises(pydantic.ValidationError):
        client.messages.parse(model=MODEL, max_tokens=99, messages=ASK, output_format=Person)


WEATHER = {"name": "get_weather", "description": "Get the current weather for a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


class Report(pydantic.BaseModel):
    city: str
    summary: str


def test_with_tools_and_a_format_the_calls_come_first_then_the_json(client):
    ask = [{"role": "user", "content": "What's the weather in Paris?"}]
    first = client.messages.parse(model=MODEL, max_tokens=500, tools=[WEATHER], messages=ask, output_format=Report)
    assert first.stop_reason == "tool_use" and [b.type for b in first.content] == ["tool_use"]
    assert first.parsed_output is None
    history = [*ask, {"role": "assistant", "content": first.to_param()["content"]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[0].id,
                                             "content": "18°C and sunny"}]}]
    done = client.messages.parse(model=MODEL, max_tokens=500, tools=[WEATHER], messages=history,
                                 output_format=Report)
    assert done.stop_reason == "end_turn"
    assert done.parsed_output == Report(city="Paris", summary="What's the weather in Paris?")


def test_parse_with_thinking_ignores_the_thinking_block(client):
    reply = client.messages.parse(model="claude-sonnet-4-6", max_tokens=800, thinking={"type": "adaptive"},
                                  messages=ASK, output_format=Person)
    assert [b.type for b in reply.content] == ["thinking", "text"]
    assert reply.content[0].thinking.endswith("The answer must be JSON that follows the requested schema, so I'll "
                                              "fill each property from what the user said.")
    assert reply.parsed_output.name == "Ada Lovelace"
