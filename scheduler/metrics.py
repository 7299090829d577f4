"""Every Prometheus metric drsched exports, in one place.

The metrics live in a dedicated :class:`~prometheus_client.CollectorRegistry`
(never the library's global one), held by a :class:`Metrics` object. The
daemon uses the process-wide instance through the helper functions below;
tests get a fresh one with :func:`isolated_metrics` so counts never leak
between them. ``/metrics`` (see :mod:`scheduler.health`) renders
:func:`registry`.

Metric names (all prefixed ``drsched_``; ``docs/operations.md`` lists them too):

- ``drsched_events{status}`` gauge: events in the store by local status.
- ``drsched_transitions_total{from,to,source}`` counter: lifecycle transitions.
- ``drsched_api_calls_total{api,endpoint,outcome}`` counter: vendor API calls.
- ``drsched_api_call_duration_seconds{api,endpoint}`` histogram: their latency.
- ``drsched_control_actions_total{action,outcome}`` counter: per-facility
  setpoint actions (apply, restore, reassert, ramp, pre_condition, release) by outcome
  (ok, skipped, failed...).
- ``drsched_facilities_under_control`` gauge: facilities now at a DR setpoint.
- ``drsched_scheduler_lateness_seconds`` histogram: how long after it was due
  an action ran.
- ``drsched_leader`` gauge: 1 while this instance is the leader, 0 on standby.
- ``drsched_leader_epoch`` gauge: the fencing epoch this instance leads under.
- ``drsched_build_info{version,python}`` always 1: what is running.
- ``drsched_plan_apply_failures_total`` counter, ``drsched_plan_last_apply_successful``
  gauge (0 after a failed apply, else 1) and
  ``drsched_plan_last_apply_success_timestamp_seconds``: plan file applies.
- ``drsched_becon_token_issues_total{outcome}`` counter: BECON token issues (ok, failed).
- Work that is late, read from the database by the leader (:class:`Lateness`):
  ``drsched_submissions_overdue`` (+ ``_max_seconds``): events due for submission
  and not accepted by the DR service; ``drsched_windows_uncontrolled`` (+
  ``_max_seconds``): windows under way whose HVAC control never started;
  ``drsched_facilities_held_past_end`` (+ ``_max_seconds``): facilities still
  held after their event's window ended.

Label values must come from small fixed sets: ``endpoint`` is the operation's
name or path template (``POST /requests``), never a URL with ids in it.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from scheduler.domain.lateness import Lateness
from scheduler.domain.lifecycle import Status

#: Latency buckets for vendor API calls (seconds): fast LAN to slow retries.
API_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Lateness buckets (seconds): timer jitter up to a missed-by-minutes action.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)
#: The late-work gauges (each also has ``_max_seconds``) and what they count.
LATE_WORK = {
    "submissions_overdue": "Events due for submission and not yet accepted by the DR service",
    "windows_uncontrolled": "Event windows under way whose HVAC control has not started",
    "facilities_held_past_end": "Facilities still held by an event whose window has ended",
}


def _version() -> str:
    try:
        return metadata.version("drsched")
    except metadata.PackageNotFoundError:
        return "unknown"


class Metrics:
    """The metric objects, all registered in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True) if registry is None else registry
        r = self.registry
        self.events = Gauge(
            "drsched_events", "Events in the store by status.", ["status"], registry=r
        )
        self.transitions = Counter(
            "drsched_transitions",
            "Event lifecycle transitions.",
            ["from", "to", "source"],
            registry=r,
        )
        self.api_calls = Counter(
            "drsched_api_calls", "Vendor API calls.", ["api", "endpoint", "outcome"], registry=r
        )
        self.api_latency = Histogram(
            "drsched_api_call_duration_seconds",
            "Vendor API call latency, including the transport.",
            ["api", "endpoint"],
            buckets=API_BUCKETS,
            registry=r,
        )
        self._init_control_and_leader(r)

    def _init_control_and_leader(self, r: CollectorRegistry) -> None:
        self.control_actions = Counter(
            "drsched_control_actions",
            "Per-facility setpoint actions by action and outcome.",
            ["action", "outcome"],
            registry=r,
        )
        self.facilities_under_control = Gauge(
            "drsched_facilities_under_control", "Facilities now held at a DR setpoint.", registry=r
        )
        self.lateness = Histogram(
            "drsched_scheduler_lateness_seconds",
            "Seconds between when an action was due and when it ran.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.leader = Gauge(
            "drsched_leader", "1 while this instance leads, 0 on standby.", registry=r
        )
        self.leader_epoch = Gauge(
            "drsched_leader_epoch", "Fencing epoch this instance leads under (0: none).", registry=r
        )
        self.build_info = Info("drsched_build", "The running drsched.", registry=r)
        self.build_info.info({"version": _version(), "python": platform.python_version()})
        self._init_operations(r)

    def _init_operations(self, r: CollectorRegistry) -> None:
        """What the shipped alerts need beyond the above (deploy/prometheus)."""
        self.plan_apply_failures = Counter(
            "drsched_plan_apply_failures",
            "Plan file applies (start-up, SIGHUP) that failed; the previous plan stayed.",
            registry=r,
        )
        self.plan_last_apply_successful = Gauge(
            "drsched_plan_last_apply_successful",
            "0 when the last plan file apply failed, else 1 (also before the first).",
            registry=r,
        )
        self.plan_last_apply_successful.set(1)
        self.plan_last_apply_success = Gauge(
            "drsched_plan_last_apply_success_timestamp_seconds",
            "When the plan files were last applied successfully (0: not yet).",
            registry=r,
        )
        self.token_issues = Counter(
            "drsched_becon_token_issues",
            "BECON access token issues (server time, signature, token call) by outcome.",
            ["outcome"],
            registry=r,
        )
        for outcome in ("ok", "failed"):
            self.token_issues.labels(outcome)
        self._late = {
            name: (
                Gauge(f"drsched_{name}", f"{what}.", registry=r),
                Gauge(
                    f"drsched_{name}_max_seconds",
                    f"{what}: how long the longest has been (0 when none).",
                    registry=r,
                ),
            )
            for name, what in LATE_WORK.items()
        }

    def set_lateness(self, late: Lateness) -> None:
        for name, overdue in (
            ("submissions_overdue", late.submissions),
            ("windows_uncontrolled", late.windows_uncontrolled),
            ("facilities_held_past_end", late.held_past_end),
        ):
            count, seconds = self._late[name]
            count.set(overdue.count)
            seconds.set(max(overdue.max_seconds, 0.0))

    def record_plan_apply(self, ok: bool, at: datetime) -> None:
        self.plan_last_apply_successful.set(1 if ok else 0)
        if ok:
            self.plan_last_apply_success.set(at.timestamp())
        else:
            self.plan_apply_failures.inc()

    def set_events_by_status(self, counts: Mapping[str, int]) -> None:
        """Set every known status, so one that drops to zero reads 0, not its old count."""
        for name in {status.value for status in Status} | set(counts):
            self.events.labels(name).set(counts.get(name, 0))

    def observe_api_call(self, api: str, endpoint: str, outcome: str, seconds: float) -> None:
        self.api_calls.labels(api, endpoint, outcome).inc()
        self.api_latency.labels(api, endpoint).observe(max(seconds, 0.0))

    def observe_lateness(self, due: datetime, ran: datetime) -> None:
        """Early runs (clock jitter) count as zero lateness."""
        self.lateness.observe(max((ran - due).total_seconds(), 0.0))

    def set_leader(self, leading: bool, epoch: int | None = None) -> None:
        self.leader.set(1 if leading else 0)
        self.leader_epoch.set(epoch if leading and epoch is not None else 0)


