"""A PostgreSQL "restart" that touches only the test's own database.

The PostgreSQL server on 127.0.0.1:5432 is shared by other tests and other
developers' runs, so restarting it is not safe. What a restart does to the
daemon is simulated on its own database instead: new connections are refused
(``ALLOW_CONNECTIONS false``) and every session on that database is ended
with ``pg_terminate_backend`` (the daemon's pool, its leader lock session
``drsched-leader``, a migration in progress, a CLI call, the harness's own
reader); "up" allows connections again. The administration runs from the
``postgres`` database. ``terminated_daemon`` counts the daemon's sessions
(its pool's ``application_name``, the leader's and the migration's).
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
        """Refuse new connections, end every session; how many of them were the daemon's."""
        self._allow(False)
        self.down = True
        rows = self._conn.execute(
            "SELECT application_name, pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (self._database,),
        ).fetchall()
        daemon = {self._application_name, "drsched-leader", "drsched-migrate"}
        ended = sum(1 for name, ok in rows if ok and name in daemon)
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
