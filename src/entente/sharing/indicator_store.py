"""Storing a batch's new indicators, skipping the values their event already holds.

PostgreSQL: the rows are COPYed into a temporary table (no index to keep up) and moved into
`indicator` by one `INSERT ... SELECT` that leaves out what the event holds already (an
anti-join through the digest index, done by the server) and returns the new ids. The
duplicate probe, the id range and the echo each cost a round trip and Python work of their
own before; now the batch is two statements after the COPY.

SQLite keeps the simpler path: probe the batch's digests, insert the rest, read the ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import FromClause, Table, column, exists, func, insert, select, table
from sqlalchemy.orm import Session

from entente.sharing.indicator_rows import COLUMNS, NewRows
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Indicator
from entente.sharing.queries import digest_chunks

# Where a PostgreSQL batch waits between its COPY and its INSERT ... SELECT, made afresh for
# each batch with the columns (types and byte-wise collations) of `indicator`; and the
# stored indicators holding one of its values, found by one digest-index probe per value.
_INCOMING = "indicator_incoming"
_SAME_VALUES = "indicator_same_values"
_MAKE_TABLES = (
    f"DROP TABLE IF EXISTS pg_temp.{_INCOMING}, pg_temp.{_SAME_VALUES}; "
    f"CREATE TEMPORARY TABLE {_INCOMING} ON COMMIT DROP AS "
    f"SELECT 0 AS position, {', '.join(COLUMNS)} FROM indicator WITH NO DATA; "
    f"CREATE TEMPORARY TABLE {_SAME_VALUES} ON COMMIT DROP AS "
    "SELECT id, event_id, type, value_digest FROM indicator WITH NO DATA"
)
_FIND_SAME_VALUES = (
    f"INSERT INTO {_SAME_VALUES} SELECT DISTINCT held.id, held.event_id, held.type, "
    f"held.value_digest FROM {_INCOMING} AS incoming "
    "JOIN indicator AS held ON held.value_digest = incoming.value_digest; "
    # Counted, so that the planner's estimates of the joins on it are not guesses.
    f"ANALYZE {_SAME_VALUES}"
)
SAME_VALUES = table(
    _SAME_VALUES, column("id"), column("event_id"), column("type"), column("value_digest")
)
"""Other indicators holding a value of the batch just stored (PostgreSQL), for correlation:
the probe of the digest index that finds what the event holds already finds them too."""


@dataclass(frozen=True, slots=True)
class StoredRows:
    """(id, position in the batch) of each row stored, by id; and, where the writer looked
    them up on the way (PostgreSQL), the other indicators holding the batch's values for
    `correlation.correlate` to join (`SAME_VALUES`: until the next `store_rows` or the end
    of the transaction, so correlate each batch right after storing it)."""

    added: list[tuple[int, int]]
    same_values: FromClause | None = None


def store_rows(session: Session, event_id: int, rows: NewRows) -> StoredRows:
    """Insert the rows the event does not hold yet."""
    if not len(rows):
        return StoredRows([])
    if session.get_bind().dialect.name == "postgresql":
        return StoredRows(_store_by_copy(session, event_id, rows), SAME_VALUES)
    return StoredRows(_store_by_insert(session, event_id, rows))


def _store_by_copy(session: Session, event_id: int, rows: NewRows) -> list[tuple[int, int]]:
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(_MAKE_TABLES)
        statement = f"COPY {_INCOMING} (position, {', '.join(COLUMNS)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            copy.write(copy_text(rows))
        cursor.execute(_FIND_SAME_VALUES)
    incoming = table(_INCOMING, column("position"), *(column(name) for name in COLUMNS))
    same = SAME_VALUES.c
    held = exists().where(
        same.event_id == event_id,
        same.value_digest == incoming.c.value_digest,
        same.type == incoming.c.type,
    )
    # Ids follow `position`: PostgreSQL draws the serial after sorting the rows it inserts.
    moved = (
        insert(cast(Table, Indicator.__table__))
        .from_select(
            list(COLUMNS),
            select(*(incoming.c[name] for name in COLUMNS))
            .where(~held)
            .order_by(incoming.c.position),
        )
        .returning(Indicator.id, Indicator.type, Indicator.value_digest)
    )
    positions = {key: position for position, key in enumerate(rows.keys())}
    added = [
        (int(indicator_id), positions[(IndicatorType(kind), digest)])
        for indicator_id, kind, digest in session.execute(moved)
    ]
    return sorted(added)


def _store_by_insert(session: Session, event_id: int, rows: NewRows) -> list[tuple[int, int]]:
    keys = rows.keys()
    held = _held_keys(session, event_id, {digest for _, digest in keys})
    fresh = [position for position, key in enumerate(keys) if key not in held]
    if not fresh:
        return []
    in_event = Indicator.event_id == event_id
    before = session.scalar(select(func.max(Indicator.id)).where(in_event)) or 0
    # Core, not the ORM's bulk insert with RETURNING: that one fetched the new ids row by
    # row (10,000 rows took 15 s on SQLite).
    session.execute(insert(cast(Table, Indicator.__table__)), rows.take(fresh).dicts())
    positions = {keys[position]: position for position in fresh}
    new = session.execute(
        select(Indicator.id, Indicator.type, Indicator.value_digest)
        .where(in_event, Indicator.id > before)
        .order_by(Indicator.id)
    )
    return [(int(indicator_id), positions[(kind, digest)]) for indicator_id, kind, digest in new]


def _held_keys(
    session: Session, event_id: int, digests: set[str]
) -> set[tuple[IndicatorType, str]]:
    """(type, digest) pairs of these values the event already holds, probed through the
    digest index: loading all of a 100,000-indicator event's digests per batch cost more."""
    held: set[tuple[IndicatorType, str]] = set()
    for chunk in digest_chunks(digests):
        found = session.execute(
            select(Indicator.type, Indicator.value_digest).where(
                Indicator.event_id == event_id, Indicator.value_digest.in_(chunk)
            )
        )
        held.update((indicator_type, digest) for indicator_type, digest in found)
    return held


