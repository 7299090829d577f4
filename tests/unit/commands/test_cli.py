"""The command line: only the command being run is imported; help lists every command."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from scheduler.cli import COMMANDS, _command_in, build_parser


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


def test_a_light_command_does_not_load_the_daemon() -> None:
    code = (
        "import sys; from scheduler.cli import build_parser; "
        "build_parser(['plan', 'validate']); "
        "heavy = ('sqlalchemy', 'httpx', 'scheduler.engine.runner'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


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
