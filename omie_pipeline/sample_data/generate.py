"""Closed deals on demand, for the demo's `--deals N` and for benchmarks.

`generate_deals(n, seed)` returns n rows in the canonical CSV columns (text values, as a CRM export
holds them): one seed, one list. About a third as many clients as deals, so clients repeat across
deals; documents are numeric CNPJs, alphanumeric CNPJs and CPFs, typed with and without
punctuation. Most deals are valid; a few carry the mistakes real exports have (a mistyped check
digit, a missing street, an amount in Brazilian notation), so that issues show up at any size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from omie_pipeline.domain.deal import CANONICAL_COLUMNS
from omie_pipeline.domain.documents import (
    cnpj_check_digits,
    cpf_check_digits,
    format_document,
)
from omie_pipeline.domain.timeutil import SAO_PAULO

PRODUCTS = ("CONSULTORIA", "IMPLANTACAO", "SUPORTE", "TREINAMENTO", "LIMPEZA")
# name, UF, IBGE code, CEP prefix, DDD
CITIES = (
    ("São Paulo", "SP", "3550308", "01", "11"),
    ("Rio de Janeiro", "RJ", "3304557", "20", "21"),
    ("Belo Horizonte", "MG", "3106200", "30", "31"),
    ("Curitiba", "PR", "4106902", "80", "41"),
    ("Porto Alegre", "RS", "4314902", "90", "51"),
    ("Recife", "PE", "2611606", "50", "81"),
    ("Salvador", "BA", "2927408", "40", "71"),
    ("Fortaleza", "CE", "2304400", "60", "85"),
    ("Florianópolis", "SC", "4205407", "88", "48"),
    ("Goiânia", "GO", "5208707", "74", "62"),
    ("Campinas", "SP", "3509502", "13", "19"),
    ("Brasília", "DF", "5300108", "70", "61"),
)
STREETS = (
    "Rua das Palmeiras",
    "Avenida Brasil",
    "Rua XV de Novembro",
    "Avenida Sete de Setembro",
    "Rua Marechal Deodoro",
    "Avenida Getúlio Vargas",
    "Rua do Comércio",
    "Rua São José",
)
DISTRICTS = ("Centro", "Jardim América", "Boa Vista", "Vila Nova", "Bela Vista", "Santa Efigênia", "Batel")
FIRST_NAMES = (
    "Ana",
    "Bruno",
    "Camila",
    "Daniel",
    "Elisa",
    "Fábio",
    "Gabriel",
    "Helena",
    "Igor",
    "Juliana",
    "Leonardo",
    "Marina",
    "Nicolas",
    "Patrícia",
    "Renato",
    "Sabrina",
    "Thiago",
    "Vanessa",
)
LAST_NAMES = (
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Rodrigues",
    "Ferreira",
    "Alves",
    "Pereira",
    "Lima",
    "Gomes",
    "Costa",
    "Ribeiro",
    "Martins",
    "Carvalho",
    "Araújo",
    "Barbosa",
)
COMPANY_WORDS = (
    "Aroeira",
    "Jequitibá",
    "Horizonte",
    "Litoral",
    "Planalto",
    "Cerrado",
    "Atlântico",
    "Ipê",
    "Pantanal",
    "Serra Verde",
    "Vale Sul",
    "Maré Alta",
    "Rio Claro",
    "Boa Esperança",
)
COMPANY_KINDS = (
    "Comércio",
    "Engenharia",
    "Logística",
    "Tecnologia",
    "Saúde",
    "Educação",
    "Alimentos",
    "Construtora",
    "Transportes",
    "Consultoria",
)
COMPANY_SUFFIXES = ("Ltda", "S.A.", "Eireli", "ME", "EPP")
ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CLOSING_SPAN = timedelta(days=20)  # generated deals close over the 20 days before `until`


@dataclass(frozen=True)
class _Client:
    legal_name: str
    trade_name: str
    document: str
    email: str
    phone: str
    street: str
    number: str
    district: str
    city: str
    state: str
    zip: str
    ibge: str
    municipal_registration: str


def _cnpj(rng: random.Random, alphanumeric: bool) -> str:
    letters = ALPHANUMERIC if alphanumeric else "0123456789"
    root = "".join(rng.choice(letters) for _ in range(8))
    if root == "0" * 8:
        root = "1" + root[1:]
    first = root + "0001"
    return first + cnpj_check_digits(first)


def _cpf(rng: random.Random) -> str:
    while True:
        first = "".join(rng.choice("0123456789") for _ in range(9))
        if len(set(first)) > 1:
            return first + cpf_check_digits(first)


def _typed(rng: random.Random, number: str) -> str:
    """A document as people type it: formatted, bare, or in lower case."""
    style = rng.random()
    if style < 0.6:
        return format_document(number)
    if style < 0.9:
        return number
    return format_document(number).lower()


def _slug(text: str) -> str:
    table = str.maketrans("áàâãéêíóôõúçÁÀÂÃÉÊÍÓÔÕÚÇ", "aaaaeeioooucAAAAEEIOOOUC")
    return "".join(ch for ch in text.translate(table).lower() if ch.isalnum())


def _client(rng: random.Random, index: int) -> _Client:
    kind = rng.random()
    city, state, ibge, cep, ddd = rng.choice(CITIES)
    if kind < 0.3:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        legal = f"{first} {rng.choice(LAST_NAMES)} {last}"
        trade, document = first, _cpf(rng)
        email = f"{_slug(first)}.{_slug(last)}{index}@gmail.com"
        phone = f"({ddd}) 9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
        registration = ""
    else:
        trade = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
        legal = f"{trade} {rng.choice(COMPANY_SUFFIXES)}"
        document = _cnpj(rng, alphanumeric=kind > 0.9)
        email = f"financeiro@{_slug(trade)}{index}.com.br"
        phone = f"({ddd}) 3{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        registration = str(rng.randint(1_000_000, 9_999_999))
    return _Client(
        legal_name=legal,
        trade_name=trade,
        document=document,
        email=email,
        phone=phone,
        street=rng.choice(STREETS),
        number=str(rng.randint(1, 4000)),
        district=rng.choice(DISTRICTS),
        city=city,
        state=state,
        zip=f"{cep}{rng.randint(0, 999):03d}-{rng.randint(0, 999):03d}",
        ibge=ibge,
        municipal_registration=registration,
    )


def _amount(rng: random.Random) -> Decimal:
    """Mostly hundreds to tens of thousands of reais, cents included."""
    reais = int(10 ** rng.uniform(2.2, 4.9))
    return (Decimal(reais) + Decimal(rng.randint(0, 99)) / 100).quantize(Decimal("0.01"))


def generate_deals(n: int, seed: int = 2026, until: datetime | None = None) -> list[dict[str, str]]:
    """n closed deals in the canonical columns, closed before `until` (default: the current hour);
    the same seed and `until` give the same deals. Dates never lie in the future, which the pull
    would rightly refuse."""
    if n < 0:
        raise ValueError(f"n must not be negative; got {n}")
    until = until or datetime.now(SAO_PAULO).replace(minute=0, second=0, microsecond=0)
    first_close = until - CLOSING_SPAN
    step = CLOSING_SPAN / max(n, 1)
    rng = random.Random(seed)
    clients = [_client(rng, index) for index in range(max(1, n // 3))]
    rows = []
    for position in range(n):
        client = rng.choice(clients)
        closed = first_close + step * position + step * rng.random() / 2
        updated = min(closed + timedelta(seconds=rng.randint(5, 600)), until)
        row = {name: "" for name in CANONICAL_COLUMNS}
        row.update(
            {
                "deal_id": f"GEN-{seed}-{position + 1:06d}",
                "status": "won",
                "closed_at": closed.isoformat(timespec="seconds"),
                "updated_at": updated.isoformat(timespec="seconds"),
                "amount": str(_amount(rng)),
                "product_code": rng.choice(PRODUCTS),
                "description": f"Pedido {position + 1} de {client.trade_name}",
                "legal_name": client.legal_name,
                "trade_name": client.trade_name,
                "document": _typed(rng, client.document),
                "email": client.email,
                "phone": client.phone,
                "street": client.street,
                "number": client.number,
                "district": client.district,
                "city": client.city,
                "state": client.state,
                "zip": client.zip,
                "city_ibge_code": client.ibge,
                "municipal_registration": client.municipal_registration,
            }
        )
        _maybe_spoil(rng, row)
        rows.append(row)
    return rows


def _maybe_spoil(rng: random.Random, row: dict[str, str]) -> None:
    """About one deal in twenty-five gets a mistake a real export would have."""
    roll = rng.random()
    if roll < 0.01:
        document = row["document"]
        last = document[-1]
        row["document"] = document[:-1] + str((int(last) + 1) % 10)  # a mistyped check digit
    elif roll < 0.02:
        row["street"] = ""
    elif roll < 0.03:
        whole, cents = row["amount"].split(".")
        row["amount"] = f"{int(whole):,}".replace(",", ".") + "," + cents
    elif roll < 0.04:
        row["updated_at"] = row["updated_at"][:19]  # no offset
