"""Database URLs read without importing SQLAlchemy.

A read-only command (``drsched events list``, ``status``) has 0.3 s in all
(issue 14); importing SQLAlchemy to learn that ``sqlite:////var/lib/x.db``
names a file costs a third of it. The plain forms of a SQLite URL are parsed
here as SQLAlchemy's ``make_url`` parses them (``[user[:password]@][host]``
empty, the database after the third slash, percent-escapes decoded); any
other URL is handed to ``make_url``, which a PostgreSQL connection imports
anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_SCHEME = re.compile(r"(?P<name>[\w+]+)://(?P<rest>.*)", re.DOTALL)


@dataclass(frozen=True)
class DatabaseUrl:
    #: ``sqlite``, ``postgresql``: the dialect, without the driver.
    backend: str
    #: The database part: a SQLite path (relative or absolute), ``:memory:``, a
    #: ``file:`` URI, a PostgreSQL database name; None when the URL has none.
    database: str | None


def parse_url(url: str) -> DatabaseUrl:
    """The backend and database of ``url``, as ``sqlalchemy.engine.make_url`` gives them."""
    found = _SCHEME.fullmatch(url)
    if found is not None and found["name"].split("+")[0] == "sqlite":
        rest = found["rest"]
        if rest == "":
            return DatabaseUrl("sqlite", None)
        if rest.startswith("/"):
            return DatabaseUrl("sqlite", unquote(rest[1:].split("?", 1)[0]))
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return DatabaseUrl(parsed.get_backend_name(), parsed.database)


def render_url(url: str) -> str:
    """``url`` with its password hidden (a SQLite URL has none: shown as given)."""
    if parse_url(url).backend == "sqlite" and "@" not in url:
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
