"""Run one world: the daemon's lives, the admin's and the world's actions, the checks.

The loop: do what is due between ticks (admin actions, the outside world's
changes, arming mid-tick actions), tick the engine, check the invariants,
move the virtual clock to the next instant anything wants (the engine's
``next_wake``, the next action, the next fault boundary). A crash drops the
daemon; after its downtime (the world goes on meanwhile) a new one starts on
the same database and reconciles. Everything is drawn from the seed: the
same seed gives the same trace.
"""

from __future__ import annotations

import random
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog

from scheduler.clock import FakeClock
from scheduler.domain.events import PlanEvent
from scheduler.domain.hvac import FacilityKey
from scheduler.domain.request_ids import is_reserved_id
from scheduler.domain.units import exact, resolution
from scheduler.engine.daemon import TICK_RETRY
from scheduler.errors import DrschedError, PlanError
from scheduler.simulator.app import Simulator
from scheduler.simulator.options import SimOptions
from scheduler.store import is_sqlite, open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.migrate import upgrade
from tests.sim.daemon import Daemon, config
from tests.sim.invariants import Checker, Truth, Violation
from tests.sim.outside import FaultyTransport, Outside, SimCrash
from tests.sim.race import MAX_TRIES, Aborted, PlanRace
from tests.sim.reads import Writes, unsynchronised
from tests.sim.world import T0, Action, World, _rel, shifted

MAX_TICKS_PER_INSTANT = 200
MAX_STEPS = 20_000
LATE_END = timedelta(seconds=90)


@dataclass
class Result:
    seed: int
    violations: list[Violation] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    steps: int = 0
    #: The simulation itself raised (a mistake of the harness, not the daemon's).
    harness_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.violations and self.harness_error is None

    def summary(self) -> list[str]:
        if self.ok:
            return [f"seed {self.seed}: ok"]
        lines = [f"seed {self.seed}: FAILED {v}" for v in self.violations]
        if self.harness_error is not None:
            lines.append(f"seed {self.seed}: FAILED the simulation raised {self.harness_error}")
        return lines

    def report(self, world: World) -> str:
        head = self.summary()
        return "\n".join(head + world.describe() + ["steps:"] + self.trace + head)


class LagClock:
    """The DR service's clock for statuses: ``dr_lag`` faults make them late."""

    def __init__(self, clock: FakeClock, world: World) -> None:
        self.clock = clock
        self.world = world
        #: ``late_end`` actions: 90 s of lag over (from, until).
        self.extra: list[tuple[datetime, datetime]] = []

    def now(self) -> datetime:
        now = self.clock.now()
        lags = [f.lag for f in self.world.faults if f.kind == "dr_lag" and f.active(now)]
        lags += [LATE_END for start, end in self.extra if start <= now < end]
        return now - max(lags, default=timedelta(0))


class Archive(dict[str, Any]):
    """The DR service's requests, remembering every body it ever stored."""

    def __init__(self, truth: Truth) -> None:
        super().__init__()
        self.truth = truth

    def __setitem__(self, key: str, value: Any) -> None:
        self.truth.archive[key] = value.body
        super().__setitem__(key, value)


