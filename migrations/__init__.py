"""Alembic migrations, shipped inside the package so an installed daemon can upgrade."""
