"""A seeded generator of worlds: the plan, the mapping, the outside world and its fault plan.

A :class:`World` is plain data drawn from one ``random.Random(seed)``: the
same seed gives the same world, so a failing seed replays exactly. Sizes are
small by default (a seed must be cheap); :class:`Size` widens them for the
long run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scheduler.config import HvacTarget
from scheduler.domain.events import EventTarget, PlanEvent, Signal, TempUnit
from scheduler.domain.shaping import PreCondition, Shaping
from tests.support.fakes.hvac import load_control

T0 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
SUBMIT_LEAD = timedelta(hours=1)
SLOT = timedelta(minutes=15)

#: Faults that apply to a share of the calls inside their window.
CALL_FAULTS = (
    "dr_5xx",
    "dr_timeout",
    "dr_lost",
    "becon_5xx",
    "becon_timeout",
    "becon_lost",
    "db_write",
)
#: Admin and outside-world actions, drawn at any instant.
ACTIONS = (
    "change",
    "remove",
    "cancel",
    "remote_cancel",
    "occupant",
    "narrow_range",
    "remove_facility",
    "expire_tokens",
    "crash",
)
#: Drawn with an outage only: the DR service reports the event's end late.
LATE_END = "late_end"


@dataclass(frozen=True)
class Size:
    """How big a world may get (the default keeps one seed around a tenth of a second)."""

    min_events: int = 5
    max_events: int = 6
    hours: int = 2
    actions: int = 8
    faults: int = 4


LONG = Size(min_events=5, max_events=50, hours=8, actions=30, faults=10)


@dataclass(frozen=True)
class Action:
    """Something that happens to the daemon or around it.

    ``after_calls`` 0: between two engine ticks; k > 0: just before the
    daemon's k-th outside call (store write or vendor call) from ``at`` on,
    i.e. in the middle of a tick. ``arg`` is the action's own parameter.
    """

    at: datetime
    kind: str
    target: str
    after_calls: int = 0
    arg: str = ""

    def describe(self) -> str:
        where = f" at call +{self.after_calls}" if self.after_calls else ""
        arg = f" ({self.arg})" if self.arg else ""
        return f"{_rel(self.at)} {self.kind} {self.target}{arg}{where}"


@dataclass(frozen=True)
class Fault:
    """A fault active over ``[start, end)``: ``rate`` of the matching calls fail."""

    start: datetime
    end: datetime
    kind: str  # CALL_FAULTS, "gateway_unreadable" (target "S001/GW-01"), "dr_lag"
    rate: float = 1.0
    target: str = ""
    lag: timedelta = timedelta(0)
    #: More than 0: the fault fails only that many calls (a transient error), then none.
    count: int = 0

    def active(self, now: datetime) -> bool:
        return self.start <= now < self.end

    def describe(self) -> str:
        what = f"lag {self.lag}" if self.kind == "dr_lag" else f"rate {self.rate:.2f}"
        what += f" first {self.count} call(s)" if self.count else ""
        target = f" {self.target}" if self.target else ""
        return f"{_rel(self.start)}..{_rel(self.end)} {self.kind}{target} {what}"


@dataclass(frozen=True)
class World:
    seed: int
    sites: int
    gateways: int
    facilities: int
    targets: tuple[HvacTarget, ...]
    events: tuple[PlanEvent, ...]
    actions: tuple[Action, ...]
    faults: tuple[Fault, ...]
    #: Facility ranges narrowed before the start: (site, gateway, facility id, low, high).
    narrowed: tuple[tuple[str, str, str, float, float], ...] = ()
    token_ttl_s: int = 86400
    end: datetime = field(default=T0)
    #: Store batches run by the store's own ``together`` (one transaction), not one call at
    #: a time: not drawn from the seed, so a seed's world and draws are the same either way.
    batched_store: bool = False

    def describe(self) -> list[str]:
        lines = [
            f"world seed={self.seed}: {self.sites} site(s) x {self.gateways} gateway(s) x "
            f"{self.facilities} facilities, BECON token ttl {self.token_ttl_s}s, "
            f"runs until {_rel(self.end)}"
            + (", store batches in one transaction" if self.batched_store else "")
        ]
        lines += ["mapping:"] + [f"  {_target(t)}" for t in self.targets]
        lines += [f"  narrowed {s}/{g}/{f} to [{lo}, {hi}]" for s, g, f, lo, hi in self.narrowed]
        lines += ["events:"] + [f"  {_event(e)}" for e in self.events]
        lines += ["fault plan:"] + [f"  {f.describe()}" for f in self.faults]
        lines += ["actions:"] + [f"  {a.describe()}" for a in self.actions]
        return lines


def _rel(instant: datetime) -> str:
    seconds = int((instant - T0).total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"T{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"


def _target(target: HvacTarget) -> str:
    extra = f" types={target.types}" if target.types else ""
    extra += f" facilities={target.facilities}" if target.facilities else ""
    return f"{target.ven} -> {target.site}/{target.gateway}{extra}"


def _event(event: PlanEvent) -> str:
    signal = event.load_control()
    if signal is None:
        control = "no LOAD_CONTROL"
    else:
        control = (
            f"min={signal.min_temp} max={signal.max_temp} offset={signal.temp_offset} {signal.unit}"
        )
    vens = ",".join(sorted(event.ven_ids))
    pre = event.shaping.pre_condition if event.shaping is not None else None
    if pre is not None:
        control += f" pre_condition={pre.duration} {pre.offset}{pre.unit}"
    if event.shaping is not None and event.shaping.randomize_start:
        control += f" randomize_start={event.shaping.randomize_start}"
    return f"{event.event_id} [{_rel(event.start)}..{_rel(event.end)}) vens={vens} {control}"


# -- the generator -------------------------------------------------------------


def generate(seed: int, size: Size = Size()) -> World:
    rng = random.Random(seed)
    sites = rng.choice((1, 1, 2))
    gateways = rng.choice((1, 2, 2, 3))
    facilities = rng.randint(5, 10)
    vens = [f"VEN-{i}" for i in range(1, rng.randint(2, 4) + 1)]
    gateway_ids = [
        (f"S{s:03d}", f"GW-{g:02d}") for s in range(1, sites + 1) for g in range(1, gateways + 1)
    ]
    targets = _targets(rng, vens, gateway_ids, facilities)
    horizon = timedelta(hours=size.hours)
    events = _events(rng, vens, size, horizon)
    # Drawn from a stream of its own: the other draws of each world stay as they were.
    events = _pre_conditioned(random.Random(seed * 1_000_003 + 41), events)
    last_end = max(e.end for e in events)
    actions = _actions(rng, events, gateway_ids, facilities, size, last_end)
    actions += _races(random.Random(seed * 1_000_003 + 29), events)
    faults = _faults(rng, events, gateway_ids, size, last_end)
    # Drawn from a second stream: the worlds of the first stream stay as they were.
    faults += _start_faults(random.Random(seed * 1_000_003 + 17), events)
    narrowed = _narrowed(rng, gateway_ids, facilities)
    return World(
        seed=seed,
        sites=sites,
        gateways=gateways,
        facilities=facilities,
        targets=tuple(targets),
        events=tuple(events),
        actions=tuple(sorted(actions, key=lambda a: (a.at, a.after_calls))),
        faults=tuple(faults),
        narrowed=tuple(narrowed),
        token_ttl_s=rng.choice((86400, 3600, 1200)),
        end=last_end + timedelta(hours=2),
    )


def facility_ids(count: int, gateway: str) -> list[str]:
    """The simulator's ids for a gateway's first ``count`` facilities (see becon_inventory)."""
    from scheduler.simulator.becon_inventory import FIRST

    g = int(gateway.split("-")[1])
    kinds = [FIRST[i][0] for i in range(min(count, len(FIRST)))]
    return [f"{kind}-{g:02d}{i + 1:02d}" for i, kind in enumerate(kinds)]


def _targets(
    rng: random.Random, vens: list[str], gateways: list[tuple[str, str]], count: int
) -> list[HvacTarget]:
    """Each VEN maps one or two gateways; VENs share gateways and facilities."""
    targets = []
    for ven in vens:
        for site, gateway in rng.sample(gateways, k=min(len(gateways), rng.choice((1, 1, 2)))):
            shape = rng.random()
            if shape < 0.6:
                targets.append(HvacTarget(ven=ven, site=site, gateway=gateway))
            elif shape < 0.8:
                types = rng.sample(["IDU", "AHU", "AWHP", "ODU"], k=rng.randint(1, 2))
                targets.append(HvacTarget(ven=ven, site=site, gateway=gateway, types=types))
            else:
                ids = rng.sample(facility_ids(count, gateway), k=rng.randint(1, 3))
                targets.append(HvacTarget(ven=ven, site=site, gateway=gateway, facilities=ids))
    return targets


def _signal(rng: random.Random) -> Signal:
    unit = rng.choice((TempUnit.C, TempUnit.F))
    if unit == TempUnit.C:
        low, high, step = rng.uniform(18, 24), rng.uniform(23, 29), 0.5
    else:
        low, high, step = rng.uniform(64, 75), rng.uniform(73, 84), 1.0
    low, high = round(low / step) * step, round(high / step) * step
    shape = rng.random()
    min_temp: float | None = min(low, high)
    max_temp: float | None = max(low, high)
    if shape < 0.15:
        min_temp = max_temp  # an exact setpoint
    elif shape < 0.35:
        min_temp = None
    elif shape < 0.5:
        max_temp = None
    # The DR service takes offsets of 4-16 °F (2.5-8.5 °C on the 0.5 grid).
    offset = rng.choice((2.5, 3.0, 4.5)) if unit == TempUnit.C else float(rng.choice((4, 5, 8)))
    return load_control(max_temp, offset, unit, min_temp)


def make_event(
    event_id: str, start: datetime, end: datetime, vens: list[str], signal: Signal | None
) -> PlanEvent:
    signals = (signal,) if signal else (Signal("s1", "SIMPLE", "level", ("x-DEVICE_TV",)),)
    return PlanEvent(
        event_id=event_id,
        vtn_id="vtn01",
        start=start,
        end=end,
        signals=signals,
        targets=tuple(EventTarget(v) for v in sorted(vens)),
    )


def _events(rng: random.Random, vens: list[str], size: Size, horizon: timedelta) -> list[PlanEvent]:
    slots = max(2, int(horizon / SLOT))
    events: list[PlanEvent] = []
    for i in range(1, rng.randint(size.min_events, size.max_events) + 1):
        start = T0 + SLOT * rng.randint(1, slots)  # a coarse grid: events start together
        end = start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))
        chosen = rng.sample(vens, k=rng.choice((1, 1, 2)))
        signal = _signal(rng) if rng.random() < 0.9 else None
        events.append(make_event(f"ev{i:02d}", start, end, chosen, signal))
    if rng.random() < 0.15:
        events.append(_twin(rng, events[0], vens))
    return events


def _pre_conditioned(rng: random.Random, events: list[PlanEvent]) -> list[PlanEvent]:
    """A third of the events that control HVAC pre-condition (issue 15): 15-45 min, 1-3 °F
    or 0.5-1.5 °C before the window; sometimes longer than the time to the first slot."""
    from dataclasses import replace

    shaped = []
    for event in events:
        if event.load_control() is None or rng.random() >= 0.35:
            shaped.append(event)
            continue
        unit = rng.choice((TempUnit.C, TempUnit.F))
        offset = rng.choice((0.5, 1.0, 1.5)) if unit == TempUnit.C else rng.choice((1.0, 2.0, 3.0))
        lead = timedelta(minutes=rng.choice((15, 30, 45)))
        pre = PreCondition(lead, offset, unit)
        spread = timedelta(minutes=5) if rng.random() < 0.3 else None  # released at the start
        shaped.append(replace(event, shaping=Shaping(pre_condition=pre, randomize_start=spread)))
    return shaped


def _twin(rng: random.Random, first: PlanEvent, vens: list[str]) -> PlanEvent:
    """An event whose id is another's re-submission id, with the window it will move to."""
    others = [v for v in vens if v not in first.ven_ids] or vens
    shift = SLOT * rng.choice((1, 2))
    return make_event(
        f"{first.event_id}-r2",
        first.start + shift,
        first.end + shift,
        [rng.choice(others)],
        first.load_control(),
    )


