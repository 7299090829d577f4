"""Drive one crash run in real time: start the daemon, act on events, kill, inject, collect.

One loop, ticking every 50 ms, owns everything that happens: kills and
restarts from the :class:`~tests.support.crash.chaos.Chaos` schedule, fault steps,
and the scenario's actions, each fired once when its trigger holds (a
status in the database, or an instant). CLI commands run in the background
and are retried when they fail for a reason other than a refusal (the
database may be away). The loop ends when every event is terminal after the
last window, or at a deadline; then the daemon is stopped with SIGTERM and
the database and the simulator are read for :mod:`tests.support.crash.checks`.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from scheduler.domain.lifecycle import Transition
from scheduler.store import is_sqlite, open_engine
from scheduler.store.daemon import DaemonStore
from scheduler.store.events import EventSummary
from scheduler.store.migrate import upgrade
from tests.support.crash.actions import Actions
from tests.support.crash.chaos import (
    LATENCY_SPIKE_MS,
    Chaos,
    FaultKind,
    faulty_daemon_env,
    steady_faults,
)
from tests.support.crash.outages import DatabaseOutage
from tests.support.crash.outcome import Outcome
from tests.support.crash.procs import DAEMON_APPLICATION_NAME, DaemonProcess, daemon_env
from tests.support.crash.scenario import Scenario, Timing, hvac_targets
from tests.support.crash.simadmin import SimAdmin

TICK_S = 0.05
#: How often the database is read for the actions' triggers.
READ_EVERY_S = 0.25
#: From the first start to t0: the daemon's start-up (imports, schema, plan) takes ~2 s
#: on a quiet machine; this, like every delay below, is stretched by ``Timing.s``.
LEAD_IN_S = 2.0


@dataclass(frozen=True)
class RunConfig:
    db_url: str
    sim_url: str
    workdir: Path
    seed: int
    faulty: bool = False
    timing: Timing = field(default_factory=Timing)
    #: After the last window's end, how long every event has to reach a terminal status
    #: (at a quiet machine's pace: stretched by ``timing.s``).
    settle_s: float = 25.0


@dataclass
class _Life:
    """The current daemon's life, in seconds from t0, and the intervals it was ready."""

    started_at: float = 0.0
    ready_at: float | None = None
    restart_at: float | None = None
    kills: int = 0
    up: list[tuple[float, float]] = field(default_factory=list)

    def started(self, now: float) -> None:
        self.started_at, self.ready_at, self.restart_at = now, None, None

    def died(self, now: float, restart_in: float) -> None:
        if self.ready_at is not None:
            self.up.append((self.ready_at, now))
        self.ready_at = None
        self.restart_at = now + restart_in


