"""Database URLs: plain PostgreSQL goes through psycopg2, anything else is left as written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from omie_pipeline.dburl import normalise_url


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_plain_postgresql_is_pinned_to_psycopg2(scheme):
    url = normalise_url(f"{scheme}://user:secret@db.example:5432/crm")
    assert url.drivername == "postgresql+psycopg2"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "user",
        "secret",
        "db.example",
        5432,
        "crm",
    )


@pytest.mark.parametrize("text", ["postgresql+pg8000://u@h/db", "sqlite:///state.sqlite", "mysql+pymysql://u@h/db"])
def test_a_chosen_driver_or_another_database_is_kept(text):
    assert normalise_url(text).render_as_string(hide_password=False) == text


def test_unreadable_urls_raise():
    with pytest.raises(sa.exc.ArgumentError):
        normalise_url("not a url")
