"""The shape of a request, checked against the SDK's own request types with pydantic.

One source for every field's type: `anthropic.types.message_create_params.MessageCreateParamsBase` (with
`stream: bool`, the union of the SDK's `...NonStreaming` and `...Streaming` shapes), its beta twin, and the
`count_tokens` params, each validated in strict mode with extra keys forbidden all the way down, as the API does
(`<path>: Extra inputs are not permitted`). pydantic's errors are turned into the API's messages:

- the SDK types `messages`, `content`, `tools`, `system` and `tool_result` content as lazy `Iterable`s, which
  pydantic would validate only when consumed and which take any iterable, an object included; the validators
  here are built from the same core schemas with every `Iterable` read as a list (`_eager`), so a union such as
  `web_search_tool_result.content` (a list of results, or an error object) takes the branch the API takes;
- a union reports one error per branch; the branch the API takes is the one whose `type` (or a message's `role`)
  matches, and only its error is reported. Where the union is keyed by `type`, the path names the tag the way
  the API does (`messages.1.content.0.tool_use.id`, `tools.2.custom.name`, `thinking.enabled.budget_tokens`);
- a block that fits no request type still validates as one of the SDK's response models (the SDK accepts a
  `Message`'s own `content` back); such a block is checked again against the request types alone.

Not here: the rules that are not about shape (roles, tool pairing, per-model limits); see `validation`.
"""

from __future__ import annotations

import copy
import re
import warnings
from functools import cache
from typing import Any

from anthropic.types import ContentBlockParam, JSONOutputFormatParam, message_count_tokens_params
from anthropic.types import message_create_params as create_params
from anthropic.types.beta import BetaContentBlockParam, BetaJSONOutputFormatParam
from anthropic.types.beta import message_count_tokens_params as beta_count_params
from anthropic.types.beta import message_create_params as beta_create_params
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, with_config
from pydantic.warnings import TypedDictExtraConfigWarning
from pydantic_core import ErrorDetails, SchemaValidator

from .errors import ApiError, invalid

STRICT = ConfigDict(extra="forbid", strict=True)
HEADER_ONLY = ("betas", "user_profile_id", "workspace_id")  # SDK params that travel as headers, never in a body
DISCRIMINATORS = ("type", "role")
GENERIC_TAGS = re.compile(r"^(?:str|int|float|bool|none|bytes)$|^[a-z-]+\[")  # pydantic's names for plain branches
_MISSING = object()
FAIL_FAST_TYPES = ("list", "tuple", "set", "frozenset", "dict")  # core schema types that take `fail_fast`


@with_config(STRICT)
class CreateParams(create_params.MessageCreateParamsBase, total=False):
    """`messages.create`'s body: the SDK's params, `stream`, and the sampling fields the SDK sends via `extra_body`."""

    stream: bool
    temperature: float
    top_p: float
    top_k: int
    output_format: JSONOutputFormatParam  # deprecated; accepted with `structured-outputs-2025-11-13` only


@with_config(STRICT)
class BetaCreateParams(beta_create_params.MessageCreateParamsBase, total=False):
    """`beta.messages.create`'s body."""

    stream: bool
    temperature: float
    top_p: float
    top_k: int
    output_format: BetaJSONOutputFormatParam


@with_config(STRICT)
class CountParams(message_count_tokens_params.MessageCountTokensParams, total=False):
    """`messages.count_tokens`'s body."""

    output_format: JSONOutputFormatParam


@with_config(STRICT)
class BetaCountParams(beta_count_params.MessageCountTokensParams, total=False):
    """`beta.messages.count_tokens`'s body."""

    output_format: BetaJSONOutputFormatParam


@cache
def _adapter(endpoint: str, beta: bool) -> TypeAdapter[Any]:
    """The body's adapter, built on first use (about 40 ms each) and kept."""
    kind = (BetaCountParams if beta else CountParams) if endpoint == "count_tokens" else (
        BetaCreateParams if beta else CreateParams)
    with warnings.catch_warnings():  # a few beta types declare open extra items; they stay open
        warnings.simplefilter("ignore", TypedDictExtraConfigWarning)
        return TypeAdapter(kind)


def _eager(adapter: TypeAdapter[Any]) -> SchemaValidator:
    """`adapter`'s validator with every lazy `Iterable` (a core `generator` schema) read as a list, and every list,
    tuple, set and dict stopping at its first wrong item (pydantic's `fail_fast`): only the first error is
    reported, and collecting one per item of a hostile 10 MB list of 3 million wrong items took 21 s."""
    schema = copy.deepcopy(adapter.core_schema)
    stack: list[Any] = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "generator":  # same keys as a list schema: items_schema, min/max_length
                node["type"] = "list"
            if node.get("type") in FAIL_FAST_TYPES:
                node["fail_fast"] = True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return SchemaValidator(schema)


@cache
def _validator(endpoint: str, beta: bool) -> SchemaValidator:
    return _eager(_adapter(endpoint, beta))


