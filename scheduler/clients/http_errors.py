"""Vendor API failures converted into ``scheduler.errors`` at the HTTP boundary.

Timeouts, connection errors, HTTP 5xx and 429 are ``RetryableApiError`` (with
``Retry-After`` parsed into ``retry_after``, capped); 4xx are
``PermanentApiError`` subclasses (401/403 ``AuthError``, 404 ``NotFoundError``,
409 ``AlreadyExistsError``). A vendor's envelope codes refine this in its client.
"""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime

import httpx

from scheduler.errors import (
    AlreadyExistsError,
    ApiError,
    AuthError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)

#: A ``Retry-After`` longer than this (seconds) is read as this: a vendor must
#: not be able to park a daemon for hours.
RETRY_AFTER_MAX = 300.0
#: How much of a response body an error quotes when the vendor sent no message.
EXCERPT_CHARS = 200


def parse_retry_after(
    value: str | None, *, now: datetime | None = None, cap: float = RETRY_AFTER_MAX
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date), capped.

    None when absent or unreadable; a date in the past means 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), cap)


def error_class_for_status(http_status: int) -> type[ApiError]:
    """The error an HTTP status means when the vendor's body says nothing more precise."""
    if http_status == 429 or http_status >= 500:
        return RetryableApiError
    if http_status in (401, 403):
        return AuthError
    if http_status == 404:
        return NotFoundError
    if http_status == 409:
        return AlreadyExistsError
    return PermanentApiError


def body_excerpt(response: httpx.Response, limit: int = EXCERPT_CHARS) -> str:
    """The start of a (read) response body, for errors about unreadable answers."""
    try:
        text = response.text.strip()
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return ""
    return text if len(text) <= limit else text[:limit] + "…"


def error_from_response(
    api: str,
    operation: str,
    response: httpx.Response,
    *,
    code: str | None = None,
    message: str | None = None,
    message_id: str | None = None,
    error_class: type[ApiError] | None = None,
) -> ApiError:
    """The error for a failed response; ``error_class`` overrides the HTTP status's.

    ``message`` defaults to an excerpt of the body. ``retry_after`` is read
    from the ``Retry-After`` header for retryable errors only.
    """
    cls = error_class or error_class_for_status(response.status_code)
    retry_after = None
    if issubclass(cls, RetryableApiError):
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    return cls(
        api,
        operation,
        code=code,
        message=body_excerpt(response) if message is None else message,
        message_id=message_id,
        http_status=response.status_code,
        retry_after=retry_after,
    )


def error_from_transport(
    api: str, operation: str, exc: httpx.HTTPError, *, message_id: str | None = None
) -> ApiError:
    """The error for a call that got no response (timeout, refused, reset...).

    Retryable, except a URL scheme httpx cannot speak (a config mistake).
    """
    kind = type(exc).__name__
    text = str(exc)
    message = f"{kind}: {text}" if text else kind
    retryable = isinstance(exc, httpx.TransportError | httpx.DecodingError) and not isinstance(
        exc, httpx.UnsupportedProtocol
    )
    cls = RetryableApiError if retryable else PermanentApiError
    return cls(api, operation, message=message, message_id=message_id)
