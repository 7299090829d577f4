"""`drsched demo --openadr`: VTN event -> drsched -> DR Requests -> HVAC -> restored, exit 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_openadr_runs_one_event_and_cancels_the_other(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    result = subprocess.run(
        [sys.executable, "-m", "scheduler", "demo", "--openadr"],
        env={**env, "COLUMNS": "200"},
        cwd=tmp_path,
        capture_output=True,
        timeout=110,
        check=False,
    )
    out = result.stdout.decode()
    assert result.returncode == 0, out + result.stderr.decode()
    assert "demo passed" in out
    assert re.search(r"answered optIn to demo-ven-\w+-1", out)
    assert re.search(r"drsched: demo-ven-\w+-1 is completed \(openadr DEMO-VTN", out)
    assert re.search(
        r"drsched: demo-ven-\w+-2 is canceled \(openadr DEMO-VTN demo-ven-\w+-2 mod 1", out
    )
    assert list(tmp_path.iterdir()) == [], "the demo leaves nothing behind"
