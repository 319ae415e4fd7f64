"""The words finance reads (pt-BR): outcomes, stages, reasons, taxes and column headers.

The pipeline's codes (`issued`, `check_digits`, `service`) stay in the data; only what is shown is
translated, so a code that has no label yet is still shown, readable, instead of disappearing.
"""

from __future__ import annotations

from enum import StrEnum


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
        """The pt-BR name finance reads in every file and in the UI."""
        return OUTCOME_LABELS[self]

    @property
    def short_label(self) -> str:
        """For badges and chart axes, where the full label does not fit."""
        return SHORT_OUTCOME_LABELS[self]

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
    Outcome.ISSUED: "Emitida",
    Outcome.PROCESSING: "Em processamento na prefeitura",
    Outcome.SUBMITTED: "Enviada ao Omie",
    Outcome.ERROR: "Rejeitada (erro)",
    Outcome.CANCELLED: "Cancelada",
    Outcome.BLOCKED: "Não faturado: pendência",
    Outcome.PENDING: "Não faturado: aguardando processamento",
}

SHORT_OUTCOME_LABELS = {
    Outcome.ISSUED: "Emitida",
    Outcome.PROCESSING: "Na prefeitura",
    Outcome.SUBMITTED: "Enviada ao Omie",
    Outcome.ERROR: "Rejeitada",
    Outcome.CANCELLED: "Cancelada",
    Outcome.BLOCKED: "Com pendência",
    Outcome.PENDING: "Não processado",
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
    "validation": "Validação do negócio",
    "client": "Cadastro do cliente",
    "service": "Código de serviço",
    "tax": "Impostos",
    "invoice": "Emissão da nota",
    "omie": "Omie",
    "prefeitura": "Prefeitura",
    "pipeline": "Pipeline",
    "crm": "Conferência com o CRM",
}

REASON_LABELS = {
    # documents
    "empty": "campo vazio",
    "bad_length": "documento com tamanho errado",
    "bad_characters": "documento com caracteres inválidos",
    "repeated_digits": "documento com dígitos repetidos",
    "zero_root": "CNPJ com raiz zerada",
    "check_digits": "dígitos verificadores não conferem",
    # values read from the CRM
    "missing": "campo obrigatório ausente",
    "bad_type": "tipo de valor inválido",
    "too_long": "texto longo demais",
    "not_positive": "valor não positivo",
    "bad_email": "e-mail inválido",
    "wrong_account": "negócio de outra conta",
    "state_mismatch": "cidade não pertence à UF",
    "bad_state": "UF inválida",
    "bad_zip": "CEP inválido",
    "bad_phone": "telefone inválido",
    "bad_format": "formato inválido",
    "comma": "valor com vírgula",
    "thousands_separator": "valor com separador de milhar",
    "too_many_decimals": "valor com casas decimais demais",
    "no_offset": "data sem fuso horário",
    "missing_invoice_fields": "dados faltando para emitir a nota",
    # later stages
    "not_closed": "negócio reaberto no CRM",
    "registered_twice": "documento com mais de um cliente no Omie",
    "no_client_link": "cliente ainda não vinculado no Omie",
    "unmapped": "produto sem código de serviço",
    "unknown_service": "código de serviço inexistente no Omie",
    "inactive_service": "código de serviço inativo no Omie",
    "ambiguous_service": "código de serviço repetido no Omie",
    "no_rates_in_force": "sem alíquotas em vigor",
    "refused_by_omie": "recusado pelo Omie",
    "too_long_for_omie": "texto longo demais para o Omie",
    "omie_client_incomplete": "cadastro do cliente no Omie incompleto para emitir a nota",
    # found by the report itself
    "invalid_deal": "negócio com dados inválidos",
    "not_processed": "ainda não processado",
    "rejected": "nota rejeitada",
    "cancelled": "nota cancelada",
    "stuck": "nota parada além do prazo",
    "amount_mismatch": "valor da nota diferente do CRM",
    "no_amount": "negócio sem valor no CRM",
    "omie_tax_mismatch": "imposto calculado pelo Omie diferente do nosso",
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
    """The pt-BR name of a pipeline stage; an unknown stage is shown readable rather than hidden."""
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def reason_label(reason: str) -> str:
    """The pt-BR name of an exception reason; an unknown reason is shown readable rather than hidden."""
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def yes_no(value: bool) -> str:
    """ "Sim" or "Não", as the spreadsheet columns show flags."""
    return "Sim" if value else "Não"
