"""Tracebacks in the logs are plain text with secrets redacted, in both log formats, whether
or not structlog found rich (a rich traceback prints frame locals, which may hold a token).

Each check runs in a fresh interpreter, configured as the daemon configures its logging.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def run(code: str) -> Any:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_tracebacks_in_the_logs_are_plain_text_in_both_formats() -> None:
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
