"""What goes wrong, and when: a seeded schedule of kills and faults.

Everything is drawn from one ``random.Random(seed)`` before the run starts,
so a seed names one schedule (printed in every report): a failure found by
the soak script is replayed with ``--seed``. Real time still decides what
the daemon is doing at each kill, so a replay hits the same instants, not
necessarily the same lines of code.

Kills (:class:`Kill`): 1.5-5 s after the daemon said READY (a third of
them aimed just after a submission instant), one in five in the middle of
a start-up instead (never two in a row), each followed by a down time of
0-1.5 s; none after the last window ends, so the final completions are
observed by a living daemon.

Every delay here is a quiet machine's: the scenario's pace (``Timing.s``)
stretches it, so a slower machine's daemon is up for the same share of the run.

Faults (``faulty=True``): the DR simulator answers 20 % of calls 500, lets
5 % hang before and 5 % after handling them (the answer is lost), adds
500 ms latency spikes, expires every BECON token inside active windows, and
(PostgreSQL) takes the database away for a moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

from tests.support.crash.scenario import Kind, Scenario


class FaultKind(StrEnum):
    LATENCY_ON = "latency-on"
    LATENCY_OFF = "latency-off"
    EXPIRE_TOKENS = "expire-tokens"
    DB_DOWN = "db-down"
    DB_UP = "db-up"


@dataclass(frozen=True)
class Step:
    at_s: float  # offset from the scenario's t0
    what: FaultKind


#: The DR simulator's steady faults in the faulty run (``POST /_sim/faults``).
STEADY_FAULTS = {
    "fail_rate": 0.2,
    "timeout_rate": 0.05,
    "timeout_after_rate": 0.05,
    "timeout_hang_s": 3.0,
}
#: The daemon's DR client under faults: give up on a hung call after 1 s, and
#: bound its retries so one call does not hold a tick for long.
FAULTY_DAEMON_ENV = {
    "DRSCHED_DR_API__TIMEOUT": "1s",
    "DRSCHED_DR_API__RETRY_TOTAL": "4s",
    "DRSCHED_BECON__TIMEOUT": "1s",
}
LATENCY_SPIKE_MS = 500.0


def steady_faults(factor: float) -> dict[str, float]:
    """:data:`STEADY_FAULTS` at a pace: a hang stays longer than the daemon's timeout."""
    return {**STEADY_FAULTS, "timeout_hang_s": STEADY_FAULTS["timeout_hang_s"] * factor}


def faulty_daemon_env(factor: float) -> dict[str, str]:
    """:data:`FAULTY_DAEMON_ENV` at a pace (a loaded machine answers slower, not wrongly)."""
    return {key: f"{float(value[:-1]) * factor:g}s" for key, value in FAULTY_DAEMON_ENV.items()}


@dataclass(frozen=True)
class Kill:
    """One SIGKILL, placed relative to the daemon's life rather than to the clock.

    A restart costs 2-3 s of start-up (imports, schema, plan, reconcile), more
    on a loaded machine: killing on a fixed clock could keep the daemon from
    ever getting past it. So an ordinary kill comes ``after`` seconds after
    the daemon said READY; a start-up kill comes ``after`` seconds after the
    restart, in the middle of start-up (plan apply, reconcile of open intents).
    """

    after: float
    down: float  # how long the daemon stays dead before its restart
    during_startup: bool = False
    #: Aim instead at the first submission instant in the up time, this long
    #: after it (the POST and its intent rows are the riskiest code).
    aim: float | None = None

    def describe(self) -> str:
        when = "start-up" if self.during_startup else "up"
        aim = f" or submit+{self.aim:.2f}" if self.aim is not None else ""
        return f"{when}+{self.after:.1f}s{aim} down {self.down:.1f}s"


@dataclass(frozen=True)
class Chaos:
    seed: int
    kills: tuple[Kill, ...]
    faults: tuple[Step, ...] = field(default=())
    faulty: bool = False

    @classmethod
    def draw(
        cls, scenario: Scenario, seed: int, *, faulty: bool = False, db_restarts: bool = False
    ) -> Chaos:
        rng = random.Random(seed)
        kills = _kills(scenario, rng)
        steps: list[Step] = []
        if faulty:
            steps += _latency_spikes(scenario, rng)
            steps += _token_expiries(scenario, rng)
            if db_restarts:
                steps += _db_outages(scenario, rng)
        return cls(seed, kills, tuple(sorted(steps, key=lambda s: s.at_s)), faulty)

    def describe(self) -> str:
        kills = ", ".join(k.describe() for k in self.kills)
        faults = ", ".join(f"{s.at_s:.1f}s {s.what}" for s in self.faults) or "none"
        return f"seed {self.seed}: kills {kills}; faults: {faults}"


def _kills(scenario: Scenario, rng: random.Random) -> tuple[Kill, ...]:
    """Enough kills to cover the run (the driver stops at the last window's end).

    Every delay is stretched by the scenario's pace (``Timing.s``), so a
    slower machine's daemon is up for the same share of the run.
    """
    pace = scenario.timing.s
    count = int(scenario.last_end_s / pace(2)) + 1
    kills: list[Kill] = []
    for _ in range(count):
        down = round(pace(rng.uniform(0.0, 1.5)), 2)
        startup_before = bool(kills) and kills[-1].during_startup
        if not startup_before and rng.random() < 0.2:
            kills.append(Kill(round(pace(rng.uniform(0.3, 1.5)), 2), down, during_startup=True))
        else:
            aim = round(pace(rng.uniform(0.0, 0.4)), 2) if rng.random() < 0.35 else None
            kills.append(Kill(round(pace(rng.uniform(1.5, 5.0)), 2), down, aim=aim))
    return tuple(kills)


def _latency_spikes(scenario: Scenario, rng: random.Random) -> list[Step]:
    """Four 500 ms latency spikes of 1-3 s each, spread over the run."""
    pace = scenario.timing.s
    steps: list[Step] = []
    span = scenario.last_end_s / 4
    for quarter in range(4):
        on = quarter * span + rng.uniform(0.0, span - pace(3.0))
        steps += [
            Step(round(on, 2), FaultKind.LATENCY_ON),
            Step(round(on + pace(rng.uniform(1.0, 3.0)), 2), FaultKind.LATENCY_OFF),
        ]
    return steps


def _token_expiries(scenario: Scenario, rng: random.Random) -> list[Step]:
    """Every BECON token expires inside the windows of a few normal events."""
    normal = scenario.of(Kind.NORMAL)
    chosen = rng.sample(normal, k=min(4, len(normal)))
    margin = scenario.timing.s(0.5)
    return [
        Step(
            round(e.start_s + rng.uniform(margin, e.duration_s - margin), 2),
            FaultKind.EXPIRE_TOKENS,
        )
        for e in chosen
    ]


def _db_outages(scenario: Scenario, rng: random.Random) -> list[Step]:
    """Three database outages of 1-2.5 s (sessions ended, new ones refused meanwhile)."""
    pace = scenario.timing.s
    steps: list[Step] = []
    span = scenario.last_end_s / 3
    for third in range(3):
        down = third * span + rng.uniform(pace(2.0), span - pace(3.0))
        steps += [
            Step(round(down, 2), FaultKind.DB_DOWN),
            Step(round(down + pace(rng.uniform(1.0, 2.5)), 2), FaultKind.DB_UP),
        ]
    return steps
