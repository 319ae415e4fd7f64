"""The text of each alert: what happened, to which deal/client/invoice, since when, what to do.

Every builder takes plain facts and returns an `Alert` whose text is safe to send anywhere: the
client's CPF masked with `mask_document`, Omie's and a run's words passed through `scrub`, times
in São Paulo time. Commands are the exact forms of the `omie-pipeline invoices` commands.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from omie_pipeline.alerts.causes import GENERAL_RUN_CHECK, UNKNOWN_CAUSE, cause_for, for_deal, run_cause_for
from omie_pipeline.alerts.model import Alert, AlertKind
from omie_pipeline.alerts.text import (
    compact_utc,
    format_duration,
    format_when,
    scrub,
    shorten,
)
from omie_pipeline.domain.documents import mask_document
from omie_pipeline.domain.money import format_brl

PREFIX = "[omie-pipeline]"
TOP_LEVEL = 3
OMIE_MESSAGE_LIMIT = 600
RUN_ERROR_LIMIT = 800


@dataclass(frozen=True)
class InvoiceFacts:
    """What the state store knows about one invoice that needs a person."""

    account: str
    deal_id: str
    status: str
    since: datetime  # when the clock of the current problem started
    status_changed_at: datetime
    submitted_at: datetime | None = None
    omie_os_id: int | None = None
    os_number: str | None = None
    rps_status: str | None = None
    gross_amount: Decimal | None = None
    last_error: str | None = None
    stored_fix: str | None = None
    last_checked_at: datetime | None = None
    client_name: str | None = None
    client_document: str | None = None

    @property
    def reached_omie(self) -> bool:
        """Omie accepted the order for invoicing: the wait is now on Omie and the prefeitura."""
        return self.submitted_at is not None or self.status != "submitted"


@dataclass(frozen=True)
class RunFailureFacts:
    """What Dagster knows about one failed run."""

    run_id: str
    root_run_id: str
    job_name: str
    account: str
    partition_key: str | None
    step_key: str | None
    error_class: str
    error_message: str
    failed_at: datetime
    started_at: datetime | None
    retry_number: int
    run_url: str


@dataclass(frozen=True)
class CheckFailureFacts:
    """One asset check whose latest evaluation failed with ERROR severity, for one partition.

    `failing_since_id` is the event-log id of the first failed evaluation of the current streak
    (the one after the last pass): the alert's key, so a check that keeps failing alerts once and
    alerts again only after it has passed in between.
    """

    check_name: str
    asset: str
    account: str
    partition_key: str | None
    description: str
    failing_since: datetime
    failing_since_id: int
    failures: int
    run_id: str
    run_url: str


def command_target(deal_id: str, account: str, home_account: str | None) -> str:
    """The command's arguments for one invoice: `--account` unless it is the deployment's own account.

    Deal ids are unique per account only, so a command copied for another account must name it.
    """
    target = shlex.quote(deal_id)
    return target if account == home_account else f"{target} --account {shlex.quote(account)}"


def invoice_commands(target: str) -> tuple[str, ...]:
    """The commands that show, re-check and cancel one invoice (`target` from `command_target`)."""
    return (
        f"omie-pipeline invoices show {target}",
        f"omie-pipeline invoices wait {target}",
        f'omie-pipeline invoices cancel {target} --reason "..."',
    )


def stuck_level(waited: timedelta, threshold: timedelta) -> int:
    """0 below the threshold, 1 at or past it, 2 at twice, 3 at four times."""
    if waited >= 4 * threshold:
        return 3
    if waited >= 2 * threshold:
        return 2
    if waited >= threshold:
        return 1
    return 0


def stuck_alert_key(deal_id: str, since: datetime, level: int) -> str:
    return f"stuck:{deal_id}:{compact_utc(since)}:{level}"


def failed_alert_key(deal_id: str, status_changed_at: datetime) -> str:
    return f"failed:{deal_id}:{compact_utc(status_changed_at)}"


def run_failed_alert_key(root_run_id: str) -> str:
    return f"run_failed:{root_run_id}"


def _client(facts: InvoiceFacts) -> str:
    name = (facts.client_name or "").strip() or "(name not in the store)"
    document = mask_document(facts.client_document) if facts.client_document else "no document in the store"
    return f"{name}, {document}"


def _invoice_line(facts: InvoiceFacts) -> str:
    parts = [f"status {facts.status}"]
    if facts.os_number or facts.omie_os_id:
        parts.append(f"OS {facts.os_number or facts.omie_os_id}")
    else:
        parts.append("no OS in Omie yet")
    if facts.rps_status:
        parts.append(f"RPS status {facts.rps_status}")
    if facts.gross_amount is not None:
        parts.append(format_brl(facts.gross_amount))
    return ", ".join(parts)


def _common_facts(facts: InvoiceFacts) -> list[tuple[str, str]]:
    rows = [
        ("Deal", facts.deal_id),
        ("Account", facts.account),
        ("Client", _client(facts)),
        ("Invoice", _invoice_line(facts)),
    ]
    if facts.last_checked_at is not None:
        rows.append(("Last checked in Omie", format_when(facts.last_checked_at)))
    return rows


def stuck_alert(
    facts: InvoiceFacts, level: int, threshold: timedelta, now: datetime, home_account: str | None = None
) -> Alert:
    """An invoice in submitted/processing for `level` times (1, 2, 4) the threshold or more.

    `home_account` is the deployment's default account: commands for it need no `--account`.
    """
    waited = now - facts.since
    where = "waiting on Omie and the prefeitura" if facts.reached_omie else "not yet accepted by Omie"
    summary = (
        f"The NFS-e of deal {facts.deal_id} (account {facts.account}) has been {facts.status} for "
        f"{format_duration(waited)}, since {format_when(facts.since)} ({where}). "
        f"Threshold {format_duration(threshold)}; this is level {level} of {TOP_LEVEL}"
        f"{'' if level < TOP_LEVEL else ', the last reminder'}."
    )
    rows = _common_facts(facts) + [
        ("Since", f"{format_when(facts.since)} ({format_duration(waited)} ago)"),
        ("Level", f"{level} of {TOP_LEVEL} (alerts at 1x, 2x and 4x {format_duration(threshold)})"),
    ]
    if facts.last_error:
        rows.append(("Last message from Omie", shorten(scrub(facts.last_error), OMIE_MESSAGE_LIMIT)))
    deal = command_target(facts.deal_id, facts.account, home_account)
    if facts.reached_omie:
        steps = [
            f"Re-check it now: `omie-pipeline invoices wait {deal}` (the sensor also requests a status refresh run "
            "unless one is already running). If it settles, nothing else to do.",
            "Prefeitura delays or downtime: some cities take hours, others are down; look at the city's NFS-e "
            "portal and at the OS in Omie (RPS status 002 = sent, awaiting the prefeitura).",
            "If the status never refreshes: Omie credentials or a blocked account "
            "(`omie-pipeline check-connection` says which, and until when).",
            "If Omie shows the RPS rejected: check the service code and the client's data (CPF/CNPJ, address, "
            "municipal registration); a failed-invoice alert follows once the refresh sees it.",
        ]
    else:
        steps = [
            "Omie credentials or a blocked account stop every send: run `omie-pipeline check-connection`.",
            "Look at the latest emission run of this account in the Dagster UI (a failed run alerts separately).",
            "Check the deal's client data (CPF/CNPJ, address) and its service code in config/service_map.yaml.",
            f"Then re-check: `omie-pipeline invoices show {deal}`.",
        ]
    if level >= TOP_LEVEL:
        steps.append(
            f"It has waited 4x the threshold: contact the prefeitura or Omie support, or cancel it with "
            f'`omie-pipeline invoices cancel {deal} --reason "..."` and issue it again once the cause '
            "is fixed."
        )
    return Alert(
        kind=AlertKind.STUCK,
        key=stuck_alert_key(facts.deal_id, facts.since, level),
        account=facts.account,
        level=level,
        subject=f"{PREFIX} Invoice stuck for {format_duration(waited)} (level {level}/{TOP_LEVEL}): "
        f"deal {facts.deal_id}, account {facts.account}",
        summary=summary,
        facts=tuple(rows),
        next_steps=tuple(steps),
        commands=invoice_commands(deal),
        deal_id=facts.deal_id,
        since=facts.since.isoformat(),
        extra={"status": facts.status, "threshold_minutes": str(int(threshold.total_seconds() // 60))},
    )


def failed_alert(facts: InvoiceFacts, now: datetime, home_account: str | None = None) -> Alert:
    """An invoice that Omie or the prefeitura refused, with the cause and the fix in plain words."""
    message = shorten(scrub(facts.last_error or ""), OMIE_MESSAGE_LIMIT)
    known = cause_for(message)
    deal = command_target(facts.deal_id, facts.account, home_account)
    fix = for_deal(known.fix, deal)
    summary = (
        f"The NFS-e of deal {facts.deal_id} (account {facts.account}) was refused on "
        f"{format_when(facts.status_changed_at)} ({format_duration(now - facts.status_changed_at)} ago). "
        f'Omie/prefeitura said: "{message or "no message"}". Likely cause: {known.cause}.'
    )
    rows = _common_facts(facts) + [("Refused at", format_when(facts.status_changed_at)), ("Cause", known.cause)]
    if known is UNKNOWN_CAUSE:
        # No guessed fix for a refusal nobody recognised: how to read it, and the prefeitura's own correction.
        steps = [f"Next step: {fix}."]
        if facts.stored_fix and facts.stored_fix != for_deal(UNKNOWN_CAUSE.fix, shlex.quote(facts.deal_id)):
            steps.append(f"The prefeitura's correction, stored with the refusal: {scrub(facts.stored_fix)}.")
    else:
        steps = [f"Fix: {fix}.", f"See its history: `omie-pipeline invoices show {deal}`."]
    steps += [
        "Before resending, check the Omie credentials and that the account is not blocked "
        "(`omie-pipeline check-connection`) and that the prefeitura's system is up.",
        f'If it must not be issued any more: `omie-pipeline invoices cancel {deal} --reason "..."`.',
    ]
    return Alert(
        kind=AlertKind.FAILED,
        key=failed_alert_key(facts.deal_id, facts.status_changed_at),
        account=facts.account,
        level=1,
        subject=f"{PREFIX} Invoice refused ({known.code.replace('_', ' ')}): deal {facts.deal_id}, "
        f"account {facts.account}",
        summary=summary,
        facts=tuple(rows),
        next_steps=tuple(steps),
        commands=invoice_commands(deal),
        deal_id=facts.deal_id,
        since=facts.status_changed_at.isoformat(),
        extra={"cause": known.code, "fix": fix, "omie_message": message},
    )


def check_failed_alert_key(check_name: str, partition_key: str | None, failing_since_id: int) -> str:
    return f"check_failed:{check_name}:{partition_key or '-'}:{failing_since_id}"


def check_failure_alert(facts: CheckFailureFacts, command: str) -> Alert:
    """A check that guards an invariant failed: what it found, since when, and where to look.

    The check's description is the project's own text (deal ids, service codes, counts): no
    secret or CPF reaches it.
    """
    found = shorten(facts.description, RUN_ERROR_LIMIT)
    again = f" It has failed {facts.failures} evaluations in a row." if facts.failures > 1 else ""
    summary = (
        f"Check {facts.check_name} on {facts.asset} (account {facts.account}) fails since "
        f"{format_when(facts.failing_since)}: {found}.{again}"
    )
    rows = [("Check", facts.check_name), ("Asset", facts.asset), ("Account", facts.account), ("Found", found)]
    if facts.partition_key:
        rows.insert(3, ("Partition", facts.partition_key))
    rows.append(("Failing since", format_when(facts.failing_since)))
    return Alert(
        kind=AlertKind.CHECK_FAILED,
        key=check_failed_alert_key(facts.check_name, facts.partition_key, facts.failing_since_id),
        account=facts.account,
        level=1,
        subject=f"{PREFIX} Check failed: {facts.check_name} (account {facts.account})",
        summary=summary,
        facts=tuple(rows),
        next_steps=(
            "Open the check's latest evaluation in the Dagster UI (link below): its metadata names the records.",
            "The runbook section 'Failed checks' says what each check guards and what to do.",
        ),
        commands=(command,),
        since=facts.failing_since.isoformat(),
        run_url=facts.run_url,
        extra={"check": facts.check_name, "asset": facts.asset, "run_id": facts.run_id},
    )


# --- sales that changed after their NFS-e was issued ---------------------------------------------

REOPENED = "reopened_after_invoice"  # issue reasons (stable codes)
AMOUNT_CHANGED = "amount_changed_after_invoice"
CANCEL_REASONS = {
    REOPENED: "Sale undone in the CRM after the note was issued",
    AMOUNT_CHANGED: "Sale amount changed in the CRM after the note was issued; it will be reissued",
}
CANCEL_RULES = (
    "the reason must have 15 to 255 characters (the national NFS-e rule); Omie's CancelarOS takes no reason, so "
    "the pipeline records it with who and when; each city sets its own deadline to cancel (often 10 business "
    "days to 45 days), after which only a substitute note or a request to the prefeitura remains, and some "
    "cities refuse once the ISS was paid"
)


def cancel_command(target: str, reason_code: str) -> str:
    """The exact cancel command for a changed sale (`target` from `command_target`)."""
    return f"omie-pipeline invoices cancel {target} --reason {shlex.quote(CANCEL_REASONS[reason_code])}"


@dataclass(frozen=True)
class SaleChange:
    """One thing that changed in a sale after its note was issued: the issue's reason code and texts."""

    reason: str
    message: str


