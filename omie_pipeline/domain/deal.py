"""The canonical deal, whatever CRM it came from, and the reading of one source row into it.

A row is either a `Deal` or the full list of what is wrong with it: every failing field at once,
each named, with its raw value masked when it is personal data, so that one trip to the CRM fixes
the row. A deal may be valid yet not invoiceable (no address yet): that is `missing_invoice_fields`,
reported later as a deal issue, because the deal itself still belongs in the reconciliation.

Values are normalised on the way in (document upper-cased without punctuation, CEP as 8 digits,
UF upper-cased, phone as DDD + number, times in UTC, amount to the cent), so that every later step
compares like with like.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from omie_pipeline.domain.address import (
    AddressError,
    check_ibge_code,
    ibge_code_matches_state,
    normalise_state,
    normalise_zip,
    phone_parts,
)
from omie_pipeline.domain.documents import (
    Document,
    InvalidDocumentError,
    mask_document,
    parse_document,
)
from omie_pipeline.domain.emails import EmailError, parse_emails
from omie_pipeline.domain.keys import client_integration_code, invoice_idempotency_key
from omie_pipeline.domain.money import CENT, MoneyFormatError, to_decimal
from omie_pipeline.domain.privacy import mask_email, mask_phone, redact_cpfs
from omie_pipeline.domain.text import without_control_characters
from omie_pipeline.domain.timeutil import DatetimeFormatError, parse_iso_datetime
from omie_pipeline.i18n import N_, _, format_money

__all__ = [
    "CANONICAL_COLUMNS",
    "CLIENT_COLUMNS",
    "DEAL_COLUMNS",
    "INVOICE_REQUIRED_FIELDS",
    "Deal",
    "DealClient",
    "DealRowError",
    "DEFAULT_MAX_AMOUNT",
    "STORABLE_MAX_AMOUNT",
    "FieldProblem",
    "client_integration_code",
    "invoice_idempotency_key",
    "mask_raw_value",
    "missing_invoice_fields",
    "parse_deal_row",
    "phone_parts",
    "validate_deal_row",
]

DEAL_COLUMNS = ("deal_id", "account", "status", "closed_at", "updated_at", "amount", "product_code", "description")
CLIENT_COLUMNS = (
    "legal_name",
    "trade_name",
    "document",
    "email",
    "phone",
    "street",
    "number",
    "complement",
    "district",
    "city",
    "state",
    "zip",
    "city_ibge_code",
    "municipal_registration",
    "state_registration",
)
CANONICAL_COLUMNS = DEAL_COLUMNS + CLIENT_COLUMNS

# Without these Omie cannot register the client or issue the note: ValidarOS/FaturarOS refuse a client
# without document, full address or e-mail (omie-api.md §15), so they are checked before any call.
INVOICE_REQUIRED_FIELDS = (
    "legal_name",
    "document",
    "street",
    "number",
    "district",
    "city",
    "state",
    "zip",
    "email",
    "product_code",
)

# Longest value kept per text field; the state store's columns are sized to match.
MAX_LENGTHS = {
    "deal_id": 128,
    "account": 64,
    "status": 64,
    "product_code": 128,
    "legal_name": 200,
    "trade_name": 200,
    "street": 200,
    "number": 40,
    "complement": 200,
    "district": 200,
    "city": 200,
    "municipal_registration": 40,
    "state_registration": 40,
}

# The largest amount one deal may carry unless configured otherwise: a typo of a few extra zeros
# must become an issue, not an NFS-e. The store's money columns hold 14 digits before the comma.
DEFAULT_MAX_AMOUNT = Decimal("10000000.00")
STORABLE_MAX_AMOUNT = Decimal("99999999999999.99")

_WHITESPACE_RUN = re.compile(r"\s+")


def _problem(reason: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(reason, message)


def _as_text(value: Any, field: str) -> str | None:
    """Blank means absent; int is accepted because SQL sources return numeric ids as int."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _problem("bad_type", _("{field} must be text, not {kind}").format(field=field, kind=type(value).__name__))
    text = without_control_characters(str(value)).strip()
    return text or None


