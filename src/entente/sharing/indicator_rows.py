"""The rows a batch of new indicators becomes: validated, canonical, de-duplicated, column-wise.

`add_indicators` checks and canonicalises each submitted indicator (that part is per value:
each type has its own rules), then everything else is done per column: the digests, the
address ranges, the decay expiries (a handful of distinct ones per batch), the identifiers.
The columns go to the database as they are (`indicator_store`) and make the echoed
indicators without reading them back.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from entente.core.errors import AppError, BadValue
from entente.sharing import decay
from entente.sharing.indicators import IndicatorType, canonicalise
from entente.sharing.indicators.addresses import address_range
from entente.sharing.models import Event
from entente.sharing.schemas import IndicatorCreate, IndicatorRejection
from entente.vocabulary.markings import TLP

# The columns a new indicator row fills, in the order they are written.
COLUMNS = (
    "uuid",
    "event_id",
    "type",
    "value",
    "value_digest",
    "category",
    "to_ids",
    "comment",
    "tlp",
    "first_seen",
    "last_seen",
    "created_at",
    "net_low",
    "net_high",
    "net_bucket",
    "warning_lists",
    "base_score",
    "decay_from",
    "expires_at",
)


# The columns that differ from row to row, in the order `build_rows` collects them.
_VARYING = (
    "type",
    "value",
    "value_digest",
    "category",
    "to_ids",
    "comment",
    "tlp",
    "first_seen",
    "last_seen",
    "net_low",
    "net_high",
    "net_bucket",
    "decay_from",
    "expires_at",
)


def value_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(slots=True)
class NewRows:
    """New indicators of one batch, one list per column of `COLUMNS`, in submission order."""

    columns: dict[str, list[Any]] = field(default_factory=lambda: {name: [] for name in COLUMNS})

    def __len__(self) -> int:
        return len(self.columns["value"])

    def keys(self) -> list[tuple[IndicatorType, str]]:
        """(type, digest) of each row: what makes an indicator a duplicate within its event."""
        return list(zip(self.columns["type"], self.columns["value_digest"], strict=True))

    def take(self, positions: Sequence[int]) -> NewRows:
        """The rows at these positions, in that order."""
        columns = self.columns.items()
        return NewRows({name: [values[i] for i in positions] for name, values in columns})

    def dicts(self) -> list[dict[str, Any]]:
        names = list(self.columns)
        rows = zip(*self.columns.values(), strict=True)
        return [dict(zip(names, row, strict=True)) for row in rows]


@dataclass(slots=True)
class BuiltBatch:
    rows: NewRows
    rejected: list[IndicatorRejection]


def build_rows(
    event: Event, items: Sequence[IndicatorCreate], now: datetime, base: int
) -> BuiltBatch:
    """Each valid indicator once (the first of equal ones), each invalid one as a rejection."""
    looser = frozenset(tlp for tlp in TLP if not tlp.is_stricter_or_equal(event.tlp))
    expiries: dict[tuple[IndicatorType, datetime], datetime | None] = {}
    seen: set[tuple[IndicatorType, str]] = set()
    varying: list[tuple[Any, ...]] = []
    rejected: list[IndicatorRejection] = []
    for index, item in enumerate(items):
        try:
            value, tlp, decay_from, addresses = _checked(item, event, looser, now)
        except AppError as exc:
            rejected.append(_rejection(index, exc, item))
            continue
        digest = value_digest(value)
        if (item.type, digest) in seen:
            continue
        seen.add((item.type, digest))
        expiry_key = (item.type, decay_from)
        if expiry_key not in expiries:  # a handful per batch: most rows decay from now
            expiries[expiry_key] = decay.expiry(item.type, base, decay_from)
        varying.append(
            (
                item.type,
                value,
                digest,
                item.category or item.type.default_category,
                item.to_ids,
                item.comment,
                tlp,
                _utc(item.first_seen),
                _utc(item.last_seen),
                *(addresses or _NO_ADDRESSES),
                decay_from,
                expiries[expiry_key],
            )
        )
    return BuiltBatch(_columns(varying, event.id, now, base), rejected)


_NO_ADDRESSES = (None, None, None)


def _checked(
    item: IndicatorCreate, event: Event, looser: frozenset[TLP], now: datetime
) -> tuple[str, TLP, datetime, tuple[str, str, str | None] | None]:
    """Canonical value, TLP, decay start and address range, or the first reason it is invalid."""
    value = canonicalise(item.type, item.value)
    tlp = item.tlp or event.tlp
    if tlp in looser:
        raise BadValue(
            f"{tlp.label} is looser than the event's {event.tlp.label}",
            field="tlp",
            value=tlp.value,
        )
    if item.first_seen and item.last_seen and item.last_seen < item.first_seen:
        raise BadValue("last_seen is before first_seen", field="last_seen", value=None)
    # A value last seen long ago starts decaying from then, not from today.
    decay_from = min(item.last_seen.astimezone(UTC), now) if item.last_seen else now
    addresses = address_range(item.type, value)
    span = (addresses.low, addresses.high, addresses.bucket) if addresses else None
    return value, tlp, decay_from, span


def _utc(moment: datetime | None) -> datetime | None:
    """In UTC, as the database gives it back: the echo shows what a read would show."""
    return moment.astimezone(UTC) if moment is not None else None


def _columns(varying: list[tuple[Any, ...]], event_id: int, now: datetime, base: int) -> NewRows:
    count = len(varying)
    transposed = list(zip(*varying, strict=True)) if varying else [() for _ in _VARYING]
    columns = {name: list(values) for name, values in zip(_VARYING, transposed, strict=True)}
    columns |= {
        "uuid": time_ordered_uuids(count),
        "event_id": [event_id] * count,
        "created_at": [now] * count,
        "warning_lists": [""] * count,
        "base_score": [base] * count,
    }
    return NewRows({name: columns[name] for name in COLUMNS})


def _rejection(index: int, exc: AppError, item: IndicatorCreate) -> IndicatorRejection:
    field = f"indicators[{index}].{exc.field}" if exc.field else f"indicators[{index}]"
    value = exc.value if isinstance(exc.value, str) else item.value
    return IndicatorRejection(index=index, field=field, value=value, message=exc.message)


def time_ordered_uuids(count: int) -> list[str]:
    """`count` UUIDv7s (RFC 9562): the time in milliseconds, then 74 random bits.

    Random (v4) identifiers landed all over the 90 MB unique index on `uuid`, so each batch
    rewrote (and wrote to the WAL in full) most of its pages; these land together at its
    end. They tell when the indicator was created, which its `created_at` says anyway.
    """
    octets = np.frombuffer(os.urandom(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    stamp = (time.time_ns() // 1_000_000).to_bytes(6, "big")
    octets[:, :6] = np.frombuffer(stamp, dtype=np.uint8)
    octets[:, 6] = 0x70 | (octets[:, 6] & 0x0F)  # version 7
    octets[:, 8] = 0x80 | (octets[:, 8] & 0x3F)  # variant 0b10
    digits = np.empty((count, 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[octets >> 4]
    digits[:, 1::2] = _HEX_DIGITS[octets & 0x0F]
    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    text[:, _DIGIT_PLACES] = digits
    joined = text.tobytes().decode("ascii")
    return [joined[start : start + 36] for start in range(0, 36 * count, 36)]


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where the 32 hex digits go in the 36 characters of 8-4-4-4-12.
_DIGIT_PLACES = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def public_dicts(rows: NewRows, ids: Sequence[int], now: datetime) -> list[dict[str, Any]]:
    """What `IndicatorPublic` shows of these stored rows (ids in row order), scores at `now`."""
    c = rows.columns
    scores = decay.scores(c["type"], c["base_score"], c["decay_from"], c["expires_at"], now)
    shown = ("uuid", "event_id", "type", "value", "category", "to_ids", "comment", "tlp")
    times = ("first_seen", "last_seen", "created_at", "expires_at")
    return [
        {
            "id": indicator_id,
            **{name: c[name][i] for name in (*shown, *times)},
            "score": int(scores[i]),
            "warning_lists": [name for name in c["warning_lists"][i].split(",") if name],
        }
        for i, indicator_id in enumerate(ids)
    ]
