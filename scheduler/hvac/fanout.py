"""Sending many controls at once: batched PUTs in parallel, answers as they come.

One PUT per gateway and facility type, at most 100 controls each
(:func:`~scheduler.domain.hvac.plan_control_batches`), at most
``max_concurrency`` in flight. A failed call is an answer too, for each of
its controls: ``unknown`` when it may have landed (a retryable error, a
timeout), ``fail`` when refused. ``on_answers`` gets each batch's answers as
soon as its PUT returns, so outcomes are recorded while the others are still
in flight.

:class:`CoalescingWriter` turns those many small "write these outcomes"
into as few database transactions as the database's own speed allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import structlog

from scheduler.domain.hvac import Batch, Control, FacilityKey
from scheduler.errors import ApiError, RetryableApiError
from scheduler.hvac.ports import BeconPort

log = structlog.get_logger("scheduler.hvac")

T = TypeVar("T")


@dataclass(frozen=True)
class Sent:
    """What became of one control: BECON's ``success``/``fail``, or ``unknown``."""

    control: Control
    outcome: str
    reason: str | None = None

    @property
    def key(self) -> FacilityKey:
        return self.control.key


OnAnswers = Callable[[Sequence[Sent]], None]


async def send_batch(port: BeconPort, batch: Batch, slots: asyncio.Semaphore) -> list[Sent]:
    """One PUT within the concurrency bound; never raises for a vendor or network error."""
    try:
        async with slots:
            answers = await port.send_batch(batch)
    except ApiError as error:
        outcome = "unknown" if isinstance(error, RetryableApiError) else "fail"
        log.warning(
            "hvac.put_failed",
            site=batch.site,
            gateway=batch.gateway,
            facility_type=batch.facility_type,
            controls=len(batch.controls),
            error=str(error),
            message_id=error.message_id,
        )
        return [Sent(c, outcome, str(error)) for c in batch.controls]
    by_key = {a.key: a for a in answers}
    sent = []
    for control in batch.controls:
        answer = by_key.get(control.key)
        if answer is None:
            sent.append(Sent(control, "unknown", "left out of the answer"))
        else:
            sent.append(Sent(control, answer.outcome, answer.reason))
    return sent


async def send_all(
    port: BeconPort,
    batches: Sequence[Batch],
    slots: asyncio.Semaphore,
    on_answers: OnAnswers,
    workers: int = 16,
) -> list[Sent]:
    """Every batch, ``workers`` at a time (and within ``slots``); ``on_answers`` after each PUT.

    A few workers taking batches in turn, rather than a task per batch: the
    first PUT leaves without waiting for a thousand tasks to be created. The
    answers come back in the order they arrived.
    """
    answered: list[Sent] = []
    queue = iter(batches)

    async def worker() -> None:
        for batch in queue:
            sent = await send_batch(port, batch, slots)
            answered.extend(sent)
            on_answers(sent)

    async with asyncio.TaskGroup() as group:  # a bug in one cancels the others
        for _ in range(max(1, min(workers, len(batches)))):
            group.create_task(worker())
    return answered


class CoalescingWriter(Generic[T]):
    """Queue items; one writer task writes everything queued since its last write.

    While a write runs, new items wait and go in the next one: 1,000 PUT
    answers become a handful of transactions, not 1,000.
    """

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: list[T] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, items: Sequence[T]) -> None:
        self._pending.extend(items)
        if self._task is None or (self._task.done() and not _failed(self._task)):
            # A failed writer is kept: :meth:`drain` raises its error. Starting a new
            # one would drop it unseen, and the records it held would stay unsettled.
            self._task = asyncio.create_task(self._run(), name="hvac-outcomes")

    async def _run(self) -> None:
        while self._pending:
            items, self._pending = self._pending, []
            await self._write(items)

    async def drain(self) -> None:
        """Wait until everything queued is written; a failed write raises here."""
        while self._task is not None:
            task, self._task = self._task, None
            await task
            if self._pending:
                self._task = asyncio.create_task(self._run(), name="hvac-outcomes")


def _failed(task: asyncio.Task[None]) -> bool:
    return not task.cancelled() and task.exception() is not None
