"""A corpus of bad (and good) deal rows: every kind of bad input the pipeline handles, each row
with the outcome it must have. Written as a CSV the way a CRM export would carry it.

`expect` is "invoice" (an NFS-e, the bad part cleaned or neutralised), "processed" (the deal ends
in an invoice or an issue, whichever, without stopping the batch), "skipped" (not a closed deal:
no deal stored) or the (field, reason) of the issue that must name the deal.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from omie_pipeline.domain.deal import CANONICAL_COLUMNS
from omie_pipeline.domain.documents import cnpj_check_digits, cpf_check_digits, format_document

NOW = datetime.now(timezone(timedelta(hours=-3))).replace(microsecond=0)
CLOSED = (NOW - timedelta(days=1)).isoformat()
UPDATED = (NOW - timedelta(hours=20)).isoformat()
FORMULA_NAME = '=HYPERLINK("http://attacker.example/x","Clique")'


def cnpj(root: str) -> str:
    """A valid CNPJ (formatted) from 8 characters of root; branch 0001."""
    first = f"{root}0001"
    return format_document(first + cnpj_check_digits(first))


def cpf(first_nine: str) -> str:
    return format_document(first_nine + cpf_check_digits(first_nine))


CPFS = [cpf(f"{n:09d}") for n in (529982247, 390533447, 123456781, 987654320, 246813579)]
CNPJS = [cnpj(root) for root in ("11444855", "27836512", "45723174", "60701190", "33000167")]
ALNUM_CNPJ = cnpj("12ABC345")


@dataclass
class Row:
    deal_id: str
    kind: str
    values: dict[str, str]
    expect: Any  # "invoice" | "processed" | "skipped" | (field, reason)
    raw_extra: str | None = None  # appended to the CSV line unquoted: an extra cell


def base(deal_id: str, document: str, **values: Any) -> dict[str, str]:
    row = {
        "deal_id": deal_id,
        "account": "",
        "status": "won",
        "closed_at": CLOSED,
        "updated_at": UPDATED,
        "amount": "1500.00",
        "product_code": "CONSULTORIA",
        "description": f"Consultoria, pedido {deal_id}",
        "legal_name": f"Cliente {deal_id} Ltda",
        "trade_name": f"Cliente {deal_id}",
        "document": document,
        "email": f"financeiro.{deal_id.lower()}@cliente.com.br",
        "phone": "(11) 3456-7890",
        "street": "Avenida Paulista",
        "number": "1578",
        "complement": "Conjunto 42",
        "district": "Bela Vista",
        "city": "São Paulo",
        "state": "SP",
        "zip": "01310-200",
        "city_ibge_code": "3550308",
        "municipal_registration": "12345678",
        "state_registration": "",
    }
    row.update({name: str(value) for name, value in values.items()})
    return row


def build_corpus(account: str) -> list[Row]:
    """At least 60 rows; deal ids R-NNN, one kind each (a conflict takes two rows)."""
    rows: list[Row] = []

    def add(kind: str, expect: Any, document: str | None = None, raw_extra: str | None = None, **values: Any) -> None:
        deal_id = values.pop("deal_id", f"R-{len(rows) + 1:03d}")
        document = document if document is not None else CNPJS[len(rows) % len(CNPJS)]
        rows.append(Row(deal_id, kind, base(deal_id, document, **values), expect, raw_extra))

    # Valid deals of each document kind, typed as CRMs type them.
    for number in CNPJS:
        add("valid CNPJ", "invoice", number)
    for number in CPFS[:3]:
        add("valid CPF", "invoice", number)
    add("alphanumeric CNPJ, lower case", "invoice", ALNUM_CNPJ.lower())
    add("CNPJ digits only", "invoice", CNPJS[0].replace(".", "").replace("/", "").replace("-", ""))
    add("status in capitals", "invoice", status="WON")
    add("account named explicitly", "invoice", account=account)
    add(
        "updated_at with Z",
        "invoice",
        updated_at=(NOW - timedelta(hours=20)).astimezone(UTC).isoformat().replace("+00:00", "Z"),
    )
    # Amounts.
    add("amount 10^23", ("amount", "above_maximum"), amount="1" + "0" * 23)
    add("amount above R$ 10,000,000.00", ("amount", "above_maximum"), amount="10000000.01")
    add("amount far above the maximum", ("amount", "above_maximum"), amount="99999999999.99")
    add("amount exactly the maximum", "invoice", amount="10000000.00")
    add("thousands separator", ("amount", "thousands_separator"), amount="12.500,00")
    add("decimal comma", ("amount", "comma"), amount="1500,50")
    add("three decimals", ("amount", "too_many_decimals"), amount="10.123")
    add("zero amount", ("amount", "not_positive"), amount="0")
    add("negative amount", ("amount", "not_positive"), amount="-5.00")
    add("empty amount", ("amount", "missing"), amount="")
    add("amount with currency sign", ("amount", "bad_format"), amount="R$ 1500.00")
    # Control characters and formulas.
    add("NUL in the legal name", "invoice", legal_name="Padaria\x00 Pão Quente Ltda")
    add("BEL in the description", "invoice", description="Consultoria\x07 mensal")
    add(
        "ESC in the trade name and description",
        "invoice",
        trade_name="Loja\x1b[31m Vermelha",
        description="Serviço \x1b[0mprestado",
    )
    add("formula legal name", "invoice", legal_name=FORMULA_NAME)
    add("formula description", "invoice", description="=1+2 @SUM(A1) -3")
    add("quotes and SQL in the name", "invoice", legal_name="Robert'); DROP TABLE deals;-- Ltda")
    add("emoji and zero-width in the description", "invoice", description="Serviço \u200b✅ concluído")
    add("newlines and tabs in the description", "invoice", description="linha 1\nlinha 2\tfim")
    add("20,000-character description", "invoice", description="Consultoria detalhada. " * 870)
    # Versions.
    add(
        "two versions, same updated_at, other amounts (1)",
        ("updated_at", "conflicting_versions"),
        deal_id="R-CONFLICT",
        amount="1000.00",
    )
    add(
        "two versions, same updated_at, other amounts (2)",
        ("updated_at", "conflicting_versions"),
        deal_id="R-CONFLICT",
        amount="2000.00",
    )
    add(
        "two versions, the newer wins (old)",
        "invoice",
        deal_id="R-NEWER",
        amount="999.00",
        updated_at=(NOW - timedelta(hours=30)).isoformat(),
    )
    add("two versions, the newer wins (new)", "invoice", deal_id="R-NEWER", amount="1234.56")
    # Status and ids.
    add("empty status", ("status", "missing"), status="")
    add("status open", "skipped", status="open")
    add("status lost", "skipped", status="lost")
    add(
        "empty deal id",
        ("deal_id", "missing"),
        deal_id="",
        legal_name="Sem Identificador Ltda",
        email="financeiro@semid.com.br",
    )
    add("wrong account", ("account", "wrong_account"), account="another-company")
    # Documents.
    add("CPF bad check digits", ("document", "check_digits"), CPFS[3][:-1] + str((int(CPFS[3][-1]) + 1) % 10))
    add("CNPJ bad check digits", ("document", "check_digits"), CNPJS[1][:-1] + str((int(CNPJS[1][-1]) + 1) % 10))
    add("document too short", ("document", "bad_length"), "1234567890")
    add("document too long", ("document", "bad_length"), "123456789012345")
    add("repeated digits", ("document", "repeated_digits"), "111.111.111-11")
    add("bad characters", ("document", "bad_characters"), "11.444.855/0001-2$")
    add("zero CNPJ root and branch", ("document", "zero_root"), "00.000.000/0000-00")
    add("all-zero root that is real (Banco do Brasil)", "invoice", cnpj("00000000"))
    add("empty document", ("document", "missing"), "")
    # Dates.
    add("closed_at without offset", ("closed_at", "no_offset"), closed_at=CLOSED[:19])
    add("updated_at without offset", ("updated_at", "no_offset"), updated_at=UPDATED[:19])
    add("date not ISO", ("closed_at", "bad_format"), closed_at="20/11/2026 10:00")
    add("updated_at in the future", ("updated_at", "in_future"), updated_at=(NOW + timedelta(days=2)).isoformat())
    add("empty updated_at", ("updated_at", "missing"), updated_at="")
    # Client fields.
    add("bad e-mail", ("email", "bad_email"), email="financeiro@@cliente")
    add("missing e-mail", ("email", "missing"), CPFS[4], email="")
    add("bad phone", ("phone", "bad_phone"), phone="12")
    add("bad state", ("state", "bad_state"), state="XX")
    add("bad CEP", ("zip", "bad_zip"), zip="123")
    add("bad IBGE code", ("city_ibge_code", "bad_ibge_code"), city_ibge_code="12")
    add("IBGE code of another state", ("city_ibge_code", "state_mismatch"), state="RJ")
    add("legal name too long for the store", ("legal_name", "too_long"), legal_name="L" * 201)
    add(
        "legal name too long for Omie",
        ("legal_name", "too_long_for_omie"),
        cnpj("98765432"),
        legal_name="Empresa de Nome Muito Comprido Que Passa Dos Sessenta Caracteres Ltda",
    )
    add("city too long for Omie", ("city", "too_long_for_omie"), cnpj("87654321"), city="C" * 41)
    add("missing street", ("street", "missing"), cnpj("76543210"), street="")
    # Product and file shape.
    add("unmapped product", ("product_code", "unmapped"), product_code="PRODUTO-SEM-MAPA")
    add("empty product", ("product_code", "missing"), product_code="")
    add("extra CSV cells", ("row", "extra_cells"), raw_extra="sobrando")
    return rows


def write_corpus(path: Path, rows: list[Row]) -> Path:
    """The rows as a CRM export: canonical header, every value quoted as needed, extra cells unquoted."""
    columns = list(CANONICAL_COLUMNS)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            line = [row.values.get(name, "") for name in columns]
            if row.raw_extra:
                line.append(row.raw_extra)
            writer.writerow(line)
    return path
