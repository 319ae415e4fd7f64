"""All configuration, read from the environment into one typed model.

Errors name the environment variable that is missing or malformed, and never echo a secret's
value: app_secret and webhook URLs are `SecretStr`.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from dagster._utils.schedules import is_valid_cron_string
from pydantic import BeforeValidator, Field, SecretStr, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from omie_pipeline.accounts_file import (
    ACCOUNT_ID_PATTERN,
    Account,
    AccountsFileError,
    parse_accounts,
    resolve_accounts,
)
from omie_pipeline.domain.deal import DEFAULT_MAX_AMOUNT, STORABLE_MAX_AMOUNT
from omie_pipeline.domain.taxes import Regime
from omie_pipeline.i18n import DEFAULT_LANGUAGE
from omie_pipeline.omie import paging
from omie_pipeline.store.engine import default_db_url

OMIE_PRODUCTION_URL = "https://app.omie.com.br/api/v1/"
SECRET_FIELDS = frozenset(
    {
        "omie_app_secret",
        "omie_pipeline_slack_webhook_url",
        "omie_pipeline_alert_webhook_url",
        "omie_pipeline_celery_broker",
        "omie_pipeline_celery_backend",
        "omie_pipeline_pacing_url",
    }
)
PACING_FILE = "omie_pacing.sqlite"
DEFAULT_RUNBOOK_URL = "docs/runbook.md"


def _language_code(value: object) -> object:
    """`pt-br`, `PT_BR` and `pt-BR` name one language; anything else is left for the choice to refuse."""
    if isinstance(value, str):
        return {"pt-br": "pt-BR", "pt_br": "pt-BR", "en": "en"}.get(value.strip().lower(), value)
    return value


Language = Annotated[Literal["pt-BR", "en"], BeforeValidator(_language_code)]
_LANGUAGE = TypeAdapter(Language)


class SettingsError(ValueError):
    """Configuration that cannot be used; the message names each variable at fault."""


class Settings(BaseSettings):
    """Every setting of the pipeline; each field is read from the variable of the same name, upper-cased."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    omie_app_key: str | None = None
    omie_app_secret: SecretStr | None = None
    omie_base_url: str = OMIE_PRODUCTION_URL
    omie_pipeline_account: str = Field("main", pattern=ACCOUNT_ID_PATTERN)
    # The accounts file; unset: config/accounts.yaml when it exists, else the one account above.
    omie_pipeline_accounts: Path | None = None
    omie_pipeline_db_url: str | None = None
    salesos_deals_url: str | None = None
    salesos_deals_table: str | None = None
    salesos_deals_mapping: Path | None = None
    omie_pipeline_closed_statuses: str = "won"
    # The largest amount one deal may carry (a few extra zeros typed in the CRM become an issue).
    omie_pipeline_max_deal_amount: Decimal = Field(DEFAULT_MAX_AMOUNT, gt=0, le=STORABLE_MAX_AMOUNT, decimal_places=2)
    omie_pipeline_service_map: Path = Path("config/service_map.yaml")
    omie_pipeline_stuck_after_minutes: int = Field(30, gt=0)
    # Omie does not document the codes of `regime_tributario`: a person confirms the regime here.
    omie_pipeline_tax_regime: Regime | None = None
    omie_pipeline_status_grace_minutes: float = Field(10, ge=0)
    omie_pipeline_reports_dir: Path | None = None
    omie_pipeline_dagster_ui_url: str = "http://localhost:3000"
    # What people read (alerts, the CLI's messages): pt-BR or en. Logs stay English.
    omie_pipeline_language: Language = DEFAULT_LANGUAGE
    # Where each alert's runbook link points: a path in the repository or the runbook's URL.
    omie_pipeline_runbook_url: str = DEFAULT_RUNBOOK_URL
    omie_pipeline_slack_webhook_url: SecretStr | None = None
    omie_pipeline_alert_webhook_url: SecretStr | None = None
    omie_rate_window_seconds: float = Field(60.0, gt=0)
    omie_redundant_seconds: float = Field(60.0, ge=0)
    omie_page_sizes: str = ""
    # Where processes share Omie's budgets: unset, a SQLite file in DAGSTER_HOME (one machine); redis://host:port/db.
    omie_pipeline_pacing_url: SecretStr | None = None
    dagster_home: Path = Path("dagster_home")
    # Where the steps of the asset jobs run: in subprocesses of the run (one machine) or on Celery
    # workers (several machines). A choice of the deployment, so the code is the same in both.
    omie_pipeline_executor: Literal["multiprocess", "celery"] = "multiprocess"
    # The Celery broker and result backend (URLs may carry a password): Redis or RabbitMQ.
    omie_pipeline_celery_broker: SecretStr | None = None
    omie_pipeline_celery_backend: SecretStr | None = None
    # How often each account's closed deals are invoiced (cron, America/Sao_Paulo): every 15 minutes
    # by default; a company that wants its notes sooner, or a test of the deployment, ticks every minute.
    omie_pipeline_emission_cron: str = "*/15 * * * *"

    @model_validator(mode="after")
    def _celery_needs_a_broker(self) -> Settings:
        if self.omie_pipeline_executor == "celery" and self.omie_pipeline_celery_broker is None:
            raise ValueError(
                "OMIE_PIPELINE_EXECUTOR=celery needs OMIE_PIPELINE_CELERY_BROKER (e.g. redis://host:6379/0)"
            )
        return self

    @field_validator("omie_base_url")
    @classmethod
    def _base_url_ends_with_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("omie_pipeline_pacing_url")
    @classmethod
    def _pacing_url_is_redis(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a Redis URL (redis://host:port/db), or unset for the file in DAGSTER_HOME")
        return value

    @field_validator("omie_pipeline_emission_cron")
    @classmethod
    def _emission_cron_is_cron(cls, value: str) -> str:
        if not is_valid_cron_string(value):
            raise ValueError("must be a cron expression of 5 fields, e.g. */15 * * * *")
        return value

    @field_validator("omie_page_sizes")
    @classmethod
    def _page_sizes_are_known_methods_and_sizes(cls, value: str) -> str:
        paging.page_sizes(_parse_page_sizes(value))
        return value

    @property
    def page_sizes(self) -> dict[str, int]:
        """Page sizes set per Omie listing (`ListarOS=150,ListarNFSEs=80`); others keep the client's defaults."""
        return _parse_page_sizes(self.omie_page_sizes)

    @property
    def closed_statuses(self) -> frozenset[str]:
        return frozenset(s.strip().lower() for s in self.omie_pipeline_closed_statuses.split(",") if s.strip())

    @property
    def db_url(self) -> str:
        """OMIE_PIPELINE_DB_URL, else the SQLite file in DAGSTER_HOME."""
        return self.omie_pipeline_db_url or default_db_url(self.dagster_home)

    @property
    def pacing_url(self) -> str:
        """OMIE_PIPELINE_PACING_URL, else the SQLite file in DAGSTER_HOME every process of this machine shares."""
        if self.omie_pipeline_pacing_url is not None:
            return self.omie_pipeline_pacing_url.get_secret_value()
        return f"sqlite:///{(self.dagster_home / PACING_FILE).resolve()}"

    @property
    def reports_dir(self) -> Path:
        return self.omie_pipeline_reports_dir or self.dagster_home / "reports"

    def require_omie_credentials(self) -> tuple[str, str]:
        """The app key and secret, or an error naming whichever variable is missing."""
        missing = [
            name
            for name, value in (("OMIE_APP_KEY", self.omie_app_key), ("OMIE_APP_SECRET", self.omie_app_secret))
            if not value
        ]
        if missing:
            raise SettingsError(f"missing {' and '.join(missing)}: set the Omie app's key and secret")
        return self.omie_app_key, self.omie_app_secret.get_secret_value()


def _parse_page_sizes(text: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        method, equals, size = (piece.strip() for piece in entry.partition("="))
        if not equals or not size.isdigit():
            raise ValueError(f"expected Method=size entries separated by commas, e.g. ListarOS=100; got {entry!r}")
        sizes[method] = int(size)
    return sizes


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings from `environ` (default: the process environment)."""
    source = os.environ if environ is None else environ
    values = {key.lower(): value for key, value in source.items() if key.lower() in Settings.model_fields}
    try:
        return Settings(_env_file=None, **values) if environ is not None else Settings()
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None


def load_language(environ: dict[str, str] | None = None) -> str:
    """OMIE_PIPELINE_LANGUAGE alone (default pt-BR): commands that need no other setting still speak the
    reader's language, and a bad value elsewhere does not stop them."""
    source = os.environ if environ is None else environ
    value = next((text for key, text in source.items() if key.lower() == "omie_pipeline_language"), None)
    if value is None:
        return DEFAULT_LANGUAGE
    try:
        return _LANGUAGE.validate_python(value)
    except ValidationError as error:
        raise SettingsError(
            f"invalid configuration: OMIE_PIPELINE_LANGUAGE: {error.errors()[0]['msg']} (got {value!r})"
        ) from None


DEFAULT_ACCOUNTS_FILE = Path("config/accounts.yaml")


def accounts_file(settings: Settings) -> Path | None:
    """OMIE_PIPELINE_ACCOUNTS, else config/accounts.yaml when it exists; None: one account from the environment."""
    if settings.omie_pipeline_accounts is not None:
        return settings.omie_pipeline_accounts
    return DEFAULT_ACCOUNTS_FILE if DEFAULT_ACCOUNTS_FILE.is_file() else None


def load_accounts(settings: Settings, environ: dict[str, str] | None = None) -> list[Account]:
    """The accounts this deployment serves, their variables read from `environ` (default: the process's).

    Without an accounts file, the one account of OMIE_PIPELINE_ACCOUNT with OMIE_APP_KEY/SECRET,
    SALESOS_DEALS_*, the closed statuses and the service map, as a single-company deployment has
    always been configured; its keys may be unset until first used.
    """
    path = accounts_file(settings)
    if path is None:
        return [_single_account(settings)]
    try:
        return resolve_accounts(parse_accounts(path), os.environ if environ is None else environ, path)
    except AccountsFileError as error:
        raise SettingsError(f"OMIE_PIPELINE_ACCOUNTS: {error}") from None


def _single_account(settings: Settings) -> Account:
    return Account(
        id=settings.omie_pipeline_account,
        name=settings.omie_pipeline_account,
        app_key_env="OMIE_APP_KEY",
        app_secret_env="OMIE_APP_SECRET",
        app_key=settings.omie_app_key or "",
        app_secret=settings.omie_app_secret or SecretStr(""),
        deals_url=settings.salesos_deals_url or "",
        deals_url_env="SALESOS_DEALS_URL" if settings.salesos_deals_url else None,
        deals_table=settings.salesos_deals_table,
        deals_mapping=settings.salesos_deals_mapping,
        closed_statuses=settings.omie_pipeline_closed_statuses,
        service_map=settings.omie_pipeline_service_map,
    )


def _describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        field = str(problem["loc"][0]) if problem["loc"] else "?"
        # A rule across fields (no loc) receives every value, secrets included: never echoed.
        shown = "" if field in SECRET_FIELDS or not problem["loc"] else f" (got {problem.get('input')!r})"
        lines.append(f"{field.upper()}: {problem['msg']}{shown}")
    return "invalid configuration: " + "; ".join(lines)
