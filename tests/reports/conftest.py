"""A state store filled as the pipeline leaves it: deals of every outcome, issue kind and tax case.

The report day is 20/11/2026 (São Paulo); "now" is six days later. Invoice taxes come from the
domain's own tax rules, so the figures are the ones the pipeline would have stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from omie_pipeline.domain.keys import invoice_idempotency_key
from omie_pipeline.domain.taxes import Regime, Tax, TaxRates, compute_taxes
from omie_pipeline.domain.timeutil import SAO_PAULO
from omie_pipeline.store import Store
from omie_pipeline.store.tables import client_links, deal_issues, deals, invoices, omie_tax_figures

ACCOUNT = "acme"
DAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=SAO_PAULO)
CLOSED = frozenset({"won"})
STUCK_AFTER_MINUTES = 30

# Valid CPFs (check digits right) that must never appear unmasked in any output.
CPF_MARIA = "52998224725"
CPF_JOAO = "11144477735"
CPF_TYPO = "52998224700"  # a mistyped CPF: a validation issue, still personal data

PROFESSIONAL = TaxRates(
    iss=Decimal("5"),
    pis=Decimal("0.65"),
    cofins=Decimal("3"),
    csll=Decimal("1"),
    ir=Decimal("1.5"),
    ibs_uf=Decimal("0.05"),
    ibs_mun=Decimal("0.05"),
    cbs=Decimal("0.9"),
    retain_iss=True,
    retain_pis=True,
    retain_cofins=True,
    retain_csll=True,
    retain_ir=True,
)
PLAIN = TaxRates(
    iss=Decimal("2"),
    pis=Decimal("0.65"),
    cofins=Decimal("3"),
    csll=Decimal("1"),
    ir=Decimal("1.5"),
    ibs_uf=Decimal("0.05"),
    ibs_mun=Decimal("0.05"),
    cbs=Decimal("0.9"),
)
LABOUR = TaxRates(
    iss=Decimal("3"),
    pis=Decimal("0.65"),
    cofins=Decimal("3"),
    csll=Decimal("1"),
    ir=Decimal("1"),
    inss=Decimal("11"),
    retain_inss=True,
    retain_ir=True,
    retain_pis=True,
    retain_cofins=True,
    retain_csll=True,
)


def sp(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SAO_PAULO)


@dataclass
class Seeded:
    store: Store
    deal_ids_on_day: set[str] = field(default_factory=set)
    open_deal_ids: set[str] = field(default_factory=set)
    expected_reasons: dict[str, set[str]] = field(default_factory=dict)  # deal -> reason codes it must carry
    issue_messages: dict[str, list[str]] = field(default_factory=dict)


class Seeder:
    def __init__(self, store: Store) -> None:
        self.seeded = Seeded(store)
        self.deals: list[dict[str, Any]] = []
        self.links: list[dict[str, Any]] = []
        self.invoices: list[dict[str, Any]] = []
        self.issues: list[dict[str, Any]] = []
        self.omie_figures: list[dict[str, Any]] = []
        self._client_id = 7_100_000_000

    def deal(
        self,
        deal_id: str,
        *,
        closed_at: datetime | None,
        amount: str | None,
        name: str,
        document: str | None,
        status: str = "won",
        valid: bool = True,
        account: str = ACCOUNT,
        on_day: bool = False,
        open_item: bool = False,
        reasons: set[str] | None = None,
        pulled_at: datetime | None = None,
    ) -> str:
        self.deals.append(
            {
                "account": account,
                "deal_id": deal_id,
                "status": status,
                "closed_at": closed_at,
                "updated_at": closed_at or pulled_at,
                "amount": Decimal(amount) if amount else None,
                "product_code": "CONSULT-01",
                "description": "Consultoria em integração de sistemas",
                "legal_name": name,
                "document": document,
                "document_kind": "cpf" if document and len(document) == 11 else "cnpj",
                "city": "São Paulo",
                "state": "SP",
                "is_valid": valid,
                "pulled_at": pulled_at or (closed_at + timedelta(minutes=7)),
            }
        )
        if on_day:
            self.seeded.deal_ids_on_day.add(deal_id)
        if open_item:
            self.seeded.open_deal_ids.add(deal_id)
        if reasons:
            self.seeded.expected_reasons[deal_id] = set(reasons)
        return deal_id

    def link(self, deal_id: str, document: str, account: str = ACCOUNT) -> int:
        self._client_id += 137
        self.links.append(
            {
                "account": account,
                "deal_id": deal_id,
                "document": document,
                "codigo_cliente_omie": self._client_id,
                "how": "matched",
                "linked_at": NOW - timedelta(days=5),
            }
        )
        return self._client_id

    def invoice(
        self,
        deal_id: str,
        *,
        status: str,
        gross: str,
        rates: TaxRates,
        regime: Regime = Regime.LUCRO_PRESUMIDO,
        changed_at: datetime,
        issued_at: datetime | None = None,
        number: str | None = None,
        last_error: str | None = None,
        fix: str | None = None,
        cancel_reason: str | None = None,
        account: str = ACCOUNT,
    ) -> None:
        breakdown = compute_taxes(Decimal(gross), rates, regime)
        row = {
            "account": account,
            "deal_id": deal_id,
            "idempotency_key": invoice_idempotency_key(account, deal_id),
            "status": status,
            "codigo_cliente_omie": self._client_id,
            "service_code": "1.07",
            "gross_amount": breakdown.gross,
            "withheld_total": breakdown.total_withheld,
            "net_amount": breakdown.net_receivable,
            "created_at": changed_at - timedelta(minutes=5),
            "submitted_at": changed_at - timedelta(minutes=4),
            "status_changed_at": changed_at,
            "issued_at": issued_at,
            "nfse_number": number,
            "verification_code": f"V{number}X9" if number else None,
            "os_number": f"OS-{deal_id}",
            "last_error": last_error,
            "fix": fix,
            "cancel_reason": cancel_reason,
            "cancelled_at": changed_at if status == "cancelled" else None,
            "ibs_amount": breakdown.ibs,
            "cbs_amount": breakdown.amount(Tax.CBS),
        }
        for tax in (Tax.ISS, Tax.PIS, Tax.COFINS, Tax.CSLL, Tax.IR, Tax.INSS):
            line = breakdown.line(tax)
            row[f"{tax.value}_amount"] = line.amount
            row[f"{tax.value}_withheld"] = line.withheld
            row[f"{tax.value}_withheld_amount"] = line.withheld_amount
        self.invoices.append(row)

    def omie_taxes(self, deal_id: str, source: str = "ListarNFSEs", **differing: str) -> None:
        """What Omie computed for the deal's invoice: the figures the note states (withheld taxes at what is
        withheld), except the taxes given as keywords (e.g. `iss="58.50"`)."""
        invoice = next(row for row in self.invoices if row["deal_id"] == deal_id)
        row = {
            "account": ACCOUNT,
            "deal_id": deal_id,
            "source": source,
            "iss_base": invoice["gross_amount"],
            "net_amount": invoice["net_amount"],
            "reform": None,
            "read_at": NOW - timedelta(days=4),
        }
        for tax in ("iss", "pis", "cofins", "csll", "ir", "inss"):
            stated = invoice[f"{tax}_withheld_amount"] if invoice[f"{tax}_withheld"] else invoice[f"{tax}_amount"]
            row[f"{tax}_amount"] = Decimal(differing[tax]) if tax in differing else stated
        self.omie_figures.append(row)

    def issue(
        self,
        deal_id: str,
        *,
        stage: str,
        field_name: str,
        reason: str,
        message: str,
        fix: str,
        resolved: bool = False,
        seen: datetime | None = None,
    ) -> None:
        seen = seen or NOW - timedelta(days=5)
        self.issues.append(
            {
                "account": ACCOUNT,
                "deal_id": deal_id,
                "stage": stage,
                "field": field_name,
                "reason": reason,
                "message": message,
                "fix": fix,
                "raw_value": None,
                "first_seen_at": seen,
                "last_seen_at": seen,
                "resolved_at": seen + timedelta(hours=1) if resolved else None,
            }
        )
        if not resolved:
            self.seeded.issue_messages.setdefault(deal_id, []).append(message)

    def commit(self) -> Seeded:
        with self.seeded.store.begin() as connection:
            for table, rows in (
                (deals, self.deals),
                (client_links, self.links),
                (invoices, self.invoices),
                (deal_issues, self.issues),
                (omie_tax_figures, self.omie_figures),
            ):
                if rows:
                    connection.execute(table.insert(), rows)
        return self.seeded


def seed_reconciliation_data(store: Store) -> Seeded:
    """Deals of every outcome closed on DAY, open items of earlier days, and rows the report must skip."""
    s = Seeder(store)
    morning = sp(DAY, 10)

    # Issued, professional services to a company: ISS, IRRF and CSRF withheld.
    s.deal(
        "D-1001",
        closed_at=morning,
        amount="12500.00",
        name="Tecnologia Horizonte Ltda",
        document="11222333000181",
        on_day=True,
    )
    s.link("D-1001", "11222333000181")
    s.invoice(
        "D-1001",
        status="issued",
        gross="12500.00",
        rates=PROFESSIONAL,
        changed_at=sp(DAY, 11),
        issued_at=sp(DAY, 11),
        number="2026000101",
    )
    s.omie_taxes("D-1001")  # Omie computed what the pipeline did: nothing to flag

    # Issued to a person (CPF): nothing withheld.
    s.deal(
        "D-1002",
        closed_at=sp(DAY, 9, 15),
        amount="850.00",
        name="Maria Aparecida Souza",
        document=CPF_MARIA,
        on_day=True,
    )
    s.link("D-1002", CPF_MARIA)
    s.invoice(
        "D-1002",
        status="issued",
        gross="850.00",
        rates=PLAIN,
        changed_at=sp(DAY + timedelta(days=1), 9),
        issued_at=sp(DAY + timedelta(days=1), 9),
        number="2026000102",
    )
    s.omie_taxes("D-1002", iss="17.01")  # one cent off (ours 17.00): within tolerance, not flagged

    # Issued to an alphanumeric-CNPJ company, labour hire: INSS 11 % withheld, Simples Nacional issuer.
    s.deal(
        "D-1003",
        closed_at=sp(DAY, 14),
        amount="4300.00",
        name="Limpeza Nova Era S.A.",
        document="12ABC34501DE35",
        on_day=True,
    )
    s.link("D-1003", "12ABC34501DE35")
    s.invoice(
        "D-1003",
        status="issued",
        gross="4300.00",
        rates=LABOUR,
        regime=Regime.SIMPLES_NACIONAL,
        changed_at=sp(DAY + timedelta(days=2), 10),
        issued_at=sp(DAY + timedelta(days=2), 10),
        number="2026000103",
    )

    # Processing, recent: open but not stuck.
    s.deal(
        "D-1004",
        closed_at=sp(DAY, 15),
        amount="2000.00",
        name="Comercial Alvorada Ltda",
        document="11444777000161",
        on_day=True,
        open_item=True,
    )
    s.link("D-1004", "11444777000161")
    s.invoice("D-1004", status="processing", gross="2000.00", rates=PLAIN, changed_at=NOW - timedelta(minutes=10))

    # Submitted and stuck for hours.
    s.deal(
        "D-1005",
        closed_at=sp(DAY, 16),
        amount="3100.00",
        name="Grupo Serra Azul Ltda",
        document="06990590000123",
        on_day=True,
        open_item=True,
        reasons={"stuck"},
    )
    s.link("D-1005", "06990590000123")
    s.invoice("D-1005", status="submitted", gross="3100.00", rates=PROFESSIONAL, changed_at=NOW - timedelta(hours=5))

    # Rejected by the prefeitura.
    s.deal(
        "D-1006",
        closed_at=sp(DAY, 16, 30),
        amount="5400.00",
        name="Construtora Ipê Ltda",
        document="33000167000101",
        on_day=True,
        open_item=True,
        reasons={"rejected"},
    )
    s.link("D-1006", "33000167000101")
    s.invoice(
        "D-1006",
        status="error",
        gross="5400.00",
        rates=PROFESSIONAL,
        changed_at=sp(DAY, 17),
        last_error="E0310: código de serviço nacional inexistente para o município",
        fix="Vincule o código municipal 1.07 ao item da LC 116 no cadastro de serviços do Omie.",
    )

    # Cancelled after issue.
    s.deal(
        "D-1007",
        closed_at=sp(DAY, 8),
        amount="1800.00",
        name="Padaria Bom Dia Ltda",
        document="45997418000153",
        on_day=True,
        reasons={"cancelled"},
    )
    s.link("D-1007", "45997418000153")
    s.invoice(
        "D-1007",
        status="cancelled",
        gross="1800.00",
        rates=PLAIN,
        changed_at=sp(DAY + timedelta(days=1), 12),
        issued_at=sp(DAY, 9),
        number="2026000099",
        cancel_reason="Serviço não prestado: contrato desfeito pelo cliente",
    )

    # Blocked: the CPF was mistyped in the CRM.
    s.deal(
        "D-1008",
        closed_at=sp(DAY, 11),
        amount="640.00",
        name="João Pedro Lima",
        document=CPF_TYPO,
        valid=False,
        on_day=True,
        open_item=True,
        reasons={"check_digits"},
    )
    s.issue(
        "D-1008",
        stage="validation",
        field_name="document",
        reason="check_digits",
        message=f"document: the CPF's check digits do not match (got {CPF_TYPO})",
        fix="Correct the CPF in the CRM; the next sync reads it again.",
    )

    # Blocked: no service code for the product.
    s.deal(
        "D-1009",
        closed_at=sp(DAY, 12),
        amount="2750.00",
        name="Agro Vale Verde Ltda",
        document="60701190000104",
        on_day=True,
        open_item=True,
        reasons={"unmapped"},
    )
    s.issue(
        "D-1009",
        stage="invoice",
        field_name="product_code",
        reason="unmapped",
        message="product CONSULT-99 has no service code in the map",
        fix="add the product to the product -> service map file, then run the catalog job",
    )

    # Blocked twice: no tax rates and no address.
    s.deal(
        "D-1010",
        closed_at=sp(DAY, 13),
        amount="990.00",
        name="Papelaria Central ME",
        document="07526557000100",
        on_day=True,
        open_item=True,
        reasons={"no_rates_in_force", "missing"},
    )
    s.issue(
        "D-1010",
        stage="invoice",
        field_name="tax_rates",
        reason="no_rates_in_force",
        message="service 1.07 has no tax rates in force",
        fix="Run the tax_rates asset after setting rates in Omie.",
    )
    s.issue(
        "D-1010",
        stage="client",
        field_name="street",
        reason="missing",
        message="street is empty; it is required",
        fix="Fill in the client's address in the CRM.",
    )

    # Pending: closed, not processed yet.
    s.deal(
        "D-1011",
        closed_at=sp(DAY, 23),
        amount="1500.00",
        name="Oficina Mecânica Rota Ltda",
        document="19131243000197",
        on_day=True,
        open_item=True,
        reasons={"not_processed"},
    )

    # Issued for more than the CRM says.
    s.deal(
        "D-1012",
        closed_at=sp(DAY, 10, 30),
        amount="1000.00",
        name="Clínica Bem Estar Ltda",
        document="28195667000106",
        on_day=True,
        reasons={"amount_mismatch"},
    )
    s.link("D-1012", "28195667000106")
    s.invoice(
        "D-1012",
        status="issued",
        gross="1050.00",
        rates=PLAIN,
        changed_at=sp(DAY, 12),
        issued_at=sp(DAY, 12),
        number="2026000104",
    )

    # Closed at 23:30 in São Paulo (02:30 UTC the next day): belongs to DAY.
    # Omie computed a different ISS (ours 144.00) than the pipeline: flagged with both amounts.
    s.deal(
        "D-1013",
        closed_at=sp(DAY, 23, 30),
        amount="7200.00",
        name="João Batista Ferreira",
        document=CPF_JOAO,
        on_day=True,
        reasons={"omie_tax_mismatch"},
    )
    s.link("D-1013", CPF_JOAO)
    s.invoice(
        "D-1013",
        status="issued",
        gross="7200.00",
        rates=PLAIN,
        changed_at=sp(DAY + timedelta(days=1), 8),
        issued_at=sp(DAY + timedelta(days=1), 8),
        number="2026000105",
    )
    s.omie_taxes("D-1013", iss="216.00")

    # A row whose closing date and amount could not be read: placed by when it was pulled.
    s.deal(
        "D-1014",
        closed_at=None,
        amount=None,
        name="Transportes Litoral Ltda",
        document="61186888000193",
        valid=False,
        on_day=True,
        open_item=True,
        reasons={"bad_format"},
        pulled_at=sp(DAY, 18),
    )
    s.issue(
        "D-1014",
        stage="validation",
        field_name="closed_at",
        reason="bad_format",
        message="closed_at: not an ISO 8601 date and time",
        fix="Write it as 2026-11-20T14:30:00-03:00.",
    )

    # Issued after an issue that was fixed: the resolved issue is history, not an exception.
    s.deal(
        "D-1015",
        closed_at=sp(DAY, 9),
        amount="3333.33",
        name="Estúdio Criativo Ltda",
        document="45543915000181",
        on_day=True,
    )
    s.issue(
        "D-1015",
        stage="client",
        field_name="zip",
        reason="bad_zip",
        message="the CEP must be 8 digits",
        fix="Fix the CEP.",
        resolved=True,
    )
    s.link("D-1015", "45543915000181")
    s.invoice(
        "D-1015",
        status="issued",
        gross="3333.33",
        rates=PROFESSIONAL,
        changed_at=sp(DAY, 10),
        issued_at=sp(DAY, 10),
        number="2026000106",
    )

    # Closed, then reopened in the CRM: kept (invalid) with a not_closed issue, never invoiced.
    s.deal(
        "D-1016",
        closed_at=sp(DAY, 17),
        amount="2100.00",
        name="Auto Peças Estrela Ltda",
        document="04252011000110",
        status="negotiation",
        valid=False,
        on_day=True,
        open_item=True,
        reasons={"not_closed"},
    )
    s.issue(
        "D-1016",
        stage="validation",
        field_name="status",
        reason="not_closed",
        message="the deal left the closed statuses (now 'negotiation'); it is not invoiced",
        fix="close the deal again in the CRM if it should be invoiced",
    )

    # Open items of earlier days.
    s.deal(
        "D-0901",
        closed_at=sp(DAY - timedelta(days=1), 21, 30),
        amount="2200.00",
        name="Hotel Mar Azul Ltda",
        document="34028316000103",
        open_item=True,
    )
    s.link("D-0901", "34028316000103")
    s.invoice(
        "D-0901",
        status="error",
        gross="2200.00",
        rates=PLAIN,
        changed_at=sp(DAY - timedelta(days=1), 22),
        last_error="Município do tomador não confere com o CEP",
        fix="Corrija o CEP do cliente no Omie.",
    )
    s.deal(
        "D-0801",
        closed_at=sp(date(2026, 11, 10), 10),
        amount="480.00",
        name="Escola Pequeno Saber ME",
        document="15436940000103",
        open_item=True,
    )
    s.issue(
        "D-0801",
        stage="invoice",
        field_name="product_code",
        reason="unmapped",
        message="product TRAIN-02 has no service code in the map",
        fix="add the product to the product -> service map file, then run the catalog job",
    )
    s.deal(
        "D-0601",
        closed_at=sp(date(2026, 10, 15), 10),
        amount="15000.00",
        name="Indústria Metal Forte S.A.",
        document="04252011000110",
        open_item=True,
    )
    s.link("D-0601", "04252011000110")
    s.invoice(
        "D-0601", status="processing", gross="15000.00", rates=PROFESSIONAL, changed_at=sp(date(2026, 10, 15), 11)
    )
    s.deal(
        "D-0701",
        closed_at=sp(date(2026, 11, 18), 10),
        amount="900.00",
        name="Floricultura Jardim Ltda",
        document="43614232000142",
    )
    s.link("D-0701", "43614232000142")
    s.invoice(
        "D-0701",
        status="issued",
        gross="900.00",
        rates=PLAIN,
        changed_at=sp(date(2026, 11, 18), 11),
        issued_at=sp(date(2026, 11, 18), 11),
        number="2026000090",
    )

    # Not in any report: an open deal, a lost one, and another account's deal on the same day.
    s.deal(
        "D-OPEN",
        closed_at=None,
        amount="999.00",
        name="Prospect Ltda",
        document="11222333000181",
        status="open",
        pulled_at=sp(DAY, 10),
    )
    s.deal(
        "D-LOST", closed_at=sp(DAY, 10), amount="777.00", name="Perdido Ltda", document="11222333000181", status="lost"
    )
    s.deal(
        "D-OTHER",
        closed_at=sp(DAY, 10),
        amount="5555.55",
        name="Outra Conta Ltda",
        document="11222333000181",
        account="other",
    )
    s.link("D-OTHER", "11222333000181", account="other")
    s.invoice(
        "D-OTHER",
        status="issued",
        gross="5555.55",
        rates=PLAIN,
        changed_at=sp(DAY, 11),
        issued_at=sp(DAY, 11),
        number="99",
        account="other",
    )
    return s.commit()


@pytest.fixture
def seeded(store: Store) -> Seeded:
    """The reconciliation data set, on SQLite and on PostgreSQL."""
    return seed_reconciliation_data(store)


@pytest.fixture
def sqlite_seeded(tmp_path) -> Seeded:
    """The same data on SQLite only, for tests about files, browsers and Dagster."""
    opened = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        yield seed_reconciliation_data(opened)
    finally:
        opened.dispose()


def build(seeded_data: Seeded, day: date | None = DAY):
    from omie_pipeline.reports import build_report

    return build_report(
        seeded_data.store, ACCOUNT, day, NOW, closed_statuses=CLOSED, stuck_after_minutes=STUCK_AFTER_MINUTES
    )


__all__ = ["ACCOUNT", "CLOSED", "CPF_JOAO", "CPF_MARIA", "CPF_TYPO", "DAY", "NOW", "Seeded", "build", "sp"]
