"""Every file in tests/data/bad_plans/ is refused with exactly the problems it expects.

Each file opens with one ``# expect: LINE:COL: message`` comment per problem
(in the order they are reported) and a comment saying what is wrong. The file
is loaded as ``bad.yaml`` from the working directory, so messages that point
at another position read ``bad.yaml:LINE:COL``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from scheduler.errors import PlanError
from scheduler.plans import load_plans

BAD_PLANS = sorted((Path(__file__).parents[2] / "data" / "bad_plans").glob("*.yaml"))
_EXPECT = re.compile(rb"# expect: (.*)\n")


def expected(path: Path) -> list[str]:
    """The ``# expect:`` lines at the top of the file (read as bytes: some are not UTF-8)."""
    head = path.read_bytes()
    found = []
    for line in head.splitlines(keepends=True):
        match = _EXPECT.fullmatch(line)
        if not match:
            break
        found.append(match[1].decode())
    return found


def test_there_are_at_least_forty_bad_plans() -> None:
    assert len(BAD_PLANS) >= 40
    assert all(expected(path) for path in BAD_PLANS), "every bad plan says what it expects"


@pytest.mark.parametrize("path", BAD_PLANS, ids=[p.stem for p in BAD_PLANS])
def test_bad_plan_reports_exactly_its_expected_problems(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copyfile(path, tmp_path / "bad.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PlanError) as caught:
        load_plans([Path("bad.yaml")])
    assert {p.file for p in caught.value.problems} == {"bad.yaml"}
    assert [f"{p.line}:{p.col}: {p.message}" for p in caught.value.problems] == expected(path)
