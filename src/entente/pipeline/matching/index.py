"""The shared indicators a pipeline can detect, loaded once into compact arrays.

Only indicators meant for detection take part: `to_ids` set (MISP's "for intrusion
detection" flag: the owner vouches the value is worth alerting on) and not expired by decay
(`expires_at` null or later than now, see `sharing.decay`). Addresses and networks become
integers (`networks`); names, URLs and hashes stay canonical text in per-type tables
(`values`). Markings are not loaded: what a row's organisation may see is decided after
matching, in SQL, through the access predicate (`recipients`).

Size: an address or network costs about 28 bytes (address, two ids, its share of the
union), a text indicator about 32 bytes plus its text, and the /24 bitmap a fixed 2 MiB: a
million indicators of a typical mix take about 36 MiB (docs/pipeline-matching.md).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Select, String, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import Label

from entente.pipeline.matching.networks import EVENT, INDICATOR, IPv4Networks, IPv6Networks
from entente.pipeline.matching.values import KEY, VALUE_TABLE_SCHEMA, NameTable, UrlTable
from entente.sharing.indicators import IndicatorType
from entente.sharing.indicators.addresses import ADDRESS_TYPES
from entente.sharing.models import Indicator
from entente.sharing.search import active_at

HASH_TYPES = (IndicatorType.MD5, IndicatorType.SHA1, IndicatorType.SHA256)
TEXT_TYPES = (IndicatorType.DOMAIN, IndicatorType.HOSTNAME, IndicatorType.URL, *HASH_TYPES)
DETECTION_TYPES = frozenset(ADDRESS_TYPES | set(TEXT_TYPES))
"""The indicator types pipeline rows are matched against; others are never loaded."""

ROWS_SCHEMA = {
    INDICATOR: pl.Int64,
    EVENT: pl.Int64,
    "type": pl.String,
    "value": pl.String,
    "net_low": pl.String,
    "net_high": pl.String,
}
"""Input of `IndicatorIndex.from_rows`: `value` for text types, the stored address range
(`net_low`/`net_high`, 32 hex digits, see `sharing.indicators.addresses`) for ip and cidr."""

# IPv4 lives at ::ffff:0:0/96 in stored ranges: these 24 hex digits, then 8 of the address.
_IPV4_MAPPED_PREFIX = "00000000000000000000ffff"
_IPV4_SPACE = (_IPV4_MAPPED_PREFIX + "00000000", _IPV4_MAPPED_PREFIX + "ffffffff")
# Rows fetched per round trip when loading: bounds the driver's buffers, not the result.
_FETCH_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class IndicatorIndex:
    """Detection indicators in memory: networks as integers, text values per type."""

    ipv4: IPv4Networks
    ipv6: IPv6Networks
    names: NameTable
    urls: UrlTable
    hashes: dict[IndicatorType, pl.DataFrame]  # md5, sha1, sha256: VALUE_TABLE_SCHEMA
    size: int

    @classmethod
    def from_rows(cls, rows: pl.DataFrame) -> IndicatorIndex:
        """An index of indicator rows shaped as `ROWS_SCHEMA`; types outside
        `DETECTION_TYPES` are skipped. `load` reads the rows; tests pass them directly."""
        rows = rows.select(pl.col(name).cast(dtype) for name, dtype in ROWS_SCHEMA.items())
        rows = rows.filter(pl.col("type").is_in(_names(DETECTION_TYPES)))
        ranges = _address_ranges(rows.filter(pl.col("type").is_in(_names(ADDRESS_TYPES))))
        low, high = pl.col("net_low"), pl.col("net_high")
        is_v4 = low.str.starts_with(_IPV4_MAPPED_PREFIX) & high.str.starts_with(_IPV4_MAPPED_PREFIX)
        # An IPv6 network around all of ::ffff:0:0/96 (::/0, ::/64...) holds every IPv4
        # address as stored, and correlation links them so: it matches IPv4 rows as 0.0.0.0/0.
        covers_v4 = ~is_v4 & (low <= _IPV4_SPACE[0]) & (high >= _IPV4_SPACE[1])
        v4_ranges = pl.concat(
            [
                ranges.filter(is_v4).select(_v4_columns()),
                ranges.filter(covers_v4).select(_whole_v4_columns()),
            ]
        )
        values = {
            indicator_type: rows.filter(pl.col("type") == indicator_type.value)
            .select(pl.col("value").alias(KEY), INDICATOR, EVENT)
            .cast(VALUE_TABLE_SCHEMA)  # type: ignore[arg-type]
            for indicator_type in TEXT_TYPES
        }
        return cls(
            ipv4=IPv4Networks.build(v4_ranges),
            ipv6=IPv6Networks.build(ranges.filter(~is_v4).select(_v6_columns())),
            names=NameTable.build(values[IndicatorType.DOMAIN], values[IndicatorType.HOSTNAME]),
            urls=UrlTable.build(values[IndicatorType.URL]),
            hashes={kind: values[kind] for kind in HASH_TYPES},
            size=rows.height,
        )

    @classmethod
    def load(cls, session: Session, now: datetime) -> IndicatorIndex:
        """The detection indicators active at `now`, read with two set-based queries."""
        usable = (Indicator.to_ids.is_(True), active_at(now))
        addresses = select(
            Indicator.id, Indicator.event_id, _type_text(), Indicator.net_low, Indicator.net_high
        ).where(*usable, Indicator.type.in_(sorted(ADDRESS_TYPES)))
        texts = select(Indicator.id, Indicator.event_id, _type_text(), Indicator.value).where(
            *usable, Indicator.type.in_(TEXT_TYPES)
        )
        frames = [
            _fetch(session, addresses, [INDICATOR, EVENT, "type", "net_low", "net_high"]),
            _fetch(session, texts, [INDICATOR, EVENT, "type", "value"]),
        ]
        return cls.from_rows(pl.concat(frames, how="diagonal_relaxed"))


def _names(types: frozenset[IndicatorType]) -> list[str]:
    return sorted(indicator_type.value for indicator_type in types)


def _type_text() -> Label[str]:
    # The raw stored text: the enum column would build an IndicatorType per row.
    return type_coerce(Indicator.type, String).label("type")


def _fetch(session: Session, query: Select[*tuple[Any, ...]], columns: list[str]) -> pl.DataFrame:
    """Rows of `query` as a DataFrame, never as a Python object per row where avoidable."""
    schema = {name: ROWS_SCHEMA[name] for name in columns}
    session.flush()  # as `execute` would: the caller's pending indicators take part
    if session.get_bind().dialect.name == "postgresql":
        return _copy_out(session, query, schema)
    result = session.execute(query.execution_options(yield_per=_FETCH_ROWS))
    frames = [pl.DataFrame(batch, schema=schema, orient="row") for batch in result.partitions()]
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


def _copy_out(
    session: Session, query: Select[*tuple[Any, ...]], schema: dict[str, type[pl.DataType]]
) -> pl.DataFrame:
    """PostgreSQL: the rows as CSV through `COPY ... TO STDOUT`, parsed by polars. A million
    indicators load about four times faster than as driver tuples (see the docs page)."""
    # COPY takes no bound parameters. Rendering them inline is safe here: they are indicator
    # type names and a timestamp, never text from outside.
    sql = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    driver: Any = session.connection().connection.driver_connection
    buffer = io.BytesIO()
    with driver.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    return pl.read_csv(buffer.getvalue(), has_header=False, schema=schema)


def _address_ranges(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.filter(pl.col("net_low").is_not_null() & pl.col("net_high").is_not_null())


def _hex(column: str, start: int, length: int, dtype: pl.DataType) -> pl.Expr:
    digits = pl.col(column).str.slice(start, length)
    return digits.str.to_integer(base=16, dtype=dtype)  # type: ignore[arg-type]


def _v4_columns() -> list[pl.Expr]:
    return [
        _hex("net_low", 24, 8, pl.UInt32()).alias("low"),
        _hex("net_high", 24, 8, pl.UInt32()).alias("high"),
        pl.col(INDICATOR),
        pl.col(EVENT),
    ]


def _whole_v4_columns() -> list[pl.Expr]:
    return [
        pl.lit(0, dtype=pl.UInt32).alias("low"),
        pl.lit(0xFFFF_FFFF, dtype=pl.UInt32).alias("high"),
        pl.col(INDICATOR),
        pl.col(EVENT),
    ]


def _v6_columns() -> list[pl.Expr]:
    return [
        _hex("net_low", 0, 16, pl.UInt64()).alias("low_hi"),
        _hex("net_low", 16, 16, pl.UInt64()).alias("low_lo"),
        _hex("net_high", 0, 16, pl.UInt64()).alias("high_hi"),
        _hex("net_high", 16, 16, pl.UInt64()).alias("high_lo"),
        pl.col(INDICATOR),
        pl.col(EVENT),
    ]
