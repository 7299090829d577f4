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
- **Pooled clients** (:func:`make_client`, :class:`Connection`) with timeouts and
  limits as plain values and an injectable ``transport``; whoever makes a client
  closes it. Its pool can be opened ahead of a burst of calls (:func:`preconnect`).

Errors live in :mod:`scheduler.clients.http_errors` and retries in
:mod:`scheduler.clients.retries`; this module re-exports both, so clients
import the whole policy from here.
"""

from __future__ import annotations

import json
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
import structlog

from scheduler import metrics
from scheduler.clients.http_errors import (
    EXCERPT_CHARS,
    RETRY_AFTER_MAX,
    body_excerpt,
    error_class_for_status,
    error_from_response,
    error_from_transport,
    parse_retry_after,
)
from scheduler.clients.retries import NO_RETRY, RetryPolicy, RetrySettings, retrying
from scheduler.clients.transport import VendorTransport
from scheduler.errors import ApiError, PermanentApiError, RetryableApiError

T = TypeVar("T")

log = structlog.get_logger("scheduler.clients.http")


def path_segment(text: str, api: str) -> str:
    """``text`` percent-encoded as exactly one URL path segment (``/`` included).

    ``.`` and ``..`` cannot be encoded: httpx (RFC 3986 section 5.2.4) removes
    them as dot segments, so ``GET /requests/..`` would reach another
    resource. An empty segment would too. Both are refused before any call.
    """
    if text in ("", ".", ".."):
        raise PermanentApiError(
            api, f"call for {text!r}", message="an id must be safe as one URL path segment"
        )
    return quote(text, safe="")


def new_message_id() -> str:
    """A fresh trace id (UUID4) for one call: logged, and quoted in its errors."""
    return str(uuid.uuid4())


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


def _json_body(value: Any) -> bytes:
    """``value`` as httpx encodes a ``json=`` body (``httpx._content.encode_json``)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


#: Joined URLs an :class:`ApiCaller` keeps (its paths: request ids, gateways and types).
_URLS_KEPT = 4096


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
        retry: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.api = api
        self.title = title
        self.retry = retry or RetryPolicy()
        self._failing_since: float | None = None
        self._failures = 0
        self._urls: dict[str, httpx.URL] = {}
        #: The transport :func:`make_client` gave ``client``, if it made it (:meth:`_exchange`).
        self._transport = _TRANSPORTS.get(client)
        #: What httpx would join a path to, and the headers it would send with every call
        #: (httpx's defaults and ``make_client``'s), for :meth:`VendorTransport.exchange`.
        base = client.base_url  # its path ends with "/" (httpx)
        self._base = f"{base.scheme}://{base.netloc.decode('ascii')}{base.raw_path.decode('ascii')}"
        self._headers = {k.lower(): v for k, v in client.headers.items()}

    def __repr__(self) -> str:
        return f"ApiCaller(api={self.api!r}, base_url={str(self.client.base_url)!r})"

    async def send(self, call: Call, decode: Callable[[httpx.Response], T]) -> T:
        """Make one call; ``decode`` turns the response into a value or raises ``ApiError``.

        Transport failures become ``ApiError`` here; the outcome is logged once.
        """
        started = time.monotonic()
        try:
            response = await self._exchange(call)
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

    async def _exchange(self, call: Call) -> httpx.Response:
        """``call`` sent and its whole body read, by the shortest way its client allows.

        httpx's ``send`` wraps the transport in an auth flow, a redirect loop, a cookie
        jar that parses every response and an INFO log line, none of which a vendor call
        uses (no auth object or cookies: the vendors take headers; ``follow_redirects``
        is off in :func:`make_client`): 0.1–0.2 ms of a call's CPU with 16 in flight,
        about a quarter (``bench/bench_client_cpu.py``, issue 14). So a call goes to
        the transport :func:`make_client` gave its client. On the daemon's own
        (:class:`VendorTransport`) it goes straight to aiohttp, with no
        ``httpx.Request`` at all (:meth:`VendorTransport.exchange`), unless it has a
        query, which httpx encodes. A client :func:`make_client` did not make, or a
        closed one (its error), goes through ``send``, as before.
        """
        transport = self._transport
        if transport is None or self.client.is_closed:
            response = await self.client.send(self._request(call))
        elif isinstance(transport, VendorTransport) and call.params is None:
            return await self._direct(call, transport)
        else:
            request = self._request(call)
            response = await transport.handle_async_request(request)
            response.request = request
            try:
                await response.aread()
            finally:
                await response.aclose()
        self._keep_url(call, response)
        return response

    async def _direct(self, call: Call, transport: VendorTransport) -> httpx.Response:
        """:meth:`VendorTransport.exchange` of what ``build_request`` would make of ``call``:
        the path joined to the base URL, httpx's headers under the call's, a JSON body
        encoded as httpx encodes it."""
        headers = self._headers.copy()
        body = None
        if call.json is not None:
            body = _json_body(call.json)
            headers["content-type"] = "application/json"
        for name, value in call.headers.items():
            headers[name.lower()] = value
        url = self._base + call.path.lstrip("/")
        return await transport.exchange(call.method, url, headers, body, limits=self.client.timeout)

    def _request(self, call: Call) -> httpx.Request:
        return self.client.build_request(
            call.method,
            self._urls.get(call.path, call.path),
            headers=dict(call.headers),
            json=call.json,
            params=call.params,
        )

    def _keep_url(self, call: Call, response: httpx.Response) -> None:
        """Keep the URL httpx joined for ``call.path``, for the path's next call.

        httpx parses a relative URL and then the joined one again on every call: a
        seventh of a DR POST's client CPU (issue 14). The paths repeat (a request id polled
        every few seconds, a gateway's PUT at every control), so the joined URL is
        kept; the map is emptied when it grows past ``_URLS_KEPT`` paths. It is taken
        from the request httpx sent, not joined again here: a system-wide start sends
        750 PUTs to 750 paths at once, and a second join of each would cost more than
        the cache saves them.
        """
        if call.params is not None or response.history or call.path in self._urls:
            return  # the sent URL holds the query, or a redirect's target
        if len(self._urls) >= _URLS_KEPT:
            self._urls.clear()
        self._urls[call.path] = response.request.url

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


