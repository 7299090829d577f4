"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import PG_HINT, fresh_pg_database, postgres_url
from tests.support.pace import pace


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: calibrate only if needed
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stretch each ``realtime`` test's timeout by the machine's pace (measured once).

    pytest-timeout reads the closest ``timeout`` marker when the test runs;
    the scaled one is put in front of the file's or the ini's.
    """
    realtime = [item for item in items if item.get_closest_marker("realtime")]
    if not realtime or config.option.collectonly:
        return
    current = pace()
    for item in realtime:
        item.add_marker(pytest.mark.timeout(current.s(_timeout(config, item))), append=False)
    config.stash[_PACE_LINE] = f"{current.describe()}; {len(realtime)} realtime test(s)"


_PACE_LINE = pytest.StashKey[str]()


def _timeout(config: pytest.Config, item: pytest.Item) -> float:
    """The timeout pytest-timeout would apply: the closest marker, else --timeout / the ini."""
    marker = item.get_closest_marker("timeout")
    if marker is not None:
        return float(marker.args[0] if marker.args else marker.kwargs["timeout"])
    return float(config.getoption("timeout", None) or config.getini("timeout"))


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    line = config.stash.get(_PACE_LINE, None)
    if line is not None:
        terminalreporter.write_line(f"pace: {line}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database (skips unless enabled, see PG_HINT)."""
    url = postgres_url()
    if url is None:
        pytest.skip(PG_HINT)
    yield from fresh_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'drsched.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each database drsched supports; PostgreSQL only when enabled (see PG_HINT)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'drsched.db'}"
        return
    url = postgres_url()
    if url is None:
        pytest.skip(PG_HINT)
    yield from fresh_pg_database(url)
