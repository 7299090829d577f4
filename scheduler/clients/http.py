"""The HTTP policy both vendor clients share.

- **Errors at the boundary.** httpx exceptions and failed responses become
  ``scheduler.errors`` (:func:`error_from_transport`, :func:`error_from_response`):
  timeouts, connection errors, HTTP 5xx and 429 are ``RetryableApiError``
  (429/503 with ``Retry-After`` parsed into ``retry_after``); 4xx are
  ``PermanentApiError`` subclasses (401/403 ``AuthError``, 404 ``NotFoundError``,
  409 ``AlreadyExistsError``). A vendor's envelope codes refine this in its client.
- **Bounded retries** (:class:`RetryPolicy`, :func:`retrying`) through stamina:
  exponential backoff with jitter, bounded in attempts and total time, only
  for ``RetryableApiError``; a ``Retry-After`` is slept (capped) instead of the
  backoff. Tests use ``stamina.set_testing`` or call :meth:`RetryPolicy.backoff`.
- **One log event per call** (``http.call``: api, endpoint, method, path,
  status, duration, message id — never headers, so never a token), plus
  ``http.failing`` when a run of retryable failures starts and
  ``http.recovered`` when the API answers again: not one warning per retry.
- **Pooled clients** (:func:`make_client`) with timeouts and limits from the
  config and an injectable ``transport``; whoever makes a client closes it.
"""

from __future__ import annotations

import email.utils
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import httpx
import stamina
import structlog
from stamina.instrumentation import RetryDetails

from scheduler import metrics
from scheduler.errors import (
    AlreadyExistsError,
    ApiError,
    AuthError,
    NotFoundError,
    PermanentApiError,
    RetryableApiError,
)

T = TypeVar("T")

log = structlog.get_logger("scheduler.clients.http")

#: A ``Retry-After`` longer than this (seconds) is read as this: a vendor must
#: not be able to park a daemon for hours.
RETRY_AFTER_MAX = 300.0
#: How much of a response body an error quotes when the vendor sent no message.
EXCERPT_CHARS = 200


def new_message_id() -> str:
    """A fresh trace id (UUID4) for one call: logged, and quoted in its errors."""
    return str(uuid.uuid4())


# -- errors at the boundary ----------------------------------------------------


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


# -- retries -------------------------------------------------------------------


class RetrySettings(Protocol):
    """What a config section (``dr_api``, ``becon``) says about retries."""

    @property
    def retry_attempts(self) -> int: ...

    @property
    def retry_total(self) -> timedelta: ...


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a call (bounded in attempts and in total time)."""

    attempts: int = 5
    total: timedelta = timedelta(seconds=60)
    wait_initial: timedelta = timedelta(seconds=0.2)
    wait_max: timedelta = timedelta(seconds=10)
    wait_jitter: timedelta = timedelta(seconds=0.5)
    #: The longest ``Retry-After`` honoured between two attempts.
    retry_after_cap: timedelta = timedelta(seconds=30)

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        """The config's ``retry_attempts`` and ``retry_total``; no wait outlasts the total."""
        total = settings.retry_total
        return cls(
            attempts=settings.retry_attempts,
            total=total,
            retry_after_cap=min(cls.retry_after_cap, total),
        )

    def backoff(self, exc: Exception) -> bool | float:
        """stamina's hook: False stops; True uses its backoff; a number is the wait (s)."""
        if not isinstance(exc, RetryableApiError):
            return False
        if exc.retry_after is None:
            return True
        return min(max(exc.retry_after, 0.0), self.retry_after_cap.total_seconds())


#: One attempt, no retry (reconciliation, tests).
NO_RETRY = RetryPolicy(attempts=1)


def _log_retry(details: RetryDetails) -> None:
    log.debug(
        "http.retry_scheduled",
        retry_num=details.retry_num,
        wait_s=round(details.wait_for, 3),
        error=str(details.caused_by),
    )


# stamina's default hook warns on every retry; the warning we want is
# ``http.failing``, once per run of failures (STYLE 10), so retries log at debug.
stamina.instrumentation.set_on_retry_hooks([_log_retry])


async def retrying(policy: RetryPolicy, attempt: Callable[[], Awaitable[T]]) -> T:
    """Await ``attempt()`` until it succeeds or ``policy`` gives up (the last error is raised)."""
    async for trial in stamina.retry_context(
        on=policy.backoff,
        attempts=policy.attempts,
        timeout=policy.total,
        wait_initial=policy.wait_initial,
        wait_max=policy.wait_max,
        wait_jitter=policy.wait_jitter,
    ):
        with trial:
            return await attempt()
    raise AssertionError("stamina re-raises the last error")  # pragma: no cover


