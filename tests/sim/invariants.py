"""The invariants, checked after every step from the fakes' own records.

The BECON simulator's control log (every PUT with what it carried), the DR
simulator's call log and requests, the facilities' real state, and the
database as ``drsched events``/``hvac status`` read it. The checker knows the
ground truth the daemon does not: which values are the occupants' own (a
control that sets one is a restore), which events map each facility, when an
admin's cancel was recorded, when the daemon was down or a fault blocked it.

A control is a *DR setpoint* when its value is not one the occupant ever
set. It must belong to an event that maps the facility, whose window at the
DR service contains the instant, whose cancel was not recorded at an earlier
step, and whose bounds it respects. A pre-conditioning setpoint (issue 15)
may come in ``[start − duration, start)`` instead, within the event's bounds
and no further than its offset from the facility's original.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.clock import from_epoch
from scheduler.domain.control_records import HELD, OPEN
from scheduler.domain.events import PlanEvent, TempUnit
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.lifecycle import Status
from scheduler.domain.targets import covers
from scheduler.domain.units import convert_difference, convert_temperature, exact
from scheduler.hvac.mapping import targets_for
from scheduler.simulator.app import Simulator
from scheduler.store.control import FacilityControlRow
from scheduler.store.daemon import DaemonStore
from scheduler.store.models import EventRow, IntentRow
from tests.sim.reads import Writes
from tests.sim.world import World

#: The longest a failed restore waits before its one retry (``Settings.retry_cap``).
RETRY_INTERVAL = timedelta(minutes=1)
_RANK = {
    "setpoint within the event's bounds": 0,
    "nothing sent after cancel": 1,
    "DR setpoint outside the window": 2,
}
#: The engine's reason for stopping HVAC control when the window is over.
WINDOW_ENDED = "window ended"
BLOCKING = ("becon_5xx", "becon_timeout", "becon_lost", "db_write", "gateway_unreadable")
#: DR faults that fail every call: no poll can see ``active``, and HVAC control starts only
#: on that (never on the clock alone: the event may have been canceled). They block a
#: start, not a restore.
DR_BLOCKING = ("dr_5xx", "dr_timeout", "dr_lost")


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Violation(Exception):  # a finding, named for what it is
    """An invariant broken: ``name`` is the invariant, the message says where."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(_UUID.sub("<uuid>", f"{name}: {message}"))


@dataclass
class Truth:
    """What the world knows and the daemon may not (kept by the simulation as it goes)."""

    #: Every revision of each event the admin applied (the plan's history).
    revisions: dict[str, list[PlanEvent]] = field(default_factory=lambda: defaultdict(list))
    #: The step at which an admin's cancel (or a removal) was recorded, per event.
    canceled_at_step: dict[str, int] = field(default_factory=dict)
    canceled_at: dict[str, datetime] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    #: Values (in the facility's unit) the occupant set: controls to them are restores.
    occupant: dict[FacilityKey, set[Fraction]] = field(default_factory=lambda: defaultdict(set))
    units: dict[FacilityKey, TempUnit] = field(default_factory=dict)
    #: The value each facility rests at when no event holds it: the occupant's last one
    #: (or where a narrowed range stranded it): what a restore must put back.
    resting: dict[FacilityKey, Fraction] = field(default_factory=dict)
    #: Facilities whose restore cannot succeed any more (removed, or original out of range).
    exempt: set[FacilityKey] = field(default_factory=set)
    #: The setpoint a facility showed when the world narrowed its range past every
    #: occupant value: the only original a later event can find and put back.
    stranded: dict[FacilityKey, Fraction] = field(default_factory=dict)
    down: list[tuple[datetime, datetime]] = field(default_factory=list)
    #: Every request body the DR service ever stored, by requestID.
    archive: dict[str, dict[str, Any]] = field(default_factory=dict)