class OwnedClient:
    """The lifecycle both vendor clients share around their :class:`ApiCaller`.

    Use it as ``async with``; :meth:`aclose` closes the ``httpx.AsyncClient``
    only when the client made it (its ``connect``, through :meth:`_owning`):
    one passed in belongs to whoever made it (STYLE 3).
    """

    _caller: ApiCaller
    _service_id: str
    _owns_http = False

    def _owning(self) -> Self:
        self._owns_http = True
        return self

    @property
    def base_url(self) -> str:
        return str(self._caller.client.base_url)

    def __repr__(self) -> str:  # never the credentials
        return f"{type(self).__name__}(base_url={self.base_url!r}, service_id={self._service_id!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._caller.client.aclose()

    async def preconnect(self, within: float) -> int:
        """Open this API's connections ahead of a burst of calls (:func:`preconnect`)."""
        return await preconnect(self._caller.client, within)


@dataclass(frozen=True)
class Connection:
    """Where and how to reach one vendor API, as plain values (the wiring reads the config)."""

    base_url: str
    timeout: timedelta = timedelta(seconds=10)
    max_connections: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def client(self, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
        """:func:`make_client` for this API: a pooled client its maker closes."""
        return make_client(
            base_url=self.base_url,
            timeout=self.timeout,
            max_connections=self.max_connections,
            transport=transport,
        )


def make_client(
    *,
    base_url: str,
    timeout: timedelta | float,
    max_connections: int = 10,
    transport: httpx.AsyncBaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """A pooled ``httpx.AsyncClient``: one per API, closed by whoever made it.

    Its transport is ``transport`` (tests inject theirs), else a
    :class:`~scheduler.clients.transport.VendorTransport` (aiohttp underneath, issue 14).
    """
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=30.0,
    )
    sender = VendorTransport(limits) if transport is None else transport
    client = httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(seconds),
        limits=limits,
        headers=dict(headers or {}),
        transport=sender,
        follow_redirects=False,  # ApiCaller sends through the transport: it follows none
    )
    _TRANSPORTS[client] = sender
    return client


#: The transport of each client :func:`make_client` made (``ApiCaller._exchange``); a
#: :class:`VendorTransport` is a pool of ours (:func:`preconnect`).
_TRANSPORTS: weakref.WeakKeyDictionary[httpx.AsyncClient, httpx.AsyncBaseTransport] = (
    weakref.WeakKeyDictionary()
)


async def preconnect(client: httpx.AsyncClient, within: float) -> int:
    """Open ``client``'s pool to its base URL now, sending nothing; connections open.

    Up to the pool's size (the API's ``max_concurrency``), each within ``within``
    seconds (or the client's connect timeout, if shorter), best effort
    (:meth:`VendorTransport.preconnect`). A client on an injected transport (the
    tests', the simulation's) has no pool of ours: nothing is done.
    """
    pool = _TRANSPORTS.get(client)
    if not isinstance(pool, VendorTransport):
        return 0
    timeout = min(within, client.timeout.connect or within)
    opened = await pool.preconnect(client.base_url, timeout)
    log.debug("http.preconnected", base_url=str(client.base_url), connections=opened)
    return opened


__all__ = [
    "EXCERPT_CHARS",
    "NO_RETRY",
    "RETRY_AFTER_MAX",
    "ApiCaller",
    "Call",
    "Connection",
    "OwnedClient",
    "RetryPolicy",
    "RetrySettings",
    "body_excerpt",
    "error_class_for_status",
    "error_from_response",
    "error_from_transport",
    "make_client",
    "new_message_id",
    "parse_retry_after",
    "preconnect",
    "retrying",
]
