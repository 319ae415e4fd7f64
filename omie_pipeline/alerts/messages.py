"""The text of each alert: what happened, to which deal/client/invoice, since when, what to do.

Every builder takes plain facts and returns an `Alert` whose text is safe to send anywhere: the
client's CPF masked with `mask_document`, Omie's and a run's words passed through `scrub`, times
in São Paulo time, words, money and dates in the current language (`omie_pipeline.i18n`).
Commands are the exact forms of the `omie-pipeline` commands, the first the one that resolves or
inspects the alert; each alert links its section of the runbook (`runbook_link`).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from omie_pipeline.alerts.causes import (
    GENERAL_RUN_CHECK,
    UNKNOWN_CAUSE,
    causes_for,
    fix_for_causes,
    fix_for_deal,
    for_deal,
    run_cause_for,
)
from omie_pipeline.alerts.model import Alert, AlertKind
from omie_pipeline.alerts.text import (
    compact_utc,
    format_duration,
    format_when,
    scrub,
    shorten,
)
from omie_pipeline.domain.documents import mask_document
from omie_pipeline.i18n import N_, _, format_money

PREFIX = "[omie-pipeline]"
DEFAULT_RUNBOOK_URL = "docs/runbook.md"
# The runbook's sections keep these English anchors (`<a id="...">`) whatever language it is written in.
RUNBOOK_SECTIONS = {
    "stuck": "invoice-stuck",
    "failed": "invoice-refused",
    "run_failed": "run-failed",
    "check_failed": "failed-checks",
    "stale": "stale-data",
    "sale_changed": "sale-changed",
}
STALENESS_CHECKS = frozenset({"nfse_status_fresh", "service_catalog_fresh", "tax_rates_fresh"})
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


def invoice_commands(target: str, *, first: str = "show") -> tuple[str, ...]:
    """The commands that show, re-check and cancel one invoice (`target` from `command_target`),
    `first` (show or wait) leading as the one that resolves or inspects the alert."""
    show = f"omie-pipeline invoices show {target}"
    wait = f"omie-pipeline invoices wait {target}"
    cancel = f'omie-pipeline invoices cancel {target} --reason "..."'
    return (wait, show, cancel) if first == "wait" else (show, wait, cancel)


def runbook_link(base_url: str, section: str) -> str:
    """The runbook's section `section` (a key of RUNBOOK_SECTIONS) under `base_url` (a path or a URL)."""
    return f"{base_url.split('#', 1)[0]}#{RUNBOOK_SECTIONS[section]}"


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
    name = (facts.client_name or "").strip() or _("(name not in the store)")
    document = mask_document(facts.client_document) if facts.client_document else _("no document in the store")
    return f"{name}, {document}"


def _amount(facts: InvoiceFacts) -> str | None:
    return format_money(facts.gross_amount) if facts.gross_amount is not None else None


def _invoice_line(facts: InvoiceFacts) -> str:
    parts = [_("status {status}").format(status=facts.status)]
    if facts.os_number or facts.omie_os_id:
        parts.append(_("OS {number}").format(number=facts.os_number or facts.omie_os_id))
    else:
        parts.append(_("no OS in Omie yet"))
    if facts.rps_status:
        parts.append(_("RPS status {code}").format(code=facts.rps_status))
    if facts.gross_amount is not None:
        parts.append(format_money(facts.gross_amount))
    return ", ".join(parts)


def _common_facts(facts: InvoiceFacts) -> list[tuple[str, str]]:
    rows = [
        (_("Deal"), facts.deal_id),
        (_("Account"), facts.account),
        (_("Client"), _client(facts)),
        (_("Invoice"), _invoice_line(facts)),
    ]
    if facts.last_checked_at is not None:
        rows.append((_("Last checked in Omie"), format_when(facts.last_checked_at)))
    return rows


