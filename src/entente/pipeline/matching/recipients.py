"""Keep only the matches a row's organisation may see, decided by the access predicate.

A row routed to an organisation may reference an indicator only if a user of that
organisation could see it in the sharing space (`core.access`): the same predicate, with
the organisation's sharing groups as `members.accounts.load_viewer` reads them. An
unrouted row keeps no reference: nobody is known to be allowed to see it.

An indicator reaches its event's audience (owner, distribution, sharing group, named
recipients) narrowed by its own TLP, which is usually the event's (`sharing.queries.
indicator_access` is the SQL form of the same combination). So the stage loads, once per
run for each event it meets, the event's marking and the TLPs of the few indicators marked
apart from it, and then decides with `can_see` (the Python form of the predicate, which
property tests hold equal to the SQL form) once per distinct (organisation, event, TLP).

Why not ask SQL per pair, as this stage first did: a batch of a large feed meets thousands
of (organisation, event) pairs, and the `UNION ALL` of per-organisation predicates was the
slowest stage of an ingest (2.1 s of 10 s for a million rows). The markings of the matched
events are a few hundred rows; the decision over them is microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.access import AccessRecipient, Marking, Viewer, can_see
from entente.pipeline.batches import MATCHED_EVENTS, MATCHED_INDICATORS, ORGANISATION
from entente.pipeline.matching.networks import EVENT, INDICATOR, PAIR_SCHEMA, ROW
from entente.pipeline.matching.stage import with_references
from entente.sharing.models import Event, Indicator, SharingGroupMember
from entente.sharing.queries import DIGESTS_PER_QUERY
from entente.vocabulary.markings import TLP

IDS_PER_QUERY = DIGESTS_PER_QUERY

_ORG = "organisation_id"


@dataclass(slots=True)
class RecipientCache:
    """What one ingest already loaded and decided: viewers, event markings, the TLPs of
    indicators marked apart, and the decisions per (organisation, event, TLP).

    Batches of one file keep meeting the same few organisations and events. Markings may
    change while a long ingest runs; a cache lives for one run (one `Pipeline`), so a
    change applies from the next run on.
    """

    viewers: dict[int, Viewer] = field(default_factory=dict)
    events: dict[int, Marking] = field(default_factory=dict)
    indicator_tlps: dict[int, TLP] = field(default_factory=dict)
    decisions: dict[tuple[int, int, TLP], bool] = field(default_factory=dict)

    def learn(self, session: Session, organisation_ids: list[int], event_ids: list[int]) -> None:
        """Load the viewers and event markings not met before (a few queries, none if all
        were met)."""
        missing_orgs = [org for org in organisation_ids if org not in self.viewers]
        if missing_orgs:
            self.viewers.update(_viewers(session, missing_orgs))
        missing_events = sorted(event for event in event_ids if event not in self.events)
        if missing_events:
            self.events.update(_event_markings(session, missing_events))
            self.indicator_tlps.update(_marked_apart(session, missing_events))

    def may_see(self, organisation_id: int, event_id: int, indicator_id: int) -> bool:
        """Whether a user of the organisation may see the indicator of the event."""
        marking = self.events.get(event_id)
        if marking is None:  # gone since the index was loaded: fail closed
            return False
        tlp = self.indicator_tlps.get(indicator_id, marking.tlp)
        key = (organisation_id, event_id, tlp)
        decided = self.decisions.get(key)
        if decided is None:
            viewer = self.viewers[organisation_id]
            decided = can_see(viewer, marking if tlp is marking.tlp else replace(marking, tlp=tlp))
            self.decisions[key] = decided
        return decided


def restrict_to_recipients(
    session: Session, batch: pl.DataFrame, cache: RecipientCache | None = None
) -> pl.DataFrame:
    """`batch` with each row's references cut down to what its organisation may see."""
    cache = cache if cache is not None else RecipientCache()
    references = _references(batch)
    kept = references.clear()
    if not references.is_empty():
        cache.learn(
            session,
            references.get_column(_ORG).unique().to_list(),
            references.get_column(EVENT).unique().to_list(),
        )
        # One decision per distinct triple, not per row: a batch repeats them a lot.
        triples = references.select(_ORG, EVENT, INDICATOR).unique()
        allowed = [cache.may_see(org, event, ind) for org, event, ind in triples.iter_rows()]
        allowed_triples = triples.filter(pl.Series(allowed, dtype=pl.Boolean))
        kept = references.join(allowed_triples, on=[_ORG, EVENT, INDICATOR])
    return with_references(batch, kept.select(list(PAIR_SCHEMA)))


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


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), IDS_PER_QUERY):
        yield ids[start : start + IDS_PER_QUERY]


def _viewers(session: Session, organisation_ids: list[int]) -> dict[int, Viewer]:
    """The viewer of a user of each organisation: its id and its sharing groups."""
    groups: dict[int, set[int]] = {organisation_id: set() for organisation_id in organisation_ids}
    for chunk in _chunks(organisation_ids):
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


def _event_markings(session: Session, event_ids: list[int]) -> dict[int, Marking]:
    """Each event's marking with its named recipients (two queries per chunk of ids)."""
    markings: dict[int, Marking] = {}
    for chunk in _chunks(event_ids):
        named: dict[int, set[int]] = {}
        for event_id, organisation_id in session.execute(
            select(AccessRecipient.object_id, AccessRecipient.organisation_id).where(
                AccessRecipient.object_type == Event.__access_type__,
                AccessRecipient.object_id.in_(chunk),
            )
        ):
            named.setdefault(event_id, set()).add(organisation_id)
        for event_id, owner, tlp, distribution, group in session.execute(
            select(
                Event.id,
                Event.owner_organisation_id,
                Event.tlp,
                Event.distribution,
                Event.sharing_group_id,
            ).where(Event.id.in_(chunk))
        ):
            markings[event_id] = Marking(
                owner_organisation_id=owner,
                tlp=tlp,
                distribution=distribution,
                sharing_group_id=group,
                recipient_organisation_ids=frozenset(named.get(event_id, ())),
            )
    return markings


def _marked_apart(session: Session, event_ids: list[int]) -> dict[int, TLP]:
    """The TLPs of the indicators of these events marked apart from their event: stricter,
    as one is entered, or looser once the event itself was tightened later."""
    found: dict[int, TLP] = {}
    for chunk in _chunks(event_ids):
        rows = session.execute(
            select(Indicator.id, Indicator.tlp)
            .join(Event, Indicator.event_id == Event.id)
            .where(Indicator.event_id.in_(chunk), Indicator.tlp != Event.tlp)
        )
        found.update((indicator_id, tlp) for indicator_id, tlp in rows)
    return found