class Sim:
    def __init__(self, world: World, db_url: str) -> None:
        self.world = world
        self.clock = FakeClock(T0)
        self.rng = random.Random(world.seed * 7919 + 1)
        self.trace: list[str] = []
        self.truth = Truth()
        self.sim = Simulator(
            SimOptions(
                seed=world.seed,
                clock=self.clock,
                standby_lead=timedelta(minutes=5),
                sites=world.sites,
                gateways=world.gateways,
                facilities=world.facilities,
                token_ttl_s=world.token_ttl_s,
            )
        )
        lagging = LagClock(self.clock, world)
        self.extra_lag = lagging.extra
        self.sim.dr.options = replace(self.sim.dr.options, clock=lagging)
        self.sim.dr.requests = Archive(self.truth)
        self.sql = open_engine(db_url)
        unsynchronised(self.sql)
        self.writes = Writes(self.sql)
        self.admin = DaemonStore(self.sql)
        self.cfg = config(world.targets)
        self.outside = Outside(self.clock, self.rng, world.faults)
        self.transport = FaultyTransport(httpx.ASGITransport(app=self.sim.app), self.outside)
        self.checker = Checker(world, self.sim, self.admin, self.truth, self.writes)
        self.checker.trace = self.trace
        self.plan: dict[str, PlanEvent] = {}
        self.pending = list(world.actions)
        self.daemon: Daemon | None = None
        self.down_until: datetime | None = None
        #: The downtime of the crash armed last (seconds).
        self._crash_down = 0
        #: Racing plan applies (bug 9) wait for a tick to race; PostgreSQL only.
        self.racing = not is_sqlite(db_url)
        self.races: list[Action] = []
        self.tries = 0

    def log(self, text: str) -> None:
        self.trace.append(f"  {_rel(self.clock.now())} {text}")

    # -- the outside world -------------------------------------------------------

    def _setup_world(self) -> None:
        assert self.sim.becon is not None
        for facility in self.sim.becon.inventory.all_facilities():
            key = _key(facility)
            self.truth.units[key] = facility.unit
            if facility.set_temp is not None:
                self.truth.occupant[key].add(exact(facility.set_temp))
                self.truth.resting[key] = exact(facility.set_temp)
        for site, gateway, ident, below, above in self.world.narrowed:
            facility = self.sim.becon.inventory.find(ident, site, gateway)
            if facility is None or facility.set_temp is None:
                continue
            step = float(resolution(facility.unit))
            facility.set_temp_range = (
                facility.set_temp - below * step,
                facility.set_temp + above * step,
            )

    def _facility(self, target: str) -> Any:
        site, gateway, ident = target.split("/")
        assert self.sim.becon is not None
        return self.sim.becon.inventory.find(ident, site, gateway)

    def _apply_plan(self, what: str) -> bool:
        try:
            self.admin.apply_events(list(self.plan.values()), self.clock.now())
        except PlanError as exc:
            self.log(f"plan apply refused ({what}): {str(exc).splitlines()[0]}")
            reserved = [ident for ident in self.plan if is_reserved_id(ident)]
            if not reserved:
                return False
            # The admin reads the refusal (an id shaped like a re-submission's request
            # id, issue 10 bug 8) and takes that event out of the plan.
            for ident in reserved:
                del self.plan[ident]
            return self._apply_plan(f"{what}, without {', '.join(reserved)}")
        return True

    def _act(self, action: Action) -> str | None:
        """Carry out one action; a crash returns its phase ("before"/"after")."""
        now = self.clock.now()
        kind, target = action.kind, action.target
        if kind == "crash":
            self.log(f"CRASH armed: {action.arg}")
            self._crash_down = int(action.arg.split()[-1])
            return str(action.arg.split()[0])
        if kind in ("change", "remove", "cancel", "remote_cancel", "late_end") and (
            target not in self.plan
        ):
            return None
        match kind:
            case "change" | "remove":
                old = self.plan[target]
                self._edit_plan(action)
                if self._apply_plan(f"{kind} {target}"):
                    self._plan_applied(action)
                else:
                    self.plan[target] = old
            case "cancel":
                try:
                    said = self.admin.request_cancel(target, now)
                except DrschedError as exc:
                    said = f"refused: {exc}"
                if "cancel requested" in said:
                    self._note_cancel(target)
                self.log(f"admin: events cancel {target}: {said}")
            case "remote_cancel":
                self._remote_cancel(target)
            case "occupant":
                self._occupant(target, int(action.arg or 1))
            case "narrow_range":
                self._narrow(target)
            case "remove_facility":
                facility = self._facility(target)
                if facility is not None:
                    assert self.sim.becon is not None
                    del self.sim.becon.inventory.facilities[(facility.site, facility.gateway)][
                        facility.facility_id
                    ]
                    self.truth.exempt.add(_key(facility))
                    self.log(f"world: facility {target} removed from BECON")
            case "late_end":
                self.extra_lag.append((now, self.plan[target].end + timedelta(minutes=10)))
                self.log(f"DR service: statuses of {target} run 90 s late until after its end")
            case "expire_tokens":
                assert self.sim.becon is not None
                for token in self.sim.becon.tokens:
                    self.sim.becon.tokens[token] = now
                self.log("world: every BECON token expires")
        return None

    def _edit_plan(self, action: Action) -> None:
        """The admin's edit of the plan (``change``/``remove``), not applied yet."""
        target = action.target
        if action.kind == "remove":
            del self.plan[target]
            return
        parts = action.arg.split()
        shift = timedelta(seconds=int(parts[1]))
        resize = timedelta(seconds=int(parts[3])) if len(parts) > 3 else timedelta(0)
        old = self.plan[target]
        new = shifted(old, shift, resize)
        if new.end - new.start < timedelta(minutes=5):
            new = shifted(old, shift)
        self.plan[target] = new

    def _plan_applied(self, action: Action, how: str = "", new: Any = None) -> None:
        """Note what the admin's apply wrote: ``new`` is the changed event (default: the plan's)."""
        target = action.target
        if action.kind == "remove":
            self._note_cancel(target)
            self.truth.removed.add(target)
            self.log(f"admin: plan removes {target}{how}")
            return
        new = new or self.plan[target]
        self.truth.revisions[target].append(new)
        self.log(f"admin: plan changes {target} to {_rel(new.start)}..{_rel(new.end)}{how}")

    async def _racing_tick(self, engine: Any) -> Any:
        """A daemon tick inside an admin's ``plan apply`` (bug 9; see tests/sim/race.py)."""
        action = self.races[0]
        if action.target not in self.plan:
            self.races.pop(0)
            return await self._guarded(engine.tick(), "tick")
        before = self._moved(action.target)
        old = self.plan[action.target]
        self._edit_plan(action)
        new = self.plan.get(action.target)  # actions inside the tick may edit the plan too
        now = self.clock.now()
        race = PlanRace(self.sql, lambda: self.admin.apply_events(list(self.plan.values()), now))
        race.start()
        decision = await self._guarded(engine.tick(), "tick")
        error = race.finish(race.blocked or self._moved(action.target) != before)
        self.writes.bump()
        self.tries += 1
        if error is None:
            self.races.pop(0)
            self.tries = 0
            self._plan_applied(action, " (its apply raced a tick: " + _how(race) + ")", new)
            return decision
        if action.kind == "remove" or action.target in self.plan:  # not removed inside the tick
            self.plan[action.target] = old
        if isinstance(error, Aborted) and self.tries < MAX_TRIES:
            return decision  # not this tick: the next one
        self.races.pop(0)
        self.tries = 0
        if isinstance(error, Aborted | PlanError):
            self._act(replace(action, arg=action.arg.replace("race", "").strip()))
            return decision
        raise error

    def _moved(self, event_id: str) -> tuple[str, str | None] | None:
        """The event's status and request id as stored (None once deleted)."""
        row = next((r for r in self.admin.overview() if r.event_id == event_id), None)
        return None if row is None else (row.status.value, row.request_id)

    def _note_cancel(self, event_id: str) -> None:
        # Recorded during the step in progress: what that step sends is not counted.
        self.truth.canceled_at_step.setdefault(event_id, self.checker.step + 1)
        self.truth.canceled_at.setdefault(event_id, self.clock.now())

    def _remote_cancel(self, event_id: str) -> None:
        rows = {r.event_id: r for r in self.admin.overview()}
        row = rows.get(event_id)
        stored = self.sim.dr.requests.get(row.request_id or "") if row else None
        if stored is None or stored.status(self.clock.now(), self.sim.dr.options) == 3:
            return
        stored.canceled = True
        self.log(f"DR service: cancels request {stored.request_id}")

    def _occupant(self, target: str, delta: int) -> None:
        facility = self._facility(target)
        if facility is None or facility.set_temp is None or facility.set_temp_range is None:
            return
        step = resolution(facility.unit)
        low, high = (exact(v) for v in facility.set_temp_range)
        value = min(max(exact(facility.set_temp) + (delta or 1) * step, low), high)
        if value in self.truth.occupant[_key(facility)] and value == exact(facility.set_temp):
            return
        facility.set_temp = float(value)
        self.truth.occupant[_key(facility)].add(value)
        self.truth.resting[_key(facility)] = value
        self.log(f"occupant: {target} set to {float(value)} {facility.unit}")

    def _narrow(self, target: str) -> None:
        """A narrower setTempRange around the current setpoint (may exclude the original)."""
        facility = self._facility(target)
        if facility is None or facility.set_temp is None:
            return
        step = float(resolution(facility.unit))
        facility.set_temp_range = (facility.set_temp - step, facility.set_temp + step)
        low, high = (exact(v) for v in facility.set_temp_range)
        key = _key(facility)
        resting = self.truth.resting.get(key)
        # The original a restore puts back is where the facility rests (the occupant's
        # last value), not any value the occupant once chose (seed 2467).
        if resting is None or not low <= resting <= high:
            self.truth.exempt.add(key)  # its original can no longer be restored
            self.truth.stranded[key] = self.truth.resting[key] = exact(facility.set_temp)
        self.log(f"world: {target} range narrowed to {facility.set_temp_range}")

    # -- the daemon's lives ------------------------------------------------------

    async def _start_daemon(self) -> None:
        self.outside.dead = False
        self.daemon = Daemon(
            self.cfg,
            self.sql,
            self.clock,
            self.outside,
            self.writes,
            batched=self.world.batched_store,
        )
        engine = await self.daemon.build(self.transport)
        self.log("daemon starts: reconcile")
        await self._guarded(engine.start_up(), "start_up")

    async def _crash(self) -> None:
        down = timedelta(seconds=self._crash_down)
        self.log(f"daemon CRASHED (down {down})")
        assert self.daemon is not None
        await self.daemon.drop()
        self.daemon = None
        self.down_until = self.clock.now() + down
        self.truth.down.append((self.clock.now(), self.down_until))

    async def _guarded(self, call: Any, what: str) -> Any:
        """Await a daemon call; a crash drops the daemon, an error is a finding.

        After an error the run goes on as production would: a tick is tried
        again after ``TICK_RETRY`` (``Daemon._tick``), a failed start-up is
        restarted by systemd after as long.
        """
        try:
            return await call
        except BaseException as exc:  # the simulation's crash, or the daemon raising
            if _has_crash(exc):
                await self._crash()
                return None
            if not isinstance(exc, Exception):
                raise
            self.log(f"the daemon raised out of {what}: {exc!r}")
            # A start-up that cannot reach its database exits (3) and systemd restarts it
            # (our errors, alone or from a task group, as ``cli.main`` reports them);
            # anything else raised, or any error out of a tick, is a finding.
            if what != "start_up" or not _only_ours(exc):
                self.checker.note(Violation("the daemon never raises", f"{what} raised {exc!r}"))
            if what == "start_up":
                self._crash_down = int(TICK_RETRY.total_seconds())
                await self._crash()
            return None

    # -- the loop --------------------------------------------------------------

    async def run(self) -> int:
        self._setup_world()
        for event in self.world.events:
            self.plan[event.event_id] = event
            self.truth.revisions[event.event_id].append(event)
        self._apply_plan("initial")
        self.log(f"admin: plan applied ({len(self.plan)} events)")
        await self._start_daemon()
        steps = same_instant = 0
        last = self.clock.now()
        while steps < MAX_STEPS:
            steps += 1
            now = self.clock.now()
            await self._due_actions(now)
            if self.daemon is None:
                restarted = self.down_until is not None and now >= self.down_until
                if restarted:
                    self.down_until = None
                    await self._start_daemon()
                self.checker.after_step(now)
                if not restarted:  # a new daemon ticks at once (``Daemon._start`` wakes it)
                    self.clock.set(self._next(now, None))
                continue
            assert self.daemon.engine is not None
            if self.races:
                decision = await self._racing_tick(self.daemon.engine)
            else:
                decision = await self._guarded(self.daemon.engine.tick(), "tick")
            if decision is not None:
                actions = ", ".join(f"{type(a).__name__}({a.event_id})" for a in decision.actions)
                if actions:
                    self.log(f"tick: {actions}")
            self.checker.after_step(now)
            if now >= self.world.end:
                break
            wake = decision.next_wake if decision is not None else now + TICK_RETRY
            same_instant = same_instant + 1 if now == last else 0
            last = now
            if same_instant > MAX_TICKS_PER_INSTANT:
                self.checker.note(Violation("the daemon settles", f"{same_instant} ticks at {now}"))
                break
            self.clock.set(self._next(now, wake))
        self.clock.set(max(self.clock.now(), self.world.end))
        self.checker.at_end(self.clock.now())
        return steps

    async def _due_actions(self, now: datetime) -> None:
        due = [a for a in self.pending if a.at <= now]
        self.pending = [a for a in self.pending if a.at > now]
        for action in due:
            if "race" in action.arg and self.racing and self.daemon is not None:
                self.races.append(action)
            elif action.after_calls and self.daemon is not None:
                self.outside.arm(action.after_calls, lambda a=action: self._act_mid(a))
            elif action.kind != "crash":
                self._act(action)
            elif self.daemon is not None:
                self.outside.arm(1, lambda a=action: self._act_mid(a))

    def _act_mid(self, action: Action) -> str | None:
        """An armed action, run just before one of the daemon's outside calls."""
        if action.kind == "crash" and self.daemon is None:
            return None
        return self._act(action)

    def _next(self, now: datetime, wake: datetime | None) -> datetime:
        candidates = [self.world.end]
        if wake is not None:
            candidates.append(max(wake, now))
        if self.down_until is not None:
            candidates.append(self.down_until)
        candidates += [a.at for a in self.pending if a.at > now]
        for fault in self.world.faults:
            candidates += [t for t in (fault.start, fault.end) if t > now]
        if self.daemon is None:
            candidates = [c for c in candidates if c > now] or [now + timedelta(seconds=1)]
        return min(candidates)

    def close(self) -> None:
        self.sql.dispose()


