"""The command line: only the command being run is imported; help lists every command."""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.cli import COMMANDS, _command_in, build_parser

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["plan", "validate", "a.yaml"], "plan"),
        (["--config", "run.yaml", "status", "--json"], "status"),
        (["--config=x.yaml", "events", "list"], "events"),
        (["--help"], None),
        ([], None),
    ],
)
def test_the_command_word_is_found(argv: list[str], command: str | None) -> None:
    assert _command_in(argv) == command


def test_every_command_has_a_full_parser_and_a_summary() -> None:
    for name in COMMANDS:
        args = build_parser([name, "--help"])
        assert args.prog == "drsched"
    help_text = build_parser([]).format_help()
    for name, summary in COMMANDS.items():
        assert name in help_text
        assert summary.split()[0] in help_text


#: What an operator's command must not import: the ORM, Alembic, rich, the HTTP client, the
#: engine (issue 14: 1.2 s of `drsched events list`'s 1.56 s on a few events was these).
HEAVY = ("sqlalchemy.orm", "alembic", "rich", "httpx", "scheduler.engine.runner")


def loaded_after(
    argv: list[str], env: dict[str, str] | None = None, heavy: tuple[str, ...] = HEAVY
) -> list[str]:
    """The modules of ``heavy`` (and ``sqlalchemy``) imported by running ``drsched ARGV``
    in a fresh interpreter; the command must succeed."""
    code = (
        "import sys; from scheduler.cli import main; "
        f"code = main({argv!r}); "
        f"heavy = {(*heavy, 'sqlalchemy')!r}; "
        "print('LOADED', [m for m in heavy if m in sys.modules], file=sys.stderr); "
        "sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    marker = next(line for line in done.stderr.splitlines() if line.startswith("LOADED "))
    return list(ast.literal_eval(marker.removeprefix("LOADED ")))


#: What ``plan validate`` must not import besides :data:`HEAVY`: every country's holidays
#: (``holidays.countries``, whose ``__init__`` imports ~250 modules, when one is asked for),
#: structlog (which imports rich), the load-shaping rules and the setpoint arithmetic they
#: use (a plan holds only the knobs: ``domain/shaping_knobs.py``).
NOT_FOR_VALIDATE = (
    *HEAVY,
    "holidays.countries",
    "holidays.countries.germany",
    "structlog",
    "scheduler.domain.shaping",
    "scheduler.domain.setpoints",
)


def test_a_light_command_does_not_load_the_daemon() -> None:
    """``plan validate`` of the examples imports no database code at all, and of the
    ``holidays`` package only the one country the examples skip the holidays of (issue 14)."""
    examples = sorted(str(p) for p in (ROOT / "config" / "plans").glob("*.yaml"))
    assert any("skip_holidays: US" in Path(p).read_text() for p in examples)
    assert loaded_after(["plan", "validate", *examples], heavy=NOT_FOR_VALIDATE) == []


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment naming a SQLite database that holds the demo plan's events."""
    from datetime import UTC, datetime

    from scheduler.plans import load_plans
    from scheduler.store import open_engine
    from scheduler.store.migrate import upgrade
    from scheduler.store.plan_apply import apply_plan

    url = f"sqlite:///{tmp_path_factory.mktemp('light') / 'drsched.db'}"
    upgrade(url)
    engine = open_engine(url)
    try:
        plan = load_plans([ROOT / "config" / "plans" / "demo.yaml"])
        apply_plan(engine, plan, datetime(2026, 1, 1, tzinfo=UTC))
    finally:
        engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRSCHED_")}
    return env | {"DRSCHED_DATABASE__URL": url}


@pytest.mark.parametrize(
    "argv",
    [
        ["events", "list"],
        ["events", "list", "--all", "--json"],
        ["events", "show", "demo-complete"],
        ["events", "show", "demo-complete", "--json"],
        ["status"],
        ["status", "--json"],
    ],
    ids=" ".join,
)
def test_the_read_only_commands_load_no_orm_alembic_rich_or_httpx(
    stored: dict[str, str], argv: list[str]
) -> None:
    """SQLite is read with the standard library: not even SQLAlchemy's core is imported."""
    assert loaded_after(argv, stored) == []


def test_our_errors_from_a_task_group_are_said_not_traced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scheduler import cli
    from scheduler.errors import StoreError

    def handler(args: object) -> int:
        raise ExceptionGroup("start-up", [StoreError("database unreachable")])

    parser = build_parser(["status"])
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands.choices["status"].set_defaults(handler=handler)
    monkeypatch.setattr(cli, "build_parser", lambda argv: parser)
    assert cli.main(["status"]) == 3
    assert "error: database unreachable" in capsys.readouterr().err
