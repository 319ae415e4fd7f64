"""Dagster resources: thin adapters over the state store, the Omie client, the deal source and the alert channels.

Resources never read the environment. `build_resources(settings)` makes them from the `Settings`
read once by `omie_pipeline.definitions`, so the Dagster UI shows the values a run really uses,
and a test gives a run its own settings by passing its own resources. Secrets (the Omie key and
secret, webhook URLs) are bound with `dg.EnvVar` when they are set: the UI shows the variable's
name, never its value. A secret that is not set stays empty, so that definitions load without it
and the first use names the variable that is missing, instead of every run failing up front.
Field defaults are the `Settings` defaults, so that each threshold has one definition.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr, SecretStr

from omie_pipeline.accounts_file import DEFAULT_SERVICE_MAP, Account
from omie_pipeline.alerts.channels import (
    AlertChannel,
    LogChannel,
    SlackChannel,
    WebhookChannel,
)
from omie_pipeline.alerts.delivery import DeliveryPolicy, DeliveryRound
from omie_pipeline.domain.taxes import Regime
from omie_pipeline.domain.timeutil import now_utc, parse_iso_datetime
from omie_pipeline.settings import Settings, SettingsError
from omie_pipeline.store import Store
from omie_pipeline.sync.company_guard import CrossedKeysError, ensure_own_company
from omie_pipeline.sync.service_map import service_map_path


def _default(field: str):
    """The default of one setting: the resources and the settings share it."""
    return Settings.model_fields[field].default


class AccountNotConfiguredError(SettingsError):
    """A partition whose account is not (or no longer) in the accounts file: its data stays, runs are refused."""


class AccountConfig(dg.Config):
    """One account of the accounts file as a run of its partition uses it. The keys, a SQL deal
    source's URL and the webhooks are bound to the variables the file names: the UI shows names only."""

    id: str
    name: str
    app_key_env: str
    app_secret_env: str
    app_key: str = ""
    app_secret: str = ""
    deals_url: str = ""
    deals_table: str = ""
    deals_mapping: str = ""
    closed_statuses: str = "won"
    service_map: str = str(DEFAULT_SERVICE_MAP)


class StoreResource(dg.ConfigurableResource):
    """The state store at `db_url` (OMIE_PIPELINE_DB_URL, else the SQLite file in DAGSTER_HOME)."""

    db_url: str = Field(description="SQLAlchemy URL of the state store.")
    _store: Store | None = PrivateAttr(default=None)

    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_url)
        return self._store

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._store is not None:
            self._store.dispose()


class OmieResource(dg.ConfigurableResource):
    """The Omie API client.

    Pacing only works if every caller in a process shares one client per app key, whatever
    copies of this resource Dagster makes: clients are therefore kept per process, keyed by
    their settings.
    """

    base_url: str = Field(_default("omie_base_url"), description="OMIE_BASE_URL.")
    app_key: str = Field("", description="OMIE_APP_KEY (bound as an environment variable).")
    app_secret: str = Field("", description="OMIE_APP_SECRET (bound as an environment variable).")
    window_seconds: float = Field(_default("omie_rate_window_seconds"), gt=0, description="OMIE_RATE_WINDOW_SECONDS.")
    redundant_seconds: float = Field(_default("omie_redundant_seconds"), ge=0, description="OMIE_REDUNDANT_SECONDS.")
    page_sizes: dict[str, int] = Field(default_factory=dict, description="OMIE_PAGE_SIZES, per listing method.")
    pacing_url: str = Field(
        "",
        description="OMIE_PIPELINE_PACING_URL (bound as an environment variable), else the SQLite file in "
        "DAGSTER_HOME; empty: this process only.",
    )

    def client(self, store: Store | None = None, account: str | None = None, config: AccountConfig | None = None):
        """The process's `OmieClient` for these settings, created on first use. With the state store,
        the misuse guard counts faults there, where every process of the app key adds to one count
        (as Omie counts), not in this process alone. With `config`, the keys are that account's
        (from the accounts file); with `account` and the store, the keys are first checked to answer
        for the account's own Omie company (`CrossedKeysError` otherwise, before any call that writes)."""
        app_key, app_secret = (config.app_key, config.app_secret) if config else (self.app_key, self.app_secret)
        names = (config.app_key_env, config.app_secret_env) if config else ("OMIE_APP_KEY", "OMIE_APP_SECRET")
        missing = [name for name, value in zip(names, (app_key, app_secret), strict=True) if not value]
        if missing:
            raise SettingsError(f"missing {' and '.join(missing)}: set the Omie app's key and secret")
        client = shared_omie_client(
            self.base_url,
            app_key,
            app_secret,
            self.window_seconds,
            self.redundant_seconds,
            self.page_sizes,
            store,
            self.pacing_url or None,
        )
        if store is not None and account is not None:
            ensure_own_company(store, client, account, app_key)
        return client

    def redundant_interval(self) -> timedelta:
        """Omie's interval between two requests about one id, as the client is configured with it."""
        return timedelta(seconds=self.redundant_seconds)


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def shared_omie_client(
    base_url: str,
    app_key: str,
    app_secret: str,
    window_seconds: float,
    redundant_seconds: float,
    page_sizes: Mapping[str, int] | None = None,
    store: Store | None = None,
    pacing_url: str | None = None,
):
    """One client per (URL, key, secret, window, interval, page sizes, store of its fault streaks, pacing
    ledger) in this process."""
    from omie_pipeline.omie import OmieClient, OmieLimits
    from omie_pipeline.store.fault_streaks import StoredFaultStreaks

    key = (
        base_url,
        app_key,
        hashlib.sha256(app_secret.encode()).hexdigest(),
        window_seconds,
        redundant_seconds,
        tuple(sorted((page_sizes or {}).items())),
        store.url if store is not None else None,
        pacing_url,
    )
    with _clients_lock:
        if key not in _clients:
            ledger = StoredFaultStreaks(store, app_key) if store is not None else None
            _clients[key] = OmieClient(
                base_url,
                app_key,
                app_secret,
                limits=OmieLimits(window_seconds=window_seconds),
                redundant_seconds=redundant_seconds,
                page_sizes=page_sizes,
                fault_ledger=ledger,
                pacing_url=pacing_url,
            )
        return _clients[key]


