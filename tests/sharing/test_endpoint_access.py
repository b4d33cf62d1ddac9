"""No leak through the HTTP API: every read endpoint returns exactly what the access rule allows.

Hypothesis builds worlds through the real services, on SQLite and PostgreSQL: four
organisations in two overlapping sharing groups; events with random owner, TLP, distribution,
group and named recipients; indicators of equal or stricter TLP whose values collide across
events (the same address, the same text under two types) and sit inside other events'
networks (a /32, a /29, a /24 and a /8 wider than the range index's bucket); the owner's
tags and other organisations' local tags; sightings reported by several organisations.
Then every viewer (each organisation's analyst, and a reader) calls the real endpoints with
its API token, and each answer is compared with what `core.access.can_see` allows on the
*planned* markings: the lists, details (404 exactly as for an id that never existed, never
403), searches by tag, value and network, facets, counts, correlations with their link
counts, matching, sightings with their reporter names, and the sightings timeline.

Cases: one case is one endpoint call by one viewer in one world, checked against its expected
answer. Per viewer there are 12 fixed calls (event list, event facets, 3 tag searches,
indicator list, indicator facets, 4 network searches, match), 3 per event (detail,
correlations, timeline), 2 per indicator (detail, sightings) and 1 per colliding value.
A world has 5 viewers and at least 3 events of at least one indicator each, one value in two
of them, so at least 5 x (12 + 3 x 3 + 3 x 2 + 1) = 140 cases. The "ci" profile runs
500 // 13 = 38 worlds per backend: at least 38 x 140 = 5,320 cases on SQLite and as many on
PostgreSQL, >= 10,640 per CI run (measured: 7,190 on SQLite and 6,470 on PostgreSQL). On a
two-core machine busy with other suites the 38 worlds took 86 s and 118 s (55 s and 69 s of
CPU): the HTTP calls are most of it. The "dev" profile runs 12 worlds per backend.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session, sessionmaker

from entente.core.access import Marking, Viewer, can_see, check_marking
from entente.core.clock import utcnow
from entente.core.errors import BadValue
from entente.core.pagination import MAX_LIMIT
from entente.members.accounts import Principal, load_viewer
from entente.members.choices import Role
from entente.members.models import User
from entente.members.schemas import MAX_ROW_ID
from entente.sharing import indicator_service, service, sightings, tags
from entente.sharing.choices import SightingKind, ThreatLevel
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event, Indicator
from entente.sharing.schemas import EventCreate, IndicatorBatch, IndicatorCreate, SightingCreate
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import auth, make_organisation, make_sharing_group, make_token, make_user

MEMBER_STATES = ("GH", "KE", "FR", "GH")  # one per organisation; two share a member state
ORGANISATIONS = len(MEMBER_STATES)
GROUPS = {0: (0, 1), 1: (1, 2, 3)}  # group index -> member organisation indexes
READER_OF = 3  # the organisation whose reader is the fifth viewer
WORLDS = max(12, settings().max_examples // 13)  # ci: 38 worlds per backend (see above)
MIN_EVENTS, MAX_EVENTS = 3, 4
ABSENT_ID = MAX_ROW_ID  # an id no row has: hidden objects must answer exactly like it

ADDRESS_TYPES = frozenset({IndicatorType.IPV4, IndicatorType.IPV6, IndicatorType.CIDR})
VALUES: tuple[tuple[IndicatorType, str], ...] = (
    (IndicatorType.IPV4, "198.51.100.7"),
    (IndicatorType.IPV4, "203.0.113.9"),
    (IndicatorType.CIDR, "198.51.100.7/32"),  # the same single address, as a network
    (IndicatorType.CIDR, "198.51.100.0/29"),
    (IndicatorType.CIDR, "198.51.100.0/24"),
    (IndicatorType.CIDR, "198.0.0.0/8"),  # wider than the /16 bucket: the range-only path
    (IndicatorType.IPV6, "2001:db8::7"),
    (IndicatorType.CIDR, "2001:db8::/48"),
    (IndicatorType.DOMAIN, "evil.example"),
    (IndicatorType.HOSTNAME, "evil.example"),  # same text, other type: an equal digest
    (IndicatorType.SHA256, "ab" * 32),  # never decays
)
NETWORK_QUERIES = ("198.51.100.0/29", "198.0.0.0/8", "0.0.0.0/0", "2001:db8::/32")
OWNER_TAGS = ("alpha", "beta")
LOCAL_TAGS = ("alpha", "delta")  # "alpha" also as a shared tag: the facet counts events once
TAG_WORDS = tuple(sorted(set(OWNER_TAGS) | set(LOCAL_TAGS)))


# ---- the pool: organisations, groups, viewers (kept across worlds) -----------------------


@dataclass(frozen=True)
class Pool:
    organisation_ids: tuple[int, ...]
    organisation_names: tuple[str, ...]
    group_ids: tuple[int, ...]
    writer_ids: tuple[int, ...]  # one analyst per organisation, who builds the worlds
    viewers: tuple[tuple[int, Role, dict[str, str]], ...]  # organisation index, role, headers

    def viewer(self, organisation: int) -> Viewer:
        """The viewer the plan says this organisation is, independent of `load_viewer`."""
        groups = frozenset(
            self.group_ids[g] for g, members in GROUPS.items() if organisation in members
        )
        return Viewer(organisation_id=self.organisation_ids[organisation], sharing_group_ids=groups)


@pytest.fixture
def pool(session: Session) -> Pool:
    # Facets count over the whole database, so the worlds must be alone in it.
    assert session.scalar(select(func.count(Event.id))) == 0
    organisations = [make_organisation(session, member_state=s) for s in MEMBER_STATES]
    group_ids = tuple(
        make_sharing_group(
            session, organisations[members[0]], [organisations[m] for m in members[1:]]
        ).id
        for members in GROUPS.values()
    )
    writers = [make_user(session, organisation) for organisation in organisations]
    reader = make_user(session, organisations[READER_OF], Role.READER)
    viewers = [(i, Role.ANALYST, auth(make_token(session, w))) for i, w in enumerate(writers)]
    viewers.append((READER_OF, Role.READER, auth(make_token(session, reader))))
    return Pool(
        organisation_ids=tuple(o.id for o in organisations),
        organisation_names=tuple(o.name for o in organisations),
        group_ids=group_ids,
        writer_ids=tuple(w.id for w in writers),
        viewers=tuple(viewers),
    )


@pytest.fixture
def not_found(client: TestClient, pool: Pool) -> dict[str, Any]:
    """The 404 bodies for an event and an indicator that never existed."""
    headers = pool.viewers[0][2]
    bodies = {}
    for kind in ("events", "indicators"):
        response = client.get(f"/api/v1/{kind}/{ABSENT_ID}", headers=headers)
        assert response.status_code == 404, response.text
        bodies[kind] = response.json()
    return bodies


# ---- the plan of a world -----------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSighting:
    reporter: int  # organisation index; one that may not see the indicator reports nothing
    kind: SightingKind
    count: int
    days_ago: int


@dataclass(frozen=True)
class PlannedIndicator:
    value: int  # index into VALUES
    tlp: TLP
    sightings: tuple[PlannedSighting, ...]


@dataclass(frozen=True)
class PlannedEvent:
    owner: int
    tlp: TLP
    distribution: Distribution
    group: int
    recipients: frozenset[int]
    threat_level: ThreatLevel
    owner_tags: frozenset[str]
    local_tags: frozenset[tuple[int, str]]  # one that may not see the event tags nothing
    indicators: tuple[PlannedIndicator, ...]


def _writable(tlp: TLP, distribution: Distribution) -> bool:
    try:
        check_marking(Marking(1, tlp, distribution, 1))
    except BadValue:
        return False
    return True


organisation_indexes = st.integers(0, ORGANISATIONS - 1)
planned_sightings = st.builds(
    PlannedSighting,
    reporter=organisation_indexes,
    kind=st.sampled_from(SightingKind),
    count=st.integers(1, 5),
    days_ago=st.integers(0, 2),
)


@st.composite
def planned_events(draw: st.DrawFn) -> PlannedEvent:
    owner = draw(organisation_indexes)
    distribution = draw(st.sampled_from(Distribution))
    tlp = draw(st.sampled_from([t for t in TLP if _writable(t, distribution)]))
    # Only a member of a group may share with it (refused at write time, tested elsewhere).
    group = draw(st.sampled_from([g for g, members in GROUPS.items() if owner in members]))
    # Never looser than the event's: a looser TLP is refused at write time (tested elsewhere).
    indicator = st.builds(
        PlannedIndicator,
        value=st.integers(0, len(VALUES) - 1),
        tlp=st.sampled_from([t for t in TLP if t.is_stricter_or_equal(tlp)]),
        sightings=st.lists(planned_sightings, max_size=2).map(tuple),
    )
    return PlannedEvent(
        owner=owner,
        tlp=tlp,
        distribution=distribution,
        group=group,
        recipients=draw(st.frozensets(organisation_indexes, max_size=2)),
        threat_level=draw(st.sampled_from(ThreatLevel)),
        owner_tags=draw(st.frozensets(st.sampled_from(OWNER_TAGS))),
        local_tags=draw(
            st.frozensets(st.tuples(organisation_indexes, st.sampled_from(LOCAL_TAGS)), max_size=3)
        ),
        indicators=tuple(
            draw(st.lists(indicator, min_size=1, max_size=4, unique_by=lambda p: p.value))
        ),
    )


# Addresses of an ip or cidr value: (IP version, first address, last address).
Addresses = tuple[int, int, int]


def _addresses(value: str) -> Addresses:
    network = ipaddress.ip_network(value)
    return network.version, int(network.network_address), int(network.broadcast_address)


def _within(inner: Addresses, outer: Addresses) -> bool:
    return inner[0] == outer[0] and outer[1] <= inner[1] and inner[2] <= outer[2]


def _collides(plans: list[PlannedEvent]) -> bool:
    """Some value is in two events: the worlds exist to catch a leak between such events."""
    values = [{VALUES[i.value][1] for i in plan.indicators} for plan in plans]
    return any(a & b for n, a in enumerate(values) for b in values[n + 1 :])


planned_worlds = st.lists(planned_events(), min_size=MIN_EVENTS, max_size=MAX_EVENTS).filter(
    _collides
)


# ---- the world as built --------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltSighting:
    id: int
    reporter: int
    kind: SightingKind
    count: int
    day: date


@dataclass
class BuiltIndicator:
    id: int
    type: IndicatorType
    value: str
    tlp: TLP
    marking: Marking
    sightings: list[BuiltSighting] = field(default_factory=list)

    @property
    def addresses(self) -> Addresses | None:
        return _addresses(self.value) if self.type in ADDRESS_TYPES else None


@dataclass
class BuiltEvent:
    id: int
    plan: PlannedEvent
    marking: Marking
    indicators: list[BuiltIndicator]
    tags: set[tuple[int, str]] = field(default_factory=set)  # (organisation index, name)


@dataclass(frozen=True)
class World:
    events: list[BuiltEvent]
    active: frozenset[int]  # indicators not expired by decay: the ones matching may return

    def indicators(self) -> Iterator[tuple[BuiltEvent, BuiltIndicator]]:
        for event in self.events:
            for indicator in event.indicators:
                yield event, indicator


def _principal(session: Session, user_id: int) -> Principal:
    user = session.get_one(User, user_id)
    return Principal(user=user, viewer=load_viewer(session, user), via="api")


def _build(session: Session, pool: Pool, plans: list[PlannedEvent]) -> World:
    writers = [_principal(session, user_id) for user_id in pool.writer_ids]
    events = [_build_event(session, pool, writers, plan, n) for n, plan in enumerate(plans)]
    for event in events:
        _add_local_tags(session, pool, writers, event)
        _add_sightings(session, pool, writers, event)
    ids = [indicator.id for event in events for indicator in event.indicators]
    now = utcnow()
    # Whether decay (or an "expired" sighting) ended an indicator is decay's business, tested
    # in its own module; here it only decides which visible indicators matching may return.
    expiries = session.execute(
        select(Indicator.id, Indicator.expires_at).where(Indicator.id.in_(ids))
    )
    active = frozenset(i for i, end in expiries if end is None or end > now)
    return World(events=events, active=active)


def _build_event(
    session: Session, pool: Pool, writers: list[Principal], plan: PlannedEvent, number: int
) -> BuiltEvent:
    in_group = plan.distribution is Distribution.SHARING_GROUP
    group_id = pool.group_ids[plan.group] if in_group else None
    recipients = frozenset(pool.organisation_ids[r] for r in plan.recipients)
    owner = writers[plan.owner]
    data = EventCreate(
        title=f"world event {number}",
        event_date=date(2026, 11, 1),
        threat_level=plan.threat_level,
        tlp=plan.tlp,
        distribution=plan.distribution,
        sharing_group_id=group_id,
        recipient_organisation_ids=sorted(recipients),
        tags=sorted(plan.owner_tags),
    )
    event = service.create_event(session, owner, data)
    marking = Marking(
        pool.organisation_ids[plan.owner], plan.tlp, plan.distribution, group_id, recipients
    )
    built = BuiltEvent(event.id, plan, marking, [], {(plan.owner, t) for t in plan.owner_tags})
    batch = IndicatorBatch(
        indicators=[
            IndicatorCreate(type=VALUES[p.value][0], value=VALUES[p.value][1], tlp=p.tlp)
            for p in plan.indicators
        ]
    )
    result = indicator_service.add_indicators(session, owner, event, batch)
    assert [i.value for i in result.added] == [VALUES[p.value][1] for p in plan.indicators]
    built.indicators = [
        BuiltIndicator(made.id, *VALUES[p.value], p.tlp, dataclasses.replace(marking, tlp=p.tlp))
        for made, p in zip(result.added, plan.indicators, strict=True)
    ]
    return built


def _add_local_tags(
    session: Session, pool: Pool, writers: list[Principal], event: BuiltEvent
) -> None:
    row = session.get_one(Event, event.id)
    for organisation, name in sorted(event.plan.local_tags):
        if can_see(pool.viewer(organisation), event.marking):
            tags.add_tag(session, writers[organisation], row, name)
            event.tags.add((organisation, name))


def _add_sightings(
    session: Session, pool: Pool, writers: list[Principal], event: BuiltEvent
) -> None:
    # Noon UTC: the timeline's day is then the same whatever the database session's time zone.
    yesterday_noon = utcnow().replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(1)
    for planned, indicator in zip(event.plan.indicators, event.indicators, strict=True):
        row = session.get_one(Indicator, indicator.id)
        for wanted in planned.sightings:
            if not can_see(pool.viewer(wanted.reporter), indicator.marking):
                continue
            observed_at = yesterday_noon - timedelta(days=wanted.days_ago)
            data = SightingCreate(kind=wanted.kind, count=wanted.count, observed_at=observed_at)
            made = sightings.add_sighting(session, writers[wanted.reporter], row, data)
            indicator.sightings.append(
                BuiltSighting(
                    made.id, wanted.reporter, wanted.kind, wanted.count, observed_at.date()
                )
            )


# ---- one viewer looking at one world ---------------------------------------------------------


@dataclass(frozen=True)
class Look:
    """One viewer calling the API on one world, with what `can_see` says it may see."""

    client: TestClient
    pool: Pool
    world: World
    not_found: dict[str, Any]
    viewer: tuple[int, Role, dict[str, str]]

    @property
    def organisation(self) -> int:
        return self.viewer[0]

    def __str__(self) -> str:
        return f"{self.viewer[1].value} of organisation {self.organisation}"

    def sees(self, marking: Marking) -> bool:
        return can_see(self.pool.viewer(self.organisation), marking)

    def events(self) -> list[BuiltEvent]:
        return [e for e in self.world.events if self.sees(e.marking)]

    def indicators(self) -> list[tuple[BuiltEvent, BuiltIndicator]]:
        return [(e, i) for e, i in self.world.indicators() if self.sees(i.marking)]

    def tags_on(self, event: BuiltEvent) -> list[str]:
        """The owner's tags and the viewer's own organisation's, never another's local tags."""
        mine = {event.plan.owner, self.organisation}
        return sorted({name for organisation, name in event.tags if organisation in mine})

    def counted(self, event: BuiltEvent) -> int:
        return sum(self.sees(i.marking) for i in event.indicators)

    def call(self, path: str, **params: Any) -> Response:
        response: Response = self.client.get(path, params=params, headers=self.viewer[2])
        return response

    def get(self, path: str, **params: Any) -> Any:
        response = self.call(path, **params)
        assert response.status_code == 200, f"{self}: GET {path} {params}: {response.text}"
        return response.json()

    def hidden(self, response: Response, kind: str, object_id: int) -> None:
        """A hidden object answers 404 with the very body of one that never existed."""
        where = f"{self}: {response.request.url.path}"
        assert response.status_code == 404, f"{where} answered {response.status_code}"
        absent = json.dumps(self.not_found[kind]).replace(str(ABSENT_ID), str(object_id))
        assert response.json() == json.loads(absent), f"{where} tells hidden from absent"


def _check_viewer(look: Look) -> None:
    _check_event_list(look)
    _check_event_details(look)
    _check_event_facets(look)
    _check_tag_searches(look)
    _check_indicator_list(look)
    _check_indicator_details(look)
    _check_value_searches(look)
    _check_network_searches(look)
    _check_indicator_facets(look)
    _check_correlations(look)
    _check_match(look)
    _check_sightings(look)
    _check_timelines(look)


def _check_event_list(look: Look) -> None:
    body = look.get("/api/v1/events", limit=MAX_LIMIT)
    got = {e["id"]: (e["indicator_count"], e["tags"]) for e in body["data"]}
    expected = {e.id: (look.counted(e), look.tags_on(e)) for e in look.events()}
    assert got == expected, f"{look}: /events"
    assert (body["count"], body["next_cursor"]) == (len(expected), None), f"{look}: /events"


def _check_event_details(look: Look) -> None:
    for event in look.world.events:
        response = look.call(f"/api/v1/events/{event.id}")
        if not look.sees(event.marking):
            look.hidden(response, "events", event.id)
            continue
        assert response.status_code == 200, f"{look}: event {event.id}: {response.text}"
        body = response.json()
        got = (body["id"], body["indicator_count"], body["tags"])
        assert got == (event.id, look.counted(event), look.tags_on(event)), f"{look}: detail"


def _counts(facet: list[dict[str, Any]]) -> dict[str, int]:
    return {item["value"]: item["count"] for item in facet}


def _owner_facets(look: Look, owners: list[int]) -> dict[str, dict[str, int]]:
    """Organisation and member-state facets of objects owned by these organisation indexes."""
    return {
        "organisation": dict(Counter(str(look.pool.organisation_ids[o]) for o in owners)),
        "member_state": dict(Counter(MEMBER_STATES[o] for o in owners)),
    }


def _check_event_facets(look: Look) -> None:
    events = look.events()
    expected = _owner_facets(look, [e.plan.owner for e in events])
    expected["tlp"] = dict(Counter(e.plan.tlp.value for e in events))
    expected["threat_level"] = dict(Counter(e.plan.threat_level.value for e in events))
    expected["tag"] = dict(Counter(name for e in events for name in look.tags_on(e)))
    body = look.get("/api/v1/events/facets")
    assert {key: _counts(body[key]) for key in expected} == expected, f"{look}: event facets"


def _check_tag_searches(look: Look) -> None:
    for name in TAG_WORDS:
        body = look.get("/api/v1/events", tag=name, limit=MAX_LIMIT)
        expected = {e.id for e in look.events() if name in look.tags_on(e)}
        assert {e["id"] for e in body["data"]} == expected, f"{look}: /events?tag={name}"


def _check_indicator_list(look: Look) -> None:
    body = look.get("/api/v1/indicators", limit=MAX_LIMIT)
    got = {i["id"]: (i["event_id"], i["value"], i["tlp"]) for i in body["data"]}
    expected = {i.id: (e.id, i.value, i.tlp.value) for e, i in look.indicators()}
    assert got == expected, f"{look}: /indicators"
    assert (body["count"], body["next_cursor"]) == (len(expected), None), f"{look}: /indicators"


def _check_indicator_details(look: Look) -> None:
    for _event, indicator in look.world.indicators():
        response = look.call(f"/api/v1/indicators/{indicator.id}")
        if not look.sees(indicator.marking):
            look.hidden(response, "indicators", indicator.id)
            continue
        assert response.status_code == 200, f"{look}: indicator {indicator.id}: {response.text}"
        assert response.json()["value"] == indicator.value


def _check_value_searches(look: Look) -> None:
    events_by_value: dict[str, set[int]] = {}
    for event, indicator in look.world.indicators():
        events_by_value.setdefault(indicator.value, set()).add(event.id)
    colliding = sorted(value for value, events in events_by_value.items() if len(events) > 1)
    for value in colliding:
        body = look.get("/api/v1/indicators", value=value, limit=MAX_LIMIT)
        expected = {i.id for _e, i in look.indicators() if i.value == value}
        assert {i["id"] for i in body["data"]} == expected, f"{look}: /indicators?value={value}"


def _inside(indicator: BuiltIndicator, query: str) -> bool:
    addresses = indicator.addresses
    return addresses is not None and _within(addresses, _addresses(query))


def _check_network_searches(look: Look) -> None:
    for query in NETWORK_QUERIES:
        body = look.get("/api/v1/indicators", cidr=query, limit=MAX_LIMIT)
        expected = {i.id for _e, i in look.indicators() if _inside(i, query)}
        assert {i["id"] for i in body["data"]} == expected, f"{look}: /indicators?cidr={query}"


def _check_indicator_facets(look: Look) -> None:
    seen = look.indicators()
    expected = _owner_facets(look, [e.plan.owner for e, _i in seen])
    expected["tlp"] = dict(Counter(i.tlp.value for _e, i in seen))
    expected["type"] = dict(Counter(i.type.value for _e, i in seen))
    body = look.get("/api/v1/indicators/facets")
    assert {key: _counts(body[key]) for key in expected} == expected, f"{look}: facets"


def _linked(mine: BuiltIndicator, other: BuiltIndicator) -> bool:
    """Correlation's rule: an equal value, or one address range inside the other's network."""
    if mine.value == other.value:
        return True
    a, b = mine.addresses, other.addresses
    if a is None or b is None:
        return False
    return (other.type is IndicatorType.CIDR and _within(a, b)) or (
        mine.type is IndicatorType.CIDR and _within(b, a)
    )


def _expected_links(look: Look, event: BuiltEvent) -> dict[int, list[str]]:
    """Other event id -> my values of each link whose two indicators the viewer may see."""
    links: dict[int, list[str]] = {}
    for other_event, other in look.indicators():
        if other_event.id == event.id:
            continue
        for mine in event.indicators:
            if look.sees(mine.marking) and _linked(mine, other):
                links.setdefault(other_event.id, []).append(mine.value)
    return links


def _check_correlations(look: Look) -> None:
    for event in look.world.events:
        response = look.call(f"/api/v1/events/{event.id}/correlations")
        if not look.sees(event.marking):
            look.hidden(response, "events", event.id)
            continue
        assert response.status_code == 200, f"{look}: correlations: {response.text}"
        got = {c["event_id"]: (c["links"], sorted(c["sample_values"])) for c in response.json()}
        expected = {
            other: (len(values), sorted(values)[:5])
            for other, values in _expected_links(look, event).items()
        }
        assert got == expected, f"{look}: correlations of event {event.id}"


def _check_match(look: Look) -> None:
    values = sorted({value for _type, value in VALUES})
    response = look.client.post(
        "/api/v1/indicators/match", json={"values": values}, headers=look.viewer[2]
    )
    assert response.status_code == 200, f"{look}: match: {response.text}"
    body = response.json()
    expected = {(i.value, i.id) for _e, i in look.indicators() if i.id in look.world.active}
    assert {(m["value"], m["indicator_id"]) for m in body["matches"]} == expected, f"{look}"
    assert body["matched_values"] == len({value for value, _id in expected}), f"{look}: match"


def _check_sightings(look: Look) -> None:
    names = look.pool.organisation_names
    for event, indicator in look.world.indicators():
        response = look.call(f"/api/v1/indicators/{indicator.id}/sightings", limit=MAX_LIMIT)
        if not look.sees(indicator.marking):
            look.hidden(response, "indicators", indicator.id)
            continue
        assert response.status_code == 200, f"{look}: sightings: {response.text}"
        got = {
            (s["id"], s["kind"], s["count"], s["organisation_name"])
            for s in response.json()["data"]
        }
        shown = look.organisation == event.plan.owner
        expected = {
            (
                s.id,
                s.kind.value,
                s.count,
                names[s.reporter] if shown or look.organisation == s.reporter else None,
            )
            for s in indicator.sightings
        }
        assert got == expected, f"{look}: sightings of indicator {indicator.id}"


def _check_timelines(look: Look) -> None:
    for event in look.world.events:
        response = look.call(f"/api/v1/events/{event.id}/sightings/timeline")
        if not look.sees(event.marking):
            look.hidden(response, "events", event.id)
            continue
        assert response.status_code == 200, f"{look}: timeline: {response.text}"
        points = response.json()
        got = {(p["day"], p["kind"]): p["count"] for p in points}
        expected: Counter[tuple[str, str]] = Counter()
        for indicator in event.indicators:
            if look.sees(indicator.marking):
                for s in indicator.sightings:
                    expected[(s.day.isoformat(), s.kind.value)] += s.count
        assert (got, len(points)) == (dict(expected), len(expected)), f"{look}: timeline"


# ---- the property -------------------------------------------------------------------------


@pytest.mark.slow
@settings(
    max_examples=WORLDS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=planned_worlds)
def test_every_endpoint_returns_exactly_what_the_viewer_may_see(
    connection: Connection,
    session_factory: sessionmaker[Session],
    client: TestClient,
    pool: Pool,
    not_found: dict[str, Any],
    plans: list[PlannedEvent],
) -> None:
    # The services commit; each world lives in a connection-level savepoint rolled back here.
    savepoint = connection.begin_nested()
    try:
        with session_factory() as session:
            world = _build(session, pool, plans)
        for viewer in pool.viewers:
            _check_viewer(Look(client, pool, world, not_found, viewer))
    finally:
        savepoint.rollback()
