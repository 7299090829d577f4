"""`drsched hvac inventory` in process (``scheduler.cli.main``) against the simulator on a socket.

The subprocess run is in ``tests/e2e``; here the tables, the exit codes and
the error messages, without paying for a new interpreter each time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from scheduler.cli import main
from scheduler.commands import hvac_inventory
from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import Running, serve_in_background


@pytest.fixture(scope="module")
def simulator() -> Iterator[Running]:
    with serve_in_background(SimOptions(sites=2, facilities=4)) as running:
        yield running


@pytest.fixture
def run(
    simulator: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, pytest.MonkeyPatch]]:
    monkeypatch.delenv("DRSCHED_CONFIG", raising=False)
    monkeypatch.setenv("DRSCHED_BECON__BASE_URL", simulator.url)
    monkeypatch.setenv("COLUMNS", "200")
    # the process-wide log setup would outlive this test: capture the logs instead
    monkeypatch.setattr(hvac_inventory, "quiet_logs", lambda config: None)
    with capture_logs():
        yield tmp_path / "drsched.yaml", monkeypatch
    httpx.post(f"{simulator.url}/_sim/becon/reset")


def test_tables_with_states_and_mapping(
    run: tuple[Path, pytest.MonkeyPatch], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = run
    config.write_text("hvac: {targets: [{ven: CE-02, site: S002, gateway: GW-01, types: [IDU]}]}")
    assert main(["--config", str(config), "hvac", "inventory", "--states"]) == 0
    out = capsys.readouterr().out
    for words in ("BECON sites", "Gateways", "Facilities", "hvac.targets", "#0 CE-02"):
        assert words in out
    for words in ("IDU-0101", "°F", "°C"):
        assert words in out
    assert "16 facilities, 2 mapped by hvac.targets; 0 of 1 target(s) with problems." in out


def test_no_targets_is_said(
    run: tuple[Path, pytest.MonkeyPatch], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = run
    config.write_text("{}")
    assert main(["--config", str(config), "hvac", "inventory"]) == 0
    assert "No hvac.targets in" in capsys.readouterr().out


def test_json_with_states(
    run: tuple[Path, pytest.MonkeyPatch], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = run
    config.write_text("{}")
    assert main(["--config", str(config), "hvac", "inventory", "--json", "--states"]) == 0
    report = json.loads(capsys.readouterr().out)
    first = report["sites"][0]["gateways"][0]["facilities"][0]
    assert first["facility_id"] == "IDU-0101"
    assert first["state"]["unit"] == "F"
    assert first["state"]["set_temp_range"] == [65.0, 86.0]


def test_a_refused_service_key_exits_3_with_code_and_message_id(
    run: tuple[Path, pytest.MonkeyPatch], capsys: pytest.CaptureFixture[str]
) -> None:
    _, monkeypatch = run
    monkeypatch.setenv("DRSCHED_BECON__SERVICE_KEY", "K3y-n0t-v4lid")
    assert main(["hvac", "inventory"]) == 3
    err = capsys.readouterr().err
    assert "error: BECON server time failed: HTTP 401, code 4013" in err
    assert "x-message-id " in err
    assert "K3y-n0t-v4lid" not in err


def test_a_site_that_cannot_be_read_is_listed_with_its_error_and_exits_3(
    simulator: Running,
    run: tuple[Path, pytest.MonkeyPatch],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config, _ = run
    config.write_text("hvac: {targets: [{ven: CE-02, site: S002, gateway: GW-01}]}")
    httpx.post(f"{simulator.url}/_sim/becon/access", json={"site": "S002", "denied": True})
    assert main(["--config", str(config), "hvac", "inventory", "--json"]) == 3
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    denied = report["sites"][1]
    assert denied["error"]["code"] == "4030"
    assert denied["error"]["http_status"] == 403
    assert denied["error"]["message_id"]
    assert report["targets"][0]["problems"] == [
        "site S002 could not be read: the target was not checked"
    ]
    assert "HTTP 403, code 4030, 'access to site S002 denied'" in captured.err


def test_config_check_says_which_targets_map_facilities(
    run: tuple[Path, pytest.MonkeyPatch], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = run
    config.write_text(
        "hvac: {targets: [{ven: CE-02, site: S002, gateway: GW-01, types: [IDU]},"
        " {ven: CE-03, site: S001, gateway: GW-9}]}"
    )
    assert main(["--config", str(config), "config", "check", "--targets", "--json"]) == 1
    checks = json.loads(capsys.readouterr().out)["targets"]
    assert [(c["ven"], c["matched"]) for c in checks] == [("CE-02", 2), ("CE-03", 0)]
    assert "gateway 'GW-9' not found on site S001" in checks[1]["problems"][0]
    assert main(["--config", str(config), "config", "check", "--targets"]) == 1
    out = capsys.readouterr().out
    assert "# hvac.targets[0] CE-02: maps 2 facilities" in out
