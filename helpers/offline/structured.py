"""Structured outputs: the JSON Schema rules the API applies to `output_config.format` and strict tools, and
replies that validate against the schema (docs: build-with-claude/structured-outputs; addendum §4).

`check_request_schemas` refuses what the API refuses: the deprecated top-level `output_format` without the
`structured-outputs-2025-11-13` beta, unsupported keywords (`minimum`, `minLength`, `uniqueItems`, `oneOf`...),
objects whose `additionalProperties` is not `false`, external or recursive `$ref`, patterns the grammar compiler
cannot take, complexity beyond the documented limits, and `output_config.format` together with citations or a
prefill. Unknown keywords are ignored, as the API ignores them. The texts follow the two the API is known to send
(`output_format.schema: For 'array' type, property 'uniqueItems' is not supported`, `Schema type 'oneOf' is not
supported`); the others are modelled on them.

`fill` builds the value a schema asks for, deterministically: required properties first, then optional ones, each
in schema order; strings, numbers, enums and booleans taken from the user's words where the property's name fits
them, type-correct defaults elsewhere. What it returns is checked with the `jsonschema` package (Draft 2020-12 and
its FormatChecker); a value filled from the words that fails the check is replaced by the defaults-only one.
It is not a JSON Schema validator and not a grammar compiler. Patterns are read with the standard library's own
regex parser (`re._parser`), the one `re` uses.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import Any

try:  # Python 3.11+: the regex parser lives in re._parser (sre_parse warns there); 3.10 has only sre_parse
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from .errors import invalid
from .models import ModelSpec

STRUCTURED_OUTPUTS_BETA = "structured-outputs-2025-11-13"
MAX_STRICT_TOOLS = 20  # docs: structured-outputs, "Complexity limits"
MAX_OPTIONAL_PARAMETERS = 24
MAX_UNION_PARAMETERS = 16
MAX_SCHEMA_NODES = 2_000  # assumed: an internal limit, past which the API says the schema is too complex
MAX_DEPTH = 32  # assumed
MAX_PATTERN_REPEAT = 1_000  # assumed: "large {n,m}" is refused; the threshold is not published
_POSSESSIVE = getattr(sre_constants, "POSSESSIVE_REPEAT", object())  # Python 3.11+
_ATOMIC = getattr(sre_constants, "ATOMIC_GROUP", object())
TOO_COMPLEX = "Schema is too complex for compilation."
UNSUPPORTED = {  # keyword -> the types it is refused for (docs: "JSON Schema limitations")
    "minimum": ("integer", "number"), "maximum": ("integer", "number"), "exclusiveMinimum": ("integer", "number"),
    "exclusiveMaximum": ("integer", "number"), "multipleOf": ("integer", "number"),
    "minLength": ("string",), "maxLength": ("string",),
    "maxItems": ("array",), "uniqueItems": ("array",), "contains": ("array",), "minContains": ("array",),
    "maxContains": ("array",),
}
FORMATS = {"date-time": "2026-01-01T00:00:00Z", "time": "00:00:00Z", "date": "2026-01-01", "duration": "P1D",
           "email": "user@example.com", "hostname": "example.com", "uri": "https://example.com/",
           "ipv4": "192.0.2.1", "ipv6": "2001:db8::1"}
FORMAT_IN_TEXT = {"date-time": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)",
                  "date": r"\b\d{4}-\d\d-\d\d\b", "email": r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}",
                  "uri": r"https?://[^\s\"'<>]{1,500}", "uuid": r"\b[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}\b",
                  "ipv4": r"\b(?:\d{1,3}\.){3}\d{1,3}\b"}
WHOLE_TEXT_NAMES = re.compile(r"query|text|question|prompt|message|content|input|sentence|request|summary", re.I)
ENTITY_NAMES = re.compile(r"name|city|country|place|location|destination|origin|capital|person|author|company|"
                          r"title|brand|team|who|where|organi[sz]ation|language|species|animal|item|product", re.I)


# The request ----------------------------------------------------------------------------------------------------

def requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema the reply must follow: `output_config.format.schema`, else the deprecated top-level
    `output_format.schema`, when its `type` is `json_schema`; None when the request asks for none."""
    config = body.get("output_config")
    for fmt in (config.get("format") if isinstance(config, dict) else None, body.get("output_format")):
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
            return fmt["schema"]
    return None


