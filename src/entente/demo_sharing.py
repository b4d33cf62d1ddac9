"""The demo's sharing space: events with indicators, tags, versions and members' sightings.

Each event is written by a demo user of its owner organisation, through the same services
as the API (`service.create_event`, `indicator_service.add_indicators`, `tags.add_tag`,
`service.publish_event`, `sightings.add_sighting`), so the audit log names who did what and
correlation, warning-list flags and decay are computed as for any member's data. Loading is
idempotent like the rest of the demo: an event is found again by its owner and title, and
only what is missing from it is added.

Dates are relative (`days_ago`), so a demo loaded today shows sightings over the last month.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.members.accounts import Principal, load_viewer
from entente.members.choices import Role
from entente.members.models import User
from entente.sharing import indicator_service, service, sightings, tags
from entente.sharing.choices import AnalysisState, SightingKind, ThreatLevel
from entente.sharing.indicators import IndicatorType, canonicalise
from entente.sharing.models import Event, EventTag, Indicator, SharingGroup, Sighting
from entente.sharing.schemas import EventCreate, IndicatorBatch, IndicatorCreate, SightingCreate
from entente.sharing.warninglist_settings import set_enabled, warning_lists
from entente.vocabulary.markings import TLP, Distribution


class _DemoRow(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DemoIndicator(_DemoRow):
    type: IndicatorType
    value: str
    comment: str = ""


class DemoSighting(_DemoRow):
    """Sightings by one user of one of the event's indicators, one per entry of `days_ago`."""

    by: str  # username of a writer of the reporting organisation
    value: str  # an indicator of the event, as written in its list
    days_ago: list[int] = Field(min_length=1)
    count: int = 1
    kind: SightingKind = SightingKind.SEEN
    source: str = ""


class DemoEvent(_DemoRow):
    title: str
    author: str  # username of a writer of the owner organisation
    days_ago: int = Field(ge=0)
    description: str = ""
    threat_level: ThreatLevel = ThreatLevel.UNDEFINED
    analysis: AnalysisState = AnalysisState.INITIAL
    tlp: TLP
    distribution: Distribution
    sharing_group: str | None = None
    tags: list[str] = Field(default_factory=list)
    indicators: list[DemoIndicator] = Field(min_length=1)
    publish: bool = False
    # Added after the first publication, then published again as version 2.
    second_version: list[DemoIndicator] = Field(default_factory=list)
    sightings: list[DemoSighting] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.second_version and not self.publish:
            raise ValueError(f"{self.title!r}: a second version needs `publish = true`")
        values = {item.value for item in [*self.indicators, *self.second_version]}
        for sighting in self.sightings:
            if sighting.value not in values:
                raise ValueError(f"{self.title!r}: sighting of {sighting.value!r}, not listed")
            if max(sighting.days_ago) > self.days_ago:
                raise ValueError(f"{self.title!r}: a sighting of {sighting.value!r} before it")
        return self

    def indicator_type(self, value: str) -> IndicatorType:
        return next(i.type for i in [*self.indicators, *self.second_version] if i.value == value)


def check_event_references(
    events: list[DemoEvent], roles: dict[str, Role], groups: set[str]
) -> None:
    """Authors and reporters are demo users who may write; groups are demo groups."""
    writers = {username for username, role in roles.items() if role is not Role.READER}
    for event in events:
        people = {event.author, *(sighting.by for sighting in event.sightings)}
        if unknown := people - writers:
            raise ValueError(f"{event.title!r}: not demo users who may write: {sorted(unknown)}")
        if event.sharing_group is not None and event.sharing_group not in groups:
            raise ValueError(f"{event.title!r}: unknown sharing group {event.sharing_group!r}")


@dataclass(slots=True)
class SharingLoad:
    """What loading the sharing space needs: who acts, and where to count what was added."""

    session: Session
    via: str
    count: Callable[[str, int], None]
    principals: dict[str, Principal] = field(default_factory=dict)
    now: datetime = field(default_factory=utcnow)

    def principal(self, username: str) -> Principal:
        if username not in self.principals:
            user = self.session.scalars(select(User).where(User.username == username)).one()
            viewer = load_viewer(self.session, user)
            self.principals[username] = Principal(user=user, viewer=viewer, via=self.via)
        return self.principals[username]


