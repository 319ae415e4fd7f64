"""`omie-pipeline check-connection`: can this app key talk to Omie, and which company is it?"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NoReturn

import click

from omie_pipeline.cli import main
from omie_pipeline.domain.taxes import Regime
from omie_pipeline.i18n import _, format_moment
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
        _fail(_("cannot check the connection: {problem}").format(problem=problem), EXIT_CONFIG)
    base_url = settings.omie_base_url
    client = OmieClient(base_url, app_key, app_secret, timeout=(5.0, 20.0), max_retries=2, max_wait=0.0)
    try:
        companies = list(client.list_companies())
    except errors.AuthenticationError as problem:
        _fail(
            _(
                "Omie refused the app key and secret (wrong keys): {message}\n"
                "Check OMIE_APP_KEY and OMIE_APP_SECRET against the app in Omie's developer portal."
            ).format(message=problem.faultstring or problem.message),
            EXIT_WRONG_KEYS,
        )
    except errors.BlockedError as problem:
        _fail(
            _(
                "Omie has blocked this app key for misuse {until}.\n"
                "Nothing can be sent until then; waiting is the only remedy."
            ).format(until=_until(problem)),
            EXIT_BLOCKED,
        )
    except errors.TransientError as problem:
        _fail(
            _(
                "Omie is unreachable at {url}: {message}\nCheck OMIE_BASE_URL and the network, or try again later."
            ).format(url=base_url, message=problem.message),
            EXIT_UNREACHABLE,
        )
    except errors.OmieError as problem:
        _fail(_("Omie answered with an error: {problem}").format(problem=problem), EXIT_OTHER)
    finally:
        client.close()
    if not companies:
        _fail(_("Omie answered, but lists no company for this app key."), EXIT_OTHER)
    click.echo(_("Connected to Omie at {url}").format(url=base_url))
    for company in companies:
        raw = (
            f"regime_tributario {company.regime_tributario.strip()!r}, regapu {company.regapu.strip()!r}, "
            f"optante_simples_nacional {company.optante_simples_nacional.strip()!r}"
        )
        reading, problem = _regime_reading(company, settings.omie_pipeline_tax_regime)
        rows = [
            (_("Legal name"), company.razao_social),
            ("CNPJ", company.cnpj),
            (_("Omie says"), raw),
            (_("Tax regime"), reading),
            (_("Issues NFS-e"), _("yes") if company.issues_nfse else _("no")),
        ]
        for label, value in rows:
            click.echo(f"  {label + ':':<15}{value}")
        if problem:
            click.echo(_("Warning: {problem}").format(problem=problem), err=True)


def _regime_reading(company, confirmed: Regime | None) -> tuple[str, str | None]:
    """Our reading of the regime, in words, and the problem that keeps it from being read (or None).

    Omie's raw values are shown beside it because their codes are undocumented: a person must be
    able to see exactly what Omie sent, and what the pipeline made of it.
    """
    try:
        regime = parse_regime(company, confirmed)
    except UnknownRegimeError as problem:
        return _("unknown: tax rates will not be derived until it is confirmed"), str(problem)
    words = regime.value.replace("_", " ").title()
    if confirmed is not None:
        return _("{regime} (confirmed by OMIE_PIPELINE_TAX_REGIME)").format(regime=words), None
    return _("{regime} (read from Omie)").format(regime=words), None


def _until(problem: errors.BlockedError) -> str:
    until = problem.blocked_until
    if until is None and problem.retry_after is not None:
        until = datetime.now(OMIE_TIMEZONE) + timedelta(seconds=problem.retry_after)
    if until is None:
        return _("(Omie did not say for how long)")
    return _("until {moment} São Paulo time").format(moment=format_moment(until.astimezone(OMIE_TIMEZONE)))


def _fail(message: str, code: int) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(code)