def _key(facility: Any) -> FacilityKey:
    return FacilityKey(
        facility.site, facility.gateway, facility.facility_type, facility.facility_id
    )


def _how(race: PlanRace) -> str:
    if race.blocked:
        return "the tick waited for its lock"
    return "the tick moved the event between its read and its writes"


def _has_crash(exc: BaseException) -> bool:
    if isinstance(exc, SimCrash):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_has_crash(e) for e in exc.exceptions)
    return False


# -- logs of the daemon, kept for the trace ---------------------------------------

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def stable(text: str) -> str:
    """The text without the random x-message-ids (uuid4): the same seed, the same trace."""
    return _UUID.sub("<uuid>", text)


@contextmanager
def captured_logs(trace: list[str], clock: FakeClock) -> Iterator[None]:
    """The daemon's warnings and errors go to the trace (everything else is dropped)."""
    previous = structlog.get_config()

    def collect(_logger: Any, method: str, event: dict[str, Any]) -> Any:
        if method in ("warning", "error", "exception", "critical"):
            error = sys.exc_info()[1]
            extra = f" {error!r}" if error is not None else ""
            ids = " ".join(f"{k}={event[k]}" for k in ("event_id", "facility") if k in event)
            line = f"  {_rel(clock.now())}   log {method}: {event.get('event')} {ids}{extra}"
            trace.append(stable(line))
        raise structlog.DropEvent

    structlog.configure(processors=[collect], cache_logger_on_first_use=False)
    try:
        yield
    finally:
        structlog.configure(**previous)


