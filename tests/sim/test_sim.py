"""The deterministic simulation in the default tests: a few seeds, and determinism itself.

``DRSCHED_SIM_SEEDS=N`` runs seeds 0..N-1 (default :data:`DEFAULT_SEEDS`, sized
to stay under 2 minutes on a quiet 2-core machine: the seeds run on one worker
process per core, tests/sim/pool.py); ``python -m tests.sim --seeds 10000`` is
the long run (docs/testing.md). ``DRSCHED_SIM_BATCHED_SEEDS=N`` (default 100) runs
seeds 0..N-1 again with the store's batches in one transaction, as the daemon runs
them (``--batched``); the others run a batch's calls one by one.

Every seed must pass. :data:`KNOWN_FAILING` is where a seed that finds a bug
whose fix is not merged yet goes, as a strict xfail (it fails the suite the day
it passes: then delete the entry); it is empty since issue 10's fixes landed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import Future

import pytest

from tests.sim.pg import fresh_database
from tests.sim.pool import Verdict, default_jobs, pool, submit
from tests.sim.run import run_seed
from tests.sim.world import generate
from tests.support.databases import PG_HINT, postgres_url

DEFAULT_SEEDS = 300
#: Seeds also run with store batches in one transaction, as the daemon runs them
#: (``World.batched_store``; the others run a batch's calls one by one).
BATCHED_SEEDS = int(os.environ.get("DRSCHED_SIM_BATCHED_SEEDS", 100))
PG_URL = postgres_url() or ""  # CI=true or DRSCHED_TEST_PG_URL (tests/support/databases.py)
SEEDS = int(os.environ.get("DRSCHED_SIM_SEEDS", DEFAULT_SEEDS))
PENDING = "bugs of issue 10 not merged yet"
#: seed → the bugs it finds on the current main (``python -m tests.sim --seed S``).
KNOWN_FAILING: dict[int, str] = {}


#: Seeds beyond the default range that once failed, kept as regressions: seed → what it found.
REGRESSIONS: dict[int, str] = {
    109: "a restart past the end re-spread overdue restores over a whole new stagger",
    548: "harness: a restore to the value a narrowed range stranded a unit at was a DR setpoint",
    595: "pre-conditioning: a unit at its DR setpoint past its allowance (issue 15)",
    1235: "harness: a start-up failing with a task group of database errors (exit 3, restarted)",
    1392: "harness: a window in which every DR call failed left no chance to see it active",
    1605: "pre-conditioning: control not started in a window after a transient error",
    1818: "pre-conditioning: a DR setpoint sent before the DR service ran the event",
    2467: "harness: a range narrowed past the occupant's last value, not past every value it had",
    7264: "harness: a DR service 10 min late never said active in a 5-min window: no chance",
    7280: "harness: a restore to a stranded value sent again after its answer was lost",
    7661: "a restart after a cancel re-spread overdue restores over a whole new stagger",
}
#: The same with the store's batches in one transaction (``--batched``).
BATCHED_REGRESSIONS: dict[int, str] = {
    1198: "a write failing after a pre-conditioning claim left a unit held, never controlled",
}
#: The same in the bigger worlds of ``--long`` (5-50 events, 8 h).
LONG_REGRESSIONS: dict[int, str] = {
    20168: "harness: a restore to a stranded value after the occupant had moved the unit",
    20186: "a start's answer unwritten, its resync's write failing: no restore until a restart",
}
#: The same on PostgreSQL, where an admin's apply races the daemon's tick (tests/sim/race.py).
PG_REGRESSIONS: dict[int, str] = {
    2: "bug 9: the admin's change meets the daemon's submission inside the apply's transaction",
    174: "harness: a removal inside the tick while a racing change of the same event was held",
}


def _params() -> list[object]:
    params: list[object] = []
    for seed in [*range(SEEDS), *(s for s in REGRESSIONS if s >= SEEDS)]:
        bug = KNOWN_FAILING.get(seed)
        marks = [pytest.mark.xfail(strict=True, reason=f"{PENDING}: {bug}")] if bug else []
        params.append(pytest.param(seed, False, False, marks=marks, id=f"seed{seed}"))
    batched = [*range(BATCHED_SEEDS), *(s for s in BATCHED_REGRESSIONS if s >= BATCHED_SEEDS)]
    params += [pytest.param(s, True, False, id=f"seed{s}-batched") for s in batched]
    params += [pytest.param(s, False, True, id=f"seed{s}-long") for s in LONG_REGRESSIONS]
    return params


@pytest.fixture(scope="session")
def seed_verdicts(
    request: pytest.FixtureRequest,
) -> Iterator[dict[tuple[int, bool, bool], Future[Verdict]]]:
    """Every selected seed, queued on one worker per core in the order the tests will run.

    Each seed test then waits for its own seed only (its timeout stays its own).
    """
    wanted = [
        (seed, batched, long)
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.originalname == _SEED_TEST
        if isinstance(seed := item.callspec.params["seed"], int)
        if isinstance(batched := item.callspec.params["batched"], bool)
        if isinstance(long := item.callspec.params["long"], bool)
    ]
    with pool(max(1, min(default_jobs(), len(wanted)))) as executor:
        futures: dict[tuple[int, bool, bool], Future[Verdict]] = {}
        for batched, long in dict.fromkeys((b, g) for _, b, g in wanted):  # each mode once
            seeds = [seed for seed, b, g in wanted if b is batched and g is long]
            queued = submit(executor, seeds, long=long, batched=batched)
            futures.update(((seed, batched, long), f) for seed, f in queued.items())
        yield futures
        executor.shutdown(cancel_futures=True)


_SEED_TEST = "test_seed_keeps_every_invariant"


@pytest.mark.parametrize(("seed", "batched", "long"), _params())
def test_seed_keeps_every_invariant(
    seed: int,
    batched: bool,
    long: bool,
    seed_verdicts: dict[tuple[int, bool, bool], Future[Verdict]],
) -> None:
    verdict = seed_verdicts[(seed, batched, long)].result()
    assert verdict.ok, verdict.report + "\nfound: " + "; ".join(verdict.findings)


async def test_a_seed_replays_exactly() -> None:
    """The same seed twice: the same trace, the same calls at the simulator, the same verdict."""
    world = generate(5)
    first = await run_seed(world)
    second = await run_seed(generate(5))
    assert first.trace == second.trace
    assert [str(v) for v in first.violations] == [str(v) for v in second.violations]
    assert first.steps == second.steps > 100


@pytest.mark.skipif(not PG_URL, reason=PG_HINT)
@pytest.mark.parametrize("seed", sorted(PG_REGRESSIONS), ids=lambda seed: f"seed{seed}")
async def test_a_plan_apply_races_a_tick_on_postgres(seed: int) -> None:
    """On PostgreSQL an admin's change meets the daemon's tick inside the apply's transaction."""
    url, drop = fresh_database(PG_URL, seed)
    try:
        result = await run_seed(generate(seed), url)
    finally:
        drop()
    assert result.ok, "\n".join(result.summary())
    assert any("its apply raced a tick: the tick waited for its lock" in t for t in result.trace)


def test_worlds_differ_by_seed_and_cover_the_generator() -> None:
    worlds = [generate(seed) for seed in range(200)]
    assert len({tuple(w.describe()) for w in worlds}) == 200
    kinds = {a.kind for w in worlds for a in w.actions} | {f.kind for w in worlds for f in w.faults}
    assert kinds >= {
        "change", "remove", "cancel", "remote_cancel", "occupant", "narrow_range",
        "remove_facility", "expire_tokens", "crash", "dr_5xx", "dr_timeout", "dr_lost",
        "becon_5xx", "becon_timeout", "becon_lost", "db_write", "gateway_unreadable", "dr_lag",
    }  # fmt: skip  # the generator's kinds, several a line
    assert any(e.event_id.endswith("-r2") for w in worlds for e in w.events)
    # Aimed at the HVAC start (bug 7) and at the daemon's moves (bug 9).
    targets = {f.target for w in worlds for f in w.faults}
    assert targets >= {"control.claim", "PUT"}
    races = {a.kind for w in worlds for a in w.actions if "race" in a.arg}
    assert races == {"change", "remove"}
    assert all(5 <= len([e for e in w.events if "-r" not in e.event_id]) <= 50 for w in worlds)