@dataclass
class Driver:
    config: RunConfig
    scenario: Scenario = field(init=False)
    chaos: Chaos = field(init=False)

    def __post_init__(self) -> None:
        cfg = self.config
        t0 = datetime.now(UTC) + timedelta(seconds=cfg.timing.s(LEAD_IN_S))
        self.scenario = Scenario.build(t0, cfg.timing)
        pg = not is_sqlite(cfg.db_url)
        self.chaos = Chaos.draw(self.scenario, cfg.seed, faulty=cfg.faulty, db_restarts=pg)
        self.sim = SimAdmin(cfg.sim_url)
        self.plans = cfg.workdir / "plans"
        self.plan_file = self.plans / "scenario.yaml"
        self.journal: list[tuple[float, str]] = []
        pace = cfg.timing.s
        extra = faulty_daemon_env(cfg.timing.factor) if cfg.faulty else {}
        extra["DRSCHED_HVAC__TARGETS"] = hvac_targets()
        extra["DRSCHED_HVAC__PREFETCH_LEAD"] = f"{pace(2):g}s"
        extra["DRSCHED_HVAC__RESTORE_STAGGER"] = f"{pace(1):g}s"
        extra["DRSCHED_HVAC__VERIFY_INTERVAL"] = f"{pace(2):g}s"
        self.env = daemon_env(
            db_url=cfg.db_url,
            dr_url=f"{cfg.sim_url}/dr",
            becon_url=cfg.sim_url,
            plans_glob=f"{self.plans}/*.yaml",
            submit_lead_s=cfg.timing.submit_lead,
            extra=extra,
        )
        self.cli_env = {**self.env, "PGAPPNAME": "drsched-crash-cli"}
        self.daemon = DaemonProcess(self.env, cfg.workdir, cfg.workdir / "daemon.log")
        self.outage = DatabaseOutage(cfg.db_url, DAEMON_APPLICATION_NAME) if pg else None
        self.actions = Actions(
            self.scenario, self.sim, self.plan_file, self.cli_env, cfg.workdir, self.note
        )
        self.unexpected_exits: list[tuple[float, int, str]] = []
        self.outages: list[tuple[float, float]] = []
        self.life = _Life()
        self._read_at = -1e9
        self._last_read: dict[str, EventSummary] | None = None
        self.submits = sorted(self.scenario.submit_s(e) for e in self.scenario.events)

    # -- the run -------------------------------------------------------------

    def run(self) -> Outcome:
        self.plans.mkdir(parents=True, exist_ok=True)
        self.scenario.write_plan(self.plan_file)
        upgrade(self.config.db_url)
        sql = _reader(self.config.db_url)
        self.store = DaemonStore(sql)
        facilities_before = self._facilities()
        if self.config.faulty:
            self.sim.set_faults(seed=self.config.seed, **steady_faults(self.config.timing.factor))
        try:
            self.daemon.start()
            self.life.started(self.now_s())
            self.note(f"daemon started (pid {self.daemon.pid}); {self.chaos.describe()}")
            timed_out = self._loop()
            self._await_restores(facilities_before, self.config.timing.s(15.0))
            if self.config.faulty:
                self.sim.set_faults(fail_rate=0, timeout_rate=0, timeout_after_rate=0, latency_ms=0)
            if self.life.ready_at is not None:
                self.life.up.append((self.life.ready_at, self.now_s()))
            final = self.daemon.stop()
            self.note(f"daemon stopped with SIGTERM: exit {final}")
            return self._collect(facilities_before, final, timed_out)
        finally:
            self.actions.abandon()
            if self.daemon.running:
                self.daemon.kill()
            if self.outage is not None:
                self.outage.close()
            self.sim.close()
            sql.dispose()

    def _loop(self) -> bool:
        """Until every event is terminal after the last window; True if the deadline hit."""
        faults = list(self.chaos.faults)
        deadline = self.scenario.last_end_s + self.config.timing.s(self.config.settle_s)
        while (now := self.now_s()) < deadline:
            self._life(now)
            while faults and faults[0].at_s <= now:
                self._fault(faults.pop(0).what)
            events = self._events(now)
            if events is not None:
                self.actions.act(now, events)
                if self._finished(now, events):
                    return False
            time.sleep(TICK_S)  # real time is the point here: the daemon runs on the wall clock
        self.note("deadline reached with events still open")
        return True

    def _life(self, now: float) -> None:
        """Notice readiness and deaths, kill when the schedule says, restart after the down time."""
        life = self.life
        if self.daemon.running and life.ready_at is None and self.daemon.ready():
            life.ready_at = now
        code = self.daemon.reap()
        if code is not None:
            said = [
                line
                for line in self.daemon.log_tail(6).splitlines()
                if line.strip() and not line.startswith(("===", "(Background"))
            ]
            last_words = said[-1][:200] if said else ""
            self.unexpected_exits.append((now, code, last_words))
            self.note(f"daemon exited on its own with {code}: restarting in 1 s (as systemd)")
            life.died(now, restart_in=1.0)  # systemd's RestartSec: not the machine's pace
        due = self._kill_due(now)
        if due is not None and due <= now:
            kill = self.chaos.kills[life.kills]
            self.daemon.kill()
            self.note(f"SIGKILL ({kill.describe()}); restart in {kill.down:.2f}s")
            life.died(now, restart_in=kill.down)
            life.kills += 1
        if life.restart_at is not None and life.restart_at <= now:
            self.daemon.start()
            life.started(now)
            self.note(f"daemon restarted (pid {self.daemon.pid})")

    def _kill_due(self, now: float) -> float | None:
        """When the next kill is due (None: not yet known, or no more kills)."""
        life = self.life
        if not self.daemon.running or life.kills >= len(self.chaos.kills):
            return None
        if now >= self.scenario.last_end_s:
            return None
        kill = self.chaos.kills[life.kills]
        if kill.during_startup:
            return life.started_at + kill.after
        if life.ready_at is None:
            return None
        due = life.ready_at + kill.after
        if kill.aim is not None:
            pace = self.config.timing.s
            aimed = [
                s + kill.aim for s in self.submits if life.ready_at + pace(0.3) <= s + kill.aim
            ]
            if aimed and aimed[0] <= due + pace(2.0):
                return aimed[0]
        return due

    def _await_restores(self, before: list[dict[str, Any]], limit_s: float = 15.0) -> None:
        """Give HVAC control its staggered restores before the graceful stop.

        The last event is terminal before its facilities are all back (the
        restore is spread over ``hvac.restore_stagger``); stopping at once
        would leave them for the next start. Keep the daemon alive (and
        restart it if it dies) until every facility is as it was, or
        ``limit_s`` passed (then the checks say which are not).
        """
        wanted = {_facility_key(f): f for f in before}
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            self._life(self.now_s())
            now = {_facility_key(f): f for f in self._facilities()}
            if all(now.get(k, {}).get("setTemp") == f.get("setTemp") for k, f in wanted.items()):
                return
            time.sleep(0.2)  # polling the simulator for restores, bounded by the deadline
        self.note(f"facilities not all restored {limit_s:g}s after the last event ended")

    def _finished(self, now: float, events: dict[str, EventSummary]) -> bool:
        if now < self.scenario.last_end_s or self.actions.in_flight:
            return False
        wanted = {e.event_id for e in self.scenario.events}
        return wanted <= set(events) and all(events[i].status.is_terminal for i in wanted)

    # -- time and notes --------------------------------------------------------

    def now_s(self) -> float:
        return (datetime.now(UTC) - self.scenario.t0).total_seconds()

    def note(self, what: str) -> None:
        self.journal.append((round(self.now_s(), 2), what))

    # -- reading ---------------------------------------------------------------

    def _events(self, now: float) -> dict[str, EventSummary] | None:
        """The database's events (read every ``READ_EVERY_S``); None while unreachable."""
        if now - self._read_at < READ_EVERY_S:
            return self._last_read
        self._read_at = now
        try:
            self._last_read = {e.event_id: e for e in self.store.overview()}
        except Exception:  # any database error during an outage: read again next time
            self._last_read = None
        return self._last_read

    def _sim_requests(self) -> dict[str, dict[str, Any]]:
        found = {rid: self.sim.dr_request(rid) for rid in self.sim.dr_requests()}
        return {rid: request for rid, request in found.items() if request is not None}

    def _facilities(self) -> list[dict[str, Any]]:
        return self.sim.facilities() if self.sim.has_becon() else []

    # -- faults ----------------------------------------------------------------

    def _fault(self, what: FaultKind) -> None:
        match what:
            case FaultKind.LATENCY_ON:
                self.sim.set_faults(latency_ms=LATENCY_SPIKE_MS)
            case FaultKind.LATENCY_OFF:
                self.sim.set_faults(latency_ms=0)
            case FaultKind.EXPIRE_TOKENS:
                if self.sim.has_becon():
                    self.note(f"BECON tokens expired: {self.sim.expire_tokens()}")
                    return
            case FaultKind.DB_DOWN:
                if self.outage is not None:
                    ended = self.outage.take_down()
                    self.outages.append((self.now_s(), float("inf")))
                    self.note(f"database down: {ended} daemon session(s) ended")
                    return
            case FaultKind.DB_UP:
                if self.outage is not None:
                    self.outage.bring_up()
                    self.outages[-1] = (self.outages[-1][0], self.now_s())
        self.note(f"fault: {what}")

    # -- the end -----------------------------------------------------------------

    def _collect(
        self, facilities_before: list[dict[str, Any]], final: int | None, timed_out: bool
    ) -> Outcome:
        events = {e.event_id: e for e in self.store.overview()}
        timelines: dict[str, list[Transition]] = {}
        for change in self.store.timeline():
            timelines.setdefault(change.event_id, []).append(change)
        return Outcome(
            scenario=self.scenario,
            chaos=self.chaos,
            events=events,
            timelines=timelines,
            open_intents=list(self.store.open_intents()),
            sim_requests=self._sim_requests(),
            sim_calls=self.sim.dr_calls(),
            facilities_before=facilities_before,
            facilities_after=self._facilities(),
            controls=self.sim.controls() if self.sim.has_becon() else [],
            journal=self.journal,
            daemon_starts=self.daemon.starts,
            daemon_kills=self.life.kills,
            unexpected_exits=self.unexpected_exits,
            outages=self.outages,
            up=self.life.up,
            final_exit_code=final,
            change_applied=self.actions.change_applied,
            timed_out=timed_out,
            daemon_log=self.daemon.log_tail(),
            db_sessions_ended=self.outage.terminated if self.outage else 0,
        )


def _facility_key(state: dict[str, Any]) -> tuple[str, str, str]:
    return state["site"], state["gateway"], state["facilityId"]


def _reader(url: str) -> Engine:
    """The harness's own engine: on SQLite a plain one (deferred BEGIN, read only).

    ``open_engine`` begins every SQLite transaction with ``BEGIN IMMEDIATE``
    (the daemon's writes must not fail half way); the harness only reads,
    and taking the write lock 20 times a second would slow the daemon down.
    """
    return open_engine(url) if not is_sqlite(url) else create_engine(url)


def run(config: RunConfig) -> Outcome:
    """One run; its outcome is also kept in ``workdir/outcome.pickle`` to re-check later."""
    outcome = Driver(config).run()
    with (config.workdir / "outcome.pickle").open("wb") as file:
        pickle.dump(outcome, file)
    return outcome
