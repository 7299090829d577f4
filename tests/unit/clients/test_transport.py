"""The vendor clients' default transport: aiohttp underneath, only httpx errors out."""

from __future__ import annotations

import socket
import ssl
from typing import Any

import aiohttp
import httpx
import httpx_aiohttp
import pytest

from scheduler.clients.http import make_client
from scheduler.clients.transport import VendorTransport, preload


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_default_transport_sends_through_aiohttp() -> None:
    async with make_client(base_url=f"http://127.0.0.1:{closed_port()}", timeout=2) as client:
        with pytest.raises(httpx.ConnectError) as caught:
            await client.get("/requests/a")
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


class Failing:
    """An ``AiohttpTransport`` whose request fails with what httpx-aiohttp does not map."""

    def __init__(self, **_: Any) -> None:
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise aiohttp.ClientError("something aiohttp says")

    async def aclose(self) -> None:
        self.closed = True


async def test_an_error_httpx_aiohttp_does_not_map_becomes_a_transport_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(httpx_aiohttp, "AiohttpTransport", Failing)
    transport = VendorTransport(httpx.Limits(max_connections=2))
    async with httpx.AsyncClient(transport=transport, base_url="http://vendor.test") as client:
        with pytest.raises(httpx.TransportError) as caught:
            await client.get("/x")
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)
    assert str(caught.value) == "ClientError: something aiohttp says"


async def test_nothing_is_made_before_the_first_request(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Failing] = []

    def make(**kwargs: Any) -> Failing:
        made.append(Failing(**kwargs))
        return made[-1]

    monkeypatch.setattr(httpx_aiohttp, "AiohttpTransport", make)
    async with make_client(base_url="http://vendor.test", timeout=1):
        pass
    assert made == []


async def test_every_transport_verifies_with_the_one_context_preload_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loading the CA bundle took the first POST of a system-wide event 30-40 ms (issue 14)."""
    given: list[Any] = []

    def make(**kwargs: Any) -> Failing:
        given.append(kwargs["verify"])
        return Failing(**kwargs)

    preload()
    monkeypatch.setattr(httpx_aiohttp, "AiohttpTransport", make)
    for _ in range(2):
        async with httpx.AsyncClient(
            transport=VendorTransport(httpx.Limits()), base_url="http://vendor.test"
        ) as client:
            with pytest.raises(httpx.TransportError):
                await client.get("/x")
    assert len(given) == 2
    assert isinstance(given[0], ssl.SSLContext)
    assert given[0] is given[1]
    assert given[0].verify_mode == ssl.CERT_REQUIRED  # httpx's default: verified