class Checker:
    def __init__(
        self, world: World, sim: Simulator, store: DaemonStore, truth: Truth, writes: Writes
    ) -> None:
        self.world = world
        self.writes = writes
        self._rows_cached: tuple[int, dict[str, Any]] | None = None
        self.sim = sim
        self.store = store
        self.truth = truth
        self.step = 0
        self.trace: list[str] = []
        self._controls_seen = 0
        self._calls_seen = 0
        self._created: set[str] = set()
        #: Facility → (events whose DR setpoint it holds, when) from successful controls.
        self._holding: dict[FacilityKey, tuple[list[str], datetime]] = {}
        #: Stranded facilities an event took since (a DR setpoint other than the stranded one).
        self._retaken: set[FacilityKey] = set()
        #: Stranded facilities put back where they were stranded, nothing landed since: the
        #: same PUT again (its first answer lost, then sent again) is that restore (seed 7280).
        self._put_back: set[FacilityKey] = set()
        self._remote_canceled_step: dict[str, int] = {}
        #: The first violation of each invariant, in the order found (the run goes on).
        self.found: dict[str, Violation] = {}

    def note(self, violation: Violation) -> None:
        if violation.name not in self.found:
            self.found[violation.name] = violation
            self.trace.append(_UUID.sub("<uuid>", f"  VIOLATION {violation}"))

    # -- after every step ------------------------------------------------------

    def after_step(self, now: datetime) -> None:
        self.step += 1
        rows = self._rows()
        self._note_cancels(rows)
        controls = bool(self.sim.becon and len(self.sim.becon.controls) > self._controls_seen)
        for check in (
            lambda: self._check_dr_calls(rows),
            lambda: self._check_controls(now),
            lambda: controls and self._check_one_holder(),
            lambda: self._check_left_at_dr(now),
            lambda: self._check_owners(rows),
        ):
            try:
                check()
            except Violation as violation:
                self.note(violation)

    def _rows(self) -> dict[str, Any]:
        """Each event's row (status, request id, window): read once per database version."""
        version = self.writes.version
        if self._rows_cached is None or self._rows_cached[0] != version:
            self._rows_cached = (version, self._read_rows())
        return dict(self._rows_cached[1])

    def _read_rows(self) -> dict[str, Any]:
        query = select(
            EventRow.event_id, EventRow.status, EventRow.request_id, EventRow.start, EventRow.end
        )
        with Session(self.store.engine) as session:
            return {
                e: _Row(Status(s), r, _utc(a), _utc(b)) for e, s, r, a, b in session.execute(query)
            }

    def _note_cancels(self, rows: dict[str, Any]) -> None:
        for event_id, row in rows.items():
            if row.status == Status.CANCELED and event_id not in self._remote_canceled_step:
                self._remote_canceled_step[event_id] = self.step

    def _cancel_step(self, event_id: str) -> int | None:
        steps = [
            s
            for s in (
                self.truth.canceled_at_step.get(event_id),
                self._remote_canceled_step.get(event_id),
            )
            if s is not None
        ]
        return min(steps, default=None)

    def _check_dr_calls(self, rows: dict[str, Any]) -> None:
        calls = self.sim.dr.calls[self._calls_seen :]
        self._calls_seen += len(calls)
        for call in calls:
            rid = call["request_id"]
            if call["method"] != "POST" or rid is None:
                continue
            if rid in self._created:
                raise Violation("requestID POSTed twice", f"POST {rid} again ({call})")
            if call["status"] == 200:
                self._created.add(rid)
            for event_id in self._owners_of(rid, rows):
                step = self._cancel_step(event_id)
                if step is not None and step < self.step:
                    raise Violation(
                        "nothing sent after cancel",
                        f"POST {rid} for event {event_id} after its cancel (step {step})",
                    )

    def _owners_of(self, rid: str, rows: dict[str, Any]) -> list[str]:
        """The events ``rid`` is (or may be) the request of."""
        owners = {e for e, r in rows.items() if r.request_id == rid}
        if not owners:
            owners = {
                e
                for e in self.truth.revisions
                if rid == e or re.fullmatch(rf"{re.escape(e)}-r\d+", rid)
            }
        return sorted(owners)

    def _dr_windows(self, event_id: str) -> list[tuple[datetime, datetime]]:
        pattern = re.compile(rf"{re.escape(event_id)}(-r\d+)?")
        return [
            (from_epoch(b["startTs"]), from_epoch(b["endTs"]))
            for rid, b in self.truth.archive.items()
            if pattern.fullmatch(rid)
        ]

    def _check_controls(self, now: datetime) -> None:
        puts = self.sim.becon.controls[self._controls_seen :] if self.sim.becon else []
        self._controls_seen += len(puts)
        for put in puts:
            results = {r.get("facilityId"): r.get("result") for r in put["results"]}
            for control in put["controls"] or []:
                if "setTemp" not in control:
                    continue
                key = FacilityKey(
                    put["site"], put["gateway"], put["facility_type"], control["facilityId"]
                )
                unit = self.truth.units[key]
                value = convert_temperature(
                    control["setTemp"], TempUnit(control.get("unit") or unit), unit
                )
                ok = results.get(control["facilityId"]) == "success"
                stranded = self.truth.stranded.get(key)
                # Putting a stranded facility back where it was stranded is a restore once it
                # moved away: an event took it, or the occupant set it elsewhere after an event
                # had read the stranded value as its original (seed 20168, --long).
                back = (
                    key in self._retaken
                    or key in self._put_back
                    or self.truth.resting.get(key) != stranded
                )
                if value in self.truth.occupant[key] or (value == stranded and back):
                    if ok:
                        self._holding.pop(key, None)
                        self._retaken.discard(key)
                        if value == stranded:
                            self._put_back.add(key)
                        else:
                            self._put_back.discard(key)
                    continue
                if ok:
                    self._put_back.discard(key)
                try:
                    owners = self._dr_owner(key, value, unit, now)
                except Violation as violation:
                    self.note(violation)
                    continue
                if ok:
                    self._holding[key] = (owners, now)
                    if stranded is not None and value != stranded:
                        self._retaken.add(key)

    def _dr_owner(
        self, key: FacilityKey, value: Fraction, unit: TempUnit, now: datetime
    ) -> list[str]:
        """The events a DR setpoint may belong to; a Violation if none may."""
        problems = []
        fine = []
        for event_id, revisions in sorted(self.truth.revisions.items()):
            if not any(
                r.load_control() and any(covers(t, key) for t in targets_for(r, self.world.targets))
                for r in revisions
            ):
                continue
            windows = self._dr_windows(event_id)
            step = self._cancel_step(event_id)
            in_bounds = any(_within(value, unit, r) for r in revisions if r.load_control())
            in_window = any(s <= now < e for s, e in windows) or self._pre_conditioning(
                revisions, windows, key, value, unit, now
            )
            if not in_window:
                problems.append(("DR setpoint outside the window", event_id, _windows(windows)))
            elif step is not None and step < self.step:
                problems.append(("nothing sent after cancel", event_id, f"cancel at step {step}"))
            elif not in_bounds:
                problems.append(
                    ("setpoint within the event's bounds", event_id, _bounds(revisions))
                )
            else:
                fine.append(event_id)
        if fine:
            return fine
        shown = f"{float(value)} {unit} to {key} at {now.isoformat()}"
        if not problems:
            raise Violation("DR setpoint of no event", f"{shown}: no event maps this facility")
        # The nearest miss names the invariant: bounds, then cancel, then window.
        problems.sort(key=lambda p: _RANK[p[0]])
        name, event_id, why = problems[0]
        others = "; ".join(f"{e}: {n} {w}" for n, e, w in problems[1:])
        raise Violation(
            name, f"{shown} for {event_id} ({why}){'; also ' + others if others else ''}"
        )

    def _pre_conditioning(
        self,
        revisions: list[PlanEvent],
        windows: list[tuple[datetime, datetime]],
        key: FacilityKey,
        value: Fraction,
        unit: TempUnit,
        now: datetime,
    ) -> bool:
        """A pre-conditioning setpoint (issue 15), not a DR setpoint of the window.

        Sent in ``[start − duration, start)`` of a window the DR service runs,
        inside the event's bounds, and no further than ``offset`` from a value
        the facility rested at (an occupant's, or where a narrowed range
        stranded it): the original it was decided from.
        """
        rested = set(self.truth.occupant[key])
        stranded = self.truth.stranded.get(key)
        if stranded is not None:
            rested.add(stranded)
        for event in revisions:
            pre = event.shaping.pre_condition if event.shaping is not None else None
            if pre is None or not _within(value, unit, event):
                continue
            if not any(s - pre.duration <= now < s for s, _ in windows):
                continue
            reach = convert_difference(pre.offset, pre.unit, unit)
            if any(abs(value - original) <= reach for original in rested):
                return True
        return False

    def _check_one_holder(self) -> None:
        query = select(
            FacilityControlRow.event_id,
            FacilityControlRow.site,
            FacilityControlRow.gateway,
            FacilityControlRow.facility_id,
        ).where(FacilityControlRow.state.in_([s.value for s in HELD]))
        holders: dict[tuple[str, str, str], str] = {}
        with Session(self.store.engine) as session:
            for event_id, site, gateway, facility in session.execute(query):
                other = holders.setdefault((site, gateway, facility), event_id)
                if other != event_id:
                    raise Violation(
                        "one event per facility",
                        f"{site}/{gateway}/{facility} held by {other} and {event_id}",
                    )

    def _check_left_at_dr(self, now: datetime) -> None:
        if self.sim.becon is None:
            return
        for facility in self.sim.becon.inventory.all_facilities():
            key = FacilityKey(
                facility.site, facility.gateway, facility.facility_type, facility.facility_id
            )
            if facility.set_temp is None or key in self.truth.exempt:
                continue
            if exact(facility.set_temp) in self.truth.occupant[key]:
                continue
            held = self._holding.get(key)
            if held is None:
                continue
            deadline = self._deadline(held[0], key)
            if now > deadline:
                raise Violation(
                    "no facility left at a DR setpoint",
                    f"{key} at {facility.set_temp} {facility.unit} (events {held[0]}) at "
                    f"{now.isoformat()}, past {deadline.isoformat()}",
                )

    def _deadline(self, events: list[str], key: FacilityKey) -> datetime:
        """end (or cancel) + restore_stagger + one retry, plus the time the daemon was blocked."""
        from tests.sim.daemon import RESTORE_STAGGER

        ends = []
        for event_id in events:
            windows = self._dr_windows(event_id)
            cancel = self.truth.canceled_at.get(event_id)
            end = min([max(e for _, e in windows)] + ([cancel] if cancel else []))
            ends.append(end)
        base = max(ends)
        deadline: datetime = base + RESTORE_STAGGER + RETRY_INTERVAL
        for start, end in sorted(self._blocked(key)):
            if end > base and start < deadline:
                deadline += end - max(start, base)
        return deadline

    def _blocked(self, key: FacilityKey, *, start: bool = False) -> list[tuple[datetime, datetime]]:
        """When the daemon could not act on ``key`` (``start``: nor start its control)."""
        gateway = f"{key.site}/{key.gateway}"
        blocked = list(self.truth.down)
        blocked += [
            (f.start, f.end)
            for f in self.world.faults
            if f.kind in BLOCKING
            and (f.kind != "gateway_unreadable" or f.target == gateway)
            and not f.count  # a transient error: the very next call may succeed
        ]
        if start:
            blocked += [
                (f.start, f.end)
                for f in self.world.faults
                if f.kind in DR_BLOCKING and f.rate >= 1.0 and not f.count
            ]
        return blocked

    def _not_yet_active(self, start: datetime) -> list[tuple[datetime, datetime]]:
        """When the DR service, its statuses late (``dr_lag``), still reports a window not begun.

        Control starts only when a poll sees ``active`` (seed 7264: a 10-minute lag over
        a 5-minute window: the service said ``active`` only after the window).
        """
        return [
            (max(f.start, start), min(f.end, start + f.lag))
            for f in self.world.faults
            if f.kind == "dr_lag" and f.start < start + f.lag and f.end > start
        ]

    def _check_owners(self, rows: dict[str, Any]) -> None:
        owners: dict[str, list[str]] = defaultdict(list)
        for event_id, row in rows.items():
            if row.request_id:
                owners[row.request_id].append(event_id)
        for rid, events in owners.items():
            if len(events) > 1 and rid in self.sim.dr.requests:
                raise Violation("no request owned by two events", f"{rid} owned by {events}")

    # -- at the end ------------------------------------------------------------

    def at_end(self, now: datetime) -> None:
        for check in (
            self._check_terminal,
            self._check_open,
            self._check_started,
            self._check_timelines,
        ):
            try:
                check(now)
            except Violation as violation:
                self.note(violation)

    def _check_terminal(self, now: datetime) -> None:
        rows = self._rows()
        for event_id, row in rows.items():
            if not row.status.is_terminal:
                raise Violation("every event terminal at the end", f"{event_id} is {row.status}")
        self._check_agreement(rows, now)

    def _check_started(self, now: datetime) -> None:
        """Control is not lost: a facility skipped as "not started" had no chance to start.

        The window must have been blocked (daemon down, BECON or database
        faults) all but ``RETRY_INTERVAL`` of its length; else the daemon
        dropped control it should have taken (a liveness invariant). Skipped
        as "the window ended before control started" (the controller's own
        end) in any event; skipped "not started" by the engine's stop at the
        window's end (issue 10 bug 7: a start that failed and was never tried
        again) in an event that completed without a cancel.
        """
        query = select(
            FacilityControlRow.event_id,
            FacilityControlRow.site,
            FacilityControlRow.gateway,
            FacilityControlRow.facility_type,
            FacilityControlRow.facility_id,
            FacilityControlRow.detail,
        ).where(FacilityControlRow.detail.like("%not started%"))
        with Session(self.store.engine) as session:
            skipped = list(session.execute(query))
        rows = self._rows()
        for event_id, site, gateway, ftype, facility, detail in skipped:
            windows = self._dr_windows(event_id)
            if not windows or event_id in self.truth.canceled_at:
                continue
            row = rows.get(event_id)
            completed = row is not None and row.status == Status.COMPLETED
            if "the window ended before control started" not in detail and not (
                completed and detail == f"not started: {WINDOW_ENDED}"
            ):
                continue
            start, end = max(windows)
            key = FacilityKey(site, gateway, ftype, facility)
            blocked = self._blocked(key, start=True) + self._not_yet_active(start)
            free = _free_time(start, end, blocked)
            if free > RETRY_INTERVAL * 2:
                raise Violation(
                    "HVAC control started in the window",
                    f"{event_id} never controlled {key} ({detail}) though the daemon could act "
                    f"for {free} of its window [{start:%H:%M:%S}, {end:%H:%M:%S})",
                )

    def _check_timelines(self, now: datetime) -> None:
        """Every line of an event's timeline starts from the status the one before it left.

        A write decided from a status that moved meanwhile breaks the chain
        (issue 10 bug 9: a plan change noted at ``pending`` after the move to
        ``standby``).
        """
        for event_id in sorted(self._rows()):
            timeline = self.store.timeline(event_id)
            for before, after in itertools.pairwise(timeline):
                if after.from_status != before.to_status:
                    raise Violation(
                        "every timeline is a chain",
                        f"{event_id}: {before.from_status}->{before.to_status} "
                        f"({before.detail}) then {after.from_status}->{after.to_status} "
                        f"({after.detail})",
                    )

    def _check_open(self, now: datetime) -> None:
        with Session(self.store.engine) as session:
            intents = session.scalars(select(IntentRow).where(IntentRow.outcome.is_(None))).all()
            records = session.scalars(
                select(FacilityControlRow).where(
                    FacilityControlRow.state.in_([s.value for s in OPEN])
                )
            ).all()
        if intents:
            shown = [(i.event_id, i.kind, i.request_id) for i in intents]
            raise Violation("no open intent at the end", f"open DR intents {shown}")
        if records:
            shown = [(r.event_id, r.facility_id, r.state, r.detail) for r in records]
            raise Violation("no open intent at the end", f"open control records {shown}")

    def _check_agreement(self, rows: dict[str, Any], now: datetime) -> None:
        dr = self.sim.dr
        owned = {r.request_id for r in rows.values() if r.request_id}
        for rid, stored in dr.requests.items():
            if rid not in owned:
                raise Violation(
                    "no request no local event owns",
                    f"{rid} ({dr.summary(stored)['status_name']}) has no local event",
                )
        for event_id, row in rows.items():
            stored = dr.requests.get(row.request_id or "")
            remote = None if stored is None else stored.status(now, dr.options)
            timeline = self.store.timeline(event_id)
            local_cancel = any("canceled locally" in t.detail for t in timeline)
            agree = {
                Status.COMPLETED: remote == 3,
                Status.CANCELED: remote in (None, 9) or (local_cancel and remote == 3),
                Status.FAILED: remote is None or not _same_window(stored.body, row),
            }.get(row.status, False)
            if not agree:
                raise Violation(
                    "events agree with the DR service",
                    f"{event_id} is {row.status} locally, request {row.request_id} is "
                    f"{remote} at the DR service",
                )


