"""Keep only the matches a row's organisation may see, decided by the access predicate in SQL.

A row routed to an organisation may reference an indicator only if a user of that
organisation could see it in the sharing space (`core.access`): the same predicate, with
the organisation's sharing groups as `members.accounts.load_viewer` reads them. An
unrouted row keeps no reference: nobody is known to be allowed to see it.

An indicator reaches its event's audience narrowed by its own TLP, which is usually the
event's. So the work splits in two:

- indicators marked like their event: visibility is the event's, decided per DISTINCT
  (organisation, event) pair through `queries.visible_events`;
- indicators marked apart from their event (stricter, found with one query over the
  matched events): decided per (organisation, indicator) through
  `queries.visible_indicators`.

Each kind is one `UNION ALL` statement with a branch per organisation, split only when a
statement would carry more than `IDS_PER_STATEMENT` ids or `BRANCHES_PER_STATEMENT`
organisations. The number of queries depends on distinct organisations, events and
indicators marked apart, never on rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Integer, Select, literal, select, union_all
from sqlalchemy.orm import InstrumentedAttribute, Session

from entente.core.access import Viewer
from entente.pipeline.batches import MATCHED_EVENTS, MATCHED_INDICATORS, ORGANISATION
from entente.pipeline.matching.networks import EVENT, INDICATOR, PAIR_SCHEMA, ROW
from entente.pipeline.matching.stage import with_references
from entente.sharing.models import Event, Indicator, SharingGroupMember
from entente.sharing.queries import DIGESTS_PER_QUERY, visible_events, visible_indicators

IDS_PER_STATEMENT = DIGESTS_PER_QUERY
# SQLite refuses a compound SELECT of more than 500 branches; each branch also binds the
# organisation's sharing groups and the TLP lists, so stay well below.
BRANCHES_PER_STATEMENT = 50

_ORG = "organisation_id"
_OBJECT = "object_id"


@dataclass(slots=True)
class RecipientCache:
    """What one ingest already decided: viewers, indicators marked apart, and which
    (organisation, event|indicator) pairs were asked and allowed.

    Batches of one file keep meeting the same few organisations and events, and asking SQL
    again for each batch was most of an ingest's time. Markings may change while a long
    ingest runs; a cache lives for one run (one `Pipeline`), so a change applies from the
    next run on.
    """

    viewers: dict[int, Viewer] = field(default_factory=dict)
    events_checked: set[int] = field(default_factory=set)
    marked_apart: set[int] = field(default_factory=set)
    asked: dict[str, set[tuple[int, int]]] = field(
        default_factory=lambda: {EVENT: set(), INDICATOR: set()}
    )
    allowed: dict[str, set[tuple[int, int]]] = field(
        default_factory=lambda: {EVENT: set(), INDICATOR: set()}
    )


def restrict_to_recipients(
    session: Session, batch: pl.DataFrame, cache: RecipientCache | None = None
) -> pl.DataFrame:
    """`batch` with each row's references cut down to what its organisation may see."""
    cache = cache if cache is not None else RecipientCache()
    references = _references(batch)
    kept = references.clear()
    if not references.is_empty():
        _add_viewers(session, cache, references.get_column(_ORG).unique().to_list())
        _add_marked_apart(session, cache, references.get_column(EVENT).unique().to_list())
        apart = pl.Series(sorted(cache.marked_apart), dtype=pl.Int64)
        is_apart = pl.col(INDICATOR).is_in(apart.implode())
        usual, strict = references.filter(~is_apart), references.filter(is_apart)
        seen_events = _allowed(session, cache, usual, EVENT)
        seen_indicators = _allowed(session, cache, strict, INDICATOR)
        kept = pl.concat(
            [
                usual.join(seen_events, left_on=[_ORG, EVENT], right_on=[_ORG, _OBJECT]),
                strict.join(seen_indicators, left_on=[_ORG, INDICATOR], right_on=[_ORG, _OBJECT]),
            ]
        )
    return with_references(batch, kept.select(list(PAIR_SCHEMA)))


def _allowed(
    session: Session, cache: RecipientCache, references: pl.DataFrame, column: str
) -> pl.DataFrame:
    """(organisation, id) pairs of `references` the organisation may see, asking SQL only
    for pairs this run has not decided yet."""
    pairs = {(int(org), int(i)) for org, i in references.select(_ORG, column).unique().iter_rows()}
    new = pairs - cache.asked[column]
    if new:
        wanted: dict[int, list[int]] = {}
        for org, object_id in sorted(new):
            wanted.setdefault(org, []).append(object_id)
        branch = _event_branch if column == EVENT else _indicator_branch
        seen = _visible(session, cache.viewers, wanted, branch)
        cache.asked[column] |= new
        cache.allowed[column] |= {(int(o), int(i)) for o, i in seen.iter_rows()}
    allowed = sorted(pairs & cache.allowed[column])
    return pl.DataFrame(allowed, schema={_ORG: pl.Int64, _OBJECT: pl.Int64}, orient="row")