def omie_client_for(settings: Settings, store: Store | None = None, account: Account | None = None):
    """The process's shared client for these settings (the one the Dagster resource also gets), with
    the keys of `account` when given (an accounts file's), else OMIE_APP_KEY/SECRET; with the state
    store, its misuse guard counts faults where every process sees them."""
    if account is not None and account.app_key and account.app_secret.get_secret_value():
        app_key, app_secret = account.app_key, account.app_secret.get_secret_value()
    else:
        app_key, app_secret = settings.require_omie_credentials()
    return shared_omie_client(
        settings.omie_base_url,
        app_key,
        app_secret,
        settings.omie_rate_window_seconds,
        settings.omie_redundant_seconds,
        settings.page_sizes,
        store,
        settings.pacing_url,
    )


class PipelineResource(dg.ConfigurableResource):
    """The account and the rules every asset, check and sensor shares: one definition of each threshold."""

    account: str = Field(_default("omie_pipeline_account"), description="OMIE_PIPELINE_ACCOUNT: this deployment's.")
    closed_statuses: str = Field(
        _default("omie_pipeline_closed_statuses"), description="OMIE_PIPELINE_CLOSED_STATUSES, comma-separated."
    )
    max_deal_amount: str = Field(
        str(_default("omie_pipeline_max_deal_amount")), description="OMIE_PIPELINE_MAX_DEAL_AMOUNT, in reais."
    )
    stuck_after_minutes: int = Field(
        _default("omie_pipeline_stuck_after_minutes"),
        gt=0,
        description="OMIE_PIPELINE_STUCK_AFTER_MINUTES: pending longer is stuck.",
    )
    status_grace_minutes: float = Field(
        _default("omie_pipeline_status_grace_minutes"), ge=0, description="OMIE_PIPELINE_STATUS_GRACE_MINUTES."
    )
    status_max_age_minutes: float = Field(
        15.0, gt=0, description="Invoice statuses older than this fail their freshness check while invoices are open."
    )
    catalog_max_age_hours: float = Field(
        26.0, gt=0, description="Service catalog and tax rates older than this fail their freshness check."
    )
    tax_regime: str = Field("", description="OMIE_PIPELINE_TAX_REGIME, as a person confirmed it (empty: none).")
    service_map: str = Field(
        str(_default("omie_pipeline_service_map")),
        description="OMIE_PIPELINE_SERVICE_MAP: the product -> service map file.",
    )
    reports_dir: str = Field(
        str(_default("dagster_home") / "reports"), description="OMIE_PIPELINE_REPORTS_DIR, else DAGSTER_HOME/reports."
    )
    accounts: list[AccountConfig] = Field(
        default_factory=list, description="OMIE_PIPELINE_ACCOUNTS: the accounts file's accounts (empty: one account)."
    )

    def account_config(self, account: str) -> AccountConfig | None:
        """The account's entry in the accounts file; None for a single-account deployment."""
        if not self.accounts:
            return None
        for config in self.accounts:
            if config.id == account:
                return config
        raise AccountNotConfiguredError(
            f"account {account!r} is not in the accounts file (removed?): its data is kept, but nothing runs for it "
            f"until it is listed again; listed: {', '.join(config.id for config in self.accounts)}"
        )

    def account_ids(self) -> list[str]:
        """The accounts this deployment serves: the file's, or OMIE_PIPELINE_ACCOUNT alone."""
        return [config.id for config in self.accounts] or [self.account]

    def statuses(self, account: str | None = None) -> frozenset[str]:
        """The deal statuses that count as closed (the account's own when the file sets them), lower-cased."""
        config = self.account_config(account) if account else None
        text = config.closed_statuses if config else self.closed_statuses
        return frozenset(s.strip().lower() for s in text.split(",") if s.strip())

    def max_amount(self) -> Decimal:
        return Decimal(self.max_deal_amount)

    def stuck_after(self) -> timedelta:
        return timedelta(minutes=self.stuck_after_minutes)

    def status_grace(self) -> timedelta:
        return timedelta(minutes=self.status_grace_minutes)

    def status_max_age(self) -> timedelta:
        return timedelta(minutes=self.status_max_age_minutes)

    def catalog_max_age(self) -> timedelta:
        return timedelta(hours=self.catalog_max_age_hours)

    def regime(self) -> Regime | None:
        return Regime(self.tax_regime) if self.tax_regime else None

    def service_map_path(self, account: str | None = None) -> Path:
        config = self.account_config(account) if account else None
        return service_map_path(config.service_map if config else self.service_map)


