"""The scenario's actions: cancels from the shell, a remote cancel, a change while pending.

Each action fires once, when its trigger holds (a status in the database or
an instant of the scenario). ``drsched events cancel`` and ``drsched plan
apply`` run as real processes in the background (:class:`CliCall`); one that
fails for any reason but a refusal (``nothing was written``) is fired again
at the next tick while its window lasts, as an operator would retry when
the database was away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scheduler.domain.lifecycle import Status
from scheduler.store.events import EventSummary
from tests.support.crash.procs import CliCall
from tests.support.crash.scenario import Kind, Scenario, ScenarioEvent
from tests.support.crash.simadmin import SimAdmin

Trigger = Callable[[float, EventSummary | None], bool]
Fire = Callable[[EventSummary | None], CliCall | None]


class NotYet(Exception):
    """An action whose moment has not really come (fired again at the next tick)."""


def _always(call: CliCall) -> bool:
    return True


def _not_refused(call: CliCall) -> bool:
    """``plan apply`` refusing the change (exit 1) is an answer, not a failure to retry."""
    return "nothing was written" not in call.output


def _changed(call: CliCall) -> bool:
    """``plan apply`` wrote the change (exit 0 and "1 changed").

    Exit 0 also when it wrote nothing: "no changes (...); 1 ignored (no longer
    changeable)" says the event was already terminal when the call landed.
    """
    return call.returncode == 0 and re.search(r"\b1 changed\b", call.output) is not None


@dataclass
class Action:
    event: ScenarioEvent
    trigger: Trigger
    fire: Fire
    retryable: Callable[[CliCall], bool] = _always
    fired: bool = False
    call: CliCall | None = None
    attempts: int = 0
    result: str = ""


def status_is(wanted: Status) -> Trigger:
    return lambda now, row: row is not None and row.status == wanted


def at_least(offset_s: float) -> Trigger:
    return lambda now, row: now >= offset_s


class Actions:
    """Every non-normal event's action, fired and followed by :meth:`act` each tick."""

    def __init__(
        self,
        scenario: Scenario,
        sim: SimAdmin,
        plan_file: Path,
        cli_env: dict[str, str],
        workdir: Path,
        note: Callable[[str], None],
    ) -> None:
        self.scenario = scenario
        self.sim = sim
        self.plan_file = plan_file
        self.cli_env = cli_env
        self.workdir = workdir
        self.note = note
        self.items = [self._action(e) for e in scenario.events if e.kind != Kind.NORMAL]
        #: The change while pending: None never ran, True applied, False refused or ignored.
        self.change_applied: bool | None = None

    @property
    def in_flight(self) -> bool:
        return any(a.call is not None for a in self.items)

    def abandon(self) -> None:
        for action in self.items:
            if action.call is not None:
                action.call.abandon()

    # -- what each kind does, and when ----------------------------------------

    def _action(self, event: ScenarioEvent) -> Action:
        timing = self.scenario.timing
        cancel = self._cancel(event)
        match event.kind:
            case Kind.CANCEL_PLANNED:
                return Action(event, status_is(Status.PLANNED), cancel)
            case Kind.CANCEL_PENDING:
                return Action(event, status_is(Status.PENDING), cancel)
            case Kind.CANCEL_STANDBY:  # lands ~cli_latency later: still standby
                standby = event.start_s - timing.standby_lead
                return Action(event, at_least(standby + timing.s(0.2)), cancel)
            case Kind.CANCEL_ACTIVE:
                return Action(event, at_least(event.start_s + timing.s(0.3)), cancel)
            case Kind.CANCEL_AT_SUBMIT:  # lands about when the daemon submits it
                submit = self.scenario.submit_s(event)
                return Action(event, at_least(submit - timing.cli_latency), cancel)
            case Kind.REMOTE_CANCEL:
                remote = self._remote_cancel(event)
                return Action(event, at_least(event.start_s + timing.s(1.0)), remote)
            case Kind.CHANGE_PENDING:
                return Action(event, status_is(Status.PENDING), self._change(), _not_refused)
        raise AssertionError(event.kind)

    def _cancel(self, event: ScenarioEvent) -> Fire:
        return lambda row: self._cli("events", "cancel", event.event_id)

    def _remote_cancel(self, event: ScenarioEvent) -> Fire:
        def fire(row: EventSummary | None) -> None:
            request_id = (row.request_id if row else None) or event.event_id
            answer = self.sim.remote_cancel(request_id)
            if answer.status_code != 200:  # not submitted yet (404): again at the next tick
                raise NotYet(f"remote cancel of {request_id} answered {answer.status_code}")

        return fire

    def _change(self) -> Fire:
        def fire(row: EventSummary | None) -> CliCall:
            self.scenario.changed().write_plan(self.plan_file)
            return self._cli("plan", "apply", str(self.plan_file))

        return fire

    def _cli(self, *args: str) -> CliCall:
        return CliCall(args, self.cli_env, self.workdir).start()

    # -- each tick ---------------------------------------------------------------

    def act(self, now: float, events: dict[str, EventSummary]) -> None:
        for action in self.items:
            row = events.get(action.event.event_id)
            if action.call is not None:
                self._follow(action, now)
            elif not action.fired and action.trigger(now, row):
                self._fire(action, row, now)

    def _fire(self, action: Action, row: EventSummary | None, now: float) -> None:
        action.attempts += 1
        status = row.status.value if row else "absent"
        try:
            action.call = action.fire(row)
        except NotYet as exc:
            if now > action.event.end_s:
                action.fired, action.result = True, f"gave up: {exc}"
                self.note(f"{action.event.event_id}: gave up, {exc}")
            return
        action.fired = True
        what = " ".join(action.call.args) if action.call else "remote cancel"
        self.note(f"{action.event.event_id} ({status} in the database): {what}")
        if action.call is None:
            action.result = "done"

    def _follow(self, action: Action, now: float) -> None:
        call = action.call
        assert call is not None
        if not call.done():
            return
        action.call = None
        output = call.output.strip().splitlines()
        last = output[-1] if output else ""
        self.note(f"{action.event.event_id}: exit {call.returncode}: {last}")
        change = action.event.kind == Kind.CHANGE_PENDING
        if call.returncode == 0:
            action.result = "done"
            self.change_applied = _changed(call) if change else self.change_applied
        elif action.retryable(call) and now < action.event.end_s and action.attempts < 20:
            action.fired = False  # e.g. the database was away: the trigger fires again
        else:
            action.result = f"failed: {last}"
            self.change_applied = False if change else self.change_applied
