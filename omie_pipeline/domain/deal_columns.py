"""Reading many deal rows at once: the rows that are plainly valid, normalised column by column.

Validating through the `Deal` model costs about 60 microseconds a row, most of a pull of 100,000
deals. Most rows are clean, so here each column is read as a whole with the very functions the
model uses, without the model around them: the client's document, e-mail, phone, state, CEP and
IBGE code once per distinct value (`pandas.factorize`: a client's deals repeat them), dates and
amounts once per cell, and text only checked to be clean already (trimmed, one line, no control
characters), which the model would leave unchanged. A row is taken only when every one of its
fields reads so; any other row (a blank required field, a date or amount refused, text to clean,
a value that is not text) is left to `validate_deal_row`. This module never says why a row is
wrong, only that it is right, so the reasons given per field stay exactly those of the model.

pandas' own string methods and `to_datetime` were tried for the text and the dates: on text
columns they loop in Python too, and with the offsets of a CRM export `to_datetime` falls back
to one value at a time, both slower than the checks here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from omie_pipeline.domain.address import (
    AddressError,
    check_ibge_code,
    ibge_code_matches_state,
    normalise_state,
    normalise_zip,
    phone_parts,
)
from omie_pipeline.domain.deal import (
    CLIENT_COLUMNS,
    DEAL_COLUMNS,
    DEFAULT_MAX_AMOUNT,
    MAX_LENGTHS,
    STORABLE_MAX_AMOUNT,
)
from omie_pipeline.domain.documents import Document, kinds_of_valid, normalise_document
from omie_pipeline.domain.emails import EmailError, parse_emails
from omie_pipeline.domain.money import CENT
from omie_pipeline.domain.text import CONTROL_CHARACTERS
from omie_pipeline.domain.timeutil import UTC

__all__ = ["DistinctReadings", "clean_deal_rows"]

_CONTROL = CONTROL_CHARACTERS.pattern[1:-1]  # the character class's contents
# Text the model would keep as it is: no control character, no surrounding whitespace and, for one
# line, no whitespace but single spaces (`\s` is exactly what `str.strip` drops).
_ONE_LINE = re.compile(rf"[^\s{_CONTROL}]+(?: [^\s{_CONTROL}]+)*")
_FREE_TEXT = re.compile(rf"[^\s{_CONTROL}](?:[^{_CONTROL}]*[^\s{_CONTROL}])?")
_PLAIN_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")
_REQUIRED = frozenset({"deal_id", "status", "updated_at", "amount"})
_ONE_LINE_COLUMNS = (
    "deal_id",
    "status",
    "product_code",
    "legal_name",
    "trade_name",
    "street",
    "number",
    "complement",
    "district",
    "city",
    "municipal_registration",
    "state_registration",
)
_NAMES = DEAL_COLUMNS + CLIENT_COLUMNS
_PICK = itemgetter(*_NAMES)
_REFUSED = object()
"""What a cell reads as when this module does not take it: its row goes to the model."""


class DistinctReadings:
    """What each distinct cell of the columns read once per value (document, e-mail, phone, state, CEP,
    IBGE code) read as, kept from one chunk of a pull to the next: a client's deals repeat them in chunks
    apart (100,000 generated deals hold 32,000 distinct e-mails, where their chunks of 5,000 held 93,000
    between them). A column's readings are dropped when they pass `limit`, so that memory grows with the
    chunk and the clients, not with the source."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._columns: dict[str, dict[Any, Any]] = {}

    def of(self, name: str) -> dict[Any, Any]:
        known = self._columns.setdefault(name, {})
        if len(known) > self.limit:
            known.clear()
        return known


