"""structlog and httpx are imported without their unused extras (rich, httpx's CLI), and those
stay importable for the code that does use them (issue 14: ~0.05 s of every daemon start).

Each check runs in a fresh interpreter: what a process has imported is what is checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

EXTRAS = ("rich", "httpx._main", "pygments", "attr")


def run(code: str) -> Any:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_the_daemon_imports_neither_rich_nor_the_httpx_command_line() -> None:
    found = run(
        "import json, sys; import scheduler.wiring, scheduler.commands.run; "
        f"print(json.dumps([m for m in {EXTRAS!r} if m in sys.modules]))"
    )
    assert found == []


def test_rich_is_still_there_for_the_commands_that_use_it() -> None:
    found = run(
        "import json, sys; import scheduler, structlog, httpx; "
        "import rich.table, scheduler.commands.demo; "
        "print(json.dumps([structlog.dev.rich is None, 'rich.table' in sys.modules, "
        "httpx.__spec__.loader.__class__.__name__, "
        "[m for m, v in sys.modules.items() if v is None and m.split('.')[0] in "
        "('rich', 'httpx')]]))"
    )
    assert found == [True, True, "SourceFileLoader", []]


def test_tracebacks_in_the_logs_are_plain_text_in_both_formats() -> None:
    """What the logs held before: drsched chose plain tracebacks, rich or not."""
    code = """
import io, json
from scheduler import logging as drsched_logging
import structlog
out = {}
for fmt in ("json", "console"):
    stream = io.StringIO()
    drsched_logging.configure(level="info", format=fmt, stream=stream)
    try:
        1 / 0
    except ZeroDivisionError:
        structlog.get_logger("t").exception("failed", token="s3cret")
    out[fmt] = stream.getvalue()
print(json.dumps(out))
"""
    found = run(code)
    record = json.loads(found["json"])
    assert record["exception"].startswith("Traceback (most recent call last):")
    assert record["token"] == "***"
    assert "Traceback (most recent call last):" in found["console"]
    assert "ZeroDivisionError: division by zero" in found["console"]
    assert "s3cret" not in found["json"] + found["console"]