def check_request_schemas(body: dict[str, Any], *, betas: frozenset[str], spec: ModelSpec) -> None:
    """Refuse (ApiError 400) the schema features and combinations the API refuses; do nothing when all is well.

    Checked: `output_format` needs the `structured-outputs-2025-11-13` beta and excludes `output_config.format`;
    each schema of `output_config.format` and of the strict tools (`"strict": true`); the complexity limits summed
    over all of them (20 strict tools, 24 optional and 16 union-typed parameters); citations or a prefill together
    with a format. `spec` is unused today: every model of the table takes structured outputs."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    old = body.get("output_format")
    if old is not None and STRUCTURED_OUTPUTS_BETA not in betas:
        raise invalid("output_format: Extra inputs are not permitted")  # assumed (addendum §4: "a 400 error")
    if old is not None and fmt is not None:
        raise invalid("Both output_format and output_config.format were provided. Please use only "
                      "output_config.format (output_format is deprecated).")  # modelled on the SDK's own text
    schemas: list[tuple[str, Any]] = []
    for path, given in (("output_config.format", fmt), ("output_format", old)):
        if given is None:
            continue
        if not isinstance(given, dict) or given.get("type") != "json_schema":
            raise invalid(f"{path}.type: Input should be 'json_schema'")  # inferred
        if not isinstance(given.get("schema"), dict):
            raise invalid(f"{path}.schema: Input should be a valid dictionary")  # inferred
        schemas.append((f"{path}.schema", given["schema"]))
    strict = [(i, t) for i, t in enumerate(body.get("tools") or []) if isinstance(t, dict) and t.get("strict") is True]
    if len(strict) > MAX_STRICT_TOOLS:
        raise invalid(TOO_COMPLEX)
    schemas += [(f"tools.{i}.custom.input_schema", t.get("input_schema")) for i, t in strict]
    optional = unions = 0
    for path, schema in schemas:
        counts = check_schema(schema, path)
        optional, unions = optional + counts[0], unions + counts[1]
    if optional > MAX_OPTIONAL_PARAMETERS or unions > MAX_UNION_PARAMETERS:
        raise invalid(TOO_COMPLEX)
    if fmt is not None or old is not None:
        path = "output_config.format" if fmt is not None else "output_format"
        if _citations_on(body):
            raise invalid(f"{path}: structured outputs cannot be used with citations enabled.")  # inferred
        messages = body.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict) and \
                messages[-1].get("role") == "assistant":
            raise invalid(f"{path}: structured outputs cannot be used with a prefilled assistant "
                          "message.")  # inferred


def _citations_on(body: dict[str, Any]) -> bool:
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            citations = block.get("citations") if isinstance(block, dict) else None
            if isinstance(citations, dict) and citations.get("enabled"):
                return True
    return False


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
    return [k for k in kinds if isinstance(k, str)]


def _required(node: dict[str, Any]) -> set[str]:
    required = node.get("required")
    return {r for r in required if isinstance(r, str)} if isinstance(required, list) else set()


def _children(node: dict[str, Any]) -> list[Any]:
    """The subschemas of a schema node (the keywords structured outputs supports, plus `items` and `not`)."""
    found: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        if isinstance(node.get(key), dict):
            found += list(node[key].values())
    for key in ("anyOf", "allOf", "oneOf", "prefixItems"):
        if isinstance(node.get(key), list):
            found += node[key]
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            found.append(node[key])
    return found


def check_schema(schema: Any, path: str) -> tuple[int, int]:
    """Refuse (ApiError 400) what the API refuses in one schema; return its (optional, union) parameter counts."""
    if not isinstance(schema, dict):
        raise invalid(f"{path}: Input should be a valid dictionary")  # inferred
    stack: list[tuple[Any, int]] = [(schema, 0)]
    nodes = optional = unions = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_SCHEMA_NODES or depth > MAX_DEPTH:
            raise invalid(TOO_COMPLEX)
        if not isinstance(node, dict):
            continue
        _check_node(node, path, schema)
        props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
        required = _required(node)
        optional += sum(1 for name in props if name not in required)
        unions += sum(1 for p in props.values() if isinstance(p, dict) and (
            isinstance(p.get("anyOf"), list) or len(_types(p)) > 1))
        stack += [(child, depth + 1) for child in _children(node)]
    _check_recursion(schema, path)
    try:  # what the schema expands to, once every $ref is replaced by its definition, must stay small too
        _Filler(schema, "", [], []).value(schema, "", 0)
    except _TooBig:
        raise invalid(TOO_COMPLEX) from None
    return optional, unions


JSON_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}
SHAPES = {"properties": dict, "$defs": dict, "definitions": dict, "required": list, "anyOf": list, "allOf": list,
          "enum": list, "items": (dict, bool), "additionalProperties": (dict, bool), "description": str,
          "format": str, "$ref": str}


def _check_shape(node: dict[str, Any], path: str) -> None:
    """The keywords structured outputs reads must have JSON Schema's shapes (what the metaschema says, checked
    cheaply: validating a large schema against the 2020-12 metaschema takes seconds)."""
    for key, shape in SHAPES.items():
        if key in node and not isinstance(node[key], shape):
            raise invalid(f"{path}: Invalid JSON Schema: '{key}' has the wrong type")  # inferred
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "type" in node and (not kinds or any(k not in JSON_TYPES for k in kinds if isinstance(k, str)) or
                           not all(isinstance(k, str) for k in kinds)):
        raise invalid(f"{path}: Invalid JSON Schema: 'type' must be one of {', '.join(sorted(JSON_TYPES))}")
    for key in ("properties", "$defs", "definitions"):
        if any(not isinstance(v, (dict, bool)) for v in node.get(key, {}).values()):
            raise invalid(f"{path}: Invalid JSON Schema: each of '{key}' must be a schema")  # inferred
    for key in ("anyOf", "allOf"):
        if key in node and (not node[key] or any(not isinstance(v, (dict, bool)) for v in node[key])):
            raise invalid(f"{path}: Invalid JSON Schema: '{key}' must be a non-empty list of schemas")  # inferred
    if any(not isinstance(r, str) for r in node.get("required", [])):
        raise invalid(f"{path}: Invalid JSON Schema: 'required' must be a list of strings")  # inferred


def _check_node(node: dict[str, Any], path: str, root: dict[str, Any]) -> None:
    _check_shape(node, path)
    if "oneOf" in node:
        raise invalid("Schema type 'oneOf' is not supported")  # real text (litellm 1.110.2 quotes it)
    kinds = _types(node) or ["object" if "properties" in node else "array" if "items" in node else ""]
    for key, refused_for in UNSUPPORTED.items():
        kind = next((k for k in kinds if k in refused_for), None)
        if key in node and kind:
            raise invalid(f"{path}: For '{kind}' type, property '{key}' is not supported")  # modelled-on
    if "array" in kinds and node.get("minItems") not in (None, 0, 1):
        raise invalid(f"{path}: For 'array' type, property 'minItems' only supports values 0 and 1")  # modelled-on
    if "object" in kinds and node.get("additionalProperties") is not False:
        raise invalid(f"{path}: For 'object' type, 'additionalProperties' must be explicitly set to "
                      "false")  # modelled-on
    enum = node.get("enum")
    if isinstance(enum, list) and any(isinstance(v, (dict, list)) for v in enum):
        raise invalid(f"{path}: enum values must be strings, numbers, booleans or null")  # modelled-on
    if isinstance(node.get("const"), (dict, list)):
        raise invalid(f"{path}: const values must be strings, numbers, booleans or null")  # modelled-on
    ref = node.get("$ref")
    if ref is not None:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise invalid(f"{path}: External $ref is not supported: {str(ref)[:200]}")  # modelled-on
        if _resolve_pointer(root, ref) is None:
            raise invalid(f"{path}: $ref {ref[:200]} does not point to a definition in the schema")  # modelled-on
    if isinstance(node.get("allOf"), list) and any(isinstance(b, dict) and "$ref" in b for b in node["allOf"]):
        raise invalid(f"{path}: 'allOf' with '$ref' is not supported")  # modelled-on
    if "pattern" in node:
        _check_pattern(node["pattern"], path)


def _check_pattern(pattern: Any, path: str) -> None:
    """Simple regexes only: no backreferences, lookaround, `\\b`/`\\B` or large `{n,m}` (docs)."""
    if not isinstance(pattern, str) or len(pattern) > 1_000:
        raise invalid(f"{path}: For 'string' type, property 'pattern' is not supported")  # modelled-on
    try:
        parsed = sre_parse.parse(pattern)
    except (sre_constants.error, RecursionError, OverflowError):
        raise invalid(f"{path}: For 'string' type, property 'pattern' is not a valid regular expression") from None
    stack = list(parsed)
    while stack:
        op, arg = stack.pop()
        refused = op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS, sre_constants.ASSERT,
                         sre_constants.ASSERT_NOT) or (op == sre_constants.AT and arg in (
                             sre_constants.AT_BOUNDARY, sre_constants.AT_NON_BOUNDARY))
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, _POSSESSIVE):
            low, high = arg[0], arg[1]
            refused = refused or low > MAX_PATTERN_REPEAT or (high != sre_constants.MAXREPEAT and
                                                                 high > MAX_PATTERN_REPEAT)
        if refused:
            raise invalid(f"{path}: For 'string' type, property 'pattern' uses a regex feature that is not "
                          "supported (backreferences, lookaround, word boundaries or large repetitions)")
        stack += _sub_patterns(op, arg)


def _sub_patterns(op: Any, arg: Any) -> list[Any]:
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, _POSSESSIVE):
        return list(arg[2])
    if op == sre_constants.SUBPATTERN:
        return list(arg[3])
    if op == sre_constants.BRANCH:
        return [item for branch in arg[1] for item in branch]
    if op in (_ATOMIC,):
        return list(arg)
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return list(arg[1])
    return []


def _resolve_pointer(root: dict[str, Any], ref: str) -> Any:
    """The node a local `$ref` ("#", "#/$defs/Name", "#/definitions/Name", any JSON pointer) names, or None."""
    node: Any = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _check_recursion(root: dict[str, Any], path: str) -> None:
    """Refuse a schema whose `$ref`s lead back to a schema that contains them (docs: "recursive schemas")."""
    refs_in: dict[str, set[str]] = {}
    budget = [MAX_SCHEMA_NODES * 4]  # nodes visited in all, so that many refs to big definitions stay cheap

    def refs_under(node: Any) -> set[str]:
        found: set[str] = set()
        stack = [node]
        while stack:
            item = stack.pop()
            budget[0] -= 1
            if budget[0] < 0:
                raise invalid(TOO_COMPLEX)
            if isinstance(item, dict):
                if isinstance(item.get("$ref"), str):
                    found.add(item["$ref"])
                stack += [c for k, c in item.items() if k not in ("$defs", "definitions")]
            elif isinstance(item, list):
                stack += item
        return found

    pending = sorted(refs_under(root))
    while pending:
        ref = pending.pop()
        if ref not in refs_in:
            refs_in[ref] = refs_under(_resolve_pointer(root, ref))
            pending += sorted(refs_in[ref] - set(refs_in))
    state: dict[str, int] = {}
    for start in refs_in:
        stack = [(start, iter(sorted(refs_in[start])))]
        if state.get(start):
            continue
        state[start] = 1
        while stack:
            ref, following = stack[-1]
            step = next(following, None)
            if step is None:
                state[ref] = 2
                stack.pop()
            elif state.get(step) == 1 or step in ("#", ""):
                raise invalid(f"{path}: Recursive schemas are not supported")  # modelled-on
            elif not state.get(step):
                state[step] = 1
                stack.append((step, iter(sorted(refs_in.get(step, ())))))


# The reply ------------------------------------------------------------------------------------------------------

def json_reply(schema: dict[str, Any], question: str, *, entities: list[str], numbers: list[float]) -> str:
    """The text of a structured reply: `fill(...)` as JSON."""
    return json.dumps(fill(schema, question, entities=entities, numbers=numbers), ensure_ascii=False)


def fill(schema: Any, question: str, *, entities: list[str], numbers: list[float]) -> Any:
    """The value `schema` asks for, filled from `question` (its `entities` are quoted or capitalised names, its
    `numbers` the numbers written in it, both in order) where names fit, and valid for the schema whenever the
    schema can be met. Deterministic: the same arguments give the same value."""
    root = schema if isinstance(schema, dict) else {}
    try:
        value = _Filler(root, question, entities, numbers).value(root, "", 0)
        if isinstance(schema, dict) and not _valid(schema, value):
            value = _Filler(root, "", [], []).value(root, "", 0)
    except _TooBig:  # refused by check_request_schemas before any reply; None rather than a stall if unchecked
        return None
    return _finite(value, 0)


def _finite(value: Any, depth: int) -> Any:
    """`value` with non-finite floats (a `const: Infinity` Python's JSON reader lets through) as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth > MAX_DEPTH:
        return None if isinstance(value, (dict, list)) else value
    if isinstance(value, dict):
        return {k: _finite(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v, depth + 1) for v in value]
    return value


def _valid(schema: dict[str, Any], value: Any) -> bool:
    """Whether `value` validates against `schema` (False for a schema that is not valid JSON Schema itself)."""
    import jsonschema  # imported on first use: with its format checkers it costs about 0.8 s
    import referencing.exceptions

    try:
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.
                                                    FORMAT_CHECKER)
        return validator.is_valid(value)
    except (jsonschema.exceptions.SchemaError, jsonschema.exceptions.UnknownType, referencing.exceptions.Unresolvable,
            LookupError, RecursionError,
            ValueError, TypeError, AttributeError, KeyError, IndexError, re.error):  # a malformed schema
        return False


