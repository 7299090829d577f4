"""The vendor clients' HTTP transport: httpx's API, aiohttp's connection pool underneath.

httpx's own transport (httpcore) costs the daemon 2–3 ms of CPU per vendor call with
16 calls in flight (its pool checks every connection on every request), which made
the control fan-out CPU-bound (issue 14). ``httpx-aiohttp``'s transport keeps the
``httpx.AsyncClient`` the clients are written against and sends through aiohttp,
about 1 ms a call (``bench/bench_client_cpu.py``; ``bench/README.md`` has the figures).

:class:`VendorTransport` wraps it for four reasons:

- **Made on the first request.** Importing aiohttp (it builds SSL contexts at import)
  and making the pool's SSL context cost 0.1–0.3 s, which would sit between
  ``drsched run`` and READY. The daemon imports it once READY (:func:`preload`, in
  the background): made on the first call, it made the first POST of 200 due at
  once 0.15 s later (issue 14). Whatever comes first pays for the import, once.
- **Its pool can be opened ahead** (:meth:`VendorTransport.preconnect`): before a
  burst of calls the engine knows is coming (a window's start, submissions due
  together), so that its first calls do not wait for TCP and TLS handshakes.
- **A call can skip httpx** (:meth:`VendorTransport.exchange`): the clients' calls
  (``scheduler.clients.http.ApiCaller``) go straight to aiohttp and come back as an
  ``httpx.Response`` read whole, which saves a quarter of a call's CPU.
- **Only httpx errors leave it.** The clients turn ``httpx.HTTPError`` into our
  errors (:func:`scheduler.clients.http_errors.error_from_transport`). httpx-aiohttp
  maps aiohttp's usual failures; anything else aiohttp or the socket raises becomes
  an ``httpx.TransportError`` here, so it is retried and reported like any other
  failed call, never escaping as a bug.

Tests inject their own transport (``httpx.MockTransport``, respx, the simulator's
ASGI app), as before: this is only the default of :func:`scheduler.clients.http.make_client`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    import aiohttp
    from httpx_aiohttp import AiohttpTransport


def preload() -> None:
    """Do now what the first request would: import aiohttp, load the CA certificates.

    Blocking (0.1–0.2 s of CPU): the daemon runs it in a thread once it is READY.
    """
    import httpx_aiohttp  # noqa: F401  (imported for its side effect: loaded once)

    _verify()


@functools.cache
def _verify() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle; ``SSL_CERT_FILE``/``_DIR``
    honoured), made once for every transport: loading the bundle takes 30–40 ms."""
    return httpx.create_ssl_context()


