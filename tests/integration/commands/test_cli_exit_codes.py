"""README's exit-code table holds for every command (issue 16, finding 13).

0 ok, 1 problems found (bad plan, refused change, unknown event id), 2 usage or
config error, 3 runtime failure (database or vendor unreachable). Each command
is run in-process through ``scheduler.cli.main`` on a real SQLite file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from scheduler.cli import COMMANDS, main

GOOD_PLAN = """\
timezone: UTC
events:
  - id: walk-1
    start: 2031-07-15 14:00
    end: 2031-07-15 15:00
    vtn_id: vtn01
    targets: [{ven: CE-02}]
    signals: [{name: SIMPLE, targets: [x-DEVICE_TV]}]
"""
BAD_PLAN = "events:\n  - {id: '..', start: x, end: y}\n"


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Commands run in-process configure logging for the process (``hvac inventory``,
    ``run``): put structlog and the root logger back for the tests after these."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    root.handlers, root.level = handlers, level


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a good and a bad plan; the database is ``db/drsched.db``."""
    (tmp_path / "good.yaml").write_text(GOOD_PLAN)
    (tmp_path / "bad.yaml").write_text(BAD_PLAN)
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("DRSCHED_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DRSCHED_DATABASE__URL", f"sqlite:///{tmp_path / 'db' / 'drsched.db'}")
    monkeypatch.setenv("DRSCHED_BECON__BASE_URL", "http://127.0.0.1:9")  # nothing listens
    monkeypatch.setenv("DRSCHED_BECON__RETRY_ATTEMPTS", "1")
    return tmp_path


def _run(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


#: Commands that read the database, and what each says with an empty folder.
DATABASE_COMMANDS = [
    ("events", "list"),
    ("events", "show", "walk-1"),
    ("events", "cancel", "walk-1"),
    ("hvac", "status"),
    ("plan", "diff", "good.yaml"),
    ("plan", "apply", "good.yaml"),
]


@pytest.mark.parametrize("argv", DATABASE_COMMANDS, ids=" ".join)
def test_no_database_is_3_and_none_is_created(place: Path, argv: tuple[str, ...]) -> None:
    assert _run(*argv) == 3
    assert not (place / "db").exists(), "a command other than db upgrade made a database"


def test_the_walk(place: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = [
        (("plan", "validate", "good.yaml"), 0),
        (("plan", "validate", "bad.yaml"), 1),
        (("plan", "schema"), 0),
        (("config", "check"), 0),
        (("status",), 0),
        (("db", "upgrade"), 0),
        (("plan", "diff", "good.yaml"), 0),
        (("plan", "apply", "bad.yaml"), 1),
        (("plan", "apply", "good.yaml"), 0),
        (("events", "list"), 0),
        (("events", "show", "walk-1"), 0),
        (("events", "show", "nosuch"), 1),
        (("events", "cancel", "nosuch"), 1),
        (("events", "cancel", "walk-1"), 0),
        (("hvac", "status"), 0),
        (("hvac", "inventory"), 3),
        (("status",), 0),
        (("report", "walk-1"), 0),
        (("report", "nosuch"), 1),
        (("report", "verify", "nosuch.csv"), 1),
        (("report",), 2),
        (("programs", "status"), 0),
        (("events", "frobnicate"), 2),
        (("nosuch-command",), 2),
    ]
    found = [(argv, _run(*argv)) for argv, _ in expected]
    assert found == expected, capsys.readouterr().err


#: Helpers that read no daemon config: the simulator, the demo, the demo VTN.
NO_CONFIG = {"simulate", "demo", "openadr"}


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - NO_CONFIG - {"run"}))
def test_a_config_error_is_2_for_every_command(
    place: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    argv = {
        "db": ("db", "upgrade"),
        "config": ("config", "check"),
        "plan": ("plan", "diff", "good.yaml"),
        "events": ("events", "list"),
        "hvac": ("hvac", "status"),
        "status": ("status",),
        "programs": ("programs", "status"),
        "report": ("report", "walk-1"),
    }[command]
    monkeypatch.setenv("DRSCHED_HVAC__OVERRIDE", "bogus")
    assert _run(*argv) == 2


@pytest.fixture
def quiet_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run`` in-process must not reconfigure the test process's logging."""
    from scheduler.commands import run

    monkeypatch.setattr(run, "setup_logging", lambda config: None)


@pytest.mark.usefixtures("quiet_run")
def test_run_with_a_config_error_is_2(place: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRSCHED_HVAC__OVERRIDE", "bogus")
    assert _run("run") == 2


@pytest.mark.usefixtures("quiet_run")
def test_run_with_a_lock_folder_it_cannot_create_is_one_line_and_3(
    place: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was a 26-line PermissionError traceback and exit 1 (issue 16, finding 5)."""
    (place / "not-a-folder").write_text("a file where the database folder should be\n")
    monkeypatch.setenv("DRSCHED_DATABASE__URL", f"sqlite:///{place / 'not-a-folder' / 'x.db'}")
    monkeypatch.setenv("DRSCHED_HTTP__LISTEN", "127.0.0.1:0")
    assert _run("run") == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"error: cannot create the lock file {place / 'not-a-folder' / 'x.db.lock'}: "
        "File exists (drsched needs to write in the database's folder)"
    ]