class _TooBig(Exception):
    """A schema that expands to more than `MAX_SCHEMA_NODES` values."""


class _Filler:
    """One filling pass: the words still unused (each entity and number is used once, in order)."""

    def __init__(self, root: dict[str, Any], question: str, entities: list[str], numbers: list[float]) -> None:
        self.root, self.question, self.low = root, question, question.lower()
        self.entities, self.numbers = list(entities), list(numbers)
        self.budget = MAX_SCHEMA_NODES

    def resolve(self, node: Any) -> Any:
        for _ in range(MAX_DEPTH):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                break
            target = _resolve_pointer(self.root, node["$ref"]) if node["$ref"].startswith("#") else None
            node = {**{k: v for k, v in node.items() if k != "$ref"}, **target} if isinstance(target, dict) else {}
        if isinstance(node, dict) and isinstance(node.get("allOf"), list):
            merged = {k: v for k, v in node.items() if k != "allOf"}
            for branch in node["allOf"][:MAX_DEPTH]:
                branch = self.resolve(branch) if isinstance(branch, dict) else {}
                for key, val in branch.items():
                    if key in ("properties",) and isinstance(val, dict):
                        merged[key] = {**(merged.get(key) or {}), **val}
                    elif key == "required" and isinstance(val, list):
                        merged[key] = [*(merged.get(key) or []), *val]
                    else:
                        merged.setdefault(key, val)
            node = merged
        return node

    def value(self, node: Any, name: str, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooBig
        node = self.resolve(node)
        if not isinstance(node, dict) or depth > MAX_DEPTH:
            return None
        hint = f"{name} {node.get('description', '') if isinstance(node.get('description'), str) else ''}"
        if "const" in node:
            return node["const"]
        enum = node.get("enum")
        if isinstance(enum, list) and enum:
            return self.choice(enum[:256])
        branches = node.get("anyOf")
        if isinstance(branches, list) and branches:
            resolved = [self.resolve(b) for b in branches[:64]]
            usable = [b for b in resolved if isinstance(b, dict) and _types(b) != ["null"]]
            return self.value(usable[0], name, depth + 1) if usable else None
        kinds = [k for k in _types(node) if k != "null"]
        kind = kinds[0] if kinds else ("null" if _types(node) else
                                       "object" if "properties" in node else "array" if "items" in node else "string")
        if kind == "object":
            props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
            required = _required(node)
            order = [p for p in props if p in required] + [p for p in props if p not in required]
            return {p: self.value(props[p], p, depth + 1) for p in order}
        if kind == "array":
            items = node.get("items") if isinstance(node.get("items"), dict) else {}
            first = self.value(items, name, depth + 1)
            if isinstance(first, str) and self.entities and first not in self.entities and self.plain(items):
                return [first]
            more = [self.entities.pop(0) for _ in range(min(7, len(self.entities)))] if self.plain(items) else []
            return [first, *more]
        if kind in ("integer", "number"):
            number = self.numbers.pop(0) if self.numbers else node.get("default", 0)
            number = number if isinstance(number, (int, float)) and not isinstance(number, bool) else 0
            return int(number) if kind == "integer" else number
        if kind == "boolean":
            words = [w for w in re.findall(r"[a-z]+", name.lower()) if w not in ("is", "has", "can", "should")]
            return bool(words) and all(re.search(rf"\b{w}", self.low) for w in words)
        if kind == "null":
            return None
        return self.string(node, name, hint)

    def plain(self, node: Any) -> bool:
        node = self.resolve(node)
        return isinstance(node, dict) and _types(node) in (["string"], []) and not (
            {"enum", "const", "format", "pattern", "anyOf", "properties", "items"} & set(node))

    def choice(self, values: list[Any]) -> Any:
        """The enum value the user's words mention (ignoring case), else the first."""
        for value in values:
            if isinstance(value, (str, int, float)) and not isinstance(value, bool) and \
                    re.search(rf"(?<!\w){re.escape(str(value).lower())}(?!\w)", self.low):
                return value
        return values[0]

    def string(self, node: dict[str, Any], name: str, hint: str) -> str:
        fmt = node.get("format")
        if fmt == "uuid":
            found = re.search(FORMAT_IN_TEXT["uuid"], self.low)
            return found.group(0) if found else str(uuid.uuid5(uuid.NAMESPACE_URL, f"{name}:{self.question}"))
        if isinstance(fmt, str) and fmt in FORMATS:
            found = re.search(FORMAT_IN_TEXT[fmt], self.question) if fmt in FORMAT_IN_TEXT else None
            return found.group(0) if found else FORMATS[fmt]
        if isinstance(node.get("pattern"), str):
            return minimal_match(node["pattern"])
        stated = self.stated(name)
        if stated:
            return stated
        if WHOLE_TEXT_NAMES.search(hint) and self.question.strip():
            return self.question.strip()
        if self.entities and (ENTITY_NAMES.search(hint) or not WHOLE_TEXT_NAMES.search(hint)):
            return self.entities.pop(0)
        default = node.get("default")
        return default if isinstance(default, str) else ""

    def stated(self, name: str) -> str | None:
        """What the user's words give for a property: "<name> is X" or "<name>: X"."""
        words = [re.escape(w) for w in re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower())]
        if not words or len(words) > 4 or not all(w in self.low for w in words):  # cheap test before a regex
            return None
        value = r"\s{0,3}(?:is|are|was|:|=)\s{0,3}((?:[^.,;!?\n]|\.(?!\s|$)){1,200})"
        found = re.search(r"\b" + r"[\s_-]".join(words) + value, self.question, re.I)
        return found.group(1).strip().strip("\"'") or None if found else None


