"""`drsched hvac inventory --json` as a script runs it, against the simulator on a real socket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scheduler.simulator.options import SimOptions
from scheduler.simulator.server import Running, serve_in_background
from tests.support.pace import pace

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

CONFIG = """\
hvac:
  targets:
    - {ven: CE-02, site: S001, gateway: GW-01, types: [IDU, AHU]}
    - {ven: CE-03, resource: FLOOR-2, site: S001, gateway: GW-02, facilities: [IDU-0201]}
    - {ven: CE-04, site: S001, gateway: GW-3}
"""


@pytest.fixture(scope="module")
def simulator() -> Iterator[Running]:
    with serve_in_background(SimOptions(facilities=6)) as running:
        yield running


def inventory(running: Running, config: Path, *extra: str) -> tuple[int, Any, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    env["DRSCHED_BECON__BASE_URL"] = running.url
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "--config", str(config), "hvac", "inventory", *extra],
        env=env,
        capture_output=True,
        timeout=pace().s(30),
        check=False,
    )
    out = result.stdout.decode()
    return result.returncode, json.loads(out) if "--json" in extra else out, result.stderr.decode()


def test_json_lists_the_account_and_names_the_target_that_matches_nothing(
    simulator: Running, tmp_path: Path
) -> None:
    config = tmp_path / "drsched.yaml"
    config.write_text(CONFIG)
    code, report, err = inventory(simulator, config, "--json")
    assert code == 1, err
    assert report["base_url"] == simulator.url
    assert report["summary"] == {
        "sites": 1,
        "gateways": 2,
        "facilities": 12,
        "mapped": 5,
        "targets": 3,
        "targets_with_problems": 1,
        "errors": 0,
    }
    gw1, gw2 = report["sites"][0]["gateways"]
    mapped = {f["facility_id"]: f["mapped_by"] for f in gw1["facilities"] + gw2["facilities"]}
    assert mapped["IDU-0101"] == [0]
    assert mapped["ODU-0104"] == []
    assert mapped["IDU-0201"] == [1]
    assert [t["problems"] for t in report["targets"]] == [
        [],
        [],
        ["gateway 'GW-3' not found on site S001 (did you mean 'GW-02'?)"],
    ]