def clean_deal_rows(
    rows: Sequence[Mapping[str, Any]],
    account: str,
    *,
    max_amount: Decimal = DEFAULT_MAX_AMOUNT,
    readings: DistinctReadings | None = None,
) -> list[dict[str, Any] | None]:
    """For each row (canonical column names, as `validate_deal_row` takes them), what
    `Deal.as_row()` gives when the row is a valid deal of `account` that reads cleanly, else None.
    `readings`: what earlier chunks of the same source read (a pull passes one for all its chunks)."""
    if not rows:
        return []
    readings = readings if readings is not None else DistinctReadings()
    maximum = min(max_amount, STORABLE_MAX_AMOUNT)
    values: dict[str, np.ndarray] = {}
    taken = np.ones(len(rows), dtype=bool)
    for name, cells in zip(_NAMES, _columns_of(rows), strict=True):
        if name == "account":
            read = [
                _REFUSED
                if cell is not None and (type(cell) is not str or cell.strip() not in ("", account))
                else account
                for cell in cells
            ]
        elif name in _ONE_LINE_COLUMNS:
            read = _one_line(cells, name)
        elif name == "description":
            read = [_free_text(cell) for cell in cells]
        elif name in ("closed_at", "updated_at"):
            read = [_moment(cell) for cell in cells]
        elif name == "amount":
            read = [_amount(cell, maximum) for cell in cells]
        elif name == "document":
            read = _documents(cells, readings.of(name))
        else:
            read = _per_distinct(cells, _CODED[name], readings.of(name))
        column = np.empty(len(rows), dtype=object)
        column[:] = read
        taken &= np.not_equal(column, _REFUSED)
        if name in _REQUIRED:
            taken &= np.not_equal(column, None)
        values[name] = column
    taken &= _city_in_state(values["city_ibge_code"], values["state"])
    documents = values["document"].tolist()
    values["document"] = np.array([getattr(document, "number", None) for document in documents], dtype=object)
    values["document_kind"] = np.array([getattr(document, "kind", None) for document in documents], dtype=object)
    order = (*_NAMES, "document_kind")
    columns = [values[name].tolist() for name in order]
    return [
        dict(zip(order, row, strict=True)) if take else None
        for take, row in zip(taken.tolist(), zip(*columns, strict=True), strict=True)
    ]


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows' cells column by column; a field a row lacks is None (a source gives them all, so
    they are picked all at once, a row at a time)."""
    try:
        return list(zip(*map(_PICK, rows), strict=True))
    except KeyError:
        return list(zip(*(map(row.get, _NAMES) for row in rows), strict=True))


def _one_line(cells: Sequence[Any], name: str) -> list[Any]:
    limit = MAX_LENGTHS.get(name, 1 << 30)
    read = _all_one_line(cells, limit)
    if read is None:
        clean = _ONE_LINE.fullmatch
        read = [
            cell
            if type(cell) is str and clean(cell) and len(cell) <= limit
            else None
            if cell is None or cell == ""
            else _REFUSED
            for cell in cells
        ]
    if name == "status":  # lower case after the length check, as the model does
        read = [cell.lower() if type(cell) is str else cell for cell in read]
    return read


def _all_one_line(cells: Sequence[Any], limit: int) -> list[Any] | None:
    """The cells as `_one_line` reads them when every one is text, printable, without a leading,
    trailing or doubled space, and within `limit`: checked over the column at once, by str's own
    methods (a regular expression per cell was a fifth of the column reading); None otherwise, to
    be read cell by cell.

    Printable text holds no control character and no whitespace but the space, so such a cell is
    one `_ONE_LINE` reads, or empty. The converse does not hold (a soft hyphen is not printable but
    is kept): such a column is simply read cell by cell."""
    if not cells or set(map(type, cells)) != {str} or not "".join(cells).isprintable():
        return None
    lines = "\n".join(cells)
    if (
        "  " in lines
        or " \n" in lines
        or "\n " in lines
        or lines.startswith(" ")
        or lines.endswith(" ")
        or max(map(len, cells)) > limit
    ):
        return None
    return [cell or None for cell in cells]


def _free_text(cell: Any) -> Any:
    if cell is None or cell == "":
        return None
    return cell if type(cell) is str and _FREE_TEXT.fullmatch(cell) else _REFUSED


def _moment(cell: Any) -> Any:
    """As `parse_iso_datetime` reads it, when it reads; blank is no moment."""
    if type(cell) is not str:
        return None if cell is None else _REFUSED
    try:
        moment = datetime.fromisoformat(cell)
    except ValueError:
        return None if not cell.strip() else _REFUSED
    return moment.astimezone(UTC) if moment.utcoffset() is not None else _REFUSED


def _amount(cell: Any, maximum: Decimal) -> Any:
    """As `to_decimal` reads a plain amount (digits, a dot and at most two decimals), when above
    zero and at most `maximum`, to the cent; blank is no amount."""
    if type(cell) is not str:
        return None if cell is None else _REFUSED
    if not _PLAIN_AMOUNT.fullmatch(cell):
        return None if not cell.strip() else _REFUSED
    amount = Decimal(cell)
    return amount.quantize(CENT) if 0 < amount <= maximum else _REFUSED


def _documents(cells: Sequence[Any], known: dict[Any, Any]) -> list[Any]:
    """As `parse_document` reads each distinct document not in `known` (which gets it), their check digits
    computed all at once."""
    codes, distinct = pd.factorize(np.array(cells, dtype=object), use_na_sentinel=True)
    new = [value for value in distinct if value not in known]
    texts = [CONTROL_CHARACTERS.sub("", value).strip() if type(value) is str else None for value in new]
    numbers = [normalise_document(text) if text else "" for text in texts]
    kinds = kinds_of_valid(numbers)
    known.update(
        zip(
            new,
            [
                None if text == "" else Document(number, kind) if kind else _REFUSED
                for text, number, kind in zip(texts, numbers, kinds, strict=True)
            ],
            strict=True,
        )
    )
    documents = list(map(known.__getitem__, distinct))
    return np.array([*documents, None], dtype=object)[codes].tolist()  # the sentinel -1 picks the last: None


def _per_distinct(cells: Sequence[Any], read: Callable[[str], Any], known: dict[Any, Any]) -> np.ndarray:
    """`read` once per distinct value not in `known` (which gets it); a blank cell is None."""
    codes, distinct = pd.factorize(np.array(cells, dtype=object), use_na_sentinel=True)
    new = [value for value in distinct if value not in known]
    known.update(zip(new, [_read_text(value, read) for value in new], strict=True))
    read_values = list(map(known.__getitem__, distinct))
    return np.array([*read_values, None], dtype=object)[codes]  # the sentinel -1 picks the last: None


def _read_text(value: Any, read: Callable[[str], Any]) -> Any:
    if type(value) is not str:
        return _REFUSED
    text = CONTROL_CHARACTERS.sub("", value).strip()
    return read(text) if text else None


def _refusing(read: Callable[[str], Any], *errors: type[Exception]) -> Callable[[str], Any]:
    def read_or_refuse(text: str) -> Any:
        try:
            return read(text)
        except errors:
            return _REFUSED

    return read_or_refuse


def _phone_digits(text: str) -> str:
    ddd, number = phone_parts(text)
    return ddd + number


_CODED: dict[str, Callable[[str], Any]] = {
    "email": _refusing(lambda text: ",".join(parse_emails(text)), EmailError),
    "phone": _refusing(_phone_digits, AddressError),
    "state": _refusing(normalise_state, AddressError),
    "zip": _refusing(normalise_zip, AddressError),
    "city_ibge_code": _refusing(check_ibge_code, AddressError),
}


def _city_in_state(codes: np.ndarray, states: np.ndarray) -> np.ndarray:
    """The model's rule: an IBGE code and a state, when both are given, name the same state."""
    return np.array(
        [
            not (type(code) is str and type(state) is str) or ibge_code_matches_state(code, state)
            for code, state in zip(codes.tolist(), states.tolist(), strict=True)
        ],
        dtype=bool,
    )
