"""The words finance reads: outcomes, stages, reasons and taxes, in the reader's language.

The pipeline's codes (`issued`, `check_digits`, `service`) stay in the data; only what is shown is
translated (the tables hold English source text, read through the catalogs where shown), so a code
that has no label yet is still shown, readable, instead of disappearing.
"""

from __future__ import annotations

from enum import StrEnum

from omie_pipeline.i18n import N_, _


class Outcome(StrEnum):
    """Where a closed deal stands: its invoice's status, or why it has none."""

    ISSUED = "issued"
    PROCESSING = "processing"
    SUBMITTED = "submitted"
    ERROR = "error"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"  # not invoiced: open issues (validation, client, service, tax...)
    PENDING = "pending"  # not invoiced: not processed by the pipeline yet

    @property
    def label(self) -> str:
        """The name finance reads in every file and in the UI."""
        return _(OUTCOME_LABELS[self])

    @property
    def short_label(self) -> str:
        """For badges and chart axes, where the full label does not fit."""
        return _(SHORT_OUTCOME_LABELS[self])

    @property
    def is_invoiced(self) -> bool:
        """Whether an invoice exists for the deal (blocked and pending deals have none), which decides if a gross
        value applies.
        """
        return self not in (Outcome.BLOCKED, Outcome.PENDING)

    @property
    def is_receivable(self) -> bool:
        """Whether the note's net will be paid, so counts in "Líquido a receber": only an issued NFS-e is a
        receivable; a rejected or cancelled note never will be, and one still at Omie or the prefeitura may yet be
        rejected (the walk from CRM to issued shows it apart).
        """
        return self is Outcome.ISSUED

    @property
    def is_open(self) -> bool:
        """Still needs something: Omie, the prefeitura or a person."""
        return self not in (Outcome.ISSUED, Outcome.CANCELLED)


OUTCOME_LABELS = {
    Outcome.ISSUED: N_("Issued"),
    Outcome.PROCESSING: N_("Processing at the prefeitura"),
    Outcome.SUBMITTED: N_("Sent to Omie"),
    Outcome.ERROR: N_("Rejected (error)"),
    Outcome.CANCELLED: N_("Cancelled"),
    Outcome.BLOCKED: N_("Not invoiced: open issue"),
    Outcome.PENDING: N_("Not invoiced: awaiting processing"),
}

SHORT_OUTCOME_LABELS = {
    Outcome.ISSUED: N_("Issued"),
    Outcome.PROCESSING: N_("At the prefeitura"),
    Outcome.SUBMITTED: N_("Sent to Omie"),
    Outcome.ERROR: N_("Rejected"),
    Outcome.CANCELLED: N_("Cancelled"),
    Outcome.BLOCKED: N_("Open issue"),
    Outcome.PENDING: N_("Not processed"),
}

# The order of every table and chart: from done to not started.
OUTCOME_ORDER = (
    Outcome.ISSUED,
    Outcome.PROCESSING,
    Outcome.SUBMITTED,
    Outcome.ERROR,
    Outcome.CANCELLED,
    Outcome.BLOCKED,
    Outcome.PENDING,
)

STAGE_LABELS = {
    "validation": N_("Deal validation"),
    "client": N_("Client registration"),
    "service": N_("Service code"),
    "tax": N_("Taxes"),
    "invoice": N_("Invoice issue"),
    "omie": N_("Omie"),
    "prefeitura": N_("Prefeitura"),
    "pipeline": N_("Pipeline"),
    "crm": N_("Check against the CRM"),
}

REASON_LABELS = {
    # documents
    "empty": N_("empty field"),
    "bad_length": N_("document of the wrong length"),
    "bad_characters": N_("document with invalid characters"),
    "repeated_digits": N_("document with repeated digits"),
    "zero_root": N_("CNPJ with a zero root"),
    "check_digits": N_("check digits do not match"),
    # values read from the CRM
    "missing": N_("required field missing"),
    "bad_type": N_("invalid value type"),
    "too_long": N_("text too long"),
    "not_positive": N_("value not positive"),
    "bad_email": N_("invalid e-mail"),
    "wrong_account": N_("deal of another account"),
    "state_mismatch": N_("city not in the state"),
    "bad_state": N_("invalid state"),
    "bad_zip": N_("invalid CEP"),
    "bad_phone": N_("invalid phone"),
    "bad_format": N_("invalid format"),
    "comma": N_("value with a comma"),
    "thousands_separator": N_("value with a thousands separator"),
    "too_many_decimals": N_("value with too many decimal places"),
    "no_offset": N_("date without a time zone"),
    "missing_invoice_fields": N_("data missing to issue the invoice"),
    # later stages
    "not_closed": N_("deal reopened in the CRM"),
    "registered_twice": N_("document with more than one client in Omie"),
    "no_client_link": N_("client not linked in Omie yet"),
    "unmapped": N_("product without a service code"),
    "unknown_service": N_("service code unknown to Omie"),
    "inactive_service": N_("service code inactive in Omie"),
    "ambiguous_service": N_("service code repeated in Omie"),
    "no_rates_in_force": N_("no tax rates in force"),
    "refused_by_omie": N_("refused by Omie"),
    "too_long_for_omie": N_("text too long for Omie"),
    "omie_client_incomplete": N_("client's record in Omie incomplete to issue the invoice"),
    # found by the report itself
    "invalid_deal": N_("deal with invalid data"),
    "not_processed": N_("not processed yet"),
    "rejected": N_("invoice rejected"),
    "cancelled": N_("invoice cancelled"),
    "stuck": N_("invoice stuck past the deadline"),
    "amount_mismatch": N_("invoice amount differs from the CRM"),
    "no_amount": N_("deal without an amount in the CRM"),
    "omie_tax_mismatch": N_("tax computed by Omie differs from ours"),
}

TAX_LABELS = {
    "iss": "ISS",
    "pis": "PIS",
    "cofins": "COFINS",
    "csll": "CSLL",
    "ir": "IRRF",
    "inss": "INSS",
    "ibs": "IBS",
    "cbs": "CBS",
}


def stage_label(stage: str) -> str:
    """The name of a pipeline stage; an unknown stage is shown readable rather than hidden."""
    return _(STAGE_LABELS[stage]) if stage in STAGE_LABELS else stage.replace("_", " ").capitalize()


def reason_label(reason: str) -> str:
    """The name of an exception reason; an unknown reason is shown readable rather than hidden."""
    return _(REASON_LABELS[reason]) if reason in REASON_LABELS else reason.replace("_", " ")


def yes_no(value: bool) -> str:
    """ "Yes" or "No" ("Sim", "Não"), as the spreadsheet columns show flags."""
    return _("Yes") if value else _("No")
