#!/usr/bin/env python3
"""drsched's Grafana dashboard, built with Grafana's own grafana-foundation-sdk.

``drsched-dashboard.json`` beside this script is its output (a test keeps the
two equal). Regenerate after a change here or an SDK upgrade::

    python3 deploy/grafana/dashboard.py --output deploy/grafana/drsched-dashboard.json

The SDK is a test dependency (``pip install -e '.[test]'``); the JSON itself
needs nothing to import into Grafana. Variables: ``datasource`` (any
Prometheus), ``job`` and ``instance`` (from ``drsched_build_info``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)

SHIPPED = Path(__file__).with_name("drsched-dashboard.json")
UID = "drsched-overview"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
#: Every drsched query selects the chosen job and instances.
SEL = 'job="$job",instance=~"$instance"'

#: Thresholds drawn on the late-work panels: the alert rules' defaults (deploy/prometheus).
LATE_WORK = (
    ("Submissions overdue", "drsched_submissions_overdue", 300),
    ("Windows with no HVAC control", "drsched_windows_uncontrolled", 300),
    ("Facilities held past their end", "drsched_facilities_held_past_end", 1200),
)


def query(expr: str, legend: str = "", ref: str = "A") -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    return q.legend_format(legend) if legend else q


def _red_above(value: float) -> dash.ThresholdsConfig:
    steps = [Threshold(value=None, color="green"), Threshold(value=value, color="red")]
    return dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def _one_is_right() -> dash.ThresholdsConfig:
    """Red at 0 and at 2 or more: exactly one leader per deployment."""
    steps = [
        Threshold(value=None, color="red"),
        Threshold(value=1, color="green"),
        Threshold(value=2, color="red"),
    ]
    return dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def big_number(
    title: str, expr: str, *, unit: str = "short", red_at: float | None = None, width: int = 4
) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .with_target(query(expr))
        .unit(unit)
        .height(4)
        .span(width)
        .graph_mode(common.BigValueGraphMode.AREA)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
    )
    return panel.thresholds(_red_above(red_at)) if red_at is not None else panel


def graph(
    title: str,
    targets: Sequence[prometheus.Dataquery],
    *,
    unit: str = "short",
    description: str = "",
    stacked: bool = False,
    width: int = 12,
    red_at: float | None = None,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit)
        .height(8)
        .span(width)
        .fill_opacity(10)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
    )
    if description:
        panel = panel.description(description)
    if stacked:
        panel = panel.stacking(common_builders.StackingConfig().mode(common.StackingMode.NORMAL))
    if red_at is not None:
        style = common_builders.GraphThresholdsStyleConfig().mode(
            common.GraphTresholdsStyleMode.LINE  # the SDK's spelling
        )
        panel = panel.thresholds(_red_above(red_at)).thresholds_style(style)
    return panel


def _variables() -> list[dash.DatasourceVariable | dash.QueryVariable]:
    datasource = dash.DatasourceVariable("datasource").label("Data source").type("prometheus")
    job = (
        dash.QueryVariable("job")
        .label("Job")
        .datasource(DATASOURCE)
        .query("label_values(drsched_build_info, job)")
        .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    instance = (
        dash.QueryVariable("instance")
        .label("Instance")
        .datasource(DATASOURCE)
        .query('label_values(drsched_build_info{job="$job"}, instance)')
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )
    return [datasource, job, instance]


def _overview(board: dash.Dashboard) -> dash.Dashboard:
    board = board.with_row(dash.Row("Now"))
    board = board.with_panel(
        big_number("Leaders", f"sum(drsched_leader{{{SEL}}})", width=3).thresholds(_one_is_right())
    )
    board = board.with_panel(
        big_number(
            "Events awaiting their window",
            f'sum(drsched_events{{{SEL},status=~"planned|submitting|pending|standby"}})',
            width=3,
        )
    )
    board = board.with_panel(
        big_number("Events active", f'sum(drsched_events{{{SEL},status="active"}})', width=3)
    )
    board = board.with_panel(
        big_number(
            "Facilities under control", f"sum(drsched_facilities_under_control{{{SEL}}})", width=3
        )
    )
    for title, metric, red_at in LATE_WORK:
        board = board.with_panel(
            big_number(
                f"{title} (oldest)", f"max({metric}_max_seconds{{{SEL}}})", unit="s", red_at=red_at
            )
        )
    return board


def _events(board: dash.Dashboard) -> dash.Dashboard:
    board = board.with_row(dash.Row("Events"))
    board = board.with_panel(
        graph(
            "Events by status",
            [query(f"sum by (status) (drsched_events{{{SEL}}})", "{{status}}")],
            stacked=True,
            description="Events in the store by local status (published by the leader).",
        )
    )
    return board.with_panel(
        graph(
            "Lifecycle transitions",
            [
                query(
                    f"sum by (to, source) "
                    f"(increase(drsched_transitions_total{{{SEL}}}[$__rate_interval]))",
                    "to {{to}} ({{source}})",
                )
            ],
            description="Transitions per interval, by the status reached and what caused it.",
        )
    )


def _hvac(board: dash.Dashboard) -> dash.Dashboard:
    board = board.with_row(dash.Row("HVAC control"))
    board = board.with_panel(
        graph(
            "Facilities under control",
            [
                query(f"sum(drsched_facilities_under_control{{{SEL}}})", "under control", "A"),
                query(
                    f"sum(drsched_facilities_held_past_end{{{SEL}}})", "held past their end", "B"
                ),
            ],
        )
    )
    board = board.with_panel(
        graph(
            "Control actions",
            [
                query(
                    f"sum by (action, outcome) "
                    f"(rate(drsched_control_actions_total{{{SEL}}}[$__rate_interval]))",
                    "{{action}} {{outcome}}",
                )
            ],
            unit="ops",
            description="Per-facility setpoint actions per second: apply, restore, reassert, "
            "opt_out by outcome.",
        )
    )
    for title, metric, red_at in LATE_WORK:
        board = board.with_panel(
            graph(
                f"{title}: oldest",
                [query(f"max by (instance) ({metric}_max_seconds{{{SEL}}})", "{{instance}}")],
                unit="s",
                width=8,
                red_at=red_at,
            )
        )
    return board


def _apis(board: dash.Dashboard) -> dash.Dashboard:
    board = board.with_row(dash.Row("Vendor APIs"))
    calls = f"drsched_api_calls_total{{{SEL}}}"
    board = board.with_panel(
        graph(
            "Calls by endpoint and outcome",
            [
                query(
                    f"sum by (api, endpoint, outcome) (rate({calls}[$__rate_interval]))",
                    "{{api}} {{endpoint}} {{outcome}}",
                )
            ],
            unit="reqps",
        )
    )
    board = board.with_panel(
        graph(
            "Error ratio by API",
            [
                query(
                    f'sum by (api) (rate(drsched_api_calls_total{{{SEL},outcome!="ok"}}'
                    f"[$__rate_interval])) / sum by (api) (rate({calls}[$__rate_interval]))",
                    "{{api}}",
                )
            ],
            unit="percentunit",
            red_at=0.25,
        )
    )
    latency = f"drsched_api_call_duration_seconds_bucket{{{SEL}}}"
    return board.with_panel(
        graph(
            "Latency by endpoint (p50, p99)",
            [
                query(
                    f"histogram_quantile(0.5, sum by (api, endpoint, le) "
                    f"(rate({latency}[$__rate_interval])))",
                    "p50 {{api}} {{endpoint}}",
                    "A",
                ),
                query(
                    f"histogram_quantile(0.99, sum by (api, endpoint, le) "
                    f"(rate({latency}[$__rate_interval])))",
                    "p99 {{api}} {{endpoint}}",
                    "B",
                ),
            ],
            unit="s",
            width=24,
        )
    )


def _daemon(board: dash.Dashboard) -> dash.Dashboard:
    board = board.with_row(dash.Row("Scheduler and leadership"))
    lateness = f"drsched_scheduler_lateness_seconds_bucket{{{SEL}}}"
    board = board.with_panel(
        graph(
            "Scheduler lateness (p50, p99)",
            [
                query(
                    f"histogram_quantile(0.5, sum by (le) (rate({lateness}[$__rate_interval])))",
                    "p50",
                    "A",
                ),
                query(
                    f"histogram_quantile(0.99, sum by (le) (rate({lateness}[$__rate_interval])))",
                    "p99",
                    "B",
                ),
            ],
            unit="s",
            red_at=60,
            width=8,
        )
    )
    board = board.with_panel(
        graph(
            "Leader and standby",
            [
                query(f"drsched_leader{{{SEL}}}", "leader {{instance}}", "A"),
                query(f"drsched_leader_epoch{{{SEL}}}", "epoch {{instance}}", "B"),
            ],
            width=8,
            description="drsched_leader is 1 on the leader, 0 on a standby; the epoch "
            "moves at each fail-over.",
        )
    )
    return board.with_panel(
        graph(
            "Plan applies and BECON tokens",
            [
                query(f"drsched_plan_last_apply_successful{{{SEL}}}", "plan ok {{instance}}", "A"),
                query(
                    f"sum by (outcome) (increase(drsched_becon_token_issues_total{{{SEL}}}"
                    "[$__rate_interval]))",
                    "token issues {{outcome}}",
                    "B",
                ),
            ],
            width=8,
        )
    )


def build() -> dash.Dashboard:
    board = (
        dash.Dashboard("drsched")
        .uid(UID)
        .description("Demand-response scheduler: events, HVAC control, vendor APIs, leadership.")
        .tags(["drsched"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .variables(list(_variables()))
    )
    for section in (_overview, _events, _hvac, _apis, _daemon):
        board = section(board)
    return board


def render() -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write drsched's Grafana dashboard JSON.")
    parser.add_argument("--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    text = render()
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
