"""Opening a vendor client's pool ahead of a burst of calls, over a real socket.

A plain HTTP/1.1 server (``tests/support/http_server.py``) counts the
connections it accepts: the calls after a preconnect must make none of their
own, and a second preconnect must keep the idle connections rather than add more.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from scheduler.clients.http import make_client, preconnect
from tests.support.http_server import HttpServer, http_server

POOL = 4


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    async with http_server() as state:
        yield state


async def test_a_preconnected_pool_serves_the_calls_without_new_connections(
    server: HttpServer,
) -> None:
    client = make_client(base_url=server.url, timeout=5, max_connections=POOL)
    async with client:
        assert await preconnect(client, 2.0) == POOL
        await server.until_accepted(POOL)
        answers = await asyncio.gather(*(client.get("/status") for _ in range(POOL)))
        assert [a.status_code for a in answers] == [200] * POOL
        assert await preconnect(client, 2.0) == POOL  # the idle ones, kept
        await asyncio.sleep(0.05)  # a new connection would have been accepted by now
        assert server.accepted == POOL


async def test_a_pool_that_cannot_connect_opens_nothing_and_raises_nothing() -> None:
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    client = make_client(base_url=f"http://127.0.0.1:{port}", timeout=2, max_connections=POOL)
    async with client:
        assert await preconnect(client, 2.0) == 0


async def test_a_client_on_an_injected_transport_is_left_alone() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    async with make_client(base_url="http://sim", timeout=5, transport=transport) as client:
        assert await preconnect(client, 2.0) == 0