def _required(validate: Callable[[Any, ValidationInfo], Any]) -> Callable[[Any, ValidationInfo], Any]:
    """The same reading, with blank (None) refused: a required field names itself when empty."""

    def validate_required(value: Any, info: ValidationInfo) -> Any:
        result = validate(value, info)
        if result is None:
            raise _problem("missing", _("{field} is empty; it is required").format(field=info.field_name))
        return result

    return validate_required


def _text(value: Any, info: ValidationInfo) -> str | None:
    """One line of text: surrounding space dropped, runs of whitespace (stray line breaks) made one space."""
    text = _as_text(value, info.field_name)
    if text is None:
        return None
    text = _WHITESPACE_RUN.sub(" ", text)
    limit = MAX_LENGTHS.get(info.field_name)
    if limit is not None and len(text) > limit:
        raise _problem(
            "too_long",
            _("{field} has {length} characters; at most {limit} are kept").format(
                field=info.field_name, length=len(text), limit=limit
            ),
        )
    return text


def _free_text(value: Any, info: ValidationInfo) -> str | None:
    """Free text such as a description: line breaks are kept, they are printed on the note."""
    return _as_text(value, info.field_name)


def _status(value: Any, info: ValidationInfo) -> str | None:
    text = _text(value, info)
    return text.lower() if text else text


def _datetime(value: Any, info: ValidationInfo) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, (str, datetime)):
        raise _problem("bad_type", _("{field} must be an ISO 8601 text or a datetime").format(field=info.field_name))
    try:
        return parse_iso_datetime(value)
    except DatetimeFormatError as error:
        raise _problem(error.reason, f"{info.field_name}: {error.message}") from None


def _amount(value: Any, info: ValidationInfo) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = to_decimal(value, places=2)
    except MoneyFormatError as error:
        raise _problem(error.reason, f"{info.field_name}: {error.message}") from None
    if amount <= 0:
        raise _problem("not_positive", _("{field} must be more than zero").format(field=info.field_name))
    maximum = (info.context or {}).get("max_amount", DEFAULT_MAX_AMOUNT)
    if amount > maximum:
        raise _problem(
            "above_maximum",
            _(
                "{field} is {amount}, above the largest amount a deal may carry here ({maximum}; "
                "OMIE_PIPELINE_MAX_DEAL_AMOUNT)"
            ).format(field=info.field_name, amount=format_money(amount), maximum=format_money(maximum)),
        )
    return amount.quantize(CENT)


def _document(value: Any, info: ValidationInfo) -> Document | None:
    if isinstance(value, Document):
        return value
    if isinstance(value, int):
        raise _problem(
            "bad_type", _("{field} must be text: as a number it loses its leading zeros").format(field=info.field_name)
        )
    text = _as_text(value, info.field_name)
    if text is None:
        return None
    try:
        return parse_document(text)
    except InvalidDocumentError as error:
        raise _problem(error.reason, f"{info.field_name}: {error.message}") from None


def _email(value: Any, info: ValidationInfo) -> str | None:
    """One address, or several separated by `,` or `;`, each usable (domain.emails); kept comma-separated."""
    text = _as_text(value, info.field_name)
    if text is None:
        return None
    try:
        return ",".join(parse_emails(text))
    except EmailError as error:
        raise _problem(
            "bad_email",
            _("{field}: {problem}; write it like name@example.com.br").format(field=info.field_name, problem=error),
        ) from None


def _address_part(normalise: Callable[[str], str]) -> Callable[[Any, ValidationInfo], str | None]:
    """A validator for an address or contact part: blank is None, AddressError names the field."""

    def validate(value: Any, info: ValidationInfo) -> str | None:
        text = _as_text(value, info.field_name)
        if text is None:
            return None
        try:
            return normalise(text)
        except AddressError as error:
            raise _problem(error.reason, f"{info.field_name}: {error.message}") from None

    return validate


def _phone_digits(text: str) -> str:
    ddd, number = phone_parts(text)
    return ddd + number


