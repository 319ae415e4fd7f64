"""`omie-pipeline invoices ...`: list, show, wait for, bill again, cancel and reissue NFS-e, and download
their PDF and XML.

Settings come from the environment (OMIE_PIPELINE_DB_URL, OMIE_PIPELINE_ACCOUNT, OMIE_BASE_URL,
OMIE_APP_KEY, OMIE_APP_SECRET, OMIE_REDUNDANT_SECONDS). `list` and `show` read only the state
store; `wait`, `cancel` and `show --pdf/--xml` also talk to Omie (the PDF link Omie gives expires,
so it is asked for right before each download). Client documents are shown masked.

Exit status:
- wait: 0 issued, 2 error, 3 still submitted/processing at the timeout, 4 cancelled, 1 anything else
  (no such invoice, configuration, Omie unreachable).
- cancel: 0 cancelled (Omie confirmed), 3 sent but not confirmed yet (the status refresh follows
  it), 4 Omie refused it, 1 anything else (not issued, reason too short, no such invoice...).
- retry: 0 billed again, 2 nothing changed since the refusal (the message says what to fix), 3 left
  unfinished (answer lost, call paused: the next emission run finishes it), 4 Omie refused a step, 1
  anything else (not in error, deal not ready, no such invoice...).
- reissue: 0 the new note is on its way, 4 Omie refused it, 3 unfinished (the next emission run
  settles it), 1 anything else (its note not cancelled, the deal not closed again, not ready).
- click answers 2 for a usage error (a missing argument or option) before any of these run.
- list, show: 0, or 1 when the invoice or the configuration is missing.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import click

from omie_pipeline.cli import main
from omie_pipeline.domain.documents import mask_document
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import _, format_moment, format_money
from omie_pipeline.settings import Settings, SettingsError, load_settings
from omie_pipeline.store import Store
from omie_pipeline.store.invoices import (
    Invoice,
    deal_row,
    events_of,
    get_invoice,
    list_invoices,
    open_invoice_issues,
)

EXIT_OTHER = 1
EXIT_NOTHING_CHANGED = 2
EXIT_CANCEL_REFUSED = 4  # also: Omie refused a step of `retry`
EXIT_CANCEL_PENDING = 3  # also: `retry` left unfinished (answer lost, call paused)
_ACCOUNT_HELP = "Account in the state store (default: OMIE_PIPELINE_ACCOUNT)."
_STATUSES = [status.value for status in InvoiceStatus]


@main.group()
def invoices() -> None:
    """NFS-e invoices: their status, history and documents; wait for one, bill a refused one again, cancel one,
    reissue a cancelled one."""


@invoices.command("list")
@click.option("--status", type=click.Choice(_STATUSES), help="Only invoices in this status.")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of invoices.")
def list_command(status: str | None, account: str | None, as_json: bool) -> None:
    """Every invoice of the account (oldest first): status, NFS-e number, verification code, last error."""
    settings = _settings()
    with _store(settings) as store, store.connect() as connection:
        if store.is_new:
            _fail(
                _(
                    "the state store {url} is new: nothing has been synced into it yet. Check DAGSTER_HOME and "
                    "OMIE_PIPELINE_DB_URL, or run a sync first."
                ).format(url=store.engine.url.render_as_string(hide_password=True))
            )
        found = list_invoices(connection, account or settings.omie_pipeline_account, [status] if status else None)
    if as_json:
        click.echo(json.dumps([invoice_json(invoice) for invoice in found], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo(_("no invoices in status {status}").format(status=status) if status else _("no invoices"))
        return
    click.echo(
        _list_line(
            _("deal"), _("status"), "NFS-e", _("verification"), "OS", _("net"), _("issued (São Paulo)"), _("last error")
        )
    )
    for invoice in found:
        click.echo(
            _list_line(
                invoice.deal_id,
                invoice.status,
                invoice.nfse_number or "-",
                invoice.verification_code or "-",
                invoice.os_number or "-",
                format_money(invoice.net_amount),
                _local(invoice.issued_at),
                _short(invoice.last_error) if invoice.last_error else "",
            )
        )


def _list_line(deal: str, status: str, nfse: str, code: str, os_number: str, net: str, issued: str, error: str) -> str:
    """One line of `invoices list`, its header included, in columns wide enough for either language's words."""
    return f"{deal:<16} {status:<10} {nfse:>8} {code:<16} {os_number:<8} {net:>15}  {issued:<22} {error}".rstrip()