# ---- COPY text ---------------------------------------------------------------------------

_NULL = "\\N"
# COPY's text format: a backslash, tab, newline or carriage return inside a value is escaped.
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: NewRows) -> str:
    """The rows in COPY's text format, with their positions first; built column by column."""
    columns = [[str(position) for position in range(len(rows))]]
    columns.extend(_FORMATS.get(name, _texts)(rows.columns[name]) for name in COLUMNS)
    return "".join(line + "\n" for line in map("\t".join, zip(*columns, strict=True)))


def _texts(values: Sequence[str | None]) -> list[str]:
    # StrEnum members are str: they go in as their values.
    return [_NULL if value is None else value.translate(_ESCAPES) for value in values]


def _plain(values: Sequence[str | None]) -> list[str]:
    """Hex digits and identifiers: nothing to escape."""
    return [_NULL if value is None else value for value in values]


def _numbers(values: Sequence[int]) -> list[str]:
    return [str(value) for value in values]


def _booleans(values: Sequence[bool]) -> list[str]:
    return ["t" if value else "f" for value in values]


def _times(values: Sequence[datetime | None]) -> list[str]:
    # A batch holds few distinct times: most of its rows were made at the same moment.
    memo: dict[datetime, str] = {}
    texts = []
    for value in values:
        if value is None:
            texts.append(_NULL)
            continue
        text = memo.get(value)
        if text is None:
            text = memo[value] = value.isoformat()
        texts.append(text)
    return texts


_FORMATS: dict[str, Callable[[Sequence[Any]], list[str]]] = {
    "uuid": _plain,
    "event_id": _numbers,
    "type": _plain,
    "value_digest": _plain,
    "category": _plain,
    "to_ids": _booleans,
    "tlp": _plain,
    "first_seen": _times,
    "last_seen": _times,
    "created_at": _times,
    "net_low": _plain,
    "net_high": _plain,
    "net_bucket": _plain,
    "base_score": _numbers,
    "decay_from": _times,
    "expires_at": _times,
}
