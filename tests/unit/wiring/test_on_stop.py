"""``hvac.on_stop`` at the instant of a stop: restore, hand over, or ``auto`` (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.store import open_engine
from scheduler.wiring import on_stop_handler, standbys_connected

SUMMARY = "2 facilities under control: 2 restored; 2 resume at restart"


class Release:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        return SUMMARY


@pytest.mark.parametrize(
    ("setting", "standbys", "expected"),
    [
        ("restore", 0, ("restore", SUMMARY)),
        ("restore", 1, ("restore", SUMMARY)),
        ("auto", 0, ("restore", SUMMARY)),
        (
            "auto",
            2,
            ("hand_over", "2 standby connected: facilities left to it (hvac.on_stop: auto)"),
        ),
    ],
)
async def test_what_a_stop_does(setting: str, standbys: int, expected: tuple[str, str]) -> None:
    release = Release()
    handler = on_stop_handler(setting, release, lambda: standbys)
    assert handler is not None
    assert await handler() == expected
    assert release.calls == (expected[0] == "restore")


def test_hand_over_does_nothing_at_a_stop() -> None:
    assert on_stop_handler("hand_over", Release(), lambda: 0) is None


def test_a_standby_count_that_cannot_be_read_is_none(tmp_path: Path) -> None:
    """SQLite has no pg_stat_activity: the query fails, and a stop then restores."""
    assert standbys_connected(open_engine(f"sqlite:///{tmp_path / 'x.db'}")) == 0
