"""Shared fixtures: a state store on SQLite and on PostgreSQL, simulated Omies, a headless browser.

PostgreSQL comes from OMIE_PIPELINE_TEST_PG_URL (default: the local server's `test` database);
each test gets a database of its own, dropped afterwards. When PostgreSQL cannot be reached the
PostgreSQL cases are skipped with the reason, except under CI, where that is a failure.

Simulators start from the `simulator_settings` of the test's folder (its short windows and counts)
plus keyword overrides; clients for them come from tests/support/simulated_omie.py.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from omie_pipeline import i18n
from omie_pipeline.dburl import normalise_url
from omie_pipeline.simulator import Simulator, SimulatorConfig, derived_companies

DEFAULT_TEST_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def _admin_url() -> sa.URL:
    return normalise_url(os.environ.get("OMIE_PIPELINE_TEST_PG_URL", DEFAULT_TEST_PG_URL))


def _postgres_unreachable_reason() -> str | None:
    try:
        engine = sa.create_engine(_admin_url(), connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as error:  # any failure to connect is reported the same way
        return (
            f"PostgreSQL at {_admin_url().render_as_string(hide_password=True)} unreachable: {error.__class__.__name__}"
        )


@pytest.fixture(autouse=True)
def confirmed_tax_regime(monkeypatch) -> None:
    """Every test runs as a deployment that confirmed its regime (the simulators' default, Lucro
    Presumido), since Omie's regime codes are undocumented; tests of other regimes pass theirs."""
    monkeypatch.setenv("OMIE_PIPELINE_TAX_REGIME", "lucro_presumido")


@pytest.fixture(autouse=True)
def no_dagster_instance_left_open() -> Iterator[None]:
    """A Dagster instance entered (`with`) makes its state storage the process's current one until it is
    exited. One a test leaves open (a schedule or sensor context not closed opens one from its instance's
    ref) stays current after it is gone, and a later test loading definitions fails with "undefined
    DagsterInstance weakref": fail the test that leaked it instead."""
    from dagster._core.storage.defs_state.base import DefsStateStorage

    before = DefsStateStorage.get()
    yield
    assert DefsStateStorage.get() is before, (
        "a Dagster instance was left open (entered, never exited): close the schedule/sensor context or "
        "instance with `with`"
    )


@pytest.fixture(autouse=True)
def english(monkeypatch) -> Iterator[None]:
    """Tests read what people are told in English (OMIE_PIPELINE_LANGUAGE=en, in this process and in
    the commands and Dagster runs it starts), so their assertions keep the source text; the tests of
    the Portuguese default say `portuguese` (or set the language themselves)."""
    monkeypatch.setenv("OMIE_PIPELINE_LANGUAGE", "en")
    i18n.set_language("en")
    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)


@pytest.fixture
def portuguese(monkeypatch) -> Iterator[None]:
    """The deployment's default: no OMIE_PIPELINE_LANGUAGE, so pt-BR everywhere."""
    monkeypatch.delenv("OMIE_PIPELINE_LANGUAGE")
    i18n.set_language(i18n.DEFAULT_LANGUAGE)
    yield


@pytest.fixture(scope="session")
def postgres_admin_url() -> sa.URL:
    reason = _postgres_unreachable_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return _admin_url()


@pytest.fixture
def fresh_postgres_url(postgres_admin_url: sa.URL) -> Iterator[str]:
    """A brand-new PostgreSQL database for one test."""
    name = f"omie_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A state store URL for an empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def store(db_url: str):
    """A migrated, empty state store on each backend."""
    from omie_pipeline.store import Store

    opened = Store(db_url)
    yield opened
    opened.dispose()


def pytest_report_header(config) -> str:
    reason = _postgres_unreachable_reason()
    return "postgresql: " + (reason or f"{make_url(str(_admin_url())).render_as_string(hide_password=True)}")


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    """SimulatorConfig values a folder's simulators start from; folders override this fixture."""
    return {}


@pytest.fixture
def make_sim(simulator_settings: dict[str, Any]) -> Iterator[Callable[..., Simulator]]:
    """Start simulators on free local ports, the folder's settings overridden by keyword; all stop after the test."""
    started: list[Simulator] = []

    def make(**overrides: Any) -> Simulator:
        sim = Simulator(SimulatorConfig(**{**simulator_settings, **overrides})).start(host="127.0.0.1", port=0)
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def make_companies_sim(
    make_sim: Callable[..., Simulator], simulator_settings: dict[str, Any]
) -> Callable[..., Simulator]:
    """`make_companies_sim(n, **overrides)`: a simulator serving n companies derived from the folder's
    key pair and seed (`derived_companies`); `sim.credentials` lists each company's (app_key, app_secret)."""

    def make(count: int, **overrides: Any) -> Simulator:
        settings = {**simulator_settings, **overrides}
        identity = {
            name: settings[name] for name in ("app_key", "app_secret", "seed", "clients", "regime") if name in settings
        }
        defaults = SimulatorConfig()
        companies = derived_companies(
            count,
            identity.get("app_key", defaults.app_key),
            identity.get("app_secret", defaults.app_secret),
            identity.get("seed", defaults.seed),
            identity.get("clients", defaults.clients),
            identity.get("regime", defaults.regime),
        )
        return make_sim(companies=companies, **overrides)

    return make


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    """One simulator with the folder's settings."""
    return make_sim()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's `chromium` package), launched once for every browser test."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail(
            f"headless Chromium not found at {chromium}; install Debian's `chromium` package "
            "(apt-get install chromium), as CI does"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


INTEGRATION_FOLDERS = ("simulator", "runner")  # tests that start simulators or the demo themselves


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the integration layer; run the longest tests first and browser tests last, together.

    A test is `integration` when it drives the HTTP simulator: it uses the `sim`/`make_sim`
    fixtures (directly or through another fixture), or lives in a folder whose tests start a
    simulator or the demo themselves. `pytest -m "not integration"` is then the fast loop.

    The tests of `tests/runner/` run the whole demo (a minute or more each): they go first, so
    that in a parallel run they overlap the rest instead of finishing alone at the end.

    While Playwright's sync API is open it keeps the main thread inside a running asyncio loop,
    so the session's browser must not stay open across tests that use asyncio themselves: browser
    tests run last, module by module in their usual order, and under pytest-xdist all in one
    group (`--dist loadgroup --no-loadscope-reorder`, as scripts/test.sh runs it), the last one
    handed out, so the worker that runs them is given nothing after.
    """
    for item in items:
        folder = item.path.parent.name
        if "make_sim" in getattr(item, "fixturenames", ()) or folder in INTEGRATION_FOLDERS:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("browser") is not None:
            item.add_marker(pytest.mark.xdist_group("browser"))
    items.sort(key=lambda item: (item.get_closest_marker("browser") is not None, item.path.parent.name != "runner"))
