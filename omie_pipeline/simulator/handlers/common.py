"""Pieces shared by the call handlers: required tags, S/N flags, paging and change-date windows."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, time
from typing import Any, TypeVar

from omie_pipeline.simulator import clock, errors
from omie_pipeline.simulator.money import int_field

T = TypeVar("T")


def present(block: dict[str, Any], tag: str) -> bool:
    value = block.get(tag)
    return value not in (None, "", 0) and not (isinstance(value, str) and not value.strip())


def require(block: dict[str, Any], *tags: str) -> None:
    """Each tag must be filled."""
    for tag in tags:
        if not present(block, tag):
            raise errors.missing_tag(tag)


def require_one_of(block: dict[str, Any], *tags: str) -> str:
    """At least one of the alternative tags must be filled; returns the first that is."""
    for tag in tags:
        if present(block, tag):
            return tag
    raise errors.missing_tag(*tags)


def flag(block: dict[str, Any], tag: str, default: str = "N") -> bool:
    value = str(block.get(tag) or default).strip().upper()
    if value not in ("S", "N"):
        raise errors.invalid_value(tag, block.get(tag), "informe S ou N")
    return value == "S"


def block_of(param: dict[str, Any], tag: str) -> dict[str, Any]:
    value = param.get(tag) or {}
    if not isinstance(value, dict):
        raise errors.invalid_value(tag, value, "objeto esperado")
    return value


def list_of(param: dict[str, Any], tag: str) -> list[Any]:
    value = param.get(tag) or []
    if not isinstance(value, list):
        raise errors.invalid_value(tag, value, "lista esperada")
    return value


def paging(param: dict[str, Any], page_tag: str, size_tag: str, default_size: int, max_size: int) -> tuple[int, int]:
    page = int_field(param, page_tag, 1)
    size = int_field(param, size_tag, default_size)
    if page < 1:
        raise errors.invalid_value(page_tag, param.get(page_tag), "a página deve ser maior que zero")
    if size < 1:
        raise errors.invalid_value(size_tag, param.get(size_tag), "informe ao menos 1 registro por página")
    if size > max_size:
        raise errors.page_size_too_large(size_tag, size, max_size)
    return page, size


def page_of(items: Sequence[T], page: int, size: int) -> tuple[list[T], int]:
    """The items of one 1-based page and the total number of pages."""
    total_pages = math.ceil(len(items) / size)
    start = (page - 1) * size
    return list(items[start : start + size]), total_pages


def page_or_fault(items: Sequence[T], page: int, size: int) -> tuple[list[T], int]:
    """As `page_of`, but an empty page is Omie's 5113 fault (the usual end-of-list answer)."""
    chosen, total_pages = page_of(items, page, size)
    if not chosen:
        raise errors.page_past_end(page)
    return chosen, total_pages


def snake_listing(
    ctx,
    call: str,
    param: dict[str, Any],
    selected: Sequence[T],
    records_tag: str,
    render: Callable[[T], Any] = lambda item: item,
) -> dict[str, Any]:
    """One page of a geral/* or servicos/os listing in Omie's snake-case paging envelope
    (`pagina`, `total_de_paginas`, `registros`, `total_de_registros`), past the end a 5113 fault;
    a page larger than `call`'s maximum is refused."""
    page, size = paging(param, "pagina", "registros_por_pagina", 50, ctx.config.max_page_size(call))
    chosen, total_pages = page_or_fault(selected, page, size)
    return {
        "pagina": page,
        "total_de_paginas": total_pages,
        "registros": len(chosen),
        "total_de_registros": len(selected),
        records_tag: [render(item) for item in chosen],
    }


def date_param(block: dict[str, Any], tag: str) -> datetime | None:
    text = block.get(tag)
    if text in (None, ""):
        return None
    try:
        return datetime.combine(clock.parse_omie_date(str(text)), time())
    except ValueError:
        raise errors.invalid_value(tag, text, "data no formato dd/mm/aaaa") from None


def time_param(block: dict[str, Any], tag: str) -> time | None:
    text = block.get(tag)
    if text in (None, ""):
        return None
    try:
        return clock.parse_omie_time(str(text))
    except ValueError:
        raise errors.invalid_value(tag, text, "hora no formato hh:mm:ss") from None


def moment_range(
    block: dict[str, Any], date_from: str, date_to: str, hour_from: str, hour_to: str
) -> tuple[datetime | None, datetime | None]:
    """(from, to) local wall-clock bounds, inclusive; a missing hour means the whole day."""
    start_day, end_day = date_param(block, date_from), date_param(block, date_to)
    start_hour, end_hour = time_param(block, hour_from), time_param(block, hour_to)
    start = datetime.combine(start_day.date(), start_hour or time.min) if start_day else None
    end = datetime.combine(end_day.date(), end_hour or time(23, 59, 59)) if end_day else None
    return start, end


def within(moment: datetime, start: datetime | None, end: datetime | None) -> bool:
    """`moment` is local wall-clock time at second resolution, as Omie stores it."""
    return (start is None or moment >= start) and (end is None or moment <= end)


def stored_moment(day: str, hour: str) -> datetime:
    return datetime.combine(clock.parse_omie_date(day), clock.parse_omie_time(hour or "00:00:00"))


def local(moment: datetime) -> datetime:
    """An aware instant as São Paulo wall-clock time truncated to the second (Omie's resolution)."""
    return moment.astimezone(clock.SAO_PAULO).replace(tzinfo=None, microsecond=0)


def change_window(param: dict[str, Any], prefix: str = "filtrar_por") -> Callable[[datetime, datetime], bool] | None:
    """Omie's `filtrar_por_data_de/_ate` (+ `_hora_`) with `filtrar_apenas_inclusao/_alteracao`,
    as a test on (created, changed) wall-clock moments; None when the call gives no dates.

    Only inclusion: the creation moment must fall in the range. Only alteration: the last change
    (set on creation too, so new records match). Neither: either moment.
    """
    start, end = moment_range(
        param, f"{prefix}_data_de", f"{prefix}_data_ate", f"{prefix}_hora_de", f"{prefix}_hora_ate"
    )
    if start is None and end is None:
        return None
    if flag(param, "filtrar_apenas_inclusao"):
        return lambda created, changed: within(created, start, end)
    if flag(param, "filtrar_apenas_alteracao"):
        return lambda created, changed: within(changed, start, end)
    return lambda created, changed: within(created, start, end) or within(changed, start, end)