def minimal_match(pattern: str) -> str:
    """A short string that `re.search(pattern, ...)` matches (a pattern already accepted by `check_schema`), or ""
    when none is found."""
    try:
        text = _build(sre_parse.parse(pattern), 0)
    except (sre_constants.error, RecursionError, ValueError, OverflowError):
        return ""
    return text if re.search(pattern, text) else ""


def _build(items: Any, depth: int) -> str:
    if depth > MAX_DEPTH:
        raise ValueError("pattern too deep")
    out = []
    for op, arg in items:
        if op == sre_constants.LITERAL:
            out.append(chr(arg))
        elif op == sre_constants.NOT_LITERAL:
            out.append("a" if arg != ord("a") else "b")
        elif op == sre_constants.ANY:
            out.append("a")
        elif op == sre_constants.IN:
            out.append(_from_set(arg))
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, _POSSESSIVE):
            out.append(_build(arg[2], depth + 1) * min(arg[0], MAX_PATTERN_REPEAT))
        elif op == sre_constants.SUBPATTERN:
            out.append(_build(arg[3], depth + 1))
        elif op == _ATOMIC:
            out.append(_build(arg, depth + 1))
        elif op == sre_constants.BRANCH:
            out.append(_build(arg[1][0], depth + 1))
    return "".join(out)


