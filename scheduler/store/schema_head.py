"""The schema revision this build needs, known without loading Alembic.

Finding the head through Alembic means importing it and reading every migration
script, a good part of a start-up's budget (issue 14). The head is a constant
instead; ``tests/integration/store/test_schema_head.py`` fails the day a revision is
added without moving it.
"""

from __future__ import annotations

#: The newest revision in ``migrations/versions``; what ``drsched db upgrade`` leads to.
SCHEMA_HEAD = "0010"