RequiredText = Annotated[str, BeforeValidator(_required(_text))]
OptionalText = Annotated[str | None, BeforeValidator(_text)]
FreeText = Annotated[str | None, BeforeValidator(_free_text)]
Status = Annotated[str, BeforeValidator(_required(_status))]
RequiredDatetime = Annotated[datetime, BeforeValidator(_required(_datetime))]
OptionalDatetime = Annotated[datetime | None, BeforeValidator(_datetime)]
Amount = Annotated[Decimal, BeforeValidator(_required(_amount))]
# A plain validator: the parsed Document is the value, pydantic need not re-check the dataclass.
OptionalDocument = Annotated[
    Document | None,
    PlainValidator(_document),
    PlainSerializer(lambda document: document.number if document else None, return_type=str | None),
    WithJsonSchema({"type": ["string", "null"]}),
]
OptionalEmail = Annotated[str | None, BeforeValidator(_email)]
OptionalPhone = Annotated[str | None, BeforeValidator(_address_part(_phone_digits))]
OptionalState = Annotated[str | None, BeforeValidator(_address_part(normalise_state))]
OptionalZip = Annotated[str | None, BeforeValidator(_address_part(normalise_zip))]
OptionalIbgeCode = Annotated[str | None, BeforeValidator(_address_part(check_ibge_code))]


class DealClient(BaseModel):
    """Who the invoice is for, as the CRM knows them. Optional fields are None when blank."""

    model_config = ConfigDict(frozen=True)

    legal_name: OptionalText = None
    trade_name: OptionalText = None
    document: OptionalDocument = None
    email: OptionalEmail = None
    phone: OptionalPhone = None  # DDD + number, digits only: see phone_parts
    street: OptionalText = None
    number: OptionalText = None
    complement: OptionalText = None
    district: OptionalText = None
    city: OptionalText = None
    state: OptionalState = None
    zip: OptionalZip = None
    city_ibge_code: OptionalIbgeCode = None
    municipal_registration: OptionalText = None
    state_registration: OptionalText = None  # inscrição estadual; "ISENTO" when exempt

    @model_validator(mode="after")
    def _city_in_state(self) -> DealClient:
        if self.city_ibge_code and self.state and not ibge_code_matches_state(self.city_ibge_code, self.state):
            raise PydanticCustomError(
                "state_mismatch",
                _("city_ibge_code is a city of a different state than the one in the state field"),
                {"field": "city_ibge_code"},
            )
        return self


class Deal(BaseModel):
    """A CRM deal in canonical form. Times are aware and in UTC; amount is BRL to the cent."""

    model_config = ConfigDict(frozen=True)

    deal_id: RequiredText
    account: RequiredText
    status: Status  # lower-cased, so that "Won" and "won" are the same status
    closed_at: OptionalDatetime = None  # open deals have none
    updated_at: RequiredDatetime
    amount: Amount
    product_code: OptionalText = None
    description: FreeText = None
    client: DealClient

    def as_row(self) -> dict[str, Any]:
        """The flat canonical columns (plus `document_kind`), as Python values for storing."""
        row = {name: getattr(self, name) for name in DEAL_COLUMNS}
        row.update({name: getattr(self.client, name) for name in CLIENT_COLUMNS})
        document = self.client.document
        row["document"] = document.number if document else None
        row["document_kind"] = document.kind if document else None
        return row


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with one field of one row; safe to log and to show (personal data masked)."""

    deal_id: str | None
    field: str
    reason_code: str
    message: str
    raw_value_masked: str | None
    fix: str


class DealRowError(ValueError):
    """A row that is not a valid deal; `problems` lists every failing field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        deal = problems[0].deal_id if problems else None
        fields = ", ".join(problem.field for problem in problems)
        super().__init__(f"deal {deal or '(no deal_id)'}: invalid {fields}")


_RAW_VALUE_LIMIT = 120


def mask_raw_value(field: str, raw: Any) -> str | None:
    """The raw value of a field as it may be shown: personal data masked, long text cut."""
    if raw is None:
        return None
    text = without_control_characters(str(raw))
    if field == "document":
        return mask_document(text)
    if field == "email":
        return mask_email(text)
    if field == "phone":
        return mask_phone(text)
    text = redact_cpfs(text)
    return text if len(text) <= _RAW_VALUE_LIMIT else text[:_RAW_VALUE_LIMIT] + "…"


def _fix_for(field: str, reason: str) -> str:
    if reason == "wrong_account":
        return _("check the deals source: this row belongs to another Omie account")
    if reason == "state_mismatch":
        return _("correct the city's IBGE code or the state in the CRM")
    if reason == "above_maximum":
        return _(
            "correct the amount in the CRM; if the deal really is this large, raise OMIE_PIPELINE_MAX_DEAL_AMOUNT; "
            "the deal is retried on the next run"
        )
    return _("correct {field} in the CRM; the deal is retried on the next run").format(field=field)


