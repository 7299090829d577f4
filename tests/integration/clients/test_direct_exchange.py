"""A vendor call on the daemon's own transport goes straight to aiohttp (issue 14).

:meth:`VendorTransport.exchange` sends a call without an ``httpx.Request``. What
reaches the vendor must be what httpx would have sent (method, target, headers,
body), and what comes back must read as httpx would have read it. A plain
HTTP/1.1 server over a real socket (``tests/support/http_server.py``) records
each request and answers what the test asks.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from scheduler.clients.http import NO_RETRY, ApiCaller, Call, make_client
from scheduler.clients.transport import VendorTransport
from scheduler.errors import PermanentApiError, RetryableApiError
from tests.support.http_server import HttpServer, http_server


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    async with http_server("/api/v1") as state:
        state.answer_body = b'{"ok":true}'
        yield state


def _caller(base_url: str, **kwargs: Any) -> ApiCaller:
    client = make_client(base_url=base_url, timeout=5, headers={"X-Service": "drsched"}, **kwargs)
    return ApiCaller(client, api="test", title="Test API", retry=NO_RETRY)


def _json(response: httpx.Response) -> Any:
    return response.json()


CALL = Call(
    "POST /requests",
    "POST",
    "/requests/ev%2F1",
    "create ev/1",
    headers={"X-Message-Id": "m-1", "Accept": "application/json"},
    json={"name": "Élan", "values": [1, 2.5, None]},
    message_id="m-1",
)


@pytest.fixture
def no_httpx_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """The calls must not go through the transport's httpx side at all."""

    async def refuse(self: VendorTransport, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent through httpx: {request.method} {request.url}")

    monkeypatch.setattr(VendorTransport, "handle_async_request", refuse)


@pytest.mark.usefixtures("no_httpx_request")
async def test_a_call_sends_what_httpx_would_send(server: HttpServer) -> None:
    caller = _caller(server.url)
    async with caller.client:
        assert await caller.send(CALL, _json) == {"ok": True}
        expected = caller.client.build_request(
            CALL.method, CALL.path, headers=dict(CALL.headers), json=CALL.json
        )
    (seen,) = server.seen
    assert (seen.method, seen.target) == ("POST", "/api/v1/requests/ev%2F1")
    assert seen.body == expected.content
    assert json.loads(seen.body) == CALL.json
    wanted = {k.lower(): v for k, v in expected.headers.items()}
    assert {k: seen.headers.get(k) for k in wanted} == wanted  # host, length, type included


@pytest.mark.usefixtures("no_httpx_request")
async def test_a_gzip_answer_reads_as_httpx_reads_it(server: HttpServer) -> None:
    server.answer_headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    server.answer_body = gzip.compress(b'{"status":"pending"}')
    caller = _caller(server.url)
    async with caller.client:
        get = Call("GET /requests/{id}", "GET", "/requests/r1", "get r1", message_id="m-2")
        assert await caller.send(get, _json) == {"status": "pending"}
    assert "gzip" in server.seen[0].headers["accept-encoding"]


async def test_a_call_with_a_query_goes_through_httpx(server: HttpServer) -> None:
    caller = _caller(server.url)
    async with caller.client:
        query = Call("GET /requests", "GET", "/requests", "list", params={"ven": "V 1/2&3"})
        await caller.send(query, _json)
    path, _, encoded = server.seen[0].target.partition("?")
    assert (path, parse_qs(encoded)) == ("/api/v1/requests", {"ven": ["V 1/2&3"]})


def _closed_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return int(unused.getsockname()[1])


@pytest.mark.usefixtures("no_httpx_request")
async def test_a_refused_connection_is_retryable_and_says_so() -> None:
    caller = _caller(f"http://127.0.0.1:{_closed_port()}")
    async with caller.client:
        with pytest.raises(RetryableApiError, match="ConnectError") as caught:
            await caller.send(CALL, _json)
    assert caught.value.message_id == "m-1"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


@pytest.mark.usefixtures("no_httpx_request")
async def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # never answers; the client gives up first
        finally:
            writer.close()

    listening = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    async with listening:
        client = make_client(base_url=f"http://127.0.0.1:{port}", timeout=0.2)
        caller = ApiCaller(client, api="test", title="Test API", retry=NO_RETRY)
        async with client:
            with pytest.raises(RetryableApiError, match="ReadTimeout"):
                await caller.send(CALL, _json)


async def test_a_url_no_http_client_can_call_is_permanent() -> None:
    caller = _caller("ftp://127.0.0.1/files")
    async with caller.client:
        with pytest.raises(PermanentApiError, match="UnsupportedProtocol"):
            await caller.send(CALL, _json)