@dataclass(frozen=True)
class SaleChangeFacts:
    account: str
    deal_id: str
    nfse_number: str | None
    invoiced_amount: Decimal
    first_seen_at: datetime
    changes: tuple[SaleChange, ...]


def sale_changed_alert_key(deal_id: str, nfse_number: str | None) -> str:
    return f"sale_changed:{deal_id}:{nfse_number or '-'}"


def sale_changed_alert(facts: SaleChangeFacts, home_account: str | None = None) -> Alert:
    """A deal reopened, lost or changed in amount after its note was issued: for finance to decide
    whether to cancel it (nothing was cancelled), with the exact command and the rules."""
    target = command_target(facts.deal_id, facts.account, home_account)
    note = f"NFS-e {facts.nfse_number}" if facts.nfse_number else "the NFS-e"
    what = "; ".join(scrub(change.message) for change in facts.changes)
    first = facts.changes[0].reason
    reissue = any(change.reason == AMOUNT_CHANGED for change in facts.changes)
    steps = [
        f"Decide with the sales team whether {note} must be cancelled: nothing was cancelled automatically.",
        f"To cancel it: `{cancel_command(target, first)}` (edit the reason as needed: {CANCEL_RULES}).",
    ]
    if reissue:
        steps.append(f"Then, to invoice the new amount: `omie-pipeline invoices reissue {target}`.")
    steps.append("If the CRM is wrong, correct the deal there: this alert's issue closes by itself.")
    return Alert(
        kind=AlertKind.SALE_CHANGED,
        key=sale_changed_alert_key(facts.deal_id, facts.nfse_number),
        account=facts.account,
        level=1,
        subject=f"{PREFIX} Sale changed after its NFS-e was issued: deal {facts.deal_id}, account {facts.account}",
        summary=f"The deal changed in the CRM after {note} ({format_brl(facts.invoiced_amount)}) was issued: {what}.",
        facts=(
            ("Deal", facts.deal_id),
            ("Account", facts.account),
            ("Invoice", f"{note}, {format_brl(facts.invoiced_amount)}"),
            ("Seen since", format_when(facts.first_seen_at)),
        ),
        next_steps=tuple(steps),
        commands=(f"omie-pipeline invoices show {target}", cancel_command(target, first)),
        deal_id=facts.deal_id,
        since=facts.first_seen_at.isoformat(),
        extra={"changes": ",".join(change.reason for change in facts.changes)},
    )