def switch_off_warning_lists(load: SharingLoad, admin: str, names: list[str]) -> None:
    """Switch lists off (as the demo admin, audited) before any indicator is flagged."""
    enabled = {item.name for item in warning_lists(load.session) if item.enabled}
    for name in names:
        if name in enabled:
            set_enabled(load.session, load.principal(admin), name, False)
            load.count("warning lists switched off", 1)


def ensure_event(load: SharingLoad, spec: DemoEvent) -> None:
    """The event with its indicators, tags, publications and sightings; only what is missing."""
    author = load.principal(spec.author)
    event = load.session.scalar(
        select(Event).where(
            Event.owner_organisation_id == author.user.organisation_id, Event.title == spec.title
        )
    )
    if event is None:
        event = service.create_event(load.session, author, _event_create(load, spec))
        load.count("events", 1)
    _add_missing_indicators(load, author, event, spec.indicators)
    _add_missing_tags(load, author, event, spec.tags)
    if spec.publish and event.version < 1:
        service.publish_event(load.session, author, event)
        load.count("publications", 1)
    if spec.second_version:
        _add_missing_indicators(load, author, event, spec.second_version)
        if event.version < 2:
            service.publish_event(load.session, author, event)
            load.count("publications", 1)
    for sighting in spec.sightings:
        _ensure_sightings(load, event, spec.indicator_type(sighting.value), sighting)


def _event_create(load: SharingLoad, spec: DemoEvent) -> EventCreate:
    group_id = None
    if spec.sharing_group is not None:
        group_id = load.session.scalars(
            select(SharingGroup.id).where(SharingGroup.name == spec.sharing_group)
        ).one()
    return EventCreate(
        title=spec.title,
        description=spec.description,
        event_date=_days_before(load.now, spec.days_ago),
        threat_level=spec.threat_level,
        analysis=spec.analysis,
        tlp=spec.tlp,
        distribution=spec.distribution,
        sharing_group_id=group_id,
    )


def _days_before(now: datetime, days: int) -> date:
    return (now - timedelta(days=days)).date()


def _add_missing_indicators(
    load: SharingLoad, author: Principal, event: Event, items: list[DemoIndicator]
) -> None:
    present = {
        (kind, value)
        for kind, value in load.session.execute(
            select(Indicator.type, Indicator.value).where(Indicator.event_id == event.id)
        )
    }
    missing = [
        item for item in items if (item.type, canonicalise(item.type, item.value)) not in present
    ]
    if not missing:
        return
    batch = IndicatorBatch(
        indicators=[
            IndicatorCreate(type=item.type, value=item.value, comment=item.comment, to_ids=True)
            for item in missing
        ]
    )
    result = indicator_service.add_indicators(load.session, author, event, batch)
    load.count("indicators", result.added_count)


def _add_missing_tags(load: SharingLoad, author: Principal, event: Event, names: list[str]) -> None:
    present = set(
        load.session.scalars(
            select(EventTag.name).where(
                EventTag.event_id == event.id,
                EventTag.organisation_id == author.user.organisation_id,
            )
        )
    )
    for name in names:
        if tags.canonical_tag(name) not in present:
            tags.add_tag(load.session, author, event, name)
            load.count("tags", 1)


def _ensure_sightings(
    load: SharingLoad, event: Event, kind: IndicatorType, spec: DemoSighting
) -> None:
    reporter = load.principal(spec.by)
    found = load.session.scalars(
        select(Indicator.id).where(
            Indicator.event_id == event.id,
            Indicator.type == kind,
            Indicator.value == canonicalise(kind, spec.value),
        )
    ).one()
    # Read as the reporter sees it: a demo sighting of a hidden indicator is a data error.
    indicator = indicator_service.get_indicator(load.session, reporter.viewer, found)
    reported = load.session.scalar(
        select(Sighting.id).where(
            Sighting.indicator_id == indicator.id,
            Sighting.organisation_id == reporter.user.organisation_id,
        )
    )
    if reported is not None:
        return
    for position, days in enumerate(spec.days_ago):
        # Spread over the day, so several sightings on one day are not one instant.
        observed_at = load.now - timedelta(days=days, hours=1 + 5 * position % 20)
        data = SightingCreate(
            kind=spec.kind, source=spec.source, count=spec.count, observed_at=observed_at
        )
        sightings.add_sighting(load.session, reporter, indicator, data)
        load.count("sightings", 1)
