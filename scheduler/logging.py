"""Log setup: structlog events, JSON lines off a TTY (journald), a console on one.

Every event passes :func:`redact_secrets` before it is rendered: a field whose
name looks like a secret (``token``, ``secret``, ``password``, ``*_key``,
``authorization``...) is shown as ``***``, in nested mappings too, so a
careless ``log.info(..., headers=headers)`` cannot leak the DR token or a
BECON key. Records from the standard library (uvicorn, APScheduler, Alembic)
go through the same processors and renderer.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, Literal, TextIO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

REDACTED = "***"
#: Field names treated as secrets (case-insensitive, anywhere in the name).
SECRET_NAME = re.compile(
    r"token|secret|passw|authori[sz]ation|credential|cookie|signature|(^|[-_])key$|[-_]key[-_]",
    re.IGNORECASE,
)
#: Names about a secret rather than holding it (``token_ttl``, ``token_expires_at``).
NOT_SECRET = re.compile(r"(_ttl|_at|_expiry|_expires_in|_s|_count)$", re.IGNORECASE)
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
LEVELS["error"] = logging.ERROR

Format = Literal["auto", "json", "console"]


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Cached: a process logs the same few dozen field names, on every line."""
    return bool(SECRET_NAME.search(name)) and not NOT_SECRET.search(name)


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(k, str) and is_secret_name(k) else _scrub(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact_secrets(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: secret-looking fields become ``***``, at any depth."""
    for key in list(event_dict):
        if key != "event" and is_secret_name(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def _renderer(json_lines: bool) -> Processor:
    if json_lines:
        return structlog.processors.JSONRenderer(default=str, sort_keys=False)
    # plain tracebacks: rich's would print frame locals, secrets included
    return structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )


def _ends(json_lines: bool) -> list[Processor]:
    # text tracebacks without frame locals (a local may hold a token)
    tracebacks: Processor = (
        structlog.processors.format_exc_info if json_lines else structlog.dev.set_exc_info
    )
    return [structlog.processors.StackInfoRenderer(), tracebacks]


#: Libraries whose info lines repeat what drsched's own lines say (http.call, daemon.*).
CHATTY_LIBRARIES = ("httpx", "httpcore", "apscheduler", "alembic", "uvicorn.access")


def _route_stdlib(stream: TextIO, level: int, json_lines: bool) -> None:
    """Standard-library records through the same processors (one format in the journal)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _renderer(json_lines),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in CHATTY_LIBRARIES:  # drsched logs every call and job itself, once
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def configure(
    level: str = "info", format: Format | str = "auto", stream: TextIO | None = None
) -> None:
    """Set up structlog and the standard library for the whole process.

    ``format="auto"`` writes JSON lines unless ``stream`` (default stderr) is
    a terminal, where it writes a console format.
    """
    out = stream or sys.stderr
    json_lines = format == "json" or (format == "auto" and not out.isatty())
    numeric = LEVELS.get(level, logging.INFO)
    structlog.configure(
        processors=[*_shared(), *_ends(json_lines), _renderer(json_lines)],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(out, numeric, json_lines)
