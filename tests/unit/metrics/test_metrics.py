"""The metrics module: documented names render, helpers record what they say."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from scheduler import metrics
from scheduler.domain.lateness import Lateness, Overdue

#: Every family docs/operations.md lists, with its Prometheus type.
DOCUMENTED = {
    "drsched_events": "gauge",
    "drsched_transitions": "counter",
    "drsched_api_calls": "counter",
    "drsched_api_call_duration_seconds": "histogram",
    "drsched_control_actions": "counter",
    "drsched_facilities_under_control": "gauge",
    "drsched_scheduler_lateness_seconds": "histogram",
    "drsched_leader": "gauge",
    "drsched_leader_epoch": "gauge",
    "drsched_build_info": "gauge",  # an Info renders as a gauge that is always 1
    "drsched_plan_apply_failures": "counter",
    "drsched_plan_last_apply_successful": "gauge",
    "drsched_plan_last_apply_success_timestamp_seconds": "gauge",
    "drsched_becon_token_issues": "counter",
    "drsched_submissions_overdue": "gauge",
    "drsched_submissions_overdue_max_seconds": "gauge",
    "drsched_windows_uncontrolled": "gauge",
    "drsched_windows_uncontrolled_max_seconds": "gauge",
    "drsched_facilities_held_past_end": "gauge",
    "drsched_facilities_held_past_end_max_seconds": "gauge",
}

T0 = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)


def _families(m: metrics.Metrics) -> dict[str, str]:
    text = generate_latest(m.registry).decode()
    return {f.name: f.type for f in text_string_to_metric_families(text)}


def test_every_documented_family_renders_with_its_type() -> None:
    with metrics.isolated_metrics() as m:
        families = _families(m)
    drsched = {
        name: kind
        for name, kind in families.items()
        if name.startswith("drsched_") and not name.endswith("_created")
    }
    assert drsched == DOCUMENTED


def test_every_family_is_listed_in_the_operations_guide() -> None:
    from pathlib import Path

    guide = (Path(__file__).parents[3] / "docs" / "operations.md").read_text()
    missing = [name for name in DOCUMENTED if f"`{name}" not in guide]
    assert missing == []


def test_observe_api_call_counts_and_times_the_call() -> None:
    with metrics.isolated_metrics() as m:
        metrics.observe_api_call("dr", "POST /requests", "ok", 0.3)
        metrics.observe_api_call("dr", "POST /requests", "retryable", 1.5)
        value = m.registry.get_sample_value
        labels = {"api": "dr", "endpoint": "POST /requests"}
        assert value("drsched_api_calls_total", {**labels, "outcome": "ok"}) == 1
        assert value("drsched_api_calls_total", {**labels, "outcome": "retryable"}) == 1
        assert value("drsched_api_call_duration_seconds_count", labels) == 2
        assert value("drsched_api_call_duration_seconds_sum", labels) == 1.8
        assert value("drsched_api_call_duration_seconds_bucket", {**labels, "le": "0.5"}) == 1


def test_transitions_and_control_actions_count_by_label() -> None:
    with metrics.isolated_metrics() as m:
        metrics.record_transition("pending", "active", "api")
        metrics.record_transition("pending", "active", "api")
        metrics.record_control_action("apply", "ok", count=40)
        metrics.record_control_action("apply", "skipped")
        value = m.registry.get_sample_value
        assert (
            value("drsched_transitions_total", {"from": "pending", "to": "active", "source": "api"})
            == 2
        )
        assert value("drsched_control_actions_total", {"action": "apply", "outcome": "ok"}) == 40
        assert (
            value("drsched_control_actions_total", {"action": "apply", "outcome": "skipped"}) == 1
        )


def test_events_by_status_resets_statuses_that_dropped_to_zero() -> None:
    with metrics.isolated_metrics() as m:
        metrics.set_events_by_status({"pending": 3, "active": 1})
        metrics.set_events_by_status({"active": 2})
        value = m.registry.get_sample_value
        assert value("drsched_events", {"status": "pending"}) == 0
        assert value("drsched_events", {"status": "active"}) == 2
        assert value("drsched_events", {"status": "planned"}) == 0


def test_lateness_is_the_delay_and_never_negative() -> None:
    with metrics.isolated_metrics() as m:
        metrics.observe_lateness(T0, T0 + timedelta(seconds=7))
        metrics.observe_lateness(T0, T0 - timedelta(seconds=1))
        value = m.registry.get_sample_value
        assert value("drsched_scheduler_lateness_seconds_count") == 2
        assert value("drsched_scheduler_lateness_seconds_sum") == 7
        assert value("drsched_scheduler_lateness_seconds_bucket", {"le": "5.0"}) == 1


def test_leader_gauge_and_epoch_follow_leadership() -> None:
    with metrics.isolated_metrics() as m:
        metrics.set_leader(True, 4)
        assert m.registry.get_sample_value("drsched_leader") == 1
        assert m.registry.get_sample_value("drsched_leader_epoch") == 4
        metrics.set_leader(False, 4)
        assert m.registry.get_sample_value("drsched_leader") == 0
        assert m.registry.get_sample_value("drsched_leader_epoch") == 0


def test_facilities_under_control_is_a_plain_gauge() -> None:
    with metrics.isolated_metrics() as m:
        metrics.set_facilities_under_control(12)
        assert m.registry.get_sample_value("drsched_facilities_under_control") == 12


def test_build_info_names_the_version() -> None:
    with metrics.isolated_metrics() as m:
        text = generate_latest(m.registry).decode()
    assert re.search(r'drsched_build_info\{python="[\d.]+",version="[^"]+"\} 1\.0', text)


def test_isolated_metrics_restores_the_process_wide_registry() -> None:
    before = metrics.registry()
    with metrics.isolated_metrics() as m:
        assert metrics.registry() is m.registry
        assert m.registry is not before
    assert metrics.registry() is before


def test_process_wide_registry_also_exports_process_metrics() -> None:
    text = generate_latest(metrics.registry()).decode()
    assert "process_cpu_seconds_total" in text
    assert "python_info" in text


def test_plan_apply_success_and_failure() -> None:
    with metrics.isolated_metrics() as m:
        value = m.registry.get_sample_value
        assert value("drsched_plan_last_apply_successful") == 1  # nothing failed yet
        assert value("drsched_plan_last_apply_success_timestamp_seconds") == 0
        metrics.record_plan_apply(True, T0)
        metrics.record_plan_apply(False, T0 + timedelta(minutes=5))
        assert value("drsched_plan_last_apply_successful") == 0
        assert value("drsched_plan_last_apply_success_timestamp_seconds") == T0.timestamp()
        assert value("drsched_plan_apply_failures_total") == 1
        metrics.record_plan_apply(True, T0 + timedelta(minutes=9))
        assert value("drsched_plan_last_apply_successful") == 1
        assert value("drsched_plan_last_apply_success_timestamp_seconds") == T0.timestamp() + 540


def test_token_issues_count_by_outcome_both_present_from_the_start() -> None:
    with metrics.isolated_metrics() as m:
        value = m.registry.get_sample_value
        assert value("drsched_becon_token_issues_total", {"outcome": "failed"}) == 0
        metrics.record_token_issue(False)
        metrics.record_token_issue(False)
        metrics.record_token_issue(True)
        assert value("drsched_becon_token_issues_total", {"outcome": "failed"}) == 2
        assert value("drsched_becon_token_issues_total", {"outcome": "ok"}) == 1


def test_lateness_sets_each_count_and_age() -> None:
    late = Lateness(
        submissions=Overdue(2, 90.0),
        windows_uncontrolled=Overdue(1, 400.0),
        held_past_end=Overdue(30, 1300.5),
    )
    with metrics.isolated_metrics() as m:
        metrics.set_lateness(late)
        value = m.registry.get_sample_value
        assert value("drsched_submissions_overdue") == 2
        assert value("drsched_submissions_overdue_max_seconds") == 90
        assert value("drsched_windows_uncontrolled") == 1
        assert value("drsched_windows_uncontrolled_max_seconds") == 400
        assert value("drsched_facilities_held_past_end") == 30
        assert value("drsched_facilities_held_past_end_max_seconds") == 1300.5
        metrics.set_lateness(Lateness())
        assert value("drsched_facilities_held_past_end_max_seconds") == 0