def _references(batch: pl.DataFrame) -> pl.DataFrame:
    """(row, organisation, indicator, event) of the routed rows' references."""
    organisation = (
        pl.col(ORGANISATION).cast(pl.Int64)
        if ORGANISATION in batch.columns
        else pl.lit(None, dtype=pl.Int64)
    )
    return (
        batch.with_row_index(ROW)
        .select(
            ROW,
            organisation.alias(_ORG),
            pl.col(MATCHED_INDICATORS).alias(INDICATOR),
            pl.col(MATCHED_EVENTS).alias(EVENT),
        )
        .filter(pl.col(_ORG).is_not_null())
        .explode([INDICATOR, EVENT])
        .drop_nulls([INDICATOR])
    )


def _add_viewers(session: Session, cache: RecipientCache, organisation_ids: list[int]) -> None:
    missing = [org for org in organisation_ids if org not in cache.viewers]
    if missing:
        cache.viewers.update(_viewers(session, missing))


def _add_marked_apart(session: Session, cache: RecipientCache, event_ids: list[int]) -> None:
    missing = sorted(event for event in event_ids if event not in cache.events_checked)
    if missing:
        cache.marked_apart.update(_marked_apart(session, missing))
        cache.events_checked.update(missing)


def _viewers(session: Session, organisation_ids: list[int]) -> dict[int, Viewer]:
    """The viewer of a user of each organisation: its id and its sharing groups."""
    groups: dict[int, set[int]] = {organisation_id: set() for organisation_id in organisation_ids}
    for start in range(0, len(organisation_ids), IDS_PER_STATEMENT):
        chunk = organisation_ids[start : start + IDS_PER_STATEMENT]
        rows = session.execute(
            select(SharingGroupMember.organisation_id, SharingGroupMember.sharing_group_id).where(
                SharingGroupMember.organisation_id.in_(chunk)
            )
        )
        for organisation_id, group_id in rows:
            groups[organisation_id].add(group_id)
    return {
        organisation_id: Viewer(organisation_id=organisation_id, sharing_group_ids=frozenset(ids))
        for organisation_id, ids in groups.items()
    }


def _marked_apart(session: Session, event_ids: list[int]) -> list[int]:
    """Ids of the indicators of these events whose TLP is not their event's: stricter, as
    one is entered, or looser once the event itself was tightened later."""
    found: list[int] = []
    for start in range(0, len(event_ids), IDS_PER_STATEMENT):
        chunk = event_ids[start : start + IDS_PER_STATEMENT]
        found.extend(
            session.scalars(
                select(Indicator.id)
                .join(Event, Indicator.event_id == Event.id)
                .where(Indicator.event_id.in_(chunk), Indicator.tlp != Event.tlp)
            )
        )
    return found


Branch = Callable[[Viewer, list[int]], Select[int, int]]


def _event_branch(viewer: Viewer, ids: list[int]) -> Select[int, int]:
    return _branch(visible_events(viewer), viewer, Event.id, ids)


def _indicator_branch(viewer: Viewer, ids: list[int]) -> Select[int, int]:
    return _branch(visible_indicators(viewer), viewer, Indicator.id, ids)


def _branch(
    visible: Select[Any], viewer: Viewer, column: InstrumentedAttribute[int], ids: list[int]
) -> Select[int, int]:
    """(organisation, id) for the `ids` the predicate lets `viewer` see."""
    organisation = literal(viewer.organisation_id, Integer).label(_ORG)
    narrowed: Select[int, int] = visible.with_only_columns(organisation, column.label(_OBJECT))
    return narrowed.where(column.in_(ids))


def _visible(
    session: Session, viewers: dict[int, Viewer], wanted: dict[int, list[int]], branch: Branch
) -> pl.DataFrame:
    """(organisation, id) pairs among `wanted` that the organisation may see."""
    seen: list[tuple[int, int]] = []
    for parts in _statements(wanted):
        branches = [branch(viewers[org], ids) for org, ids in parts]
        statement = union_all(*branches) if len(branches) > 1 else branches[0]
        seen.extend((int(org), int(object_id)) for org, object_id in session.execute(statement))
    return pl.DataFrame(seen, schema={_ORG: pl.Int64, _OBJECT: pl.Int64}, orient="row")


def _statements(wanted: dict[int, list[int]]) -> Iterator[list[tuple[int, list[int]]]]:
    """(organisation, ids) branches grouped into statements within the size bounds."""
    parts: list[tuple[int, list[int]]] = []
    size = 0
    for org, ids in wanted.items():
        for start in range(0, len(ids), IDS_PER_STATEMENT):
            chunk = ids[start : start + IDS_PER_STATEMENT]
            if parts and (
                size + len(chunk) > IDS_PER_STATEMENT or len(parts) == BRANCHES_PER_STATEMENT
            ):
                yield parts
                parts, size = [], 0
            parts.append((org, chunk))
            size += len(chunk)
    if parts:
        yield parts
