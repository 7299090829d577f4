"""The schema revision this build needs, known without loading Alembic.

Alembic's ``ScriptDirectory`` reads and compiles every migration script to
find the head: about 0.15 s of a read-only command's 0.3 s (issue 14), and the
daemon's start-up compares ``alembic_version`` with it before loading Alembic at all
(:mod:`scheduler.store.schema`). The head is a constant instead, and
``tests/integration/store/test_migrations.py`` fails the day a new revision is added
without moving it.
"""

from __future__ import annotations

#: The newest revision in ``migrations/versions``; what ``drsched db upgrade`` leads to.
SCHEMA_HEAD = "0011"