@invoices.command("show")
@click.argument("deal_id")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also download the NFS-e PDF to this file.",
)
@click.option(
    "--xml",
    "xml_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also download the NFS-e XML to this file.",
)
def show_command(
    deal_id: str, account: str | None, as_json: bool, pdf_path: Path | None, xml_path: Path | None
) -> None:
    """One deal's invoice: status, number, verification code, portal link, money, history and last error."""
    settings = _settings()
    account = account or settings.omie_pipeline_account
    with _store(settings) as store:
        if pdf_path is not None or xml_path is not None:
            _download(settings, store, account, deal_id, pdf_path, xml_path)
        with store.connect() as connection:
            invoice = get_invoice(connection, account, deal_id)
            deal = deal_row(connection, account, deal_id)
            history = events_of(connection, account, deal_id)
            issues = open_invoice_issues(connection, account, deal_id)
    if invoice is None:
        if issues:
            lines = "\n".join(
                _("  {field}: {message}\n    fix: {fix}").format(
                    field=issue["field"], message=issue["message"], fix=issue["fix"]
                )
                for issue in issues
            )
            _fail(_("deal {deal} has no invoice yet:\n{lines}").format(deal=deal_id, lines=lines))
        _fail(_("deal {deal} has no invoice in account {account}").format(deal=deal_id, account=account))
    client = _client_of(deal)
    if as_json:
        payload = invoice_json(invoice)
        payload.update(client=client, history=[_event_json(event) for event in history])
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    _print_invoice(invoice, client, history)
    for kind, path in (("PDF", pdf_path), ("XML", xml_path)):
        if path is not None:
            click.echo(_("{kind} saved to {path}").format(kind=kind, path=path))


@invoices.command("wait")
@click.argument("deal_id")
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=300.0, show_default=True, help="Seconds to wait at most."
)
@click.option("--account", help=_ACCOUNT_HELP)
def wait_command(deal_id: str, timeout: float, account: str | None) -> None:
    """Wait until the deal's NFS-e is issued or in error, asking Omie once per redundancy interval.

    Exit status: 0 issued, 2 error, 3 still processing at the timeout, 4 cancelled, 1 other failures.
    """
    from omie_pipeline.omie.errors import OmieError
    from omie_pipeline.sync.invoice_actions import InvoiceActionError, wait_for_invoice

    settings = _settings()
    account = account or settings.omie_pipeline_account
    with _store(settings) as store, _client(settings, store) as client:
        try:
            result = wait_for_invoice(
                client,
                store,
                account,
                deal_id,
                timeout=timeout,
                interval=_interval(settings),
                on_poll=lambda invoice: click.echo(f"{_now()}  {invoice.status}", err=True),
            )
        except (InvoiceActionError, OmieError) as problem:
            _fail(str(problem))
    invoice = result.invoice
    if invoice.nfse_number:
        click.echo(
            _("deal {deal}: {status}, NFS-e {number} (verification code {code})").format(
                deal=deal_id, status=invoice.status, number=invoice.nfse_number, code=invoice.verification_code
            )
        )
    else:
        click.echo(_("deal {deal}: {status}").format(deal=deal_id, status=invoice.status))
    if invoice.status == InvoiceStatus.ERROR:
        click.echo(_("  error: {error}\n  fix:   {fix}").format(error=invoice.last_error, fix=invoice.fix))
    elif result.timed_out:
        click.echo(
            _("  still {status} after {seconds} s; the status refresh keeps following it").format(
                status=invoice.status, seconds=f"{timeout:.0f}"
            )
        )
    raise SystemExit(int(result.exit_code))


