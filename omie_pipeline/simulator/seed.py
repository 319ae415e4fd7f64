"""Seed data: a company, its service catalog with tax rates, and existing clients.

Everything is drawn from `random.Random(seed)` in a fixed order, so one seed always gives the
same company, ids, documents and names. Dates are placed relative to the moment of seeding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from omie_pipeline.simulator import clock, documents
from omie_pipeline.simulator.config import CompanyConfig, SimulatorConfig
from omie_pipeline.simulator.state import Sequences, SimState

# Omie does not document the codes of `regime_tributario`; the simulator uses these (see docs).
REGIME_CODES = {"Simples Nacional": "1", "Lucro Presumido": "3", "Lucro Real": "4"}
OWN_PIS_COFINS = {
    "Simples Nacional": (Decimal("0"), Decimal("0")),
    "Lucro Presumido": (Decimal("0.65"), Decimal("3.00")),
    "Lucro Real": (Decimal("1.65"), Decimal("7.60")),
}
SYSTEM_USER = "WEBSERVICE"


@dataclass(frozen=True)
class CatalogEntry:
    code: str
    description: str
    lc116: str
    municipal_code: str
    nbs: str
    price: Decimal
    iss: Decimal
    ir_retained: Decimal | None = None
    csrf_retained: bool = False
    inss_retained: Decimal | None = None
    iss_retained: bool = False
    active: bool = True


CATALOG = (
    CatalogEntry(
        "SRV-CONSULTORIA",
        "Consultoria em tecnologia da informação",
        "1.06",
        "02919",
        "1.1502.10.00",
        Decimal("1500.00"),
        Decimal("2.90"),
        ir_retained=Decimal("1.50"),
        csrf_retained=True,
    ),
    CatalogEntry(
        "SRV-DESENVOLVIMENTO",
        "Desenvolvimento de software sob encomenda",
        "1.01",
        "02800",
        "1.1502.30.00",
        Decimal("8000.00"),
        Decimal("2.90"),
    ),
    CatalogEntry(
        "SRV-SUPORTE",
        "Suporte técnico em informática",
        "1.07",
        "02692",
        "1.1506.00.00",
        Decimal("450.00"),
        Decimal("2.90"),
    ),
    CatalogEntry(
        "SRV-TREINAMENTO",
        "Treinamento e capacitação",
        "8.02",
        "05762",
        "1.2205.12.00",
        Decimal("1200.00"),
        Decimal("2.00"),
    ),
    CatalogEntry(
        "SRV-LIMPEZA",
        "Limpeza e conservação de imóveis",
        "7.10",
        "07498",
        "1.2001.21.00",
        Decimal("3200.00"),
        Decimal("5.00"),
        ir_retained=Decimal("1.00"),
        csrf_retained=True,
        inss_retained=Decimal("11.00"),
        iss_retained=True,
    ),
    CatalogEntry(
        "SRV-PUBLICIDADE",
        "Propaganda e publicidade",
        "17.06",
        "06912",
        "1.1601.00.00",
        Decimal("2500.00"),
        Decimal("5.00"),
    ),
    CatalogEntry(
        "SRV-HOSPEDAGEM",
        "Hospedagem de sistemas (descontinuado)",
        "1.03",
        "02881",
        "1.1503.00.00",
        Decimal("300.00"),
        Decimal("2.90"),
        active=False,
    ),
)

CITIES = (
    ("SAO PAULO", "SP", "3550308", "01"),
    ("RIO DE JANEIRO", "RJ", "3304557", "20"),
    ("BELO HORIZONTE", "MG", "3106200", "30"),
    ("CURITIBA", "PR", "4106902", "80"),
    ("PORTO ALEGRE", "RS", "4314902", "90"),
    ("CAMPINAS", "SP", "3509502", "13"),
    ("RECIFE", "PE", "2611606", "50"),
)
STREETS = (
    "Rua das Flores",
    "Avenida Paulista",
    "Rua XV de Novembro",
    "Avenida Brasil",
    "Rua da Consolação",
    "Rua Augusta",
    "Avenida Atlântica",
    "Rua do Comércio",
)
DISTRICTS = ("Centro", "Jardim Paulista", "Bela Vista", "Savassi", "Batel", "Moinhos de Vento", "Boa Viagem")
FIRST_NAMES = (
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Eduarda",
    "Felipe",
    "Gabriela",
    "Henrique",
    "Isabela",
    "João",
    "Larissa",
    "Marcos",
    "Natália",
    "Otávio",
    "Paula",
    "Rafael",
    "Sofia",
    "Tiago",
)
LAST_NAMES = (
    "Silva",
    "Souza",
    "Oliveira",
    "Santos",
    "Pereira",
    "Lima",
    "Carvalho",
    "Ferreira",
    "Almeida",
    "Ribeiro",
    "Gomes",
    "Martins",
)
COMPANY_WORDS = (
    "Alfa",
    "Horizonte",
    "Atlântica",
    "Serra Azul",
    "Ipê",
    "Cerrado",
    "Maré",
    "Aurora",
    "Boreal",
    "Quasar",
    "Vértice",
    "Pampa",
)
COMPANY_KINDS = ("Comércio", "Engenharia", "Logística", "Tecnologia", "Saúde", "Educação", "Alimentos", "Varejo")
COMPANY_SUFFIXES = ("Ltda", "S.A.", "Eireli", "ME")


def _slug(text: str) -> str:
    table = str.maketrans("áàâãéêíóôõúçÁÀÂÃÉÊÍÓÔÕÚÇ", "aaaaeeioooucaaaaeeiooouc".upper())
    return "".join(ch for ch in text.translate(table).lower() if ch.isalnum())


def _info(created: datetime, changed: datetime, imported_by_api: bool) -> dict[str, str]:
    d_inc, h_inc = clock.stamp(created)
    d_alt, h_alt = clock.stamp(changed)
    return {
        "dInc": d_inc,
        "hInc": h_inc,
        "uInc": SYSTEM_USER,
        "dAlt": d_alt,
        "hAlt": h_alt,
        "uAlt": SYSTEM_USER,
        "cImpAPI": "S" if imported_by_api else "N",
    }


def build_company(rng: random.Random, config: SimulatorConfig, now: datetime) -> dict[str, Any]:
    cnpj = documents.generate_cnpj(rng)
    created = now - timedelta(days=rng.randint(900, 2000))
    simples = config.regime == "Simples Nacional"
    return {
        "codigo_empresa": rng.randint(1_000_000, 9_999_999),
        "codigo_empresa_integracao": "",
        "cnpj": documents.formatted(cnpj),
        "razao_social": "Simulada Tecnologia e Serviços Ltda",
        "nome_fantasia": "Simulada Tech",
        "endereco": "Avenida Paulista",
        "endereco_numero": str(rng.randint(100, 2500)),
        "complemento": f"Conjunto {rng.randint(10, 200)}",
        "bairro": "Bela Vista",
        "cidade": "SAO PAULO (SP)",
        "cidade_ibge": "3550308",
        "estado": "SP",
        "cep": f"01{rng.randint(300, 499):03d}-{rng.randint(0, 999):03d}",
        "telefone1_ddd": "11",
        "telefone1_numero": f"3{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        "email": "financeiro@simulada.com.br",
        "cnae": "6201-5/01",
        "cnae_municipal": "6201501",
        "inscricao_estadual": "ISENTO",
        "inscricao_municipal": f"{rng.randint(1_000_000, 9_999_999)}",
        "regime_tributario": REGIME_CODES[config.regime],
        "optante_simples_nacional": "S" if simples else "N",
        "data_adesao_sn": clock.omie_date(created) if simples else "",
        "dt_adesao_simpnac": clock.omie_date(created) if simples else "",
        "regapu": "",
        "gera_nfse": "S",
        "nfsenac_sn": "S",
        "gera_nfe": "N",
        "inativa": "N",
        "inclusao_data": clock.omie_date(created),
        "inclusao_hora": clock.omie_time(created),
        "alteracao_data": clock.omie_date(created),
        "alteracao_hora": clock.omie_time(created),
    }


def _service_taxes(entry: CatalogEntry, regime: str) -> dict[str, Any]:
    """Catalog `impostos` for the company's regime (Simples Nacional pays inside the DAS)."""
    simples = regime == "Simples Nacional"
    own_pis, own_cofins = OWN_PIS_COFINS[regime]
    csrf = entry.csrf_retained and not simples
    return {
        "nAliqISS": entry.iss,
        "cRetISS": "S" if entry.iss_retained else "N",
        # PIS/COFINS rates are the company's own (its regime's); what a payer withholds is
        # fixed by law (0.65/3 %) and follows from the retention flags.
        "nAliqPIS": own_pis,
        "cRetPIS": "S" if csrf else "N",
        "nAliqCOFINS": own_cofins,
        "cRetCOFINS": "S" if csrf else "N",
        "nAliqCSLL": Decimal("1.00") if csrf else Decimal("0"),
        "cRetCSLL": "S" if csrf else "N",
        "nAliqIR": entry.ir_retained if entry.ir_retained is not None and not simples else Decimal("0"),
        "cRetIR": "S" if entry.ir_retained is not None and not simples else "N",
        "nAliqINSS": entry.inss_retained or Decimal("0"),
        "cRetINSS": "S" if entry.inss_retained else "N",
        "nRedBaseINSS": Decimal("0"),
        "nRedBasePIS": Decimal("0"),
        "nRedBaseCOFINS": Decimal("0"),
        "lDeduzISS": False,
        "cCstIbsCbs": "" if simples else "000",
        "cClassTrib": "" if simples else "000001",
        "nAliqIbsUf": Decimal("0") if simples else Decimal("0.05"),
        "nAliqIbsMun": Decimal("0") if simples else Decimal("0.05"),
        "nAliqCbs": Decimal("0") if simples else Decimal("0.90"),
    }


