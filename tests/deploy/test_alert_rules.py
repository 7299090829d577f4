"""The shipped alert rules: generated, valid, unit-tested by promtool, documented."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.support.deploy import DEPLOY, load_script
from tests.support.metric_names import exported, referenced

alerts = load_script("prometheus/alerts.py")
RULES = DEPLOY / "prometheus" / "drsched-alerts.yaml"
TESTS = DEPLOY / "prometheus" / "drsched-alerts.test.yaml"
GUIDE = Path(__file__).parents[2] / "docs" / "operations.md"


def _rules(text: str) -> list[dict[str, Any]]:
    return [r for group in YAML(typ="safe").load(text)["groups"] for r in group["rules"]]


def test_the_shipped_file_is_the_generators_output_with_the_defaults() -> None:
    assert RULES.read_text() == alerts.render(), (
        "deploy/prometheus/drsched-alerts.yaml is stale: "
        "python3 deploy/prometheus/alerts.py --output deploy/prometheus/drsched-alerts.yaml"
    )


def test_promtool_check_rules(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alerts.ALERTS)} rules found" in done.stdout


def test_promtool_unit_tests_pass(promtool: str) -> None:
    done = subprocess.run(
        [promtool, "test", "rules", TESTS.name],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_is_silent() -> None:
    tests = YAML(typ="safe").load(TESTS.read_text())
    assert tests["rule_files"] == [RULES.name]
    fires: set[str] = set()
    silent: set[str] = set()
    for test in tests["tests"]:
        for case in test["alert_rule_test"]:
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    names = {r["alert"] for r in _rules(RULES.read_text())}
    assert names == {a.name for a in alerts.ALERTS}
    assert names - fires == set(), "alerts never shown to fire"
    assert names - silent == set(), "alerts never shown to stay silent"


def test_every_drsched_metric_a_rule_reads_is_exported() -> None:
    names = set().union(*(referenced(r["expr"]) for r in _rules(RULES.read_text())))
    assert names
    assert names - exported() == set()


def test_every_alert_has_a_severity_summary_and_runbook() -> None:
    for rule in _rules(RULES.read_text()):
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["runbook"].count("\n") >= 2, rule["alert"]
        assert "{{" not in annotations["runbook"], "runbooks are constant text"


def test_a_setting_changes_its_threshold_and_nothing_else() -> None:
    default = {r["alert"]: r for r in _rules(alerts.render())}
    changed = {r["alert"]: r for r in _rules(alerts.render({"held_past_end": "1800"}))}
    held = "DrschedFacilitiesHeldPastEnd"
    assert changed[held]["expr"].endswith("> 1800")
    assert default[held]["expr"].endswith("> 1200")
    assert {k: v for k, v in changed.items() if k != held} == {
        k: v for k, v in default.items() if k != held
    }


def test_the_selector_reaches_every_drsched_series() -> None:
    rules = _rules(alerts.render({"selector": 'job="drsched",env="prod"'}))
    for rule in rules:
        if rule["alert"] == "DrschedHealthzFailing":
            continue
        for part in rule["expr"].split("drsched_")[1:]:
            name = part.split("{")[0]
            assert part.startswith(f'{name}{{job="drsched",env="prod"'), (rule["alert"], part)


def test_a_zero_wait_drops_for() -> None:
    rules = {r["alert"]: r for r in _rules(alerts.render({"dr_error_for": "0s"}))}
    assert "for" not in rules["DrschedDrErrorRatio"]
    assert rules["DrschedBeconErrorRatio"]["for"] == "10m"


def test_an_unknown_setting_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match=r"unknown setting.*held_past_ends.*known.*held_past_end"):
        alerts.render({"held_past_ends": "1"})
    assert alerts.main(["--set", "nope=1"]) == 2


def test_the_command_line_writes_what_render_gives(tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    assert alerts.main(["--set", "lateness_p99=120", "--output", str(out)]) == 0
    assert out.read_text() == alerts.render({"lateness_p99": "120"})
    assert "# Settings changed from their defaults: lateness_p99=120" in out.read_text()


def test_every_alert_and_setting_is_in_the_operations_guide() -> None:
    guide = GUIDE.read_text()
    missing = [a.name for a in alerts.ALERTS if f"`{a.name}`" not in guide]
    missing += [name for name in alerts.SETTINGS if f"`{name}`" not in guide]
    assert missing == []
