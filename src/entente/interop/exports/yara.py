"""YARA rules passed through: STIX indicators whose `pattern_type` is `yara`, as they came.

Entente makes no indicator of its own from a YARA rule (`interop.from_stix` keeps such STIX
objects as they came), so this export reads the stored STIX objects, through the same
access rule as the STIX export (`stix_export.stored_visible`: the event's audience and the
object's own TLP), and writes each pattern verbatim after a comment naming its event and
object. The event filters apply (events, tags, owner, dates, published, TLP of the object);
`to_ids`, decay and indicator types do not: a YARA rule is detection content by nature, and
has no decay score. Rules are concatenated in import order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from entente.interop.exports.selection import Selection, tagged_with
from entente.interop.models import StixObject
from entente.interop.stix_export import stored_visible
from entente.sharing.filters import IndicatorFilter
from entente.sharing.models import Event
from entente.sharing.search import event_conditions

CHUNK = 500
# Stored bodies are compact JSON (`from_stix`), so this narrows the rows in SQL; each body
# is then parsed and checked exactly.
_YARA_MARK = '"pattern_type":"yara"'


def yara_rules(selection: Selection) -> Iterator[str]:
    """Each visible YARA pattern after a `//` comment naming its event and STIX object."""
    yield "// Entente: YARA rules shared as STIX indicators, passed through; see docs/exports.md\n"
    last = 0
    while True:
        rows = selection.session.execute(_query(selection, last)).all()
        if not rows:
            return
        for _row_id, stix_id, body, event_id, event_title in rows:
            content: dict[str, Any] = json.loads(body)
            pattern = content.get("pattern")
            if content.get("pattern_type") != "yara" or not isinstance(pattern, str):
                continue
            name = content.get("name")
            yield f"\n// Entente event {event_id}: {_comment(event_title)}\n"
            yield f"// STIX {stix_id}" + (f": {_comment(name)}" if isinstance(name, str) else "")
            yield "\n" + pattern.rstrip("\n") + "\n"
        last = rows[-1][0]


def _query(selection: Selection, after: int) -> Any:
    filters = selection.filters
    shared = IndicatorFilter(
        organisation_id=filters.organisation_id, since=filters.since, until=filters.until
    )
    query = (
        select(StixObject.id, StixObject.stix_id, StixObject.body, Event.id, Event.title)
        .join(Event, Event.id == StixObject.event_id)
        .where(
            StixObject.id > after,
            StixObject.type == "indicator",
            StixObject.body.contains(_YARA_MARK, autoescape=True),
            stored_visible(selection.viewer),
            *event_conditions(selection.viewer, shared),
        )
        .order_by(StixObject.id)
        .limit(CHUNK)
    )
    if filters.event_ids:
        query = query.where(StixObject.event_id.in_(filters.event_ids))
    if filters.tlps:
        query = query.where(StixObject.tlp.in_(filters.tlps))
    if filters.published_only:
        query = query.where(Event.published.is_(True))
    if filters.tags:
        query = query.where(tagged_with(selection.viewer, filters.tags))
    return query


def _comment(text: str) -> str:
    """`text` on one line: a line break would end the comment and start a rule."""
    return " ".join(text.split())[:200]