# -- calls and their log -------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP call as the clients describe it.

    ``endpoint`` is a fixed template (``POST /requests``) for metrics and logs;
    ``operation`` is the human description errors start with (``create ev-1``).
    """

    endpoint: str
    method: str
    path: str
    operation: str
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    params: Mapping[str, str] | None = None
    message_id: str | None = None


def _outcome(error: ApiError | None) -> str:
    if error is None:
        return "ok"
    return "retryable" if isinstance(error, RetryableApiError) else "permanent"


class ApiCaller:
    """Sends :class:`Call`\\ s for one API and logs their outcomes.

    ``api`` is the short name in logs and metrics (``dr``, ``becon``); ``title``
    starts error messages (``DR API``). It does not own ``client``.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api: str,
        title: str,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.client = client
        self.api = api
        self.title = title
        self.retry = retry
        self._failing_since: float | None = None
        self._failures = 0

    def __repr__(self) -> str:
        return f"ApiCaller(api={self.api!r}, base_url={str(self.client.base_url)!r})"

    async def send(self, call: Call, decode: Callable[[httpx.Response], T]) -> T:
        """Make one call; ``decode`` turns the response into a value or raises ``ApiError``.

        Transport failures become ``ApiError`` here; the outcome is logged once.
        """
        started = time.monotonic()
        try:
            response = await self.client.request(
                call.method,
                call.path,
                headers=dict(call.headers),
                json=call.json,
                params=call.params,
            )
        except httpx.HTTPError as exc:
            error = error_from_transport(
                self.title, call.operation, exc, message_id=call.message_id
            )
            self._record(call, None, started, error)
            raise error from exc
        try:
            value = decode(response)
        except ApiError as error:
            self._record(call, response.status_code, started, error)
            raise
        self._record(call, response.status_code, started, None)
        return value

    async def retrying(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()`` under this API's retry policy."""
        return await retrying(self.retry, attempt)

    def _record(
        self, call: Call, status: int | None, started: float, error: ApiError | None
    ) -> None:
        seconds = time.monotonic() - started
        outcome = _outcome(error)
        metrics.observe_api_call(self.api, call.endpoint, outcome, seconds)
        fields: dict[str, Any] = {
            "api": self.api,
            "endpoint": call.endpoint,
            "method": call.method,
            "path": call.path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "message_id": call.message_id,
            "outcome": outcome,
        }
        if error is None:
            log.debug("http.call", **fields)
        else:
            log.info("http.call", **fields, code=error.code, error=error.message)
        self._track_health(call, error)

    def _track_health(self, call: Call, error: ApiError | None) -> None:
        """Warn when a run of retryable failures starts; say so when it ends."""
        if isinstance(error, RetryableApiError):
            self._failures += 1
            if self._failing_since is None:
                self._failing_since = time.monotonic()
                log.warning(
                    "http.failing",
                    api=self.api,
                    endpoint=call.endpoint,
                    error=str(error),
                    message_id=call.message_id,
                )
            return
        if self._failing_since is not None:
            log.info(
                "http.recovered",
                api=self.api,
                endpoint=call.endpoint,
                failures=self._failures,
                after_s=round(time.monotonic() - self._failing_since, 1),
            )
            self._failing_since, self._failures = None, 0

    @property
    def failing(self) -> bool:
        """True between a retryable failure and the next answered call."""
        return self._failing_since is not None


# -- clients -------------------------------------------------------------------


class ClientSettings(Protocol):
    """What a config section says about its HTTP connections."""

    @property
    def base_url(self) -> str: ...

    @property
    def timeout(self) -> timedelta: ...

    @property
    def max_concurrency(self) -> int: ...


def make_client(
    *,
    base_url: str,
    timeout: timedelta | float,
    max_connections: int = 10,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """A pooled ``httpx.AsyncClient``: one per API, closed by whoever made it."""
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(seconds),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        headers=dict(headers or {}),
        transport=transport,
        follow_redirects=False,
    )


def client_from_settings(
    settings: ClientSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """:func:`make_client` from a config section (``dr_api``, ``becon``)."""
    return make_client(
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_connections=settings.max_concurrency,
        transport=transport,
    )


__all__ = [
    "NO_RETRY",
    "RETRY_AFTER_MAX",
    "ApiCaller",
    "Call",
    "ClientSettings",
    "RetryPolicy",
    "RetrySettings",
    "body_excerpt",
    "client_from_settings",
    "error_class_for_status",
    "error_from_response",
    "error_from_transport",
    "make_client",
    "new_message_id",
    "parse_retry_after",
    "retrying",
]