@dataclass(frozen=True)
class _Row:
    status: Status
    request_id: str | None
    start: datetime
    end: datetime


def _utc(instant: datetime) -> datetime:
    """SQLite gives naive datetimes back; they are UTC."""
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _free_time(
    start: datetime, end: datetime, blocked: list[tuple[datetime, datetime]]
) -> timedelta:
    """How much of [start, end) no blocked interval covers."""
    free = timedelta(0)
    cursor = start
    for a, b in sorted(blocked):
        if b <= cursor or a >= end:
            continue
        if a > cursor:
            free += a - cursor
        cursor = max(cursor, b)
    return free + max(end - cursor, timedelta(0))


def _windows(windows: list[tuple[datetime, datetime]]) -> str:
    return (
        ", ".join(f"[{a:%H:%M:%S}, {b:%H:%M:%S})" for a, b in windows) or "never at the DR service"
    )


def _same_window(body: dict[str, Any], row: Any) -> bool:
    return bool(from_epoch(body["startTs"]) == row.start and from_epoch(body["endTs"]) == row.end)


def _within(value: Fraction, unit: TempUnit, event: PlanEvent) -> bool:
    signal = event.load_control()
    if signal is None or signal.unit is None:
        return False
    low = signal.min_temp
    high = signal.max_temp
    if low is not None and value < convert_temperature(low, signal.unit, unit):
        return False
    return not (high is not None and value > convert_temperature(high, signal.unit, unit))


def _bounds(revisions: list[PlanEvent]) -> list[str]:
    shown = []
    for event in revisions:
        signal = event.load_control()
        if signal is not None:
            shown.append(f"[{signal.min_temp}, {signal.max_temp}] {signal.unit}")
    return shown
