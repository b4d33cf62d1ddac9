"""MISP events into Entente: each one created, updated or left alone, keyed by its UUID.

Idempotent: an event is found again by its MISP UUID. The MISP `timestamp` becomes the
event's `updated_at`; a re-import with the same (or an older) timestamp writes nothing, a
newer one updates the event in place (title, date, levels, marking, tags, and its indicators
become the incoming set). Only the organisation that owns an event may update it: a UUID that
names another organisation's event is refused, never merged.

Each event is committed on its own, so a dump of thousands of events holds one event in a
transaction at a time, and an import killed half-way and re-run ends in the same state.
Indicators go through the sharing bulk path (`indicator_rows.build_rows`, `store_rows`,
`correlate`), never one row at a time (`misp.import_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from entente.core import audit
from entente.core.access import Marking, check_marking
from entente.core.audit import Actor
from entente.core.clock import utcnow
from entente.core.errors import AppError, BadValue
from entente.interop.misp.from_misp import IncomingEvent, Rejection, event_head, incoming_event
from entente.interop.misp.import_rows import store_indicators
from entente.interop.misp.mapping import NARROWER
from entente.interop.misp.reading import RawEvent
from entente.interop.misp.schemas import (
    MispEventOutcome,
    MispImportResult,
    MispOutcome,
    MispRejection,
)
from entente.members.accounts import Principal
from entente.members.service import find_organisation
from entente.sharing.models import Event, EventTag, SharingGroup, SharingGroupMember
from entente.sharing.permissions import require_writer
from entente.vocabulary.markings import TLP, Distribution


@dataclass(frozen=True, slots=True)
class Importer:
    """The organisation imported events belong to, and who is recorded in the audit log."""

    organisation_id: int
    actor: Actor


def importer_of(principal: Principal) -> Importer:
    """A writer imports for its own organisation; readers may not import."""
    require_writer(principal)
    return Importer(principal.user.organisation_id, principal.actor())


def importer_for(session: Session, organisation: str, actor: Actor) -> Importer:
    """An operator's import for the organisation named (`--as-org`)."""
    return Importer(find_organisation(session, organisation).id, actor)


def import_events(
    session: Session, importer: Importer, events: Iterable[RawEvent]
) -> MispImportResult:
    """Import every event; an import with nothing importable is refused with its first reason."""
    result = MispImportResult()
    first_refusal: AppError | None = None
    for raw in events:
        known = _known_version(session, importer, raw)
        if known is not None:
            result.record(known)
            continue
        try:
            incoming = incoming_event(raw.content)
        except AppError as exc:
            first_refusal = first_refusal or exc
            _refuse(result, raw, None, exc)
            continue
        try:
            outcome = import_event(session, importer, incoming, raw.source)
        except AppError as exc:
            session.rollback()
            first_refusal = first_refusal or exc
            _refuse(result, raw, incoming.uuid, exc)
            continue
        for rejection in incoming.rejected:
            result.reject(_listed(raw.source, incoming.uuid, rejection))
        result.record(outcome)
    if first_refusal is not None and not (result.imported or result.updated or result.unchanged):
        raise first_refusal
    return result


def _known_version(session: Session, importer: Importer, raw: RawEvent) -> MispEventOutcome | None:
    """`unchanged` when the importer's event with this UUID is as new as the incoming one:
    decided before converting a single attribute, so re-reading a large feed costs little."""
    event_uuid, timestamp = event_head(raw.content)
    if event_uuid is None or timestamp is None:
        return None
    event_id = session.scalar(
        select(Event.id).where(
            Event.uuid == event_uuid,
            Event.owner_organisation_id == importer.organisation_id,
            Event.updated_at >= timestamp,
        )
    )
    if event_id is None:
        return None
    return MispEventOutcome(
        source=raw.source, uuid=event_uuid, event_id=event_id, outcome=MispOutcome.UNCHANGED
    )


def _refuse(result: MispImportResult, raw: RawEvent, uuid: str | None, exc: AppError) -> None:
    value = exc.value if isinstance(exc.value, str) else None
    result.reject(
        MispRejection(
            source=raw.source, event_uuid=uuid, field=exc.field, value=value, message=exc.message
        )
    )
    result.record(
        MispEventOutcome(source=raw.source, uuid=uuid, event_id=None, outcome=MispOutcome.REFUSED)
    )


def _listed(source: str, uuid: str, rejection: Rejection) -> MispRejection:
    return MispRejection(
        source=source,
        event_uuid=uuid,
        field=rejection.field,
        value=rejection.value,
        message=rejection.message,
    )


