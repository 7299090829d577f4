"""Alembic migrations: ``migrations/`` in the checkout, installed as ``scheduler.migrations``.

Shipped inside the package so an installed daemon can upgrade (pyproject.toml, package-dir).
"""
