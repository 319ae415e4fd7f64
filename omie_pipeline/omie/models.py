"""Typed answers of the Omie calls the pipeline uses, with Omie's own field names.

Field names are Omie's (omie-api.md), so that the documentation and the code speak the same
words. Conversions: `dd/mm/aaaa` dates become `date`, `hh:mm:ss` times `time` (blank, all-zero or
bare separators such as "00/00/0000" or "  /  /    ": None),
money and rates `Decimal`, ids `int`; numbers Omie sends where text is expected become text.
Fields not modelled here are kept (`model_extra`), so nothing Omie sends is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from omie_pipeline.domain.timeutil import format_date_br


def _unset(text: str) -> bool:
    """Omie's ways of saying "no date/time": "", "00/00/0000", "  /  /    ", "00:00:00"."""
    return not any(char.isdigit() and char != "0" for char in text)


def _omie_date(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        return None if _unset(text) else datetime.strptime(text, "%d/%m/%Y").date()
    return value


def _omie_time(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        return None if _unset(text) else datetime.strptime(text, "%H:%M:%S").time()
    return value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _stripped(value: Any) -> Any:
    """Omie pads some codes with spaces (an unset `cCodIntOS` comes back as 60 spaces)."""
    return value.strip() if isinstance(value, str) else value


OmieDate = Annotated[date | None, BeforeValidator(_omie_date)]
OmieTime = Annotated[time | None, BeforeValidator(_omie_time)]
Money = Annotated[Decimal | None, BeforeValidator(_blank_is_none)]
OmieId = Annotated[int | None, BeforeValidator(_blank_is_none)]
Code = Annotated[str, BeforeValidator(_stripped)]


@dataclass(frozen=True)
class InvalidRecord:
    """A listed record that cannot be read, named by its id and the fields at fault."""

    method: str
    record_id: str
    fields: tuple[str, ...]
    message: str

    def __str__(self) -> str:
        return f"{self.method}: {self.record_id}: {', '.join(self.fields)}: {self.message}"

    @classmethod
    def of(cls, method: str, record_id: str, error: ValidationError) -> InvalidRecord:
        problems = error.errors()
        fields = tuple(dict.fromkeys(".".join(str(part) for part in problem["loc"]) for problem in problems))
        return cls(method, record_id, fields, "; ".join(problem["msg"] for problem in problems))


def omie_date(day: date) -> str:
    """A date as Omie reads it: `dd/mm/aaaa`."""
    return format_date_br(day)


class OmieModel(BaseModel):
    """Base of every answer: unknown fields kept, numbers accepted where Omie's text is expected."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True, populate_by_name=True)


# --- geral/clientes -------------------------------------------------------------------------


class ClientInfo(OmieModel):
    dInc: OmieDate = None
    hInc: OmieTime = None
    uInc: str = ""
    dAlt: OmieDate = None
    hAlt: OmieTime = None
    uAlt: str = ""
    cImpAPI: str = ""


class ClientTag(OmieModel):
    tag: str = ""


class ClientRecord(OmieModel):
    """One client (`clientes_cadastro` item, `ConsultarCliente` answer)."""

    codigo_cliente_omie: int
    codigo_cliente_integracao: Code = ""
    razao_social: str = ""
    nome_fantasia: str = ""
    cnpj_cpf: str = ""
    pessoa_fisica: str = ""
    endereco: str = ""
    endereco_numero: str = ""
    complemento: str = ""
    bairro: str = ""
    cidade: str = ""
    cidade_ibge: str = ""
    estado: str = ""
    cep: str = ""
    codigo_pais: str = ""
    email: str = ""
    telefone1_ddd: str = ""
    telefone1_numero: str = ""
    inscricao_estadual: str = ""
    inscricao_municipal: str = ""
    optante_simples_nacional: str = ""
    contribuinte: str = ""
    inativo: str = ""
    tags: list[ClientTag] = Field(default_factory=list)
    info: ClientInfo | None = None


class ClientInput(BaseModel):
    """What `IncluirCliente` / `UpsertClienteCpfCnpj` send; unset fields are left out of the call.

    No `pessoa_fisica`: Omie derives it from the document and its WSDL says not to send it.

    `codigo_cliente_integracao` is the pipeline's deterministic key for the client, so that a
    resent inclusion can never create a second client.
    """

    model_config = ConfigDict(extra="forbid")

    codigo_cliente_integracao: str = Field(min_length=1, max_length=60)
    razao_social: str = Field(min_length=1, max_length=60)
    nome_fantasia: str | None = Field(None, max_length=100)
    cnpj_cpf: str | None = Field(None, max_length=20)
    endereco: str | None = Field(None, max_length=60)
    endereco_numero: str | None = Field(None, max_length=60)
    complemento: str | None = Field(None, max_length=60)
    bairro: str | None = Field(None, max_length=60)
    cidade: str | None = Field(None, max_length=40)
    cidade_ibge: str | None = None
    estado: str | None = Field(None, max_length=2)
    cep: str | None = Field(None, max_length=10)
    codigo_pais: str | None = Field(None, max_length=4)
    email: str | None = Field(None, max_length=500)
    telefone1_ddd: str | None = Field(None, max_length=5)
    telefone1_numero: str | None = Field(None, max_length=15)
    inscricao_estadual: str | None = Field(None, max_length=20)
    inscricao_municipal: str | None = Field(None, max_length=20)
    optante_simples_nacional: str | None = Field(None, pattern="^[SN]$")
    contribuinte: str | None = Field(None, pattern="^[SN]$")
    tags: list[dict[str, str]] | None = None

    def to_param(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ClientStatus(OmieModel):
    """Answer of a client write (`Clientes_status`)."""

    codigo_cliente_omie: int
    codigo_cliente_integracao: Code = ""
    codigo_status: str = ""
    descricao_status: str = ""


# --- geral/empresas -------------------------------------------------------------------------


class CompanyRecord(OmieModel):
    """The company behind the app key (`empresas_cadastro` item, `ConsultarEmpresa` answer)."""

    codigo_empresa: int
    codigo_empresa_integracao: Code = ""
    cnpj: str = ""
    razao_social: str = ""
    nome_fantasia: str = ""
    endereco: str = ""
    endereco_numero: str = ""
    bairro: str = ""
    cidade: str = ""
    estado: str = ""
    cep: str = ""
    email: str = ""
    cnae: str = ""
    inscricao_estadual: str = ""
    inscricao_municipal: str = ""
    regime_tributario: str = ""
    regapu: str = ""
    optante_simples_nacional: str = ""
    gera_nfse: str = ""
    nfsenac_sn: str = ""
    inativa: str = ""

    @property
    def issues_nfse(self) -> bool:
        """Whether the company issues NFS-e through Omie (`gera_nfse` = "S")."""
        return self.gera_nfse.strip().upper() == "S"


# --- servicos/servico -----------------------------------------------------------------------


class ServiceIds(OmieModel):
    cCodIntServ: Code = ""
    nCodServ: int


class ServiceHeader(OmieModel):
    cDescricao: str = ""
    cCodigo: str = ""
    cIdTrib: str = ""
    cCodServMun: str = ""
    cCodLC116: str = ""
    nIdNBS: str = ""
    nPrecoUnit: Money = None
    cCodCateg: str = ""


class ServiceDescription(OmieModel):
    cDescrCompleta: str = ""


class ServiceTaxes(OmieModel):
    """Catalog tax rates in percent (5 = 5 %); note the catalog names (`nAliqIR`, `cRetIR`)."""

    nAliqISS: Money = None
    cRetISS: str = ""
    nAliqPIS: Money = None
    cRetPIS: str = ""
    nAliqCOFINS: Money = None
    cRetCOFINS: str = ""
    nAliqCSLL: Money = None
    cRetCSLL: str = ""
    nAliqIR: Money = None
    cRetIR: str = ""
    nAliqINSS: Money = None
    cRetINSS: str = ""
    nRedBaseINSS: Money = None
    nRedBasePIS: Money = None
    nRedBaseCOFINS: Money = None
    lDeduzISS: bool | None = None
    cCstIbsCbs: str = ""
    cClassTrib: str = ""
    nAliqIbsUf: Money = None
    nAliqIbsMun: Money = None
    nAliqCbs: Money = None


class ServiceInfo(OmieModel):
    dInc: OmieDate = None
    hInc: OmieTime = None
    dAlt: OmieDate = None
    hAlt: OmieTime = None
    inativo: str = ""


class ServiceRecord(OmieModel):
    """One catalog service (`cadastros` item, `ConsultarCadastroServico` answer)."""

    intListar: ServiceIds
    cabecalho: ServiceHeader = Field(default_factory=ServiceHeader)
    descricao: ServiceDescription = Field(default_factory=ServiceDescription)
    impostos: ServiceTaxes = Field(default_factory=ServiceTaxes)
    info: ServiceInfo = Field(default_factory=ServiceInfo)

    @property
    def nCodServ(self) -> int:
        """The id an OS item names as `nCodServico`."""
        return self.intListar.nCodServ


# --- servicos/os ----------------------------------------------------------------------------


class OsStatus(OmieModel):
    """Answer of `IncluirOS` / `AlterarOS` (`OsStatus`)."""

    cCodIntOS: Code = ""
    nCodOS: int
    cNumOS: Code = ""
    cCodStatus: str = ""
    cDescStatus: str = ""


class OsHeader(OmieModel):
    cCodIntOS: Code = ""
    nCodOS: OmieId = None
    cNumOS: Code = ""
    nCodCli: OmieId = None
    cCodIntCli: Code = ""
    dDtPrevisao: OmieDate = None
    cEtapa: str = ""
    nQtdeParc: int | None = None
    cCodParc: str = ""
    nValorTotal: Money = None
    nValorTotalImpRet: Money = None


class OsAdditionalInfo(OmieModel):
    cCodCateg: str = ""
    nCodCC: OmieId = None
    cDadosAdicNF: str = ""
    cCidPrestServ: str = ""
    cNumPedido: str = ""
    cNumContrato: str = ""
    cNumRecibo: str = ""


class OsItemTaxes(OmieModel):
    """Taxes of one OS item; note the OS names (`nAliqIRRF`, `cRetem*`)."""

    nAliqISS: Money = None
    nBaseISS: Money = None
    nValorISS: Money = None
    cRetemISS: str = ""
    nAliqIRRF: Money = None
    nValorIRRF: Money = None
    cRetemIRRF: str = ""
    nAliqPIS: Money = None
    nValorPIS: Money = None
    cRetemPIS: str = ""
    nAliqCOFINS: Money = None
    nValorCOFINS: Money = None
    cRetemCOFINS: str = ""
    nAliqCSLL: Money = None
    nValorCSLL: Money = None
    cRetemCSLL: str = ""
    nAliqINSS: Money = None
    nValorINSS: Money = None
    cRetemINSS: str = ""
    cUtilizaValorImposto: str = ""
    # IBS/CBS (2026 reform); the reduction names are unconfirmed (omie-api.md §15).
    cCST: str | None = None
    cClassTrib: str | None = None
    nAliqIbsUf: Money = None
    nAliqIbsMun: Money = None
    nAliqCbs: Money = None
    nPercReducaoIbsUf: Money = None
    nPercReducaoIbsMun: Money = None
    nPercReducaoCbs: Money = None


class OsItem(OmieModel):
    nCodServico: OmieId = None
    cCodIntServico: Code = ""
    nSeqItem: int | None = None
    nIdItem: OmieId = None
    cDescServ: str = ""
    nQtde: Money = None
    nValUnit: Money = None
    cTribServ: str = ""
    cCodServMun: str = ""
    cCodServLC116: str = ""
    cRetemISS: str = ""
    impostos: OsItemTaxes = Field(default_factory=OsItemTaxes)


class OsRegistration(OmieModel):
    cCancelada: str = ""
    cFaturada: str = ""
    cAmbiente: str = ""
    dDtInc: OmieDate = None
    cHrInc: OmieTime = None
    dDtAlt: OmieDate = None
    cHrAlt: OmieTime = None
    dDtFat: OmieDate = None
    cHrFat: OmieTime = None
    dDtCanc: OmieDate = None
    cHrCanc: OmieTime = None


class OsRecord(OmieModel):
    """One service order (`ConsultarOS` answer, `osCadastro` item)."""

    Cabecalho: OsHeader = Field(default_factory=OsHeader)
    InformacoesAdicionais: OsAdditionalInfo = Field(default_factory=OsAdditionalInfo)
    ServicosPrestados: list[OsItem] = Field(default_factory=list)
    InfoCadastro: OsRegistration = Field(default_factory=OsRegistration)

    @property
    def nCodOS(self) -> int | None:
        return self.Cabecalho.nCodOS

    @property
    def cCodIntOS(self) -> str:
        return self.Cabecalho.cCodIntOS


class RpsMessage(OmieModel):
    cCodigo: str = ""
    cDescricao: str = ""
    cCorrecao: str = ""
    cSituacao: str = ""
    dData: OmieDate = None
    hHora: OmieTime = None


class RpsNfse(OmieModel):
    """One RPS / NFS-e attempt of an OS (`ListaRpsNfse` item). `cStatusRps`: 001 awaiting send,
    002 sent, 003 processed with error, 004 issued, 005 cancelled. `nRps` and `nNfse` are text in
    Omie's WSDL and may carry leading zeros, which are kept."""

    nLote: OmieId = None
    cStatusLote: str = ""
    cProtocolo: str = ""
    nRps: Code = ""
    cStatusRps: str = ""
    nNfse: Code = ""
    cCodVerif: str = ""
    cCNPJ: str = ""
    cInscrMunicipal: str = ""
    cUrlNfse: str = ""
    cUrlPdfDemo: str = ""
    cUrlPdfDest: str = ""
    cUrlRps: str = ""
    mensagens: list[RpsMessage] = Field(default_factory=list)


class OsStatusDetail(OmieModel):
    """Answer of `StatusOS`: the OS's billing state and its RPS / NFS-e attempts."""

    cCodIntOS: Code = ""
    nCodOS: int
    cNumOS: Code = ""
    cEtapa: str = ""
    cFaturada: str = ""
    cCancelada: str = ""
    cAmbiente: str = ""
    dDtFat: OmieDate = None
    cHrFat: OmieTime = None
    dDtCanc: OmieDate = None
    cHrCanc: OmieTime = None
    nValorTot: Money = None
    cNumRecibo: str = ""
    ListaRpsNfse: list[RpsNfse] = Field(default_factory=list)


class OsActionStatus(OmieModel):
    """Answer of `ValidarOS`, `FaturarOS` and `CancelarOS` (only returned when `cCodStatus` is "0")."""

    cCodIntOS: Code = ""
    nCodOS: int
    cCodStatus: str = ""
    cDescStatus: str = ""


# --- servicos/nfse and servicos/osdocs ------------------------------------------------------


class NfseHeader(OmieModel):
    nNumeroNFSe: str = ""
    cSerieNFSe: str = ""
    nValorNFSe: Money = None
    cStatusNFSe: str = ""
    cCodigoVerifNFSe: str = ""
    nCodNF: OmieId = None
    cAmbienteNFSe: str = ""
    cCidadeEmissor: str = ""
    cCNPJEmissor: str = ""
    cIMEmissor: str = ""
    cCNPJDestinatario: str = ""
    cCPFDestinatario: str = ""
    cIMDestinatario: str = ""
    nCodigoCliente: OmieId = None


class NfseOrder(OmieModel):
    nCodigoOS: OmieId = None
    nNumeroOS: str = ""
    nValorOS: Money = None
    nCodigoContrato: OmieId = None
    cNumeroContrato: str = ""
    cPedidoCliente: str = ""


class NfseRps(OmieModel):
    nNumeroLote: OmieId = None
    nStatusLote: str = ""
    nNumeroRPS: Code = ""
    cStatusRPS: str = ""
    cSerieRPS: str = ""
    cProtocoloRPS: str = ""
    cDataRPS: OmieDate = None


class NfseValues(OmieModel):
    nValorTotalServicos: Money = None
    nValorBaseCalculo: Money = None
    nValorDeducao: Money = None
    cIssRetido: str = ""
    nValorISS: Money = None
    nAliquotaISS: Money = None
    nValorPIS: Money = None
    nValorCOFINS: Money = None
    nValorIR: Money = None
    nValorINSS: Money = None
    nValorCSLL: Money = None
    nValorLiquido: Money = None


class NfseIssue(OmieModel):
    cDataEmissao: OmieDate = None
    cHoraEmissao: OmieTime = None
    cUsuarioEmissao: str = ""


class NfseCancellation(OmieModel):
    cDataCancelamento: OmieDate = None
    cHoraCancelamento: OmieTime = None
    cUsuarioCancelamento: str = ""
    cMotivoCancelamento: str = ""


class NfseItem(OmieModel):
    CodigoLC116: str = ""
    CodigoServico: str = ""
    nQuantidade: Money = None
    nValorUnitario: Money = None
    nAliquotaISS: Money = None
    nValorISS: Money = None
    cRetISS: str = ""
    nAliquotaIR: Money = None
    nValorIR: Money = None
    cRetIR: str = ""
    nAliquotaPIS: Money = None
    nValorPIS: Money = None
    cRetPIS: str = ""
    nAliquotaCOFINS: Money = None
    nValorCOFINS: Money = None
    cRetCOFINS: str = ""
    nAliquotaCSLL: Money = None
    nValorCSLL: Money = None
    cRetCSLL: str = ""
    nAliquotaINSS: Money = None
    nValorINSS: Money = None
    cRetINSS: str = ""
    cDescricao: str = ""


class NfseRecord(OmieModel):
    """One NFS-e (`nfseEncontradas` item of `ListarNFSEs`). `Cabecalho.cStatusNFSe`: F issued,
    C cancelled, N not invoiced (R seen for a rejected RPS)."""

    Cabecalho: NfseHeader = Field(default_factory=NfseHeader)
    OrdemServico: NfseOrder = Field(default_factory=NfseOrder)
    RPS: NfseRps = Field(default_factory=NfseRps)
    Valores: NfseValues = Field(default_factory=NfseValues)
    Emissao: NfseIssue = Field(default_factory=NfseIssue)
    Cancelamento: NfseCancellation = Field(default_factory=NfseCancellation)
    ListaServicos: list[NfseItem] = Field(default_factory=list)


class NfseDocument(OmieModel):
    """Answer of `ObterNFSe`: the document's links and inline XML."""

    cNumOs: str = ""
    cNumNFSe: str = ""
    cSerieNFSe: str = ""
    cCodVerif: str = ""
    cUrlNFSe: str = ""
    cPdfNFSe: str = ""
    cXmlNFSe: str = ""
    cLinkPortal: str = ""
    cCodStatus: str = ""
    cDesStatus: str = ""