def _from_set(items: Any) -> str:
    negate = any(op == sre_constants.NEGATE for op, _ in items)
    if negate:
        for candidate in "a0 _-":
            if not re.fullmatch(_set_regex(items), candidate):
                continue
            return candidate
        return "~"
    for op, arg in items:
        if op == sre_constants.LITERAL:
            return chr(arg)
        if op == sre_constants.RANGE:
            return chr(arg[0])
        if op == sre_constants.CATEGORY:
            return {sre_constants.CATEGORY_DIGIT: "0", sre_constants.CATEGORY_SPACE: " ",
                    sre_constants.CATEGORY_WORD: "a"}.get(arg, "a")
    return "a"


def _set_regex(items: Any) -> str:
    """A one-character regex equivalent to a parsed character set (used for negated sets)."""
    parts = []
    for op, arg in items:
        if op == sre_constants.LITERAL:
            parts.append(re.escape(chr(arg)))
        elif op == sre_constants.RANGE:
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif op == sre_constants.CATEGORY:
            parts.append({sre_constants.CATEGORY_DIGIT: r"\d", sre_constants.CATEGORY_SPACE: r"\s",
                          sre_constants.CATEGORY_WORD: r"\w", sre_constants.CATEGORY_NOT_DIGIT: r"\D",
                          sre_constants.CATEGORY_NOT_SPACE: r"\S", sre_constants.CATEGORY_NOT_WORD: r"\W"}.get(arg, ""))
    return "[^" + "".join(parts) + "]" if parts else "."