class VendorTransport(httpx.AsyncBaseTransport):
    """``httpx_aiohttp.AiohttpTransport`` with ``limits``, made when first needed."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._transport: AiohttpTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._open()
        with _as_httpx_errors(request):
            response = await transport.handle_async_request(request)
        response.stream = _GuardedStream(response.stream, request)
        return response

    async def exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        limits: httpx.Timeout,
    ) -> httpx.Response:
        """One call straight through aiohttp, its whole body read, as an ``httpx.Response``.

        What :meth:`handle_async_request` does with the same call, sent as
        httpx-aiohttp sends it (no redirects followed, the body left encoded for
        httpx to decode), without an ``httpx.Request`` and without streaming the
        response through two wrappers: 0.15 ms less CPU a call with 16 in flight, a
        quarter of a call (``bench/bench_client_cpu.py``, issue 14). The response has
        no ``request``: the clients read only its status, headers and body.
        """
        import aiohttp

        session = self._session()
        # httpx-aiohttp's reading of httpx's timeouts (connect, read, pool)
        timeout = aiohttp.ClientTimeout(
            sock_connect=limits.connect, sock_read=limits.read, connect=limits.pool
        )
        with _as_httpx_errors(None):
            async with session.request(
                method,
                url,
                headers=headers,
                data=content,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=timeout,
            ) as answer:
                body = await answer.read()
        extensions = {"http_version": b"HTTP/1.1"}
        if answer.reason:
            extensions["reason_phrase"] = answer.reason.encode()
        return httpx.Response(
            answer.status, headers=answer.raw_headers, content=body, extensions=extensions
        )

    def _session(self) -> aiohttp.ClientSession:
        """The pool's aiohttp session, made as httpx-aiohttp makes it on its first request."""
        import aiohttp

        transport = self._open()
        if not isinstance(transport.client, aiohttp.ClientSession):
            transport.client = transport.get_client()
        return transport.client

    def _open(self) -> AiohttpTransport:
        if self._transport is None:
            from httpx_aiohttp import AiohttpTransport

            self._transport = AiohttpTransport(verify=_verify(), limits=self._limits)
        return self._transport

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()

    async def preconnect(self, url: httpx.URL, within: float) -> int:
        """Open the pool's connections to ``url``'s origin now; the number open and idle.

        Sends nothing: each connection is made (TCP, and TLS for ``https``) and left
        idle in the pool for the next calls, up to the pool's size, each within
        ``within`` seconds; connections already idle are kept, not doubled (aiohttp
        hands them out first). With 50 ms to the vendor, a call on a new TLS
        connection waits two more round trips (100 ms) before its request even leaves;
        and at a system-wide start the handshakes of the first GETs and PUTs also wait
        behind everything else the event loop does then (issue 14). Best effort: a
        connection that fails is not counted and not raised; the call that needs it
        makes its own and reports its error as usual.
        """
        import aiohttp
        from yarl import URL

        connector = self._session().connector
        size = self._limits.max_connections
        if connector is None or not size:
            return 0
        # aiohttp opens or reuses a connection for a request's origin; this request is
        # never sent, it only names the origin (and its TLS settings: the pool's own)
        origin = aiohttp.ClientRequest("GET", URL(str(url)), loop=asyncio.get_running_loop())
        limit = aiohttp.ClientTimeout(total=within)  # each connection's own, not the whole
        # all taken at once, then all given back: one given back early would be taken
        # again by the next instead of a new one being made
        taken = await asyncio.gather(
            *(connector.connect(origin, [], limit) for _ in range(size)),
            return_exceptions=True,
        )
        opened = [c for c in taken if not isinstance(c, BaseException)]
        for connection in opened:
            connection.release()
        return len(opened)


class _GuardedStream(httpx.AsyncByteStream):
    """The response body, read with the same guarantee: only httpx errors."""

    def __init__(
        self, stream: httpx.AsyncByteStream | httpx.SyncByteStream, request: httpx.Request
    ) -> None:
        assert isinstance(stream, httpx.AsyncByteStream)
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _as_httpx_errors(self._request):
            await self._stream.aclose()


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request | None) -> Iterator[None]:
    import aiohttp

    try:
        yield
    except httpx.HTTPError as exc:
        cause = exc.__cause__
        if isinstance(cause, aiohttp.ClientError):  # httpx-aiohttp's own mapping, refined
            raise _httpx_error(cause, request) from cause
        raise
    except (aiohttp.ClientError, OSError) as exc:  # OSError: TimeoutError too
        raise _httpx_error(exc, request) from exc


def _httpx_error(exc: BaseException, request: httpx.Request | None) -> httpx.TransportError:
    """The error httpx's own transport raises for the same failure.

    httpx-aiohttp reports a refused connection or a server that hung up as a
    ``ConnectTimeout``; the log and the error a person reads should say what happened.
    """
    import aiohttp

    kind: type[httpx.TransportError] = httpx.TransportError
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        kind = httpx.RemoteProtocolError
    elif isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientOSError | OSError):
        kind = httpx.ReadError
    elif isinstance(exc, aiohttp.NonHttpUrlClientError | aiohttp.InvalidUrlClientError):
        kind = httpx.UnsupportedProtocol  # a URL no HTTP client can call: not retried
    text = str(exc) or type(exc).__name__
    message = text if kind is not httpx.TransportError else f"{type(exc).__name__}: {text}"
    return kind(message, request=request)
