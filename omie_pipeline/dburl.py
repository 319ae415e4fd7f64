"""Databases as this project connects to them, for the state store and the SQL deal source alike.

Both open PostgreSQL through SQLAlchemy; a bare `postgresql://` URL would let SQLAlchemy choose
the driver (2.1 picks psycopg 3), while the project installs psycopg2, the driver dagster-postgres
also uses. Both also report what the database refused in the driver's own words. This module
imports nothing of the project, so every part may use it.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url


def normalise_url(url: str | URL) -> URL:
    """The URL with plain PostgreSQL pinned to psycopg2; raises sqlalchemy's ArgumentError when unreadable."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def driver_message(error: Exception) -> str:
    """The first line of what the database driver said (e.g. "connection refused"), without
    SQLAlchemy's decorations; the error's class name when it said nothing. Never a password:
    drivers do not echo the URL."""
    detail = getattr(error, "orig", None) or error
    text = str(detail).strip()
    return text.splitlines()[0] if text else type(detail).__name__
