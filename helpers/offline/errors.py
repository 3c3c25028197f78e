"""The API's error answers: one exception that carries status, `error.type` and message, and the JSON body.

Every error the offline Claude sends has the API's shape,
`{"type": "error", "error": {"details": null, "type": ..., "message": ...}, "request_id": "req_..."}`, with the
same id in the `request-id` header. The one exception is 413, which the real API's edge answers with a bare
`{"error": {"type": "request_too_large", ...}}` and no request id; `ApiError.bare` reproduces it.
"""

from __future__ import annotations

from typing import Any

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

DEFAULT_MESSAGES: dict[str, str] = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "billing_error": "Your credit balance is too low to access the Anthropic API.",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "conflict_error": "The request conflicts with the current state of the resource.",  # inferred
    "request_too_large": "Request exceeds the maximum size",
    "rate_limit_error": "This request would exceed your organization's rate limit. Please try again later.",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out while processing",
    "overloaded_error": "Overloaded",
}


def error_type_for(status: int) -> str:
    """The API's `error.type` for an HTTP status (`api_error` for any other 5xx or unknown status)."""
    return ERROR_TYPES.get(status, "api_error" if status >= 500 or status < 400 else "invalid_request_error")


class ApiError(Exception):
    """An error answer: raise it anywhere while handling a request and the app sends it."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        error_type: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        bare: bool = False,
    ) -> None:
        self.status = status
        self.error_type = error_type or error_type_for(status)
        self.message = message or DEFAULT_MESSAGES.get(self.error_type, "Error")
        self.details = details
        self.headers = headers or {}
        self.bare = bare
        super().__init__(f"{status} {self.error_type}: {self.message}")

    def body(self, request_id: str) -> dict[str, Any]:
        """The JSON body the API sends for this error."""
        if self.bare:
            return {"error": {"type": self.error_type, "message": self.message}}
        error = {"details": self.details, "type": self.error_type, "message": self.message}
        return {"type": "error", "error": error, "request_id": request_id}


def invalid(message: str) -> ApiError:
    """A 400 `invalid_request_error`, the answer to nearly every bad request."""
    return ApiError(400, message)
