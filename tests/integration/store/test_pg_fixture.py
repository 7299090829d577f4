"""The PostgreSQL fixture gives each test its own empty database."""

from __future__ import annotations

import sqlalchemy as sa


def test_fresh_database_is_empty(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == []
        assert (
            conn.execute(sa.text("select current_database()")).scalar_one().startswith("drsched_t_")
        )
    engine.dispose()