def stuck_alert(
    facts: InvoiceFacts,
    level: int,
    threshold: timedelta,
    now: datetime,
    home_account: str | None = None,
    runbook_url: str = DEFAULT_RUNBOOK_URL,
) -> Alert:
    """An invoice in submitted/processing for `level` times (1, 2, 4) the threshold or more.

    `home_account` is the deployment's default account: commands for it need no `--account`.
    """
    waited = now - facts.since
    where = _("waiting on Omie and the prefeitura") if facts.reached_omie else _("not yet accepted by Omie")
    summary = _(
        "The NFS-e of deal {deal} (account {account}) has been {status} for {waited}, since {since} ({where}). "
        "Threshold {threshold}; this is level {level} of {top}."
    ).format(
        deal=facts.deal_id,
        account=facts.account,
        status=facts.status,
        waited=format_duration(waited),
        since=format_when(facts.since),
        where=where,
        threshold=format_duration(threshold),
        level=level,
        top=TOP_LEVEL,
    )
    if level >= TOP_LEVEL:
        summary += " " + _("This is the last reminder.")
    rows = _common_facts(facts) + [
        (
            _("Since"),
            _("{since} ({age} ago)").format(since=format_when(facts.since), age=format_duration(waited)),
        ),
        (
            _("Level"),
            _("{level} of {top} (alerts at 1x, 2x and 4x {threshold})").format(
                level=level, top=TOP_LEVEL, threshold=format_duration(threshold)
            ),
        ),
    ]
    if facts.last_error:
        rows.append((_("Last message from Omie"), shorten(scrub(facts.last_error), OMIE_MESSAGE_LIMIT)))
    deal = command_target(facts.deal_id, facts.account, home_account)
    if facts.reached_omie:
        steps = [
            _(
                "Re-check it now: `omie-pipeline invoices wait {deal}` (the sensor also requests a status refresh "
                "run unless one is already running). If it settles, nothing else to do."
            ).format(deal=deal),
            _(
                "Prefeitura delays or downtime: some cities take hours, others are down; look at the city's NFS-e "
                "portal and at the OS in Omie (RPS status 002 = sent, awaiting the prefeitura)."
            ),
            _(
                "If the status never refreshes: Omie credentials or a blocked account "
                "(`omie-pipeline check-connection` says which, and until when)."
            ),
            _(
                "If Omie shows the RPS rejected: check the service code and the client's data (CPF/CNPJ, address, "
                "municipal registration); a failed-invoice alert follows once the refresh sees it."
            ),
        ]
    else:
        steps = [
            _("Omie credentials or a blocked account stop every send: run `omie-pipeline check-connection`."),
            _("Look at the latest emission run of this account in the Dagster UI (a failed run alerts separately)."),
            _("Check the deal's client data (CPF/CNPJ, address) and its service code in config/service_map.yaml."),
            _("Then re-check: `omie-pipeline invoices show {deal}`.").format(deal=deal),
        ]
    if level >= TOP_LEVEL:
        steps.append(
            _(
                "It has waited 4x the threshold: contact the prefeitura or Omie support, or cancel it with "
                '`omie-pipeline invoices cancel {deal} --reason "..."` and issue it again once the cause is fixed.'
            ).format(deal=deal)
        )
    return Alert(
        kind=AlertKind.STUCK,
        key=stuck_alert_key(facts.deal_id, facts.since, level),
        account=facts.account,
        level=level,
        subject=PREFIX
        + " "
        + _("Invoice stuck for {waited} (level {level}/{top}): deal {deal}, account {account}").format(
            waited=format_duration(waited), level=level, top=TOP_LEVEL, deal=facts.deal_id, account=facts.account
        ),
        summary=summary,
        facts=tuple(rows),
        next_steps=tuple(steps),
        commands=invoice_commands(deal, first="wait"),
        deal_id=facts.deal_id,
        since=facts.since.isoformat(),
        extra={"status": facts.status, "threshold_minutes": str(int(threshold.total_seconds() // 60))},
        runbook_url=runbook_link(runbook_url, "stuck"),
        client=_client(facts),
        amount=_amount(facts),
        status_age=format_duration(waited),
    )


def failed_alert(
    facts: InvoiceFacts, now: datetime, home_account: str | None = None, runbook_url: str = DEFAULT_RUNBOOK_URL
) -> Alert:
    """An invoice that Omie or the prefeitura refused, with the cause and the fix in plain words."""
    message = shorten(scrub(facts.last_error or ""), OMIE_MESSAGE_LIMIT)
    causes = causes_for(message)
    known = causes[0]  # the one that decides: its code names the alert
    deal = command_target(facts.deal_id, facts.account, home_account)
    fix = fix_for_causes(causes, deal)
    age = format_duration(now - facts.status_changed_at)
    summary = _(
        "The NFS-e of deal {deal} (account {account}) was refused on {when} ({age} ago). "
        'Omie/prefeitura said: "{message}".'
    ).format(
        deal=facts.deal_id,
        account=facts.account,
        when=format_when(facts.status_changed_at),
        age=age,
        message=message or _("no message"),
    )
    cause = "; ".join(_(each.cause) for each in causes)
    unrecognised = causes == (UNKNOWN_CAUSE,)
    if unrecognised:
        summary += " " + _("This pipeline does not recognise this refusal: Omie's message says what is wrong.")
    else:
        summary += " " + _("Likely cause: {cause}.").format(cause=cause)
    rows = _common_facts(facts) + [
        (_("Refused at"), format_when(facts.status_changed_at)),
        (_("Cause"), cause),
    ]
    if unrecognised:
        # No guessed fix for a refusal nobody recognised: how to read it, and the prefeitura's own correction,
        # which already ends with how to bill again (said once).
        if facts.stored_fix and facts.stored_fix not in _stored_unknown_fixes(facts.deal_id):
            steps = [
                _("Next step: {fix}.").format(fix=for_deal(_(UNKNOWN_CAUSE.fix), deal)),
                _("The prefeitura's correction, stored with the refusal: {fix}.").format(fix=scrub(facts.stored_fix)),
            ]
        else:
            steps = [_("Next step: {fix}.").format(fix=fix)]
    else:
        steps = [
            _("Fix: {fix}.").format(fix=fix),
            _("See its history: `omie-pipeline invoices show {deal}`.").format(deal=deal),
        ]
    steps += [
        _(
            "Before resending, check the Omie credentials and that the account is not blocked "
            "(`omie-pipeline check-connection`) and that the prefeitura's system is up."
        ),
        _('If it must not be issued any more: `omie-pipeline invoices cancel {deal} --reason "..."`.').format(
            deal=deal
        ),
    ]
    return Alert(
        kind=AlertKind.FAILED,
        key=failed_alert_key(facts.deal_id, facts.status_changed_at),
        account=facts.account,
        level=1,
        subject=PREFIX
        + " "
        + _("Invoice refused ({cause}): deal {deal}, account {account}").format(
            cause=_(known.title), deal=facts.deal_id, account=facts.account
        ),
        summary=summary,
        facts=tuple(rows),
        next_steps=tuple(steps),
        commands=invoice_commands(deal),
        deal_id=facts.deal_id,
        since=facts.status_changed_at.isoformat(),
        extra={"cause": known.code, "fix": fix, "omie_message": message},
        runbook_url=runbook_link(runbook_url, "failed"),
        client=_client(facts),
        amount=_amount(facts),
        status_age=age,
    )


def _stored_unknown_fixes(deal_id: str) -> set[str]:
    """The unknown cause's own fix as the sync may have stored it (in either language): not the prefeitura's."""
    return {fix_for_deal(UNKNOWN_CAUSE, shlex.quote(deal_id), language) for language in ("pt-BR", "en")}


def check_failed_alert_key(check_name: str, partition_key: str | None, failing_since_id: int) -> str:
    return f"check_failed:{check_name}:{partition_key or '-'}:{failing_since_id}"


def check_failure_alert(facts: CheckFailureFacts, command: str, runbook_url: str = DEFAULT_RUNBOOK_URL) -> Alert:
    """A check that guards an invariant failed: what it found, since when, and where to look.

    The check's description is the project's own text (deal ids, service codes, counts): no
    secret or CPF reaches it.
    """
    found = shorten(facts.description, RUN_ERROR_LIMIT)
    summary = _("Check {check} on {asset} (account {account}) fails since {since}: {found}.").format(
        check=facts.check_name,
        asset=facts.asset,
        account=facts.account,
        since=format_when(facts.failing_since),
        found=found,
    )
    if facts.failures > 1:
        summary += " " + _("It has failed {count} evaluations in a row.").format(count=facts.failures)
    rows = [
        (_("Check"), facts.check_name),
        (_("Asset"), facts.asset),
        (_("Account"), facts.account),
        (_("Found"), found),
    ]
    if facts.partition_key:
        rows.insert(3, (_("Partition"), facts.partition_key))
    rows.append((_("Failing since"), format_when(facts.failing_since)))
    stale = facts.check_name in STALENESS_CHECKS
    section = _("Stale data") if stale else _("Failed checks")
    return Alert(
        kind=AlertKind.CHECK_FAILED,
        key=check_failed_alert_key(facts.check_name, facts.partition_key, facts.failing_since_id),
        account=facts.account,
        level=1,
        subject=PREFIX
        + " "
        + _("Check failed: {check} (account {account})").format(check=facts.check_name, account=facts.account),
        summary=summary,
        facts=tuple(rows),
        next_steps=(
            _("Open the check's latest evaluation in the Dagster UI (link below): its metadata names the records."),
            _("The runbook section '{section}' says what each check guards and what to do.").format(section=section),
        ),
        commands=(command,),
        since=facts.failing_since.isoformat(),
        run_url=facts.run_url,
        extra={"check": facts.check_name, "asset": facts.asset, "run_id": facts.run_id},
        runbook_url=runbook_link(runbook_url, "stale" if stale else "check_failed"),
    )


# --- sales that changed after their NFS-e was issued ---------------------------------------------

REOPENED = "reopened_after_invoice"  # issue reasons (stable codes)
AMOUNT_CHANGED = "amount_changed_after_invoice"
CANCEL_REASONS = {
    REOPENED: N_("Sale undone in the CRM after the note was issued"),
    AMOUNT_CHANGED: N_("Sale amount changed in the CRM after the note was issued; it will be reissued"),
}
CANCEL_RULES = N_(
    "the reason must have 15 to 255 characters (the national NFS-e rule); Omie's CancelarOS takes no reason, so "
    "the pipeline records it with who and when; each city sets its own deadline to cancel (often 10 business "
    "days to 45 days), after which only a substitute note or a request to the prefeitura remains, and some "
    "cities refuse once the ISS was paid"
)


def cancel_command(target: str, reason_code: str) -> str:
    """The exact cancel command for a changed sale (`target` from `command_target`), its reason in the
    current language: the reason is recorded as written, for finance to read."""
    return f"omie-pipeline invoices cancel {target} --reason {shlex.quote(_(CANCEL_REASONS[reason_code]))}"


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


def sale_changed_alert(
    facts: SaleChangeFacts, home_account: str | None = None, runbook_url: str = DEFAULT_RUNBOOK_URL
) -> Alert:
    """A deal reopened, lost or changed in amount after its note was issued: for finance to decide
    whether to cancel it (nothing was cancelled), with the exact command and the rules."""
    target = command_target(facts.deal_id, facts.account, home_account)
    note = _("NFS-e {number}").format(number=facts.nfse_number) if facts.nfse_number else _("the NFS-e")
    amount = format_money(facts.invoiced_amount)
    what = "; ".join(scrub(change.message) for change in facts.changes)
    first = facts.changes[0].reason
    reissue = any(change.reason == AMOUNT_CHANGED for change in facts.changes)
    show = f"omie-pipeline invoices show {target}"
    steps = [
        _("Decide with the sales team whether {note} must be cancelled: nothing was cancelled automatically.").format(
            note=note
        ),
        _("To cancel it: `{command}` (edit the reason as needed: {rules}).").format(
            command=cancel_command(target, first), rules=_(CANCEL_RULES)
        ),
    ]
    if reissue:
        steps.append(_("Then, to invoice the new amount: `omie-pipeline invoices reissue {deal}`.").format(deal=target))
    steps.append(_("If the CRM is wrong, correct the deal there: this alert's issue closes by itself."))
    return Alert(
        kind=AlertKind.SALE_CHANGED,
        key=sale_changed_alert_key(facts.deal_id, facts.nfse_number),
        account=facts.account,
        level=1,
        subject=PREFIX
        + " "
        + _("Sale changed after its NFS-e was issued: deal {deal}, account {account}").format(
            deal=facts.deal_id, account=facts.account
        ),
        summary=_("The deal changed in the CRM after {note} ({amount}) was issued: {what}.").format(
            note=note, amount=amount, what=what
        ),
        facts=(
            (_("Deal"), facts.deal_id),
            (_("Account"), facts.account),
            (_("Invoice"), f"{note}, {amount}"),
            (_("Seen since"), format_when(facts.first_seen_at)),
        ),
        next_steps=tuple(steps),
        commands=(show, cancel_command(target, first)),
        deal_id=facts.deal_id,
        since=facts.first_seen_at.isoformat(),
        extra={"changes": ",".join(change.reason for change in facts.changes)},
        runbook_url=runbook_link(runbook_url, "sale_changed"),
        amount=amount,
    )


def run_failure_alert(
    facts: RunFailureFacts, secrets: Iterable[str] = (), runbook_url: str = DEFAULT_RUNBOOK_URL
) -> Alert:
    """A failed sync run: the job, the step, the error, and the link to the run."""
    secrets = tuple(secrets)
    error = shorten(
        scrub(f"{facts.error_class}: {facts.error_message}" if facts.error_class else facts.error_message, secrets),
        RUN_ERROR_LIMIT,
    )
    step = facts.step_key or _("(no step: the run failed outside its steps)")
    summary = _("Run {run} of job {job} (account {account}) failed on {when} in step {step}.").format(
        run=facts.run_id, job=facts.job_name, account=facts.account, when=format_when(facts.failed_at), step=step
    )
    if facts.root_run_id != facts.run_id:
        which = _("retry {number}").format(number=facts.retry_number) if facts.retry_number else _("a re-execution")
        summary += " " + _(
            "It was {which} of run {root}; re-executions of that run alert only once, so look at the latest one "
            "in the UI."
        ).format(which=which, root=facts.root_run_id)
    rows = [
        (_("Job"), facts.job_name),
        (_("Account"), facts.account),
        (_("Step"), step),
        (_("Error"), error),
        (_("Failed at"), format_when(facts.failed_at)),
    ]
    if facts.partition_key:
        rows.insert(2, (_("Partition"), facts.partition_key))
    if facts.started_at is not None:
        rows.append((_("Started at"), format_when(facts.started_at)))
    known = run_cause_for(facts.error_class, facts.error_message)
    steps = ([_(known.first_check) + "."] if known else []) + [_(GENERAL_RUN_CHECK) + "."]
    if facts.job_name == "emission_job":
        steps.append(_("Issuing is idempotent: re-executing never sends an invoice twice."))
    return Alert(
        kind=AlertKind.RUN_FAILED,
        key=run_failed_alert_key(facts.root_run_id),
        account=facts.account,
        level=1,
        subject=PREFIX
        + " "
        + _("Run failed: {job} (account {account}), step {step}").format(
            job=facts.job_name, account=facts.account, step=facts.step_key or "-"
        ),
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
        runbook_url=runbook_link(runbook_url, "run_failed"),
    )
