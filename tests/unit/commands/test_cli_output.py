"""What the commands print when piped, and how they word it (issue 16, finding 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from scheduler.commands._common import print_json_list, render_table
from scheduler.commands.demo_hvac import facilities
from scheduler.commands.events import _bounds
from scheduler.domain.events import TempUnit


@pytest.mark.parametrize("argv", [["plan", "schema"], ["config", "check", "--json"]])
def test_a_reader_that_went_away_is_no_traceback(argv: list[str]) -> None:
    """``drsched plan schema | head -c 10``: the reader closed the pipe before we wrote."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first write: EPIPE, every time
    try:
        done = subprocess.run(
            [sys.executable, "-m", "scheduler", *argv],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 141


@pytest.mark.parametrize(
    ("low", "high", "offset", "unit", "shown"),
    [
        (24, 27, 3, TempUnit.C, " min 24 max 27 offset 3 °C"),
        (None, 80, None, None, " max 80 °F"),
        (None, None, 4.5, TempUnit.F, " offset 4.5 °F"),
        (None, None, None, None, ""),
    ],
)
def test_events_show_prints_only_the_bounds_a_signal_sets(
    low: float | None, high: float | None, offset: float | None, unit: TempUnit | None, shown: str
) -> None:
    assert _bounds(low, high, offset, unit) == shown


def test_one_facility_is_singular() -> None:
    assert [facilities(n) for n in (0, 1, 2)] == ["0 facilities", "1 facility", "2 facilities"]


def test_a_table_is_aligned_plain_text_without_trailing_blanks() -> None:
    text = render_table(
        "next actions", ("at", "action", "event"), [["12:00", "submit", "a"], ["9", "", "bb"]]
    )
    assert text == (
        "next actions\n"
        "at     action  event\n"
        "-----  ------  -----\n"
        "12:00  submit  a\n"
        "9              bb\n"
    )
    assert render_table(None, ("a", "b"), []) == "a  b\n-  -\n"
    two_problems = render_table(None, ("#", "problems", "n"), [["1", "first\nsecond one", "7"]])
    assert two_problems == ("#  problems    n\n-  ----------  -\n1  first       7\n   second one\n")
    assert render_table(None, ("a",), [["x"]], bold_header=True).startswith("\033[1ma\033[0m\n")


def test_a_json_list_is_one_element_a_line_and_the_same_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = [{"id": "a", "vens": ["V1", "V2"], "at": None}, {"id": "b", "vens": [], "n": 1.5}]
    print_json_list(items)
    out = capsys.readouterr().out
    assert json.loads(out) == items
    assert out.splitlines()[1:3] == [
        '  {"id": "a", "vens": ["V1", "V2"], "at": null},',
        '  {"id": "b", "vens": [], "n": 1.5}',
    ]
    print_json_list([])
    assert capsys.readouterr().out == "[]\n"