@invoices.command("cancel")
@click.argument("deal_id")
@click.option("--reason", required=True, help="Why (15 to 255 characters); recorded with who and when.")
@click.option("--by", "requested_by", help="Who asks (default: the operating-system user).")
@click.option(
    "--confirm-timeout",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Seconds to wait for Omie's confirmation.",
)
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--yes", "assume_yes", is_flag=True, help="Cancel without asking (for scripts).")
def cancel_command(
    deal_id: str, reason: str, requested_by: str | None, confirm_timeout: float, account: str | None, assume_yes: bool
) -> None:
    """Cancel the deal's issued NFS-e in Omie (CancelarOS with the NFS-e cancellation).

    Exit status: 0 cancelled, 3 sent but not confirmed yet, 4 refused by Omie, 1 other failures.
    """
    from omie_pipeline.omie.errors import OmieError
    from omie_pipeline.sync.invoice_actions import (
        CancelRefusedError,
        InvoiceActionError,
        cancel_invoice,
    )

    settings = _settings()
    account = account or settings.omie_pipeline_account
    with _store(settings) as store:
        with store.connect() as connection:
            invoice = get_invoice(connection, account, deal_id)
            deal = deal_row(connection, account, deal_id)
        if invoice is not None and not assume_yes:
            _confirm_cancel(invoice, _client_of(deal))
    with _store(settings) as store, _client(settings, store) as client:
        try:
            result = cancel_invoice(
                client,
                store,
                account,
                deal_id,
                reason=reason,
                requested_by=requested_by or getpass.getuser(),
                interval=_interval(settings),
                confirm_timeout=confirm_timeout,
            )
        except CancelRefusedError as refused:
            click.echo(_("{refusal}\nfix: {fix}").format(refusal=refused, fix=refused.fix), err=True)
            raise SystemExit(EXIT_CANCEL_REFUSED) from None
        except (InvoiceActionError, OmieError, ValueError) as problem:
            _fail(str(problem))
    click.echo(result.message)
    raise SystemExit(0 if result.confirmed else EXIT_CANCEL_PENDING)


@invoices.command("retry")
@click.argument("deal_id")
@click.option("--by", "requested_by", help="Who asks (default: the operating-system user).")
@click.option("--account", help=_ACCOUNT_HELP)
def retry_command(deal_id: str, requested_by: str | None, account: str | None) -> None:
    """Bill the deal's refused NFS-e again on the same OS, corrected from the deal as it is now
    (AlterarCliente when the CRM changed the client, AlterarOS, ValidarOS, FaturarOS).

    Refused when nothing changed since the refusal, with what to fix first. Exit status: 0 billed
    again (follow it with `invoices wait`), 2 nothing changed, 4 Omie refused a step, 3 the answer was
    lost or a call paused (the next emission run finishes it), 1 other failures.
    """
    from omie_pipeline.omie.errors import OmieError
    from omie_pipeline.sync.invoice_actions import InvoiceActionError
    from omie_pipeline.sync.invoice_resend import NothingChangedError, resend_invoice
    from omie_pipeline.sync.invoices import Outcome

    settings = _settings()
    account = account or settings.omie_pipeline_account
    with _store(settings) as store, _client(settings, store) as client:
        try:
            result = resend_invoice(
                _steps(settings, client, store, account), deal_id, requested_by=requested_by or getpass.getuser()
            )
        except NothingChangedError as unchanged:
            click.echo(str(unchanged), err=True)
            raise SystemExit(EXIT_NOTHING_CHANGED) from None
        except (InvoiceActionError, OmieError) as problem:
            _fail(str(problem))
    _exit_with(deal_id, result, sent=(Outcome.RESENT, Outcome.ADOPTED), refused=(Outcome.ERROR,))


def _steps(settings: Settings, client, store: Store, account: str):
    """A person's retry or reissue from this process: Omie's redundancy interval as configured, this process as
    the claimer."""
    from omie_pipeline.sync.invoices import InvoiceSteps, IssueSettings

    return InvoiceSteps(client, store, account, IssueSettings(redundant_interval=_interval(settings)))


def _exit_with(deal_id: str, result, sent: tuple, refused: tuple) -> None:
    """Print what a retry or reissue did and exit as their docstrings say: 0 on its way, 4 refused,
    3 an answer lost or a call paused (the next emission run settles it), 1 anything else."""
    from omie_pipeline.sync.invoices import Outcome

    click.echo(
        _("deal {deal}: {outcome}: {detail}").format(deal=deal_id, outcome=result.outcome.value, detail=result.detail)
    )
    if result.outcome in sent:
        click.echo(_("  follow it with: {command}").format(command=f"omie-pipeline invoices wait {deal_id}"))
        raise SystemExit(0)
    if result.outcome in refused:
        raise SystemExit(EXIT_CANCEL_REFUSED)
    raise SystemExit(EXIT_CANCEL_PENDING if result.outcome in (Outcome.UNKNOWN, Outcome.WAITING) else EXIT_OTHER)


