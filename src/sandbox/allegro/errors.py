"""Error bodies exactly as Allegro sends them (docs/allegro-api.md, Errors and rate limits)."""

from __future__ import annotations

from typing import Any

ErrorBody = dict[str, Any]


def errors_holder(
    code: str,
    message: str,
    *,
    user_message: str | None = None,
    path: str | None = None,
    details: str | None = None,
) -> ErrorBody:
    return {
        "errors": [
            {
                "code": code,
                "message": message,
                "details": details,
                "path": path,
                "userMessage": user_message or message,
                "metadata": {},
            }
        ]
    }


def auth_error(error: str, description: str) -> ErrorBody:
    return {"error": error, "error_description": description}


NOT_ACCEPTABLE = errors_holder(
    "NotAcceptableException",
    "Not acceptable representation requested. Please check 'Accept' request header",
)
UNSUPPORTED_MEDIA = errors_holder(
    "NotSupportedException",
    "Unsupported content type. Please check 'Content-Type' request header",
)
ACCESS_DENIED = errors_holder(
    "AccessDenied", "Access is denied", user_message="No access to the specified resource."
)
TOO_MANY_REQUESTS = errors_holder(
    "TooManyRequestsException",  # exact code unconfirmed; the status is what clients act on
    "Too many requests",
    user_message="Too many requests. Try again later.",
)
MISSING_TOKEN = auth_error(
    "unauthorized", "Full authentication is required to access this resource"
)


def validation_error(message: str, path: str | None = None) -> ErrorBody:
    return errors_holder("VALIDATION_ERROR", message, path=path)


def not_found(path: str) -> ErrorBody:
    return errors_holder("NotFoundException", "Resource not found", path=path)


def server_error(status: int) -> ErrorBody:
    """Bodies seen from Allegro's gateway for 5xx (and a generic one for other codes)."""
    if status == 503:
        return errors_holder("SERVICE_UNAVAILABLE", "Service unavailable.")
    if status == 504:
        return errors_holder(
            "ServiceTimeoutException",
            "Service timeout",
            user_message="Query response time exceeded. Try again.",
        )
    if status == 429:
        return TOO_MANY_REQUESTS
    if status == 401:
        return auth_error("invalid_token", "Access token expired")
    if status == 500:
        return errors_holder("ERROR", "Internal server error", user_message="Something went wrong.")
    return errors_holder("ERROR", f"Simulated error {status}")
