"""`OmieClient`: the typed Omie calls the pipeline uses, on top of `OmieConnection.call`.

Listings are lazy iterators that fetch one page at a time, in each method's page size (`page_sizes`,
over `paging.PAGE_SIZES`), up to the last page. Lookups raise NotFoundError when Omie has nothing,
except `find_client_by_document`, whose answer "none" is a normal outcome. Writes return Omie's
status answer and raise RefusedError (or a more precise error) when its `cCodStatus` is not "0".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.omie import paging
from omie_pipeline.omie.connection import OmieConnection
from omie_pipeline.omie.models import (
    ClientInput,
    ClientRecord,
    ClientStatus,
    CompanyRecord,
    InvalidRecord,
    NfseDocument,
    NfseRecord,
    OsActionStatus,
    OsRecord,
    OsStatus,
    OsStatusDetail,
    ServiceRecord,
    omie_date,
)
from omie_pipeline.omie.paging import PREFIXED_PAGES, SNAKE_PAGES, PageTags, walk_pages

CLIENTS = "geral/clientes/"
COMPANIES = "geral/empresas/"
SERVICES = "servicos/servico/"
ORDERS = "servicos/os/"
ORDER_BILLING = "servicos/osp/"
NFSE = "servicos/nfse/"
DOCUMENTS = "servicos/osdocs/"

ModelT = TypeVar("ModelT", bound=BaseModel)


class OmieClient(OmieConnection):
    """Typed access to Omie for the pipeline; see `OmieConnection` for pacing, retries and errors.

    `page_sizes` sets the page size of single listings by Omie method name (e.g. `{"ListarOS": 150}`)
    over `paging.PAGE_SIZES`. A listing's `page_size` argument may ask smaller pages, never larger:
    a larger one is held to the method's size, since Omie may refuse it.
    """

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: str,
        *,
        page_sizes: Mapping[str, int] | None = None,
        **settings: Any,
    ) -> None:
        self.page_sizes = paging.page_sizes(page_sizes)
        super().__init__(base_url, app_key, app_secret, **settings)

    def page_size(self, method: str, asked: int | None = None) -> int:
        """The page size to ask `method` for: its setting, or `asked` when that is smaller."""
        size = self.page_sizes[method]
        return size if asked is None else min(size, asked)

    # --- clients -----------------------------------------------------------------------------

    def list_clients(
        self, changed_since: date | datetime | None = None, page_size: int | None = None
    ) -> Iterator[ClientRecord]:
        """Every client, or those created or changed since `changed_since` (a datetime: that moment)."""
        param: dict[str, Any] = {"apenas_importado_api": "N"}
        param.update(_since(changed_since, "filtrar_por_data_de", "filtrar_por_hora_de"))
        for record in self._pages(CLIENTS, "ListarClientes", param, SNAKE_PAGES, "clientes_cadastro", page_size):
            yield ClientRecord.model_validate(record)

    def find_client_by_document(self, document: str) -> ClientRecord | None:
        """The client holding this CNPJ/CPF (typed in any punctuation), or None."""
        wanted = normalise_document(document)
        if not wanted:
            raise ValueError("document is empty")
        param = {"clientesFiltro": {"cnpj_cpf": wanted}, "apenas_importado_api": "N"}
        for record in self._pages(CLIENTS, "ListarClientes", param, SNAKE_PAGES, "clientes_cadastro", 50):
            if normalise_document(str(record.get("cnpj_cpf") or "")) == wanted:
                return ClientRecord.model_validate(record)
        return None

    def get_client(
        self, *, codigo_cliente_omie: int | None = None, codigo_cliente_integracao: str | None = None
    ) -> ClientRecord:
        """One client by Omie id or integration code (`ConsultarCliente`)."""
        key = _one_key(codigo_cliente_omie=codigo_cliente_omie, codigo_cliente_integracao=codigo_cliente_integracao)
        return ClientRecord.model_validate(self.call(CLIENTS, "ConsultarCliente", key))

    def include_client(self, client: ClientInput | Mapping[str, Any]) -> ClientStatus:
        """Create a client (`IncluirCliente`); AlreadyExistsError carries the existing id."""
        return ClientStatus.model_validate(self.call(CLIENTS, "IncluirCliente", _client_param(client)))

    def alter_client(self, client: ClientInput | Mapping[str, Any]) -> ClientStatus:
        """Change a client found by `codigo_cliente_omie` or `codigo_cliente_integracao` (`AlterarCliente`)."""
        return ClientStatus.model_validate(self.call(CLIENTS, "AlterarCliente", _client_param(client)))

    def upsert_client_by_document(self, client: ClientInput | Mapping[str, Any]) -> ClientStatus:
        """Create the client, or change the one holding its `cnpj_cpf` (`UpsertClienteCpfCnpj`)."""
        param = _client_param(client)
        if not str(param.get("cnpj_cpf") or "").strip():
            raise ValueError("upsert_client_by_document needs cnpj_cpf")
        return ClientStatus.model_validate(self.call(CLIENTS, "UpsertClienteCpfCnpj", param))

    # --- companies ---------------------------------------------------------------------------

    def list_companies(self, page_size: int | None = None) -> Iterator[CompanyRecord]:
        """The companies of the app key (usually one)."""
        for record in self._pages(COMPANIES, "ListarEmpresas", {}, SNAKE_PAGES, "empresas_cadastro", page_size):
            yield CompanyRecord.model_validate(record)

    def get_company(self, codigo_empresa: int) -> CompanyRecord:
        return CompanyRecord.model_validate(
            self.call(COMPANIES, "ConsultarEmpresa", {"codigo_empresa": codigo_empresa})
        )

    # --- service catalog ---------------------------------------------------------------------

    def list_services(
        self, changed_since: date | datetime | None = None, page_size: int | None = None
    ) -> Iterator[ServiceRecord]:
        """Every catalog service, or those changed since `changed_since`."""
        param: dict[str, Any] = {"cExibirProdutos": "N"}
        param.update(_since(changed_since, "dAlteracaoInicial", "hAlteracaoInicial"))
        for record in self._pages(SERVICES, "ListarCadastroServico", param, PREFIXED_PAGES, "cadastros", page_size):
            yield ServiceRecord.model_validate(record)

    def get_service(self, *, nCodServ: int | None = None, cCodIntServ: str | None = None) -> ServiceRecord:
        key = _one_key(nCodServ=nCodServ, cCodIntServ=cCodIntServ)
        return ServiceRecord.model_validate(self.call(SERVICES, "ConsultarCadastroServico", key))

    # --- service orders ----------------------------------------------------------------------

    def include_os(self, order: BaseModel | Mapping[str, Any]) -> OsStatus:
        """Create an OS (`IncluirOS`). Its `Cabecalho.cCodIntOS` is the idempotency key: on
        OutcomeUnknownError look it up with `get_os(cCodIntOS=...)` before sending again."""
        param = order.model_dump(exclude_none=True, by_alias=True) if isinstance(order, BaseModel) else dict(order)
        return OsStatus.model_validate(self.call(ORDERS, "IncluirOS", param))

    def alter_os(self, order: BaseModel | Mapping[str, Any]) -> OsStatus:
        """Correct an OS (`AlterarOS`) named by `Cabecalho.nCodOS` or `cCodIntOS`; every item sent
        names its `nSeqItem`. Omie accepts it before billing, or after the prefeitura refused the
        RPS; the same correction sent twice leaves the same OS."""
        param = order.model_dump(exclude_none=True, by_alias=True) if isinstance(order, BaseModel) else dict(order)
        return OsStatus.model_validate(self.call(ORDERS, "AlterarOS", param))

    def get_os(self, *, cCodIntOS: str | None = None, nCodOS: int | None = None, cNumOS: str | None = None) -> OsRecord:
        """One OS by integration code, Omie id or visible number (`ConsultarOS`)."""
        key = _one_key(cCodIntOS=cCodIntOS, nCodOS=nCodOS, cNumOS=cNumOS)
        return OsRecord.model_validate(self.call(ORDERS, "ConsultarOS", key))

    def os_status(
        self,
        *,
        nCodOS: int | None = None,
        cCodIntOS: str | None = None,
        with_messages: bool = True,
        documents: bool = False,
        fresh: bool = False,
    ) -> OsStatusDetail:
        """Billing state and RPS / NFS-e attempts of one OS (`StatusOS`); with `documents`, also
        the recipient's PDF link (`lPdfDest`, answered as `cUrlPdfDest`).

        Within 60 s of the same question the answer comes from memory; `fresh` waits for a new one.
        """
        param: dict[str, Any] = _one_key(nCodOS=nCodOS, cCodIntOS=cCodIntOS)
        param["lMsg"] = with_messages
        if documents:
            param["lPdfDest"] = True
        return OsStatusDetail.model_validate(self.call(ORDERS, "StatusOS", param, fresh=fresh))

    def list_os(
        self,
        changed_since: date | datetime | None = None,
        *,
        status: str | None = None,
        invoiced_from: date | None = None,
        invoiced_to: date | None = None,
        integration_codes: Sequence[str] = (),
        os_ids: Sequence[int] = (),
        page_size: int | None = None,
        on_invalid: Callable[[InvalidRecord], None] | None = None,
    ) -> Iterator[OsRecord]:
        """Service orders, optionally created or changed since a day, by billing status
        (`status`: "F" invoiced, "N" not invoiced, "C" cancelled), by invoicing date, or only
        those with the given `cCodIntOS` / `nCodOS` (`filtrar_por_codigo`: many look-ups, one call).

        ListarOS filters by date only (omie-api.md §8 has no hour filter for it): a datetime
        `changed_since` lists from its São Paulo day, so the caller gets the whole day again and
        must apply what it reads idempotently. With `on_invalid`, a record that cannot be read is
        handed to it and the listing goes on; without, its ValidationError stops the listing."""
        param: dict[str, Any] = {}
        if changed_since is not None:
            day = to_sao_paulo(changed_since).date() if isinstance(changed_since, datetime) else changed_since
            param["filtrar_por_data_de"] = omie_date(day)
        codes = [{"cCodIntOS": code} for code in integration_codes] + [{"nCodOS": int(n)} for n in os_ids]
        if codes:
            param["filtrar_por_codigo"] = codes
        if status is not None:
            if status not in ("F", "N", "C"):
                raise ValueError(f"status must be F, N or C; got {status!r}")
            param["filtrar_por_status"] = status
        if invoiced_from is not None:
            param["filtrar_por_data_faturamento_de"] = omie_date(invoiced_from)
        if invoiced_to is not None:
            param["filtrar_por_data_faturamento_ate"] = omie_date(invoiced_to)
        for record in self._pages(ORDERS, "ListarOS", param, SNAKE_PAGES, "osCadastro", page_size):
            order = _read(OsRecord, record, on_invalid, "ListarOS", lambda record=record: f"OS {_os_id(record)}")
            if order is not None:
                yield order

    # --- invoicing ---------------------------------------------------------------------------

    def validate_os(self, *, nCodOS: int | None = None, cCodIntOS: str | None = None) -> OsActionStatus:
        """Whether the OS can be invoiced (`ValidarOS`); RefusedError carries Omie's reason."""
        key = _one_key(nCodOS=nCodOS, cCodIntOS=cCodIntOS)
        return OsActionStatus.model_validate(self.call(ORDER_BILLING, "ValidarOS", key))

    def invoice_os(self, *, nCodOS: int | None = None, cCodIntOS: str | None = None) -> OsActionStatus:
        """Invoice the OS (`FaturarOS`): Omie sends the RPS; the NFS-e comes later (poll `os_status`)."""
        key = _one_key(nCodOS=nCodOS, cCodIntOS=cCodIntOS)
        return OsActionStatus.model_validate(self.call(ORDER_BILLING, "FaturarOS", key))

    def cancel_os(
        self, *, nCodOS: int | None = None, cCodIntOS: str | None = None, cancel_nfse: bool = True
    ) -> OsActionStatus:
        """Cancel the OS's invoicing (`CancelarOS`); with `cancel_nfse` the NFS-e at the prefeitura too."""
        param: dict[str, Any] = _one_key(nCodOS=nCodOS, cCodIntOS=cCodIntOS)
        param["cCancelarNfse"] = "S" if cancel_nfse else "N"
        return OsActionStatus.model_validate(self.call(ORDER_BILLING, "CancelarOS", param))

    # --- NFS-e -------------------------------------------------------------------------------

    def list_nfse(
        self,
        issued_from: date,
        issued_to: date,
        *,
        nCodigoOS: int | None = None,
        status: str | None = None,
        page_size: int | None = None,
        on_invalid: Callable[[InvalidRecord], None] | None = None,
    ) -> Iterator[NfseRecord]:
        """NFS-e issued between two dates (inclusive), optionally of one OS or in one
        `cStatusNFSe` (F issued, C cancelled, N not invoiced); `on_invalid` as in `list_os`."""
        if issued_to < issued_from:
            raise ValueError(f"issued_to {issued_to} is before issued_from {issued_from}")
        param: dict[str, Any] = {"dEmiInicial": omie_date(issued_from), "dEmiFinal": omie_date(issued_to)}
        if nCodigoOS is not None:
            param["nCodigoOS"] = nCodigoOS
        if status is not None:
            param["cStatusNFSe"] = status
        for record in self._pages(NFSE, "ListarNFSEs", param, PREFIXED_PAGES, "nfseEncontradas", page_size):
            note = _read(NfseRecord, record, on_invalid, "ListarNFSEs", lambda record=record: _nfse_id(record))
            if note is not None:
                yield note

    def get_nfse_document(self, nIdNf: int) -> NfseDocument:
        """Links, PDF and XML of one NFS-e (`ObterNFSe`)."""
        return NfseDocument.model_validate(self.call(DOCUMENTS, "ObterNFSe", {"nIdNf": nIdNf}))

    # --- helpers -----------------------------------------------------------------------------

    def _pages(
        self, path: str, method: str, param: dict[str, Any], tags: PageTags, records_field: str, page_size: int | None
    ) -> Iterator[dict[str, Any]]:
        return walk_pages(
            lambda page_param: self.call(path, method, page_param),
            param,
            tags,
            records_field,
            self.page_size(method, page_size),
        )


