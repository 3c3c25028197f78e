"""What goes on the wire: JSON that always encodes, whatever a request held.

JSON allows a lone surrogate (`"\\ud800"`) that UTF-8 cannot encode, and a reply built from a request can carry one;
`encode_json()` encodes as the API does (compact UTF-8) and, only when that fails, first replaces lone surrogates
with U+FFFD and non-finite numbers with `null` (`wire_safe`). Every JSON answer, SSE frame and batch result line of
the offline Claude goes through it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.responses import Response

SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def encode_json(value: Any) -> bytes:
    """`value` as compact UTF-8 JSON, as the API sends it; made `wire_safe` first only when it does not encode
    as it is (a lone surrogate or a non-finite number from the request), so the common answer is encoded once."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except ValueError:  # UnicodeEncodeError is one
        return json.dumps(wire_safe(value), ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def wire_safe(value: Any) -> Any:
    """`value` with lone surrogates in its strings replaced by U+FFFD and non-finite floats by None."""
    if isinstance(value, str):
        return SURROGATE_RE.sub("\ufffd", value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {wire_safe(k): wire_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wire_safe(v) for v in value]
    return value


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer, encoded by `encode_json`."""
    return JsonBytesResponse(encode_json(content), status_code, headers or {})


class JsonBytesResponse(Response):
    """A Starlette `Response` for a body already encoded as JSON, its header list built in one pass."""

    media_type = "application/json"

    def __init__(self, body: bytes, status_code: int, headers: dict[str, str]) -> None:
        self.status_code, self.body, self.background = status_code, body, None
        self.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.raw_headers += [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
