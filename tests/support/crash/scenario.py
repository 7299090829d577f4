"""The crash scenario: 20 short DR events, what happens to each, and their plan file.

Times are offsets in seconds from ``t0`` (the harness picks ``t0`` a little
after the daemon's first start). With a submit lead of 12 s and a simulator
standby lead of 3 s every request is ``pending`` for 9 s and ``standby`` for
3 s before its window: long enough for a ``drsched events cancel`` or ``plan
apply`` (1.5 s from the shell to the database on a quiet machine, several
seconds on a loaded one) to land in the status it aims at, restarts and all.
The first two events are inside the lead from the start: submitted at once.

Events overlap in time on *different* VENs only: an overlap on one VEN is a
plan error. Each VEN maps to its own BECON gateway (``hvac_targets``) so
that, once HVAC control runs, no two events drive the same facility.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path


class Kind(StrEnum):
    """What the driver does to an event (and so how it must end)."""

    NORMAL = "normal"  # nothing: completed
    CANCEL_PLANNED = "cancel-planned"  # events cancel before submission
    CANCEL_PENDING = "cancel-pending"  # events cancel once the database says pending
    CANCEL_STANDBY = "cancel-standby"  # events cancel once the DR service says standby
    CANCEL_ACTIVE = "cancel-active"  # events cancel inside the window
    CANCEL_AT_SUBMIT = "cancel-at-submit"  # events cancel racing the submission
    REMOTE_CANCEL = "remote-cancel"  # the DR service cancels it (simulator admin)
    CHANGE_PENDING = "change-pending"  # plan file re-written + plan apply while pending


#: Kinds that end canceled; every other kind ends completed.
CANCELED_KINDS = frozenset(k for k in Kind if k not in (Kind.NORMAL, Kind.CHANGE_PENDING))


@dataclass(frozen=True)
class Timing:
    """The compressed clock of the scenario (real seconds), at a quiet machine's pace.

    ``factor`` stretches every offset, window, lead and delay of the run (the
    scenario's table, the kill schedule, the checks' allowances) by the same
    amount, so on a machine ``factor`` times slower the daemon and the CLI get
    the same share of each window as on a quiet one (:meth:`at_pace`).
    """

    submit_lead: float = 12.0  # DRSCHED_DR_API__SUBMIT_LEAD
    standby_lead: float = 3.0  # SimOptions.standby_lead
    #: How long a CLI call takes from the shell to its database write (measured ~1.5 s).
    cli_latency: float = 1.5
    factor: float = 1.0

    @classmethod
    def at_pace(cls, factor: float) -> Timing:
        """The default timing stretched by ``factor`` (``tests.support.pace.Pace.factor``)."""
        quiet = cls()
        return cls(
            submit_lead=float(round(quiet.submit_lead * factor)),  # a whole daemon setting
            standby_lead=float(round(quiet.standby_lead * factor)),
            cli_latency=quiet.cli_latency * factor,
            factor=factor,
        )

    def s(self, seconds: float) -> float:
        """``seconds`` of the quiet scenario at this timing's pace."""
        return seconds * self.factor

    def whole_s(self, seconds: float) -> float:
        """:meth:`s` in whole seconds: instants of the plan (the DR API has milliseconds)."""
        return float(round(self.s(seconds)))


@dataclass(frozen=True)
class ScenarioEvent:
    number: int
    ven: str
    start_s: float
    duration_s: float
    kind: Kind
    name: str = ""

    @property
    def event_id(self) -> str:
        return f"c{self.number:02d}-{self.kind.value}"

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s

    def bounds_f(self) -> tuple[float, float]:
        """(min_temp, max_temp) in °F of its LOAD_CONTROL signal (varied per event)."""
        low = 70 + self.number % 3
        return float(low), float(low + 8)