def import_event(
    session: Session, importer: Importer, incoming: IncomingEvent, source: str
) -> MispEventOutcome:
    """Create, update or leave alone the event with the incoming UUID; commits when it writes."""
    existing = session.scalar(select(Event).where(Event.uuid == incoming.uuid))
    if existing is not None and existing.owner_organisation_id != importer.organisation_id:
        raise BadValue(
            "an event with this UUID belongs to another organisation; not merged",
            field="Event.uuid",
            value=incoming.uuid,
        )
    if existing is not None and (
        incoming.timestamp is None or incoming.timestamp <= existing.updated_at
    ):
        return MispEventOutcome(
            source=source, uuid=incoming.uuid, event_id=existing.id, outcome=MispOutcome.UNCHANGED
        )
    tlp, distribution, group_id = settle_marking(session, importer, incoming)
    event = existing or Event(
        uuid=incoming.uuid,
        owner_organisation_id=importer.organisation_id,
        created_by_user_id=importer.actor.user_id,
        created_at=utcnow(),
    )
    _apply(event, incoming, tlp, distribution, group_id)
    session.add(event)
    session.flush()
    _replace_tags(session, event, incoming.tags)
    counts = store_indicators(session, event, incoming, importer.organisation_id)
    outcome = MispOutcome.UPDATED if existing is not None else MispOutcome.IMPORTED
    audit.record(
        session,
        importer.actor,
        f"event.misp_{'update' if existing is not None else 'import'}",
        ("event", event.id),
        uuid=event.uuid,
        misp_creator=incoming.creator,
        added=counts.added,
        removed=counts.removed,
    )
    session.commit()
    return MispEventOutcome(
        source=source,
        uuid=incoming.uuid,
        event_id=event.id,
        outcome=outcome,
        indicators_added=counts.added,
        indicators_removed=counts.removed,
        sightings_added=counts.sightings,
    )


def _apply(
    event: Event, incoming: IncomingEvent, tlp: TLP, distribution: Distribution, group: int | None
) -> None:
    event.title = incoming.title
    event.event_date = incoming.event_date
    event.threat_level = incoming.threat_level
    event.analysis = incoming.analysis
    event.tlp = tlp
    event.distribution = distribution
    event.sharing_group_id = group
    # Published in MISP is not published here: a person of the owner publishes in Entente.
    # The MISP time is kept, so the same version is recognised when it comes again.
    event.published = False
    event.updated_at = incoming.timestamp or utcnow()
    if not event.description and incoming.creator:
        event.description = f"Imported from MISP; created by {incoming.creator}."


def settle_marking(
    session: Session, importer: Importer, incoming: IncomingEvent
) -> tuple[TLP, Distribution, int | None]:
    """The event's TLP, distribution and sharing group, failing closed: an unknown sharing
    group (or one the importer is not in) keeps the event to the organisation, and a
    distribution the TLP forbids narrows until allowed. Each narrowing is reported."""
    distribution, group_id = incoming.distribution, None
    if distribution is Distribution.SHARING_GROUP:
        group_id = _member_group(session, importer, incoming.sharing_group_name)
        if group_id is None:
            incoming.rejected.append(
                Rejection(
                    "Event.SharingGroup.name",
                    incoming.sharing_group_name,
                    "no sharing group of that name with your organisation in it: "
                    "the event is kept to your organisation",
                )
            )
            distribution = Distribution.ORGANISATION
    while not _allowed(Marking(importer.organisation_id, incoming.tlp, distribution, group_id)):
        narrower = NARROWER[distribution]
        incoming.rejected.append(
            Rejection(
                "Event.distribution",
                distribution.value,
                f"{incoming.tlp.label} may not go to '{distribution.value}': "
                f"narrowed to '{narrower.value}'",
            )
        )
        distribution, group_id = narrower, None
    return incoming.tlp, distribution, group_id


def _allowed(marking: Marking) -> bool:
    try:
        check_marking(marking)
    except BadValue:
        return False
    return True


def _member_group(session: Session, importer: Importer, name: str | None) -> int | None:
    if not name:
        return None
    return session.scalar(
        select(SharingGroup.id)
        .join(SharingGroupMember, SharingGroupMember.sharing_group_id == SharingGroup.id)
        .where(
            SharingGroup.name == name,
            SharingGroupMember.organisation_id == importer.organisation_id,
        )
    )


def _replace_tags(session: Session, event: Event, tags: list[str]) -> None:
    """The owner's tags become the incoming ones; other organisations' local tags stay."""
    session.execute(
        delete(EventTag).where(
            EventTag.event_id == event.id,
            EventTag.organisation_id == event.owner_organisation_id,
        )
    )
    session.add_all(
        EventTag(event_id=event.id, organisation_id=event.owner_organisation_id, name=name)
        for name in tags
    )