def shifted(event: PlanEvent, shift: timedelta, resize: timedelta = timedelta(0)) -> PlanEvent:
    from dataclasses import replace

    return replace(event, start=event.start + shift, end=event.end + shift + resize)


def _actions(
    rng: random.Random,
    events: list[PlanEvent],
    gateways: list[tuple[str, str]],
    facilities: int,
    size: Size,
    last_end: datetime,
) -> list[Action]:
    actions: list[Action] = []
    span = int((last_end - T0).total_seconds())
    twin = next((e for e in events if e.event_id.endswith("-r2")), None)
    if twin is not None:  # move the first event onto its twin's window while it is pending
        first = events[0]
        at = first.start - timedelta(minutes=rng.randint(10, 40))
        shift = twin.start - first.start
        actions.append(
            Action(at, "change", first.event_id, arg=f"shift {int(shift.total_seconds())}")
        )
    if rng.random() < 0.5:
        actions += _outage(rng, rng.choice(events))
    for _ in range(rng.randint(size.actions // 2, size.actions)):
        kind = rng.choice(ACTIONS)
        event = rng.choice(events)
        # Half the actions happen near an event's edges, where the interesting things are.
        if rng.random() < 0.5:
            edge = rng.choice((event.start - SUBMIT_LEAD, event.start, event.end))
            at = edge + timedelta(seconds=rng.randint(-120, 120))
        else:
            at = T0 + timedelta(seconds=rng.randint(0, span))
        after = rng.choice((0, 0, 1, 2, 3, 5))
        site, gateway = rng.choice(gateways)
        facility = f"{site}/{gateway}/{rng.choice(facility_ids(facilities, gateway))}"
        match kind:
            case "change":
                shift = rng.choice((-30, -15, 15, 30, 0)) * 60
                resize = rng.choice((0, 0, 15, -10)) * 60
                arg = f"shift {shift} resize {resize}"
                actions.append(Action(at, kind, event.event_id, after, arg))
            case "occupant" | "narrow_range" | "remove_facility":
                actions.append(Action(at, kind, facility, after, str(rng.randint(-3, 3))))
            case "crash":
                down = rng.choice((0, 0, 30, 300, 1800, 3600, 5400))
                phase = rng.choice(("before", "after"))
                actions.append(Action(at, kind, "daemon", after or 1, f"{phase} down {down}"))
            case "expire_tokens":
                actions.append(Action(at, kind, "becon", after))
            case _:
                actions.append(Action(at, kind, event.event_id, after))
    return actions


def _outage(rng: random.Random, event: PlanEvent) -> list[Action]:
    """The daemon down across one of an event's edges, the world going on meanwhile.

    Down from before standby to inside the window (an admin's cancel may come
    meanwhile), from before the start to just after the end (the DR service
    reporting the window late), or between prepare and start.
    """
    shape = rng.choice(("into-window", "through-window", "prepare-start"))
    if shape == "into-window":
        at = event.start - timedelta(minutes=rng.randint(6, 20))
        back = event.start + timedelta(seconds=rng.randint(5, 300))
    elif shape == "through-window":
        at = event.start - timedelta(seconds=rng.randint(0, 600))
        back = event.end + timedelta(seconds=rng.randint(5, 60))
    else:
        at = event.start - timedelta(seconds=rng.randint(5, 55))
        back = event.start + timedelta(seconds=rng.randint(5, 600))
    down = int((back - at).total_seconds())
    phase = rng.choice(("before", "after"))
    actions = [Action(at, "crash", "daemon", rng.choice((1, 2, 3)), f"{phase} down {down}")]
    if rng.random() < 0.5:
        cancel_at = at + (back - at) * rng.random()
        actions.append(Action(cancel_at, "cancel", event.event_id))
    if shape == "through-window" and rng.random() < 0.5:  # and the DR service reports it late
        actions.append(Action(event.end - timedelta(minutes=5), "late_end", event.event_id))
    return actions


def _late_end(rng: random.Random, events: list[PlanEvent]) -> list[Fault]:
    """The DR service still reporting an event active a little after its end."""
    event = rng.choice(events)
    lag = timedelta(seconds=rng.choice((30, 60, 90)))
    return [
        Fault(
            event.end - timedelta(minutes=5), event.end + timedelta(minutes=10), "dr_lag", lag=lag
        )
    ]


def _faults(
    rng: random.Random,
    events: list[PlanEvent],
    gateways: list[tuple[str, str]],
    size: Size,
    last_end: datetime,
) -> list[Fault]:
    """Faults anywhere, and (half of them) around an event's submission, prepare, start or end."""
    faults: list[Fault] = []
    span = int((last_end - T0).total_seconds())
    if rng.random() < 0.3:  # a DR service whose statuses run late all along
        lag = timedelta(seconds=rng.choice((20, 45, 120)))
        faults.append(Fault(T0, last_end + timedelta(hours=3), "dr_lag", lag=lag))
    if rng.random() < 0.3:
        faults += _late_end(rng, events)
    for _ in range(rng.randint(0, size.faults)):
        kind = rng.choice((*CALL_FAULTS, "gateway_unreadable", "dr_lag"))
        if rng.random() < 0.5:
            event = rng.choice(events)
            edge = rng.choice(
                (
                    event.start - SUBMIT_LEAD,
                    event.start - timedelta(seconds=60),
                    event.start,
                    event.end,
                )
            )
            start = edge - timedelta(seconds=rng.randint(0, 90))
            end = edge + timedelta(seconds=rng.choice((-5, 10, 60, 300)))
            end = max(end, start + timedelta(seconds=5))
        else:
            start = T0 + timedelta(seconds=rng.randint(0, span))
            end = start + timedelta(seconds=rng.choice((30, 120, 600, 1800)))
        if kind == "gateway_unreadable":
            site, gateway = rng.choice(gateways)
            faults.append(Fault(start, end, kind, target=f"{site}/{gateway}"))
        elif kind == "dr_lag":
            lag = timedelta(seconds=rng.choice((20, 45, 120, 600)))
            faults.append(Fault(start, end + timedelta(hours=1), kind, lag=lag))
        else:
            faults.append(Fault(start, end, kind, rate=rng.choice((0.2, 0.5, 1.0))))
    return faults


def _races(rng: random.Random, events: list[PlanEvent]) -> list[Action]:
    """Sometimes an admin's change or removal that races the daemon's move of the event.

    Just before its submission or its move to ``standby`` (the simulator's
    standby lead is 5 minutes); on PostgreSQL the apply then meets the tick
    that moves the event, inside its transaction (tests/sim/race.py, issue 10
    bug 9); on SQLite it is an ordinary action at that instant.
    """
    if rng.random() >= 0.4:
        return []
    event = rng.choice(events)
    edge = rng.choice((event.start - SUBMIT_LEAD, event.start - timedelta(minutes=5)))
    at = edge - timedelta(seconds=rng.randint(1, 120))
    if rng.random() < 0.5:
        return [Action(at, "remove", event.event_id, arg="race")]
    shift = rng.choice((-15, 15, 30)) * 60
    return [Action(at, "change", event.event_id, arg=f"shift {shift} resize 0 race")]


#: Faults aimed at the HVAC start (issue 10 bug 7): (kind, target).
START_FAULTS = (("becon_5xx", "PUT"), ("becon_timeout", "PUT"))


def _start_faults(rng: random.Random, events: list[PlanEvent]) -> list[Fault]:
    """Sometimes one transient error right at an event's HVAC start.

    The first claim of the facilities in the HVAC controller's store fails
    once in the window (whenever the DR service reports the event active,
    however late), or BECON PUTs are refused or time out for a few seconds
    around the start: one transient error there must not lose control for
    the whole window.
    """
    controlled = [e for e in events if e.load_control() is not None]
    if rng.random() >= 0.6 or not controlled:
        return []
    faults = []
    for event in rng.sample(controlled, k=min(len(controlled), rng.choice((1, 2)))):
        start = event.start - timedelta(seconds=rng.randint(0, 10))
        if rng.random() < 0.6:
            faults.append(Fault(start, event.end, "db_write", target="control.claim", count=1))
            continue
        kind, target = rng.choice(START_FAULTS)
        end = event.start + timedelta(seconds=rng.choice((15, 45, 150)))
        faults.append(Fault(start, end, kind, rate=1.0, target=target))
    return faults


def _narrowed(
    rng: random.Random, gateways: list[tuple[str, str]], facilities: int
) -> list[tuple[str, str, str, float, float]]:
    """A few facilities with a narrow setTempRange from the start (filled in by the harness)."""
    chosen = []
    for site, gateway in gateways:
        if rng.random() < 0.3:
            ident = rng.choice(facility_ids(facilities, gateway))
            chosen.append(
                (site, gateway, ident, float(rng.randint(0, 2)), float(rng.randint(0, 2)))
            )
    return chosen