@cache
def _block_adapter(beta: bool) -> TypeAdapter[Any]:
    """Request content blocks only (no response models), for a block that only a response model accepted."""
    return TypeAdapter(BetaContentBlockParam if beta else ContentBlockParam, config=STRICT)


@cache
def _block_validator(beta: bool) -> SchemaValidator:
    return _eager(_block_adapter(beta))


@cache
def _branch_names(endpoint: str, beta: bool) -> dict[str, str | None]:
    """Each request or response type's name (pydantic's label for its union branch) → its `type` literal, if any
    (`ToolParam` → `custom`), read once from the adapters' core schemas."""
    names: dict[str, str | None] = {}
    stack: list[Any] = [_adapter(endpoint, beta).core_schema, _block_adapter(beta).core_schema]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            if node.get("type") in ("typed-dict", "model-fields") and "fields" in node:
                cls = node.get("cls")
                if cls is not None:
                    names.setdefault(cls.__name__, _literal_of(node["fields"].get("type")))
            if node.get("type") == "model" and "cls" in node:
                inner = node.get("schema", {})
                names.setdefault(node["cls"].__name__, _literal_of(inner.get("fields", {}).get("type"))
                                 if isinstance(inner, dict) else None)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return names


def _literal_of(field: Any) -> str | None:
    schema = field.get("schema") if isinstance(field, dict) else None
    while isinstance(schema, dict):
        if schema.get("type") == "literal":
            expected = schema.get("expected") or [None]
            return expected[0] if isinstance(expected[0], str) else None
        schema = schema.get("schema")
    return None


def check_shape(body: dict[str, Any], *, endpoint: str = "create", beta: bool = False,
                betas: frozenset[str] = frozenset()) -> None:
    """Raise the API's 400 for the first field of `body` whose type or presence is wrong; return if all fit.

    `endpoint` is `create` or `count_tokens`; `beta` picks the SDK's beta types (a request with an
    `anthropic-beta` header or `?beta=true`). Messages read `<path>: <what is wrong>`, e.g.
    `messages.1.content.0.text.text: Input should be a valid string`.
    """
    for name in HEADER_ONLY:
        if name in body:
            raise invalid(f"{name}: Extra inputs are not permitted")
    if "output_format" in body and "structured-outputs-2025-11-13" not in betas:
        raise invalid("output_format: Extra inputs are not permitted")  # inferred (docs: "returns a 400 error")
    try:
        validated = _validator(endpoint, beta).validate_python(body)
    except ValidationError as error:
        raise _api_error(error.errors(), body, [], endpoint, beta) from None
    for name, value in validated.items():
        _consume(value, body[name], [name], endpoint, beta)


