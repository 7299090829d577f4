"""A PostgreSQL "restart" that touches only the test's own database.

The PostgreSQL server on 127.0.0.1:5432 is shared by other tests and other
developers' runs, so restarting it is not safe. What a restart does to the
daemon is simulated on its own database instead: new connections are refused
(``ALLOW_CONNECTIONS false``) and the daemon's sessions, found by their
``application_name``, are ended with ``pg_terminate_backend``; "up" allows
connections again. The harness's own sessions (another application name)
survive, as a monitoring client on another host would.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


class DatabaseOutage:
    """Takes one PostgreSQL database away and gives it back; ``close`` always gives it back."""

    def __init__(self, db_url: str, application_name: str) -> None:
        url = make_url(db_url)
        self._database = url.database or ""
        # ALTER DATABASE ... ALLOW_CONNECTIONS false is refused on the current
        # database: administer it from the maintenance database.
        admin = url.set(drivername="postgresql", database="postgres")
        dsn = admin.render_as_string(hide_password=False)
        self._conn = psycopg.connect(dsn, autocommit=True, application_name="drsched-crash-admin")
        self._application_name = application_name
        self.down = False
        self.terminated = 0

    def take_down(self) -> int:
        """Refuse new connections, end the daemon's sessions; how many were ended."""
        self._allow(False)
        self.down = True
        rows = self._conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s",
            (self._database, self._application_name),
        ).fetchall()
        ended = sum(1 for (ok,) in rows if ok)
        self.terminated += ended
        return ended

    def bring_up(self) -> None:
        self._allow(True)
        self.down = False

    def _allow(self, allowed: bool) -> None:
        statement = sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
            sql.Identifier(self._database), sql.SQL("true" if allowed else "false")
        )
        self._conn.execute(statement)

    def close(self) -> None:
        try:
            if self.down:
                self.bring_up()
        finally:
            self._conn.close()