def account_client(omie: OmieResource, store: StoreResource, pipeline: PipelineResource, account: str):
    """The Omie client of one account's run: its keys, checked to answer for its own company.

    Crossed keys and an account no longer configured fail the step without retries: waiting
    changes neither, and the message says what a person must fix."""
    try:
        return omie.client(store.store(), account, pipeline.account_config(account))
    except (CrossedKeysError, AccountNotConfiguredError) as problem:
        raise dg.Failure(description=str(problem), allow_retries=False) from problem


class DealSourceResource(dg.ConfigurableResource):
    """Where closed deals come from: SALESOS_DEALS_URL, SALESOS_DEALS_TABLE and SALESOS_DEALS_MAPPING."""

    url: str = Field("", description="A .csv path or a SQLAlchemy URL (it may hold a password: an EnvVar then).")
    table: str = ""
    mapping: str = ""

    def source(self, config: AccountConfig | None = None):
        """The configured `DealSource` (CSV file or SQL table, view or query): the account's when given."""
        from omie_pipeline.sources import open_source

        if config is not None:
            return open_source(config.deals_url, config.deals_table, config.deals_mapping or None)
        return open_source(self.url, self.table, self.mapping or None)


class AccountAlertChannels(dg.Config):
    """One account's own webhooks (bound to the variables its accounts-file entry names)."""

    account: str
    slack_webhook_url: str = ""
    webhook_url: str = ""


class AlertsResource(dg.ConfigurableResource):
    """Alert channels (log always; Slack and a JSON webhook when configured) and the alert rules' knobs."""

    slack_webhook_url: str = Field("", description="OMIE_PIPELINE_SLACK_WEBHOOK_URL (empty: no Slack).")
    webhook_url: str = Field("", description="OMIE_PIPELINE_ALERT_WEBHOOK_URL (empty: no webhook).")
    dagster_ui_url: str = Field(
        _default("omie_pipeline_dagster_ui_url"), description="OMIE_PIPELINE_DAGSTER_UI_URL: base URL for run links."
    )
    runbook_url: str = Field(
        _default("omie_pipeline_runbook_url"),
        description="OMIE_PIPELINE_RUNBOOK_URL: the runbook each alert links (a repository path or a URL).",
    )
    connect_timeout_seconds: float = Field(3.0, gt=0)
    read_timeout_seconds: float = Field(5.0, gt=0)
    tries_per_evaluation: int = Field(2, ge=1, description="Tries of one channel for one alert per evaluation.")
    retry_pause_seconds: float = Field(0.5, ge=0)
    max_attempts: int = Field(5, ge=1, description="Evaluations that try an alert before it is given up.")
    evaluation_budget_seconds: float = Field(40.0, gt=0, description="After this, only the log is tried.")
    redelivery_grace_seconds: float = Field(120.0, ge=0, description="Age before a pending alert is retried.")
    failed_lookback_hours: float = Field(168.0, gt=0, description="How far back invoices in error are looked at.")
    evaluate_at: str = Field("", description="For drills and tests: evaluate as of this ISO 8601 moment.")
    account_channels: list[AccountAlertChannels] = Field(
        default_factory=list, description="Each account's own webhooks, from the accounts file."
    )

    def now(self) -> datetime:
        return parse_iso_datetime(self.evaluate_at) if self.evaluate_at else now_utc()

    def ui_url(self) -> str:
        return self.dagster_ui_url.rstrip("/")

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(
            tries_per_round=self.tries_per_evaluation,
            retry_pause_seconds=self.retry_pause_seconds,
            max_attempts=self.max_attempts,
            round_budget_seconds=self.evaluation_budget_seconds,
        )

    def channels(self) -> list[AlertChannel]:
        timeouts = {"connect_timeout": self.connect_timeout_seconds, "read_timeout": self.read_timeout_seconds}
        channels: list[AlertChannel] = [LogChannel()]
        if self.slack_webhook_url:
            channels.append(SlackChannel(self.slack_webhook_url, **timeouts))
        if self.webhook_url:
            channels.append(WebhookChannel(self.webhook_url, **timeouts))
        for own in self.account_channels:
            if own.slack_webhook_url:
                channels.append(SlackChannel(own.slack_webhook_url, account=own.account, **timeouts))
            if own.webhook_url:
                channels.append(WebhookChannel(own.webhook_url, account=own.account, **timeouts))
        return channels

    def delivery_round(self) -> DeliveryRound:
        """A fresh round for one sensor evaluation."""
        return DeliveryRound(self.channels(), self.policy())

    def secrets(self) -> list[str]:
        """The webhook URLs: they must never appear in an alert (scrubbed out of run errors)."""
        urls = [self.slack_webhook_url, self.webhook_url]
        urls += [url for own in self.account_channels for url in (own.slack_webhook_url, own.webhook_url)]
        return [value for value in urls if value]