def _consume(value: Any, raw: Any, path: list[str | int], endpoint: str, beta: bool) -> None:
    """Check again every block in `value` (validated from `raw`) that only a response model took, raising the
    API's error for the first one no request block type takes."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                _consume(item, raw[key], [*path, key], endpoint, beta)
        return
    if not isinstance(value, list):
        return
    keyed = path[-1] in ("content", "tools")  # lists of blocks or tools, unions keyed by `type`
    for i, item in enumerate(value):
        if isinstance(item, BaseModel):  # the union chose a response model: a request block type must take it too
            try:
                item = _block_validator(beta).validate_python(raw[i])
            except ValidationError as error:
                raise _api_error(error.errors(), raw[i], [*path, i], endpoint, beta) from None
            if isinstance(item, BaseModel):
                raise invalid(f"{_dotted([*path, i])}: Input should be a valid content block")  # inferred
        label = [raw[i]["type"]] if keyed and isinstance(raw[i], dict) and isinstance(raw[i].get("type"), str) else []
        _consume(item, raw[i], [*path, i, *label], endpoint, beta)


def _api_error(errors: list[ErrorDetails], raw: Any, path: list[str | int], endpoint: str, beta: bool) -> ApiError:
    entries = [(tuple(e["loc"]), e) for e in errors]
    where, message = _resolve(entries, raw, path, _branch_names(endpoint, beta))
    return invalid(f"{_dotted(where)}: {message}" if where else message)


def _dotted(path: list[str | int]) -> str:
    return ".".join(str(part) for part in path)


def _is_tag(head: str | int, node: Any, loc: tuple[Any, ...], error: ErrorDetails, tags: dict[str, str | None]) -> bool:
    """Whether `head` names a union branch (pydantic's label) rather than a key or an index of `node`."""
    if not isinstance(head, str):
        return False
    if len(loc) == 1 and error["type"] in ("missing", "extra_forbidden"):
        return False
    if head in tags:
        return True
    return bool(GENERIC_TAGS.match(head)) and not (isinstance(node, dict) and head in node)


def _resolve(entries: list[tuple[tuple[Any, ...], ErrorDetails]], node: Any, path: list[str | int],
             tags: dict[str, str | None]) -> tuple[list[str | int], str]:
    """The API path and message of the first error, following only the branches the API would take."""
    loc, first = entries[0]
    if not loc:
        return path, _message(first)
    head = loc[0]
    if _is_tag(head, node, loc, first, tags):
        branches: dict[str, list[tuple[tuple[Any, ...], ErrorDetails]]] = {}
        for sub_loc, error in entries:
            if sub_loc and _is_tag(sub_loc[0], node, sub_loc, error, tags):
                branches.setdefault(sub_loc[0], []).append((sub_loc[1:], error))
        return _pick(branches, node, path, tags)
    rest = [(sub_loc[1:], error) for sub_loc, error in entries if sub_loc and sub_loc[0] == head]
    if isinstance(node, dict):
        child = node.get(head, _MISSING)
    elif isinstance(node, list) and isinstance(head, int) and 0 <= head < len(node):
        child = node[head]
    else:
        child = _MISSING
    return _resolve(rest, child, [*path, head], tags)


def _pick(branches: dict[str, list[tuple[tuple[Any, ...], ErrorDetails]]], node: Any, path: list[str | int],
          tags: dict[str, str | None]) -> tuple[list[str | int], str]:
    """Choose the branch a discriminated union would take for `node`, and resolve its first error."""
    branches = _flattened(branches, node, tags)
    candidates: list[str] = []
    misfits: list[ErrorDetails] = []
    expected: list[str] = []
    keyed_by: str | None = None
    for tag, entries in branches.items():
        wrong_key = [(loc[0], e) for loc, e in entries if len(loc) == 1 and loc[0] in DISCRIMINATORS
                     and e["type"] in ("literal_error", "missing")]
        if wrong_key:
            keyed_by = wrong_key[0][0]
            literal = wrong_key[0][1].get("ctx", {}).get("expected")
            if literal:
                expected.extend(part for part in re.split(r", | or ", str(literal)) if part not in expected)
            continue
        whole = [e for loc, e in entries if not loc]
        if whole:
            misfits.extend(whole)
            continue
        candidates.append(tag)
    if candidates:
        tag = candidates[0]
        label: list[str | int] = []
        if keyed_by == "type" and isinstance(node, dict):
            value = node.get("type")
            label = [value if isinstance(value, str) else tags.get(tag) or tag]
        return _resolve(branches[tag], node, [*path, *label], tags)
    if keyed_by == "role" and isinstance(node, dict):  # a message: say what `role` may be, as a literal would
        if "role" not in node:
            return [*path, "role"], "Field required"
        choices = ", ".join(expected[:-1]) + f" or {expected[-1]}" if len(expected) > 1 else "".join(expected)
        return [*path, "role"], f"Input should be {choices}"
    if keyed_by and isinstance(node, dict):
        if keyed_by not in node:
            return path, f"Unable to extract tag using discriminator '{keyed_by}'"  # pydantic's text
        return path, (f"Input tag '{_short(node[keyed_by])}' found using '{keyed_by}' does not match any of the "
                      f"expected tags: {', '.join(expected)}")
    return path, _combined(misfits)


def _flattened(branches: dict[str, list[tuple[tuple[Any, ...], ErrorDetails]]], node: Any,
               tags: dict[str, str | None]) -> dict[str, list[tuple[tuple[Any, ...], ErrorDetails]]]:
    """A union nested in a union (request blocks or response blocks) as one union of all their branches."""
    flat: dict[str, list[tuple[tuple[Any, ...], ErrorDetails]]] = {}
    for tag, entries in branches.items():
        if entries and all(loc and _is_tag(loc[0], node, loc, e, tags) for loc, e in entries):
            inner: dict[str, list[tuple[tuple[Any, ...], ErrorDetails]]] = {}
            for loc, e in entries:
                inner.setdefault(loc[0], []).append((loc[1:], e))
            flat.update(_flattened(inner, node, tags))
        else:
            flat[tag] = entries
    return flat


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 100 else text[:100] + "..."


def _message(error: ErrorDetails) -> str:
    """pydantic's message; the few the API words differently are reworded here."""
    if error["type"] == "iterable_type":
        return "Input should be a valid list"
    if error["type"] == "model_type":
        return "Input should be a valid dictionary"
    if "instances are not allowed as a Sequence value" in error["msg"] or (
            error["type"] == "is_instance_of" and "Sequence" in error["msg"]):  # a string where a list of strings goes
        return "Input should be a valid list"
    return error["msg"]


def _combined(errors: list[ErrorDetails]) -> str:
    """One message for a value that fits none of a union's types: `Input should be a valid string or a valid list`.

    A union of known names and any string (`model`) asks for a string."""
    if any(e["type"] == "string_type" for e in errors):
        errors = [e for e in errors if e["type"] != "literal_error"]
    wanted: list[str] = []
    for message in map(_message, errors):
        part = message.removeprefix("Input should be ")
        if part not in wanted:
            wanted.append(part)
    return "Input should be " + " or ".join(wanted) if wanted else "Invalid value"  # inferred