def validate_deal_row(
    row: Mapping[str, Any], account: str, *, max_amount: Decimal = DEFAULT_MAX_AMOUNT
) -> Deal | list[FieldProblem]:
    """Read one flattened source row (canonical column names) into a Deal for `account`.

    An amount above `max_amount` is a problem of the row (`above_maximum`), never an invoice.

    Values are text as in a CSV; SQL sources may also pass int, Decimal and aware datetime. A blank
    `account` column means the account being synced; a different one is a problem, since a row of
    another company must never be invoiced here. Columns not in CANONICAL_COLUMNS are ignored.
    """
    deal_id = _as_text_or_none(row.get("deal_id"))
    problems: list[FieldProblem] = []
    row_account = _as_text_or_none(row.get("account"))
    if row_account is not None and row_account != account:
        problems.append(
            FieldProblem(
                deal_id=deal_id,
                field="account",
                reason_code="wrong_account",
                message=_("account is not the account being synced ({account})").format(account=account),
                raw_value_masked=mask_raw_value("account", row_account),
                fix=_fix_for("account", "wrong_account"),
            )
        )
    data: dict[str, Any] = {name: row.get(name) for name in DEAL_COLUMNS}
    data["account"] = account
    data["client"] = {name: row.get(name) for name in CLIENT_COLUMNS}
    try:
        deal = Deal.model_validate(data, context={"max_amount": min(max_amount, STORABLE_MAX_AMOUNT)})
    except ValidationError as error:
        problems.extend(_problems_from(error, row, deal_id))
        return problems
    return problems or deal


def parse_deal_row(row: Mapping[str, Any], account: str) -> Deal:
    """As validate_deal_row, raising DealRowError with every problem instead of returning them."""
    result = validate_deal_row(row, account)
    if isinstance(result, Deal):
        return result
    raise DealRowError(result)


def _as_text_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# pydantic's own checks, in our words: its messages are English only. The reason code stays
# pydantic's error type. Our validators raise every error a row normally meets; these are the
# ones the model itself adds (a value of a type no validator expects, a part of the row missing).
_BUILT_IN_MESSAGES = {
    "missing": N_("{field} is missing; it is required"),
    "string_type": N_("{field} must be text"),
    "decimal_type": N_("{field} must be a number"),
    "decimal_parsing": N_("{field} is not a number"),
    "datetime_type": N_("{field} must be a date and time"),
    "datetime_parsing": N_("{field} is not a date and time"),
    "model_type": N_("{field} must be a group of fields, not a single value"),
}
_BUILT_IN_FALLBACK = N_("{field} holds a value that cannot be read")


def _message_of(detail: Mapping[str, Any], field: str) -> str:
    """Our validators' message (already in the reader's language, naming the field), or ours for
    an error pydantic raised itself: those, and only those, carry a documentation `url`."""
    if "url" in detail:
        return _(_BUILT_IN_MESSAGES.get(detail["type"], _BUILT_IN_FALLBACK)).format(field=field)
    message = detail["msg"]
    return message if field in message else f"{field}: {message}"


def _problems_from(error: ValidationError, row: Mapping[str, Any], deal_id: str | None) -> list[FieldProblem]:
    problems = []
    for detail in error.errors():
        field = (detail.get("ctx") or {}).get("field") or _field_of(detail["loc"])
        problems.append(
            FieldProblem(
                deal_id=deal_id,
                field=field,
                reason_code=detail["type"],
                message=_message_of(detail, field),
                raw_value_masked=mask_raw_value(field, row.get(field)),
                fix=_fix_for(field, detail["type"]),
            )
        )
    return problems


def _field_of(location: tuple[int | str, ...]) -> str:
    names = [part for part in location if isinstance(part, str)]
    return names[-1] if names else "row"


def missing_invoice_fields(deal: Deal) -> list[str]:
    """The canonical names of the fields a deal still needs before it can be invoiced, in order."""
    return [name for name in INVOICE_REQUIRED_FIELDS if _value_of(deal, name) is None]


def _value_of(deal: Deal, name: str) -> Any:
    return getattr(deal.client, name) if name in CLIENT_COLUMNS else getattr(deal, name)
