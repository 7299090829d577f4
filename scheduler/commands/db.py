"""``drsched db upgrade``: create or migrate the database (Alembic ``upgrade head``)."""

from __future__ import annotations

import argparse
from typing import Any

from scheduler.commands._common import add_json_flag, get_config, print_json


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="database commands")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = sub.add_parser(
        "upgrade",
        help="create the schema or migrate it to this version (safe to run twice)",
        description="Bring database.url to this drsched's schema. A no-op when current. "
        "On PostgreSQL concurrent upgrades wait for each other (advisory lock).",
    )
    add_json_flag(upgrade)
    upgrade.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    from scheduler.store.migrate import upgrade

    config = get_config(args)
    before, after = upgrade(config.database.url)
    if args.json:
        print_json({"database": _safe(config.database.url), "before": before, "after": after})
    elif before == after:
        print(f"database {_safe(config.database.url)} is current (revision {after})")
    else:
        print(f"database {_safe(config.database.url)}: {before or 'empty'} -> {after}")
    return 0


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