def _process_wide() -> Metrics:
    """The daemon's instance, with the process_* and python_* collectors too."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return Metrics(registry)


_current: Metrics = _process_wide()


def current() -> Metrics:
    """The metrics the daemon records into (a test's fresh set inside :func:`isolated_metrics`)."""
    return _current


def registry() -> CollectorRegistry:
    """The registry ``/metrics`` renders."""
    return _current.registry


@contextmanager
def isolated_metrics() -> Iterator[Metrics]:
    """Swap in a fresh :class:`Metrics` for a test, restoring the previous one after."""
    global _current
    previous, _current = _current, Metrics()
    try:
        yield _current
    finally:
        _current = previous


def observe_api_call(api: str, endpoint: str, outcome: str, seconds: float) -> None:
    """Count one vendor API call and record its latency.

    ``api`` is ``dr`` or ``becon``; ``endpoint`` the operation (``POST /requests``);
    ``outcome`` ``ok`` or the error class (``retryable``, ``permanent``, ``timeout``...).
    """
    _current.observe_api_call(api, endpoint, outcome, seconds)


def record_transition(from_status: str, to_status: str, source: str) -> None:
    """Count one lifecycle transition (``source``: plan, api, clock, admin)."""
    _current.transitions.labels(from_status, to_status, source).inc()


def record_control_action(action: str, outcome: str, count: int = 1) -> None:
    """Count setpoint actions: ``action`` apply/restore/reassert/ramp/pre_condition/release,
    ``outcome`` ok/skipped/failed."""
    _current.control_actions.labels(action, outcome).inc(count)


def set_events_by_status(counts: Mapping[str, int]) -> None:
    """Publish the store's event counts by status (missing statuses read 0)."""
    _current.set_events_by_status(counts)


def set_facilities_under_control(count: int) -> None:
    _current.facilities_under_control.set(count)


def observe_lateness(due: datetime, ran: datetime) -> None:
    """Record how late an action ran relative to when it was due."""
    _current.observe_lateness(due, ran)


def set_leader(leading: bool, epoch: int | None = None) -> None:
    """Publish leadership (1/0) and the fencing epoch held (0 on standby)."""
    _current.set_leader(leading, epoch)


def record_plan_apply(ok: bool, at: datetime) -> None:
    """A plan file apply ended: ``ok``, or failed (the previous plan stays in force)."""
    _current.record_plan_apply(ok, at)


def record_token_issue(ok: bool) -> None:
    """One BECON token issue ended (the whole server time, signature, token sequence)."""
    _current.token_issues.labels("ok" if ok else "failed").inc()


def set_lateness(late: Lateness) -> None:
    """Publish the store's late work (the leader, every few seconds)."""
    _current.set_lateness(late)
