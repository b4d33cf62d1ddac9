"""Which event an import goes to when it makes one: a new event shaped by the bundle's
report or grouping, or the event that same report was imported as before."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.core.errors import BadValue
from entente.interop.choices import StixRole
from entente.interop.from_stix import Incoming, entente_labels, enum_value
from entente.interop.models import StixObject
from entente.interop.schemas import NewEventTarget
from entente.interop.to_stix import LABEL_PREFIX
from entente.members.accounts import Principal
from entente.sharing.choices import AnalysisState, ThreatLevel
from entente.sharing.models import Event
from entente.sharing.permissions import require_owner
from entente.sharing.schemas import EventCreate
from entente.sharing.tags import canonical_tag
from entente.vocabulary.markings import TLP

CONTAINER_TYPES = frozenset({"report", "grouping"})
# An Entente export marks its container with this external reference (`to_stix`).
ENTENTE_SOURCE = "entente"
# A bundle without its own TLP gets this for a new event: shared within the partnership's
# organisations at most, never further, until a person decides.
DEFAULT_NEW_EVENT_TLP = TLP.AMBER
MAX_EVENT_TAGS = 100


def container_rank(item: Incoming) -> int:
    """How surely a bundle's object is the event it describes: 0 not at all, 1 a report or
    grouping, 2 one an Entente hub wrote for its event (a bundle may carry other reports,
    kept from earlier imports, before the event's own, which an export writes last)."""
    if item.type not in CONTAINER_TYPES:
        return 0
    references = item.content.get("external_references")
    entente = isinstance(references, list) and any(
        isinstance(r, dict) and r.get("source_name") == ENTENTE_SOURCE for r in references
    )
    return 2 if entente else 1


@dataclass
class ContainerChoice:
    """The report or grouping a bundle imported as a new event makes the event's own: the
    best ranked, the first among equals. A better one later in the stream takes its place;
    the one it replaces is `demoted` to an ordinary kept object."""

    stix_id: str | None = None
    rank: int = 0
    demoted: list[str] = field(default_factory=list)

    def offer(self, item: Incoming) -> bool:
        rank = container_rank(item)
        if rank <= self.rank:
            return False
        if self.stix_id is not None:
            self.demoted.append(self.stix_id)
        self.stix_id, self.rank = item.stix_id, rank
        return True

    def settle(self, stix_id: str) -> None:
        """An event's existing container: nothing in a bundle replaces it."""
        self.stix_id, self.rank = stix_id, 3


def event_imported_as(
    session: Session, principal: Principal, container_stix_id: str
) -> Event | None:
    """The caller's organisation's event this report or grouping was imported as before:
    importing the same bundle as a new event again adds nothing."""
    event = session.scalar(
        select(Event)
        .join(StixObject, StixObject.event_id == Event.id)
        .where(
            StixObject.stix_id == container_stix_id,
            StixObject.role == StixRole.CONTAINER,
            Event.owner_organisation_id == principal.user.organisation_id,
        )
        .order_by(Event.id)
        .limit(1)
    )
    if event is not None:
        require_owner(principal, event)
    return event


def new_event_data(target: NewEventTarget, container: Incoming | None) -> EventCreate:
    """The new event, with what the bundle's report or grouping says when it came early."""
    content: dict[str, Any] = container.content if container is not None else {}
    labels = entente_labels(content)
    description = content.get("description")
    return EventCreate(
        title=target.title,
        description=description[:100_000] if isinstance(description, str) else "",
        event_date=_event_date(content),
        threat_level=enum_value(ThreatLevel, labels.get("threat-level")) or ThreatLevel.UNDEFINED,
        analysis=enum_value(AnalysisState, labels.get("analysis")) or AnalysisState.INITIAL,
        tlp=target.tlp or (container.tlp if container else None) or DEFAULT_NEW_EVENT_TLP,
        distribution=target.distribution,
        sharing_group_id=target.sharing_group_id,
        tags=_tags(content.get("labels")),
    )


def _event_date(content: dict[str, Any]) -> date:
    for name in ("published", "created"):
        text = content.get(name)
        if isinstance(text, str) and len(text) >= 10:
            try:
                return date.fromisoformat(text[:10])
            except ValueError:
                continue
    return utcnow().date()


def _tags(labels: object) -> list[str]:
    """A container's labels as tags, where they make valid ones (TLP is the marking)."""
    tags: list[str] = []
    for text in labels if isinstance(labels, list) else []:
        if not isinstance(text, str) or text.startswith(LABEL_PREFIX):
            continue
        try:
            tags.append(canonical_tag(text))
        except BadValue:
            continue
    return list(dict.fromkeys(tags))[:MAX_EVENT_TAGS]