@invoices.command("reissue")
@click.argument("deal_id")
@click.option("--by", "requested_by", help="Who asks (default: the operating-system user).")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--yes", "assume_yes", is_flag=True, help="Reissue without asking (for scripts).")
def reissue_command(deal_id: str, requested_by: str | None, account: str | None, assume_yes: bool) -> None:
    """Issue a new NFS-e for a deal whose note was cancelled and that is closed again in the CRM: a new OS
    under a key of its own (the cancelled note is kept in the history).

    Exit status: 0 the new note is on its way (follow it with `invoices wait`), 4 Omie refused it, 3 an
    answer was lost or a call paused (the next emission run settles it), 1 anything else (not cancelled,
    deal not closed again, not ready).
    """
    from omie_pipeline.omie.errors import OmieError
    from omie_pipeline.sync.invoice_actions import InvoiceActionError
    from omie_pipeline.sync.invoice_reissue import reissue_invoice
    from omie_pipeline.sync.invoices import Outcome

    settings = _settings()
    account = account or settings.omie_pipeline_account
    if not assume_yes:
        _confirm(_("issue a new NFS-e for deal {deal} (its cancelled note stays cancelled)").format(deal=deal_id))
    with _store(settings) as store, _client(settings, store) as client:
        try:
            result = reissue_invoice(
                _steps(settings, client, store, account), deal_id, requested_by=requested_by or getpass.getuser()
            )
        except (InvoiceActionError, OmieError, ValueError) as problem:
            _fail(str(problem))
    _exit_with(deal_id, result, sent=(Outcome.SUBMITTED, Outcome.ADOPTED), refused=(Outcome.ERROR, Outcome.REFUSED))


def _confirm(what: str) -> None:
    """Ask before an act on a legal document; refused without a terminal (add --yes)."""
    if not _interactive():
        _fail(_("not going to {what} without confirmation: run it in a terminal, or add --yes").format(what=what))
    if not click.confirm(f"{what[0].upper()}{what[1:]}?", default=False):
        _fail(_("nothing done"))


def _interactive() -> bool:
    """Whether a person can answer a question on stdin."""
    return sys.stdin.isatty()


def _confirm_cancel(invoice: Invoice, client: dict[str, Any] | None) -> None:
    """Cancelling a legal NFS-e cannot be undone: show what would be cancelled and ask, unless stdin is not a
    terminal, where nobody can answer and the command is refused with the way to confirm up front.
    """
    client = client or {}
    who = " ".join(part for part in (client.get("legal_name"), client.get("document")) if part) or "-"
    what = _("deal {deal}: NFS-e {number}, {gross}, client {client}").format(
        deal=invoice.deal_id, number=invoice.nfse_number or "-", gross=format_money(invoice.gross_amount), client=who
    )
    if not _interactive():
        _fail(_("not cancelling {what} without confirmation: run it in a terminal, or add --yes").format(what=what))
    if not click.confirm(_("Cancel {what}?").format(what=what), default=False):
        _fail(_("not cancelled"))


# --- output -----------------------------------------------------------------------------------


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    """An invoice as JSON-ready values: money as strings (exact), times ISO 8601 in UTC."""
    fields = (
        "deal_id",
        "status",
        "nfse_number",
        "verification_code",
        "portal_url",
        "omie_os_id",
        "os_number",
        "nfse_id",
        "rps_status",
        "last_error",
        "fix",
        "idempotency_key",
        "service_code",
        "tax_rate_id",
        "cancel_reason",
        "cancel_requested_by",
        "billing_attempt",
        "issue_number",
    )
    payload: dict[str, Any] = {name: getattr(invoice, name) for name in fields}
    for name in (
        "gross_amount",
        "withheld_total",
        "net_amount",
        "iss_amount",
        "ir_amount",
        "pis_amount",
        "cofins_amount",
        "csll_amount",
        "inss_amount",
    ):
        payload[name] = str(getattr(invoice, name))
    for name in (
        "created_at",
        "submitted_at",
        "issued_at",
        "status_changed_at",
        "last_checked_at",
        "cancel_requested_at",
        "cancelled_at",
    ):
        moment = getattr(invoice, name)
        payload[name] = moment.isoformat() if moment else None
    payload["cancel_pending"] = invoice.cancel_pending
    return payload


def _event_json(event) -> dict[str, Any]:
    return {"at": event.at.isoformat(), "from": event.from_status, "to": event.to_status, "detail": event.detail}


