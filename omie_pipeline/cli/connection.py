"""`omie-pipeline check-connection`: can this app key talk to Omie, and which company is it?"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NoReturn

import click

from omie_pipeline.cli import main
from omie_pipeline.domain.taxes import Regime
from omie_pipeline.omie import OmieClient, errors
from omie_pipeline.omie.faults import OMIE_TIMEZONE
from omie_pipeline.settings import SettingsError, load_settings
from omie_pipeline.sync.tax_rates import UnknownRegimeError, parse_regime

EXIT_CONFIG = 2
EXIT_WRONG_KEYS = 3
EXIT_BLOCKED = 4
EXIT_UNREACHABLE = 5
EXIT_OTHER = 1


@main.command("check-connection")
def check_connection() -> None:
    """Call Omie with OMIE_APP_KEY / OMIE_APP_SECRET at OMIE_BASE_URL and show the company.

    Exit status: 0 connected, 2 configuration missing, 3 wrong keys, 4 app key blocked,
    5 Omie unreachable, 1 any other refusal.
    """
    try:
        settings = load_settings()
        app_key, app_secret = settings.require_omie_credentials()
    except SettingsError as problem:
        _fail(f"cannot check the connection: {problem}", EXIT_CONFIG)
    base_url = settings.omie_base_url
    client = OmieClient(base_url, app_key, app_secret, timeout=(5.0, 20.0), max_retries=2, max_wait=0.0)
    try:
        companies = list(client.list_companies())
    except errors.AuthenticationError as problem:
        _fail(
            f"Omie refused the app key and secret (wrong keys): {problem.faultstring or problem.message}\n"
            "Check OMIE_APP_KEY and OMIE_APP_SECRET against the app in Omie's developer portal.",
            EXIT_WRONG_KEYS,
        )
    except errors.BlockedError as problem:
        _fail(
            f"Omie has blocked this app key for misuse {_until(problem)}.\n"
            "Nothing can be sent until then; waiting is the only remedy.",
            EXIT_BLOCKED,
        )
    except errors.TransientError as problem:
        _fail(
            f"Omie is unreachable at {base_url}: {problem.message}\n"
            "Check OMIE_BASE_URL and the network, or try again later.",
            EXIT_UNREACHABLE,
        )
    except errors.OmieError as problem:
        _fail(f"Omie answered with an error: {problem}", EXIT_OTHER)
    finally:
        client.close()
    if not companies:
        _fail("Omie answered, but lists no company for this app key.", EXIT_OTHER)
    click.echo(f"Connected to Omie at {base_url}")
    for company in companies:
        click.echo(f"  Legal name:    {company.razao_social}")
        click.echo(f"  CNPJ:          {company.cnpj}")
        click.echo(
            f"  Omie says:     regime_tributario {company.regime_tributario.strip()!r}, "
            f"regapu {company.regapu.strip()!r}, optante_simples_nacional "
            f"{company.optante_simples_nacional.strip()!r}"
        )
        reading, problem = _regime_reading(company, settings.omie_pipeline_tax_regime)
        click.echo(f"  Tax regime:    {reading}")
        if problem:
            click.echo(f"Warning: {problem}", err=True)
        click.echo(f"  Issues NFS-e:  {'yes' if company.issues_nfse else 'no'}")


def _regime_reading(company, confirmed: Regime | None) -> tuple[str, str | None]:
    """Our reading of the regime, in words, and the problem that keeps it from being read (or None).

    Omie's raw values are shown beside it because their codes are undocumented: a person must be
    able to see exactly what Omie sent, and what the pipeline made of it.
    """
    try:
        regime = parse_regime(company, confirmed)
    except UnknownRegimeError as problem:
        return "unknown: tax rates will not be derived until it is confirmed", str(problem)
    words = regime.value.replace("_", " ").title()
    if confirmed is not None:
        return f"{words} (confirmed by OMIE_PIPELINE_TAX_REGIME)", None
    return f"{words} (read from Omie)", None


def _until(problem: errors.BlockedError) -> str:
    until = problem.blocked_until
    if until is None and problem.retry_after is not None:
        until = datetime.now(OMIE_TIMEZONE) + timedelta(seconds=problem.retry_after)
    if until is None:
        return "(Omie did not say for how long)"
    local = until.astimezone(OMIE_TIMEZONE)
    return f"until {local:%Y-%m-%d %H:%M:%S} São Paulo time"


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(code)