def build_services(
    rng: random.Random, config: SimulatorConfig, sequences: Sequences, now: datetime
) -> list[dict[str, Any]]:
    records = []
    for position, entry in enumerate(CATALOG, start=1):
        created = now - timedelta(days=rng.randint(200, 800), seconds=rng.randint(0, 86_399))
        changed = created + timedelta(days=rng.randint(0, 150))
        info = _info(created, changed, imported_by_api=False)
        info["inativo"] = "N" if entry.active else "S"
        records.append(
            {
                "intListar": {"cCodIntServ": entry.code, "nCodServ": sequences.take("service_id")},
                "cabecalho": {
                    "cDescricao": entry.description,
                    "cCodigo": f"SRV{position:03d}",
                    "cIdTrib": "01",
                    "cCodServMun": entry.municipal_code,
                    "cCodLC116": entry.lc116,
                    "nIdNBS": entry.nbs,
                    "nPrecoUnit": entry.price,
                    "cCodCateg": "1.01.02",
                },
                "descricao": {"cDescrCompleta": f"{entry.description} (item {entry.lc116} da lista da LC 116/2003)"},
                "impostos": _service_taxes(entry, config.regime),
                "info": info,
                "produtosUtilizados": {"cAcaoProdUtilizados": "", "produtoUtilizado": []},
                "viaUnica": {"cUtilizaViaUnica": "N", "cModeloViaUnica": ""},
            }
        )
    return records