#: (number, VEN, start, duration, kind): 20 events, 8 VENs, last window ends at 52 s
#: (at a quiet machine's pace: :meth:`Timing.s` stretches them).
TABLE: tuple[tuple[int, str, float, float, Kind], ...] = (
    (1, "CE-01", 12, 4, Kind.NORMAL),
    (2, "CE-02", 12, 5, Kind.NORMAL),
    (3, "CE-03", 14, 4, Kind.NORMAL),
    (4, "CE-04", 44, 4, Kind.CANCEL_PLANNED),
    (5, "CE-05", 16, 4, Kind.CANCEL_PENDING),
    (6, "CE-06", 26, 4, Kind.CANCEL_PENDING),
    (7, "CE-07", 20, 5, Kind.CANCEL_STANDBY),
    (8, "CE-08", 22, 6, Kind.CANCEL_ACTIVE),
    (9, "CE-01", 30, 4, Kind.CANCEL_AT_SUBMIT),
    (10, "CE-02", 26, 6, Kind.REMOTE_CANCEL),
    (11, "CE-03", 36, 4, Kind.CHANGE_PENDING),
    (12, "CE-04", 18, 4, Kind.NORMAL),
    (13, "CE-05", 24, 4, Kind.NORMAL),
    (14, "CE-06", 34, 5, Kind.NORMAL),
    (15, "CE-07", 30, 4, Kind.NORMAL),
    (16, "CE-08", 32, 4, Kind.NORMAL),
    (17, "CE-01", 40, 4, Kind.NORMAL),
    (18, "CE-02", 40, 5, Kind.NORMAL),
    (19, "CE-05", 44, 6, Kind.NORMAL),
    (20, "CE-06", 48, 4, Kind.NORMAL),
)

VENS = tuple(sorted({row[1] for row in TABLE}))

HEADER = """\
timezone: UTC
defaults:
  vtn_id: vtn01
events:
"""

EVENT = """\
  - id: {event_id}
    name: {name}
    start: "{start}"
    end: "{end}"
    targets: [{{ven: {ven}}}]
    signals:
      - name: LOAD_CONTROL
        targets: [x-DEVICE_AIR_CONDITIONER]
        min_temp: {min_temp:g}
        max_temp: {max_temp:g}
        temp_offset: 4
        unit: F
"""


@dataclass(frozen=True)
class Scenario:
    t0: datetime
    events: tuple[ScenarioEvent, ...]
    timing: Timing = Timing()

    @classmethod
    def build(cls, t0: datetime, timing: Timing | None = None) -> Scenario:
        timing = timing or Timing()
        events = tuple(
            ScenarioEvent(
                n,
                ven,
                timing.whole_s(start),
                timing.whole_s(duration),
                kind,
                f"crash scenario {kind.value}",
            )
            for n, ven, start, duration, kind in TABLE
        )
        return cls(t0.replace(microsecond=0), events, timing)

    def at(self, offset_s: float) -> datetime:
        return self.t0 + timedelta(seconds=offset_s)

    def by_id(self, event_id: str) -> ScenarioEvent:
        return next(e for e in self.events if e.event_id == event_id)

    def of(self, kind: Kind) -> list[ScenarioEvent]:
        return [e for e in self.events if e.kind == kind]

    @property
    def last_end_s(self) -> float:
        return max(e.end_s for e in self.events)

    def submit_s(self, event: ScenarioEvent) -> float:
        return event.start_s - self.timing.submit_lead

    def changed(self) -> Scenario:
        """The plan after the change-while-pending: new name, window one second longer."""
        longer = self.timing.whole_s(1.0)
        events = tuple(
            replace(e, name="changed while pending", duration_s=e.duration_s + longer)
            if e.kind == Kind.CHANGE_PENDING
            else e
            for e in self.events
        )
        return replace(self, events=events)

    def plan_text(self) -> str:
        parts = [HEADER]
        for e in self.events:
            low, high = e.bounds_f()
            parts.append(
                EVENT.format(
                    event_id=e.event_id,
                    name=e.name,
                    start=self.at(e.start_s).isoformat(),
                    end=self.at(e.end_s).isoformat(),
                    ven=e.ven,
                    min_temp=low,
                    max_temp=high,
                )
            )
        return "".join(parts)

    def write_plan(self, path: Path) -> None:
        """Write atomically: the daemon may re-read the file at any moment (start-up)."""
        partial = path.with_suffix(".partial")
        partial.write_text(self.plan_text())
        partial.replace(path)


def hvac_targets() -> str:
    """``hvac.targets`` as a YAML flow list: VEN ``CE-0k`` drives gateway ``GW-0k``."""
    items = [
        f"{{ven: {ven}, site: S001, gateway: GW-{ven[-2:]}, types: [IDU, AHU, AWHP, CHILLER]}}"
        for ven in VENS
    ]
    return "[" + ", ".join(items) + "]"
