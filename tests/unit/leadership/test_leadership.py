"""run_as_leader over a fake election: stand by, lead fenced, stop at once when it is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from scheduler import metrics
from scheduler.errors import FencedError
from scheduler.leadership.run import STANDBY_STATUS, run_as_leader
from scheduler.store.fenced import Fence
from scheduler.systemd import Notifier


class RecordingNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__({})
        self.sent: list[tuple[str, ...]] = []
        self._changed = asyncio.Event()

    def notify(self, *lines: str) -> bool:
        self.sent.append(lines)
        self._changed.set()
        return True

    async def wait_sent(self, *lines: str) -> None:
        async with asyncio.timeout(5):
            while lines not in self.sent:
                self._changed.clear()
                await self._changed.wait()


class FakeElection:
    """Elected when the test says so; loses leadership when the test says so."""

    def __init__(self, *, elected: bool = False) -> None:
        self.elected = asyncio.Event()
        self.lost = asyncio.Event()
        self.closed = 0
        self.fenced: list[object] = []
        self._epoch: int | None = None
        if elected:
            self.elected.set()

    @property
    def epoch(self) -> int | None:
        return self._epoch

    async def acquire(self) -> int:
        await self.elected.wait()
        self._epoch = 7
        return 7

    async def wait_lost(self) -> None:
        await self.lost.wait()

    def fence(self, session: Any) -> None:
        if self._epoch is None:
            raise FencedError("not the leader")
        self.fenced.append(session)

    async def close(self) -> None:
        self.closed += 1
        self._epoch = None


class FakeDaemon:
    """Stands for wired() + Daemon.run(): records what it got and how it ended."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.finish = asyncio.Event()
        self.fence: Fence | None = None
        self.cancelled = False
        self.after_call = False

    async def run(self, fence: Fence) -> None:
        self.fence = fence
        self.started.set()
        try:
            await self.finish.wait()  # an API call in flight, say
            self.after_call = True
        except asyncio.CancelledError:
            self.cancelled = True
            raise


def start(
    election: FakeElection,
    daemon_run: Callable[[Fence], Coroutine[Any, Any, None]],
    notifier: Notifier,
    stop: asyncio.Event,
    ready_after: float = 60.0,
) -> asyncio.Task[None]:
    return asyncio.create_task(
        run_as_leader(election, daemon_run, notifier, stop, ready_after=ready_after)
    )


async def test_a_standby_says_ready_and_waits_doing_nothing_until_stopped() -> None:
    election, daemon, notifier, stop = (
        FakeElection(),
        FakeDaemon(),
        RecordingNotifier(),
        asyncio.Event(),
    )
    with metrics.isolated_metrics() as m:
        task = start(election, daemon.run, notifier, stop, ready_after=0)
        await notifier.wait_sent("READY=1", f"STATUS={STANDBY_STATUS}")
        assert m.registry.get_sample_value("drsched_leader") == 0
        stop.set()
        await asyncio.wait_for(task, 5)
    assert not daemon.started.is_set()
    assert notifier.sent[0] == (f"STATUS={STANDBY_STATUS}",)
    assert election.closed == 1


async def test_an_instance_elected_at_once_does_not_say_ready_before_its_daemon() -> None:
    election, daemon, notifier = FakeElection(elected=True), FakeDaemon(), RecordingNotifier()
    task = start(election, daemon.run, notifier, asyncio.Event())
    await asyncio.wait_for(daemon.started.wait(), 5)
    assert not any("READY=1" in lines for lines in notifier.sent)
    assert ("STATUS=leader (epoch 7): starting",) in notifier.sent
    daemon.finish.set()  # the daemon's own clean stop (SIGTERM)
    await asyncio.wait_for(task, 5)
    assert daemon.after_call
    assert election.closed == 1


async def test_the_daemon_writes_through_the_elections_fence() -> None:
    election, daemon = FakeElection(elected=True), FakeDaemon()
    task = start(election, daemon.run, RecordingNotifier(), asyncio.Event())
    await asyncio.wait_for(daemon.started.wait(), 5)
    assert daemon.fence is not None
    daemon.fence("session")  # type: ignore[arg-type]  # the fake records what it is given
    assert election.fenced == ["session"]
    daemon.finish.set()
    await asyncio.wait_for(task, 5)


async def test_losing_leadership_cancels_the_daemon_mid_call_and_raises() -> None:
    election, daemon, notifier = FakeElection(elected=True), FakeDaemon(), RecordingNotifier()
    task = start(election, daemon.run, notifier, asyncio.Event())
    await asyncio.wait_for(daemon.started.wait(), 5)
    election.lost.set()
    with pytest.raises(FencedError, match=r"leadership lost \(epoch 7\): stopped acting at once"):
        await asyncio.wait_for(task, 5)
    assert daemon.cancelled
    assert not daemon.after_call  # nothing after the call that was in flight
    assert election.closed == 1
    assert ("STATUS=leadership lost (epoch 7): stopping",) in notifier.sent


async def test_a_daemon_that_crashes_is_not_hidden() -> None:
    async def crashes(fence: Fence) -> None:
        raise RuntimeError("wiring failed")

    election = FakeElection(elected=True)
    with pytest.raises(RuntimeError, match="wiring failed"):
        await run_as_leader(election, crashes, RecordingNotifier(), asyncio.Event())
    assert election.closed == 1


async def test_a_stop_before_the_daemon_handles_signals_cancels_its_start() -> None:
    election, daemon, stop = FakeElection(elected=True), FakeDaemon(), asyncio.Event()
    task = start(election, daemon.run, RecordingNotifier(), stop)
    await asyncio.wait_for(daemon.started.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)  # a clean stop, not an error
    assert daemon.cancelled


async def test_a_standby_elected_later_then_leads() -> None:
    election, daemon, notifier = FakeElection(), FakeDaemon(), RecordingNotifier()
    task = start(election, daemon.run, notifier, asyncio.Event(), ready_after=0)
    await notifier.wait_sent("READY=1", f"STATUS={STANDBY_STATUS}")
    assert not daemon.started.is_set()
    election.elected.set()
    await asyncio.wait_for(daemon.started.wait(), 5)
    daemon.finish.set()
    await asyncio.wait_for(task, 5)