def run_failure_alert(facts: RunFailureFacts, secrets: Iterable[str] = ()) -> Alert:
    """A failed sync run: the job, the step, the error, and the link to the run."""
    secrets = tuple(secrets)
    error = shorten(
        scrub(f"{facts.error_class}: {facts.error_message}" if facts.error_class else facts.error_message, secrets),
        RUN_ERROR_LIMIT,
    )
    step = facts.step_key or "(no step: the run failed outside its steps)"
    retry = ""
    if facts.root_run_id != facts.run_id:
        which = f"retry {facts.retry_number}" if facts.retry_number else "a re-execution"
        retry = (
            f" It was {which} of run {facts.root_run_id}; re-executions of that run alert only once, "
            "so look at the latest one in the UI."
        )
    summary = (
        f"Run {facts.run_id} of job {facts.job_name} (account {facts.account}) failed on "
        f"{format_when(facts.failed_at)} in step {step}.{retry}"
    )
    rows = [
        ("Job", facts.job_name),
        ("Account", facts.account),
        ("Step", step),
        ("Error", error),
        ("Failed at", format_when(facts.failed_at)),
    ]
    if facts.partition_key:
        rows.insert(2, ("Partition", facts.partition_key))
    if facts.started_at is not None:
        rows.append(("Started at", format_when(facts.started_at)))
    known = run_cause_for(facts.error_class, facts.error_message)
    steps = ([known.first_check + "."] if known else []) + [GENERAL_RUN_CHECK + "."]
    if facts.job_name == "emission_job":
        steps.append("Issuing is idempotent: re-executing never sends an invoice twice.")
    return Alert(
        kind=AlertKind.RUN_FAILED,
        key=run_failed_alert_key(facts.root_run_id),
        account=facts.account,
        level=1,
        subject=f"{PREFIX} Run failed: {facts.job_name} (account {facts.account}), step {facts.step_key or '-'}",
        summary=summary,
        facts=tuple(rows),
        next_steps=tuple(steps),
        commands=("omie-pipeline check-connection",),
        since=facts.failed_at.isoformat(),
        run_url=facts.run_url,
        extra={
            "job": facts.job_name,
            "step": facts.step_key or "",
            "run_id": facts.run_id,
            "cause": known.code if known else "unknown",
        },
    )