def _person_name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {rng.choice(LAST_NAMES)}"


def _company_name(rng: random.Random) -> tuple[str, str]:
    trade = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_KINDS)}"
    return f"{trade} {rng.choice(COMPANY_SUFFIXES)}", trade


def build_client(
    rng: random.Random, index: int, client_id: int, created: datetime, changed: datetime
) -> dict[str, Any]:
    """One existing client: about half numeric CNPJ, a fifth alphanumeric CNPJ, the rest CPF."""
    kind = rng.random()
    if kind < 0.5:
        document, person = documents.generate_cnpj(rng), False
    elif kind < 0.7:
        document, person = documents.generate_cnpj(rng, alphanumeric=True), False
    else:
        document, person = documents.generate_cpf(rng), True
    if person:
        legal_name = _person_name(rng)
        trade_name = legal_name.split()[0]
        parts = legal_name.split()
        email = f"{_slug(parts[0])}.{_slug(parts[-1])}{index}@exemplo.com.br"
    else:
        legal_name, trade_name = _company_name(rng)
        email = f"financeiro@{_slug(trade_name)}{index}.com.br"
    city, state, ibge, cep_prefix = rng.choice(CITIES)
    from_api = rng.random() < 0.4
    return {
        "codigo_cliente_omie": client_id,
        "codigo_cliente_integracao": f"ERP-{index:05d}" if from_api else "",
        "razao_social": legal_name,
        "nome_fantasia": trade_name,
        "cnpj_cpf": documents.formatted(document),
        "pessoa_fisica": "S" if person else "N",
        "endereco": rng.choice(STREETS),
        "endereco_numero": str(rng.randint(1, 3000)),
        "complemento": "",
        "bairro": rng.choice(DISTRICTS),
        "cidade": f"{city} ({state})",
        "cidade_ibge": ibge,
        "estado": state,
        "cep": f"{cep_prefix}{rng.randint(0, 999):03d}-{rng.randint(0, 999):03d}",
        "codigo_pais": "1058",
        "email": email,
        "telefone1_ddd": f"{rng.randint(11, 99)}",
        "telefone1_numero": f"9{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
        "inscricao_estadual": "",
        "inscricao_municipal": "" if person else f"{rng.randint(1_000_000, 9_999_999)}",
        "inscricao_suframa": "",
        "optante_simples_nacional": "N" if person else rng.choice(("S", "N")),
        "contribuinte": "N",
        "inativo": "N",
        "tags": [],
        "info": _info(created, changed, imported_by_api=from_api),
    }