def _read(
    model: type[ModelT],
    record: dict[str, Any],
    on_invalid: Callable[[InvalidRecord], None] | None,
    method: str,
    record_id: Callable[[], str],
) -> ModelT | None:
    """The record as `model`; None (after telling `on_invalid`) when it cannot be read."""
    try:
        return model.model_validate(record)
    except ValidationError as error:
        if on_invalid is None:
            raise
        on_invalid(InvalidRecord.of(method, record_id(), error))
        return None


def _os_id(record: Mapping[str, Any]) -> str:
    header = record.get("Cabecalho") if isinstance(record.get("Cabecalho"), Mapping) else {}
    return str(header.get("nCodOS") or header.get("cCodIntOS") or "?")


def _nfse_id(record: Mapping[str, Any]) -> str:
    header = record.get("Cabecalho") if isinstance(record.get("Cabecalho"), Mapping) else {}
    order = record.get("OrdemServico") if isinstance(record.get("OrdemServico"), Mapping) else {}
    return f"NFS-e nCodNF {header.get('nCodNF') or '?'} of OS {order.get('nCodigoOS') or '?'}"


def _one_key(**candidates: Any) -> dict[str, Any]:
    """Exactly one of the keyword arguments, as Omie's key object."""
    given = {name: value for name, value in candidates.items() if value not in (None, "")}
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(candidates)}; got {', '.join(given) or 'none'}")
    return given


def _client_param(client: ClientInput | Mapping[str, Any]) -> dict[str, Any]:
    return client.to_param() if isinstance(client, ClientInput) else dict(client)


def _since(moment: date | datetime | None, date_tag: str, hour_tag: str) -> dict[str, str]:
    """A "since" filter: the date, plus the hour when a (timezone-aware) datetime is given."""
    if moment is None:
        return {}
    if isinstance(moment, datetime):
        local = to_sao_paulo(moment)
        return {date_tag: omie_date(local.date()), hour_tag: local.strftime("%H:%M:%S")}
    return {date_tag: omie_date(moment)}
