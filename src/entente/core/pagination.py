"""Cursor pagination shared by every list: stable under inserts, no OFFSET scans.

A cursor is the opaque, URL-safe encoding of the sort key of the last row returned. Lists
are ordered by `(sort_key, id)` so ties never repeat or skip rows between pages.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from entente.core.errors import BadValue

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
    count: int


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadValue(
            "cursor is not one this server issued", field="cursor", value=cursor
        ) from exc
    if not isinstance(values, list) or len(values) != width:
        raise BadValue("cursor is not one this server issued", field="cursor", value=cursor)
    return values


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadValue(f"limit must be between 1 and {MAX_LIMIT}", field="limit", value=limit)
    return limit


class Order(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What the client asked for: a page of `limit` rows after `cursor`."""

    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


# The first page at the largest size: for pickers (select boxes) that list a whole registry.
LARGEST_PAGE = PageRequest(limit=MAX_LIMIT)


def paginate(
    session: Session,
    query: Select[T],
    keys: Sequence[InstrumentedAttribute[Any]],
    request: PageRequest,
    order: Order = Order.ASC,
) -> Page[T]:
    """Run `query` ordered by `keys` (the last one unique), one page after the cursor."""
    limit = check_limit(request.limit)
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    if request.cursor:
        values = decode_cursor(request.cursor, len(keys))
        values = [
            _typed(key, value, request.cursor) for key, value in zip(keys, values, strict=True)
        ]
        query = query.where(_beyond(keys, values, order))
    ordering = [key.desc() if order is Order.DESC else key.asc() for key in keys]
    rows = list(session.scalars(query.order_by(*ordering).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([getattr(rows[-1], key.key) for key in keys])
    return Page(items=rows, next_cursor=next_cursor, count=count)


def _typed(key: InstrumentedAttribute[Any], value: Any, cursor: str) -> Any:
    """A cursor value of its key's type; a forged one is a 422, never a driver error."""
    expected = key.type.python_type
    if expected is datetime and isinstance(value, str):
        with suppress(ValueError):
            value = datetime.fromisoformat(value)
    wrong_type = (
        not isinstance(value, expected)
        or (expected is int and isinstance(value, bool))
        or (isinstance(value, datetime) and value.tzinfo is None)
    )
    # PostgreSQL text cannot hold NUL, so such a value can only come from a forged cursor.
    if wrong_type or (isinstance(value, str) and "\x00" in value):
        raise BadValue("cursor is not one this server issued", field="cursor", value=cursor)
    return value


def _beyond(keys: Sequence[InstrumentedAttribute[Any]], values: list[Any], order: Order) -> Any:
    # Row-value comparison written out, since SQLite and PostgreSQL both accept this form.
    first = keys[0]
    past = first < values[0] if order is Order.DESC else first > values[0]
    if len(keys) == 1:
        return past
    return or_(past, and_(first == values[0], _beyond(keys[1:], values[1:], order)))
