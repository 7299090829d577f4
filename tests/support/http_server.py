"""A plain HTTP/1.1 server over a real socket, for the vendor transport's tests.

It counts the connections it accepts and records each request as it read it
(method, target, headers, body); every answer is a 200 with the headers and
body the test sets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Seen:
    """One request as the server read it (header names in lower case)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    url: str = ""
    accepted: int = 0
    seen: list[Seen] = field(default_factory=list)
    #: What the next answers carry (headers besides Content-Length, and the body).
    answer_headers: dict[str, str] = field(default_factory=dict)
    answer_body: bytes = b"{}"

    async def until_accepted(self, count: int) -> None:
        """The server's side of a connection runs a loop turn or more after the client's."""
        for _ in range(500):
            if self.accepted >= count:
                return
            await asyncio.sleep(0.01)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                line, *fields = head.split("\r\n")[:-2]
                method, target, _ = line.split(" ")
                headers = {k.lower(): v for k, v in (f.split(": ", 1) for f in fields)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.seen.append(Seen(method, target, headers, body))
                answer = {**self.answer_headers, "Content-Length": len(self.answer_body)}
                lines = "".join(f"{k}: {v}\r\n" for k, v in answer.items())
                writer.write(f"HTTP/1.1 200 OK\r\n{lines}\r\n".encode() + self.answer_body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def http_server(path: str = "") -> AsyncIterator[HttpServer]:
    """A server on a free port of 127.0.0.1; its ``url`` ends with ``path``."""
    state = HttpServer()
    listening = await asyncio.start_server(state._serve, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}{path}"
    async with listening:
        yield state