def _with_identity(company: dict[str, Any], identity: CompanyConfig | None) -> dict[str, Any]:
    """The company record with the CNPJ and names its configuration gives (the drawn ones otherwise)."""
    if identity is None:
        return company
    given = {"cnpj": identity.cnpj, "razao_social": identity.razao_social, "nome_fantasia": identity.nome_fantasia}
    return {**company, **{name: value for name, value in given.items() if value}}


def build_state(
    config: SimulatorConfig, now: datetime | None = None, identity: CompanyConfig | None = None
) -> SimState:
    """A fresh company for `config.seed`: same seed, same data (apart from dates, which are relative).

    `config` is the company's own view (`SimulatorConfig.for_company`); `identity` may set its
    CNPJ and names, which leaves every other draw as the seed makes it."""
    moment = now or clock.now()
    rng = random.Random(config.seed)
    company = _with_identity(build_company(rng, config, moment), identity)
    sequences = Sequences(
        client_id=rng.randint(2_400_000_000, 2_499_000_000),
        service_id=rng.randint(3_100_000_000, 3_199_000_000),
        os_id=rng.randint(4_700_000_000, 4_799_000_000),
        os_number=rng.randint(1_000, 9_000),
        rps_number=rng.randint(100, 5_000),
        lote_number=rng.randint(10_000, 90_000),
        nfse_number=rng.randint(1_000, 20_000),
        nf_id=rng.randint(5_900_000_000, 5_999_000_000),
    )
    state = SimState(company, sequences)
    for record in build_services(rng, config, sequences, moment):
        state.services[record["intListar"]["nCodServ"]] = record
    offsets = sorted((rng.randint(1, 700) for _ in range(config.clients)), reverse=True)
    for index, days_ago in enumerate(offsets, start=1):
        created = moment - timedelta(days=days_ago, seconds=rng.randint(0, 86_399))
        changed = min(moment - timedelta(minutes=1), created + timedelta(days=rng.randint(0, days_ago)))
        while True:
            record = build_client(rng, index, sequences.client_id, created, changed)
            if state.client_by_document(record["cnpj_cpf"]) is None:
                break
        sequences.take("client_id")
        state.put_client(record)
    return state
