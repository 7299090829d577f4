"""sd_notify datagrams on a real unix socket, as systemd would receive them."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.systemd import Notifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_status_stopping_watchdog(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    assert notifier.ready("running")
    assert received(sock) == ["READY=1", "STATUS=running"]
    assert notifier.status("3 events tracked")
    assert received(sock) == ["STATUS=3 events tracked"]
    assert notifier.watchdog()
    assert received(sock) == ["WATCHDOG=1"]
    assert notifier.stopping()
    assert received(sock) == ["STOPPING=1"]
    assert notifier.watchdog_interval() == 2.0


def test_reloading_carries_the_monotonic_clock(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    assert Notifier({"NOTIFY_SOCKET": path}).reloading()
    first, second = received(sock)
    assert first == "RELOADING=1"
    key, value = second.split("=")
    assert key == "MONOTONIC_USEC"
    assert abs(int(value) - __import__("time").monotonic_ns() // 1000) < 5_000_000


def test_abstract_socket() -> None:
    name = f"drsched-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(2)
        assert Notifier({"NOTIFY_SOCKET": f"@{name}"}).ready()
        assert received(sock) == ["READY=1"]


def test_no_socket_means_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert notifier.watchdog_interval() is None


def test_watchdog_for_another_pid_is_ignored(notify_socket: tuple[socket.socket, str]) -> None:
    _, path = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier(env).watchdog_interval() is None


async def test_daemon_pings_the_watchdog_from_its_loop(
    notify_socket: tuple[socket.socket, str],
) -> None:
    """The daemon sends READY after reconcile, WATCHDOG pings, then STOPPING."""
    from tests.support.harness.engine_on_fakes import make_daemon

    sock, path = notify_socket
    sock.setblocking(False)
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})
    daemon, _ = make_daemon(notifier=notifier)
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 5)
    seen: list[str] = []
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5):
        while seen.count("WATCHDOG=1") < 3:
            seen.extend((await loop.sock_recv(sock, 4096)).decode().split("\n"))
    daemon.request_stop()
    await asyncio.wait_for(task, 5)
    async with asyncio.timeout(5):
        while "STOPPING=1" not in seen:
            seen.extend((await loop.sock_recv(sock, 4096)).decode().split("\n"))
    assert seen.index("READY=1") < seen.index("WATCHDOG=1")
    assert "STATUS=reconciling" in seen[: seen.index("READY=1")]


@pytest.mark.timeout(30)
def test_a_receiver_that_stopped_reading_never_blocks_the_sender(
    notify_socket: tuple[socket.socket, str],
) -> None:
    """Its queue fills (a few hundred datagrams on Linux); then a datagram is dropped and
    said so, where a blocking send would hang the daemon's event loop for good."""
    _, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    sent = [notifier.watchdog() for _ in range(5_000)]
    assert sent[0], "the first ones are queued"
    assert not all(sent), "the queue filled, and the sender went on"
