"""Database URLs as this project connects to them, for the state store and the SQL deal source alike.

Both open PostgreSQL through SQLAlchemy; a bare `postgresql://` URL would let SQLAlchemy choose
the driver (2.1 picks psycopg 3), while the project installs psycopg2, the driver dagster-postgres
also uses. This module imports nothing of the project, so every part may use it.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url


def normalise_url(url: str | URL) -> URL:
    """The URL with plain PostgreSQL pinned to psycopg2; raises sqlalchemy's ArgumentError when unreadable."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed
