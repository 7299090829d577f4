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
  setpoint actions (apply, restore, reassert) by outcome (ok, skipped, failed...).
- ``drsched_facilities_under_control`` gauge: facilities now at a DR setpoint.
- ``drsched_scheduler_lateness_seconds`` histogram: how long after it was due
  an action ran.
- ``drsched_leader`` gauge: 1 while this instance is the leader, 0 on standby.
- ``drsched_leader_epoch`` gauge: the fencing epoch this instance leads under.
- ``drsched_build_info{version,python}`` always 1: what is running.

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

from scheduler.domain.lifecycle import Status

#: Latency buckets for vendor API calls (seconds): fast LAN to slow retries.
API_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Lateness buckets (seconds): timer jitter up to a missed-by-minutes action.
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)


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
    """Count setpoint actions: ``action`` apply/restore/reassert, ``outcome`` ok/skipped/failed."""
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
