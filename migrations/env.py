"""Alembic environment.

``drsched db upgrade`` (:mod:`scheduler.store.migrate`) hands over a connection it
opened under the migration lock. A developer running the ``alembic`` command in the
checkout (``alembic.ini``; docs/development.md) gets a connection to ``-x url=…``,
else to drsched's configured ``database.url`` (``$DRSCHED_CONFIG`` and
``DRSCHED_*`` variables, as ``drsched`` reads them).
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from scheduler.config import config_path, load_config
from scheduler.store import open_engine
from scheduler.store.models import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _developer_url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    return load_config(config_path(None, os.environ), os.environ).database.url


handed_over = context.config.attributes.get("connection")
if handed_over is not None:
    _run(handed_over)
else:
    if context.config.config_file_name:
        fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    engine = open_engine(_developer_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()
