"""The shipped Grafana dashboard: the SDK generator's output, on drsched's real metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.support.deploy import DEPLOY, load_script
from tests.support.metric_names import exported, referenced

dashboard = load_script("grafana/dashboard.py")
SHIPPED = DEPLOY / "grafana" / "drsched-dashboard.json"


def _board() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SHIPPED.read_text())
    return loaded


def panels() -> Iterator[dict[str, Any]]:
    return (p for p in _board()["panels"] if p["type"] != "row")


def exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_the_shipped_json_is_the_generators_output() -> None:
    assert SHIPPED.read_text() == dashboard.render(), (
        "deploy/grafana/drsched-dashboard.json is stale: "
        "python3 deploy/grafana/dashboard.py --output deploy/grafana/drsched-dashboard.json"
    )


def test_a_datasource_variable_of_type_prometheus_feeds_every_panel_and_query() -> None:
    variables = {v["name"]: v for v in _board()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    every = [p["datasource"] for p in panels()]
    every += [t["datasource"] for p in panels() for t in p["targets"]]
    every += [v["datasource"] for v in variables.values() if v["type"] == "query"]
    assert every
    assert all(ds == {"type": "prometheus", "uid": "${datasource}"} for ds in every)


def test_every_query_selects_the_chosen_job_and_instances() -> None:
    for expr in exprs():
        for part in expr.split("drsched_")[1:]:
            assert '{job="$job",instance=~"$instance"' in part.split(")")[0], expr


def test_every_metric_queried_is_one_drsched_exports() -> None:
    names = set().union(*(referenced(e) for e in exprs()))
    assert names - exported() == set()
    # and it shows what an operator looks at
    for family in (
        "drsched_events",
        "drsched_facilities_under_control",
        "drsched_control_actions_total",
        "drsched_api_call_duration_seconds_bucket",
        "drsched_api_calls_total",
        "drsched_scheduler_lateness_seconds_bucket",
        "drsched_leader",
    ):
        assert family in names, family


def test_panels_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in _board()["panels"]:
        pos = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not mine & cells, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        cells |= mine