def _client_of(deal: Any) -> dict[str, Any] | None:
    if deal is None:
        return None
    return {"legal_name": deal["legal_name"], "document": mask_document(deal["document"]) if deal["document"] else None}


def _print_invoice(invoice: Invoice, client: dict[str, Any] | None, history: list) -> None:
    pending = _("  (cancellation pending Omie's confirmation)") if invoice.cancel_pending else ""
    rows: list[tuple[str, Any]] = [
        (_("deal"), invoice.deal_id),
        (_("status"), invoice.status + pending),
        (_("client"), f"{client['legal_name']} ({client['document']})" if client else "-"),
        (_("NFS-e number"), invoice.nfse_number),
        (_("verification code"), invoice.verification_code),
        (_("issued"), _local(invoice.issued_at)),
        ("OS", f"{invoice.os_number} (nCodOS {invoice.omie_os_id})" if invoice.omie_os_id else None),
        (_("idempotency key"), invoice.idempotency_key),
        (_("link"), invoice.portal_url),
        (_("gross"), format_money(invoice.gross_amount)),
        (_("withheld"), format_money(invoice.withheld_total) + _withholdings(invoice)),
        (_("net"), format_money(invoice.net_amount)),
        (_("last error"), invoice.last_error),
        (_("fix"), invoice.fix),
        (
            _("cancellation"),
            _("{reason} (by {who}, {when})").format(
                reason=invoice.cancel_reason, who=invoice.cancel_requested_by, when=_local(invoice.cancel_requested_at)
            )
            if invoice.cancel_reason
            else None,
        ),
    ]
    for label, value in rows:
        if value not in (None, ""):
            click.echo(f"{label + ':':<24}{value}")
    click.echo(_("history (São Paulo time):"))
    for event in history:
        move = (
            event.to_status
            if event.from_status in (None, event.to_status)
            else f"{event.from_status} -> {event.to_status}"
        )
        click.echo(f"  {_local(event.at)}  {move:<22} {event.detail or ''}")


def _withholdings(invoice: Invoice) -> str:
    parts = [
        f"{name.upper()} {format_money(amount)}"
        for name in ("iss", "ir", "pis", "cofins", "csll", "inss")
        if (amount := getattr(invoice, f"{name}_withheld_amount")) > Decimal("0")
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _local(moment: datetime | None) -> str:
    """A moment as people read it everywhere else (report, alerts): São Paulo time, in the reader's language."""
    return format_moment(to_sao_paulo(moment)) if moment else "-"


def _now() -> str:
    return to_sao_paulo(datetime.now().astimezone()).strftime("%H:%M:%S")


def _short(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- plumbing ---------------------------------------------------------------------------------


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as problem:
        _fail(str(problem))


def _interval(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.omie_redundant_seconds)


@contextmanager
def _store(settings: Settings) -> Iterator[Store]:
    store = Store(settings.db_url)
    try:
        yield store
    finally:
        store.dispose()


@contextmanager
def _client(settings: Settings, store: Store):
    """A client whose misuse guard counts faults in the store, with every other process of the key."""
    from omie_pipeline.defs.resources import omie_client_for

    try:
        client = omie_client_for(settings, store)
    except SettingsError as problem:
        _fail(str(problem))
    try:
        yield client
    finally:
        client.close()


def _download(
    settings: Settings, store: Store, account: str, deal_id: str, pdf_path: Path | None, xml_path: Path | None
) -> None:
    """The documents, from links asked of Omie once, just before (a PDF link expires within minutes)."""
    from omie_pipeline.omie.errors import OmieError
    from omie_pipeline.sync.invoice_actions import InvoiceActionError
    from omie_pipeline.sync.invoice_documents import download_documents

    with _client(settings, store) as client:
        try:
            download_documents(
                client,
                store,
                account,
                deal_id,
                pdf_path=pdf_path,
                xml_path=xml_path,
                interval=_interval(settings),
                on_wait=_tell_wait,
            )
        except (InvoiceActionError, OmieError) as problem:
            _fail(str(problem))


def _tell_wait(seconds: float) -> None:
    click.echo(
        _("Omie was asked about this note moments ago; asking for its documents in {seconds} s").format(
            seconds=f"{seconds:.0f}"
        ),
        err=True,
    )


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    raise SystemExit(EXIT_OTHER)
