"""CSV: one row per selected indicator with its event, for spreadsheets and SIEM lookups.

The columns follow MISP's CSV export where they mean the same (uuid, event_id, category,
type, value, comment, to_ids) and add what Entente keeps (TLP, decay expiry, the event's
UUID and title). RFC 4180: comma-separated, CRLF line ends, fields quoted when needed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from entente.interop.exports.selection import ExportedIndicator, Selection, indicator_chunks

COLUMNS = (
    "uuid",
    "event_id",
    "event_uuid",
    "event_title",
    "category",
    "type",
    "value",
    "comment",
    "to_ids",
    "tlp",
    "first_seen",
    "last_seen",
    "created_at",
    "expires_at",
)


def csv_table(selection: Selection) -> Iterator[str]:
    """The header, then a block of rows per chunk of indicators."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for chunk in indicator_chunks(selection):
        writer.writerows(_row(indicator) for indicator in chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _row(indicator: ExportedIndicator) -> list[str | int]:
    return [
        indicator.uuid,
        indicator.event_id,
        indicator.event_uuid,
        indicator.event_title,
        indicator.category.value,
        indicator.type.value,
        indicator.value,
        indicator.comment,
        int(indicator.to_ids),
        indicator.tlp.value,
        _moment(indicator.first_seen),
        _moment(indicator.last_seen),
        _moment(indicator.created_at),
        _moment(indicator.expires_at),
    ]


def _moment(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat()
