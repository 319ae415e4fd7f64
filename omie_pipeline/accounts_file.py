"""The accounts file: the Omie companies one deployment serves, each with its own keys and data.

One YAML file lists the accounts. Each has a stable `id` (a partition, a part of every integration
code sent to Omie: changing it would issue everything again, so it never changes), a display
`name` (free to change: nothing in Omie depends on it), the names of the environment variables
that hold its app key and secret (never the secrets themselves), its deal source and the deal
statuses that count as closed, its product -> service map, and the variables holding its own alert
webhooks (its alerts go there as well as to the deployment's channels).

Parsing names the account and the field at fault; resolving reads the named variables from an
environment given by the caller (`omie_pipeline.settings` is the one module that reads the
process environment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

ACCOUNT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ENV_NAME_PATTERN = r"^[A-Z_][A-Z0-9_]*$"
DEFAULT_SERVICE_MAP = Path("config/service_map.yaml")


class AccountsFileError(ValueError):
    """An accounts file that cannot be used; the message names the file, the account and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OmieKeys(_Strict):
    app_key_env: str = Field(pattern=ENV_NAME_PATTERN)
    app_secret_env: str = Field(pattern=ENV_NAME_PATTERN)


class DealSourceConfig(_Strict):
    """`url` (a .csv path) or `url_env` (a variable holding a SQLAlchemy URL, which may carry a password)."""

    url: str | None = None
    url_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)
    table: str | None = None
    mapping: Path | None = None
    closed_statuses: str = "won"

    @model_validator(mode="after")
    def _one_url(self) -> DealSourceConfig:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("give exactly one of url (a .csv path) or url_env (a variable holding the URL)")
        return self


class AlertChannelsConfig(_Strict):
    slack_webhook_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)
    webhook_env: str | None = Field(None, pattern=ENV_NAME_PATTERN)


class AccountEntry(_Strict):
    id: str = Field(pattern=ACCOUNT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=120)
    omie: OmieKeys
    deals: DealSourceConfig
    service_map: Path = DEFAULT_SERVICE_MAP
    alerts: AlertChannelsConfig = AlertChannelsConfig()

    @field_validator("name")
    @classmethod
    def _name_is_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


@dataclass(frozen=True)
class Account:
    """One account with its variables read: what a run of its partition uses."""

    id: str
    name: str
    app_key_env: str
    app_secret_env: str
    app_key: str
    app_secret: SecretStr
    deals_url: str = field(repr=False)  # a SQL URL may carry a password
    deals_url_env: str | None
    deals_table: str | None
    deals_mapping: Path | None
    closed_statuses: str
    service_map: Path
    slack_webhook_env: str | None = None
    webhook_env: str | None = None


def parse_accounts(path: Path) -> list[AccountEntry]:
    """The accounts listed in `path`, or an error naming each account and field at fault."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AccountsFileError(f"{path}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise AccountsFileError(f"{path}: not valid YAML ({error})") from None
    listed = document.get("accounts") if isinstance(document, dict) else None
    if not isinstance(listed, list) or not listed:
        raise AccountsFileError(f"{path}: expected a non-empty list under 'accounts'")
    entries: list[AccountEntry] = []
    problems: list[str] = []
    for position, item in enumerate(listed, 1):
        label = f"account {item.get('id')!r}" if isinstance(item, dict) and item.get("id") else f"account #{position}"
        try:
            entries.append(AccountEntry.model_validate(item))
        except ValidationError as error:
            for problem in error.errors():
                field = ".".join(str(part) for part in problem["loc"]) or "(entry)"
                problems.append(f"{label}, field {field}: {problem['msg']}")
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.id in seen:
            problems.append(f"account {entry.id!r}, field id: listed twice")
        seen[entry.id] = entry.name
    if problems:
        raise AccountsFileError(f"{path}: " + "; ".join(problems))
    return entries


def resolve_accounts(entries: list[AccountEntry], variables: Mapping[str, str], path: Path) -> list[Account]:
    """Each entry with its variables read from `variables`; an error names each variable that is unset,
    and two accounts whose variables hold the same app key (one Omie company served twice)."""
    problems: list[str] = []
    resolved: list[Account] = []
    by_key: dict[str, str] = {}
    for entry in entries:

        def read(variable: str | None, field: str) -> str | None:
            value = (variables.get(variable) or "").strip() if variable else ""
            if variable and not value:
                problems.append(f"account {entry.id!r}, field {field}: variable {variable} is not set")  # noqa: B023
            return value or None

        app_key = read(entry.omie.app_key_env, "omie.app_key_env")
        app_secret = read(entry.omie.app_secret_env, "omie.app_secret_env")
        deals_url = entry.deals.url or read(entry.deals.url_env, "deals.url_env")
        read(entry.alerts.slack_webhook_env, "alerts.slack_webhook_env")
        read(entry.alerts.webhook_env, "alerts.webhook_env")
        if app_key and app_key in by_key:
            problems.append(
                f"account {entry.id!r}, field omie.app_key_env: holds the same app key as account "
                f"{by_key[app_key]!r}: one Omie company would be served twice and its deals invoiced twice"
            )
        if app_key:
            by_key[app_key] = entry.id
        resolved.append(
            Account(
                id=entry.id,
                name=entry.name,
                app_key_env=entry.omie.app_key_env,
                app_secret_env=entry.omie.app_secret_env,
                app_key=app_key or "",
                app_secret=SecretStr(app_secret or ""),
                deals_url=deals_url or "",
                deals_url_env=entry.deals.url_env,
                deals_table=entry.deals.table,
                deals_mapping=entry.deals.mapping,
                closed_statuses=entry.deals.closed_statuses,
                service_map=entry.service_map,
                slack_webhook_env=entry.alerts.slack_webhook_env,
                webhook_env=entry.alerts.webhook_env,
            )
        )
    if problems:
        raise AccountsFileError(f"{path}: " + "; ".join(problems))
    return resolved