def _secret(value: str | SecretStr | None, variable: str) -> str:
    """The variable itself when it is set (the UI then shows its name only), else empty."""
    return dg.EnvVar(variable) if value else ""


def account_configs(accounts: list[Account]) -> list[AccountConfig]:
    """The accounts file's accounts as resource config, secrets bound to the variables it names."""
    return [
        AccountConfig(
            id=account.id,
            name=account.name,
            app_key_env=account.app_key_env,
            app_secret_env=account.app_secret_env,
            app_key=dg.EnvVar(account.app_key_env),
            app_secret=dg.EnvVar(account.app_secret_env),
            deals_url=dg.EnvVar(account.deals_url_env) if account.deals_url_env else account.deals_url,
            deals_table=account.deals_table or "",
            deals_mapping=str(account.deals_mapping or ""),
            closed_statuses=account.closed_statuses,
            service_map=str(account.service_map),
        )
        for account in accounts
    ]


def build_resources(settings: Settings, accounts: list[Account] | None = None) -> dict[str, dg.ConfigurableResource]:
    """Every resource of the definitions, from settings read once by the caller; `accounts` are the
    accounts file's (None or empty: the single account of the environment)."""
    return {
        "store": StoreResource(db_url=settings.db_url),
        "omie": OmieResource(
            base_url=settings.omie_base_url,
            app_key=_secret(settings.omie_app_key, "OMIE_APP_KEY"),
            app_secret=_secret(settings.omie_app_secret, "OMIE_APP_SECRET"),
            window_seconds=settings.omie_rate_window_seconds,
            redundant_seconds=settings.omie_redundant_seconds,
            page_sizes=settings.page_sizes,
            pacing_url=_secret(settings.omie_pipeline_pacing_url, "OMIE_PIPELINE_PACING_URL") or settings.pacing_url,
        ),
        "deal_source": DealSourceResource(
            url=_secret(settings.salesos_deals_url, "SALESOS_DEALS_URL"),
            table=settings.salesos_deals_table or "",
            mapping=str(settings.salesos_deals_mapping or ""),
        ),
        "pipeline": PipelineResource(
            account=settings.omie_pipeline_account,
            closed_statuses=settings.omie_pipeline_closed_statuses,
            max_deal_amount=str(settings.omie_pipeline_max_deal_amount),
            stuck_after_minutes=settings.omie_pipeline_stuck_after_minutes,
            status_grace_minutes=settings.omie_pipeline_status_grace_minutes,
            tax_regime=settings.omie_pipeline_tax_regime.value if settings.omie_pipeline_tax_regime else "",
            service_map=str(settings.omie_pipeline_service_map),
            reports_dir=str(settings.reports_dir),
            accounts=account_configs(accounts or []),
        ),
        "alerts": AlertsResource(
            slack_webhook_url=_secret(settings.omie_pipeline_slack_webhook_url, "OMIE_PIPELINE_SLACK_WEBHOOK_URL"),
            webhook_url=_secret(settings.omie_pipeline_alert_webhook_url, "OMIE_PIPELINE_ALERT_WEBHOOK_URL"),
            dagster_ui_url=settings.omie_pipeline_dagster_ui_url,
            runbook_url=settings.omie_pipeline_runbook_url,
            account_channels=[
                AccountAlertChannels(
                    account=account.id,
                    slack_webhook_url=dg.EnvVar(account.slack_webhook_env) if account.slack_webhook_env else "",
                    webhook_url=dg.EnvVar(account.webhook_env) if account.webhook_env else "",
                )
                for account in accounts or []
                if account.slack_webhook_env or account.webhook_env
            ],
        ),
    }
