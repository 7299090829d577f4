"""pyproject.toml lists every package, and the Alembic scripts have one home: migrations/."""

from __future__ import annotations

import tomllib
from pathlib import Path

from scheduler.store.migrate import migrations_dir

CHECKOUT = Path(__file__).resolve().parents[3]


def test_every_package_of_the_checkout_is_listed() -> None:
    setuptools = tomllib.loads((CHECKOUT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(p.parent.relative_to(CHECKOUT).parts)
        for p in (CHECKOUT / "scheduler").rglob("__init__.py")
    }
    found |= {"scheduler.migrations", "scheduler.migrations.versions"}
    assert set(setuptools["packages"]) == found
    assert setuptools["package-dir"] == {"scheduler.migrations": "migrations"}


def test_the_migrations_are_found_at_the_root_only() -> None:
    assert migrations_dir() == CHECKOUT / "migrations"
    assert (CHECKOUT / "migrations" / "env.py").is_file()
    # A left-over scheduler/migrations/ (even one holding only __pycache__) would be
    # imported as a namespace package in place of migrations/.
    assert not (CHECKOUT / "scheduler" / "migrations").exists()