_TEMPLATE: dict[str, Path] = {}
#: SQLite files live in memory when the machine has a tmpfs (a seed writes a lot).
_TMP = "/dev/shm" if Path("/dev/shm").is_dir() else None


def _fresh_sqlite(folder: Path) -> str:
    """A migrated SQLite file: a copy of one migrated once per process (migrations are slow)."""
    template = _TEMPLATE.get("path")
    if template is None or not template.exists():
        template = Path(tempfile.mkdtemp(prefix="drsched-sim-template-", dir=_TMP)) / "template.db"
        upgrade(f"sqlite:///{template}")
        _TEMPLATE["path"] = template
    target = folder / "sim.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


async def run_seed(world: World, db_url: str | None = None) -> Result:
    """Run ``world`` on ``db_url`` (migrated here), or on a fresh SQLite file when None."""
    with tempfile.TemporaryDirectory(prefix="drsched-sim-", dir=_TMP) as tmp:
        if db_url is not None:
            upgrade(db_url)
        url = db_url or _fresh_sqlite(Path(tmp))
        sim = Sim(world, url)
        result = Result(world.seed, [], sim.trace)
        with captured_logs(sim.trace, sim.clock):
            try:
                result.steps = await sim.run()
            except Exception as exc:  # the harness's own mistake: reported with its trace
                result.harness_error = repr(exc)
                sim.trace.extend(traceback.format_exc().splitlines())
            finally:
                result.violations = list(sim.checker.found.values())
                if sim.daemon is not None:
                    sim.outside.dead = False
                    await sim.daemon.drop()
                sim.close()
        return result


def _only_ours(exc: Exception) -> bool:
    """A :class:`DrschedError`, or a task group's errors that all are (exit 3, restarted)."""
    if isinstance(exc, ExceptionGroup):
        return exc.split(DrschedError)[1] is None
    return isinstance(exc, DrschedError)
