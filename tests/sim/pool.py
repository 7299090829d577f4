"""Seeds run side by side: one process per core, each seed alone in its process.

A seed shares nothing with another (its own world, clock, event loop and
database), so seeds are sharded over worker processes and only a
:class:`Verdict` (plain text) comes back. Workers are spawned, not forked: the
parent may hold an event loop, threads or open connections (pytest does).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, replace

from tests.sim.bugs import classify
from tests.sim.pg import fresh_database
from tests.sim.run import run_seed
from tests.sim.world import LONG, Size, generate

#: More workers than this gains nothing on the machines we run on and costs memory.
MAX_JOBS = 8


@dataclass(frozen=True)
class Verdict:
    """What one seed found, as text that crosses a process boundary."""

    seed: int
    steps: int
    findings: tuple[str, ...]  # "[bug] violation", one per invariant broken
    report: str  # the world and the trace (a failed seed's, or any when asked)

    @property
    def ok(self) -> bool:
        return not self.findings


def default_jobs() -> int:
    """One worker per core this process may use, at most :data:`MAX_JOBS`."""
    return max(1, min(MAX_JOBS, len(os.sched_getaffinity(0))))


def check_seed(
    seed: int,
    pg_server: str | None = None,
    long: bool = False,
    trace: bool = False,
    batched: bool = False,
) -> Verdict:
    """Run one seed to its verdict here, on SQLite or a fresh database on ``pg_server``.

    The report (world and trace) comes with a failed seed, or any seed when ``trace``.
    ``batched``: store batches in one transaction (``World.batched_store``).
    """
    world = replace(generate(seed, LONG if long else Size()), batched_store=batched)
    if pg_server is None:
        result = asyncio.run(run_seed(world))
    else:
        url, drop = fresh_database(pg_server, seed)
        try:
            result = asyncio.run(run_seed(world, url))
        finally:
            drop()
    findings = tuple(f"[{classify(v, result.trace)}] {v}" for v in result.violations)
    if result.harness_error is not None:
        findings += (f"[harness] the simulation raised {result.harness_error}",)
    report = result.report(world) if trace or not result.ok else ""
    return Verdict(seed, result.steps, findings, report)


def pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` spawned workers."""
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))


def submit(
    executor: Executor,
    seeds: Iterable[int],
    pg_server: str | None = None,
    long: bool = False,
    batched: bool = False,
) -> dict[int, Future[Verdict]]:
    """Every seed queued on ``executor``, in the order given."""
    return {
        seed: executor.submit(check_seed, seed, pg_server, long, False, batched) for seed in seeds
    }


def verdicts(
    seeds: Iterable[int],
    jobs: int,
    pg_server: str | None = None,
    long: bool = False,
    batched: bool = False,
) -> Iterator[Verdict]:
    """The seeds' verdicts in the order given, ``jobs`` seeds at a time."""
    if jobs <= 1:
        yield from (check_seed(seed, pg_server, long, batched=batched) for seed in seeds)
        return
    with pool(jobs) as executor:
        futures = submit(executor, seeds, pg_server, long, batched)
        try:
            for future in futures.values():
                yield future.result()
        finally:
            executor.shutdown(cancel_futures=True)
