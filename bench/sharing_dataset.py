"""The sharing space the benchmark measures: members through the services, the bulk by COPY.

Organisations, sharing groups, the benchmark's users and its API token are created through
the application's services, as a hub would have them. The bulk (events, their tags and named
recipients, indicators, correlation links) is SETUP, NOT WHAT IS MEASURED: it is written with
PostgreSQL COPY and set-based SQL so a million indicators load in minutes, with every column
computed as the application computes it (canonical value, value digest, address range and
bucket from `sharing.indicators.addresses`, warning-list flags, decay base score and expiry
from `sharing.decay`). The correlation links are then built for the whole table at once,
with the same rule `sharing.correlation.correlate` applies as indicators arrive: a link for
each pair of indicators of different events with the same value, or where one is a CIDR
network containing the other, stored in both directions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from sharing_values import TYPE_WEIGHTS, TYPES, ValueMaker
from sqlalchemy.orm import Session

from entente import demo
from entente.core.access import Marking
from entente.core.audit import Actor
from entente.members import accounts
from entente.members import service as members_service
from entente.members.choices import Role
from entente.members.schemas import TokenCreate, UserCreate
from entente.sharing import decay, groups
from entente.sharing.choices import AnalysisState, ThreatLevel
from entente.sharing.group_schemas import GroupCreate
from entente.sharing.indicator_service import value_digest
from entente.sharing.indicators import IndicatorType
from entente.sharing.indicators.addresses import address_range
from entente.sharing.tags import canonical_tag
from entente.sharing.warninglists import WarningListIndex
from entente.vocabulary.markings import TLP, Distribution

SETUP_ACTOR = Actor(label="bench", via="cli")
BENCH_PASSWORD = "bench-password-2026"
REPEATED_SHARE = 0.15  # of indicators whose value another event also reports
POOL_SHARE = 0.05  # distinct repeated values, as a share of all indicators
NOW = datetime.now(UTC).replace(microsecond=0)

# (TLP, distribution, weight): the mix of markings members choose.
MARKINGS = [
    (TLP.GREEN, Distribution.ALL_MEMBERS, 30),
    (TLP.AMBER, Distribution.ALL_MEMBERS, 20),
    (TLP.CLEAR, Distribution.PUBLIC, 8),
    (TLP.GREEN, Distribution.PUBLIC, 5),
    (TLP.AMBER, Distribution.SHARING_GROUP, 12),
    (TLP.AMBER_STRICT, Distribution.SHARING_GROUP, 8),
    (TLP.GREEN, Distribution.SHARING_GROUP, 5),
    (TLP.RED, Distribution.ORGANISATION, 4),
    (TLP.AMBER, Distribution.ORGANISATION, 5),
    (TLP.AMBER_STRICT, Distribution.ORGANISATION, 3),
]
TAGS = [
    'rsit:fraud="phishing"',
    'rsit:malicious-code="c2-server"',
    'rsit:intrusions="application-compromise"',
    'rsit:malicious-code="malware-distribution"',
    'rsit:availability="ddos"',
    'admiralty-scale:source-reliability="a"',
    'admiralty-scale:source-reliability="b"',
    'admiralty-scale:source-reliability="c"',
    'admiralty-scale:information-credibility="2"',
    "pap:green",
    "pap:amber",
    "botnet-c2",
    "banking-trojan",
    "ransomware",
    "initial-access-broker",
]
TITLES = [
    "Phishing campaign impersonating {}",
    "Ransomware intrusion at a {} operator",
    "Botnet C2 infrastructure seen from {}",
    "Exploitation of an edge-device CVE against {}",
    "Credential harvesting kit targeting {}",
    "DDoS against {} portals",
]
TARGETS = ["banks", "tax authority", "telecom", "health ministry", "postal service", "energy"]
GROUPS = {
    "Regional CERT community": 12,
    "Financial sector ISAC": 6,
    "Energy sector exchange": 5,
    "Telecom operators forum": 7,
    "Health sector CSIRTs": 6,
    "Pacific islands CERTs": 4,
}
EVENT_COLUMNS = [
    "id",
    "uuid",
    "title",
    "description",
    "event_date",
    "threat_level",
    "analysis",
    "published",
    "version",
    "created_at",
    "updated_at",
    "published_at",
    "owner_organisation_id",
    "tlp",
    "distribution",
    "sharing_group_id",
]
INDICATOR_COLUMNS = [
    "id",
    "uuid",
    "event_id",
    "type",
    "value",
    "value_digest",
    "category",
    "to_ids",
    "comment",
    "tlp",
    "created_at",
    "net_low",
    "net_high",
    "net_bucket",
    "warning_lists",
    "base_score",
    "decay_from",
    "expires_at",
]


@dataclass(frozen=True, slots=True)
class Member:
    """The benchmark's user: an analyst of a member organisation that is in sharing groups."""

    user_id: int
    organisation_id: int
    token: str


@dataclass(slots=True)
class Population:
    organisation_ids: list[int]
    group_members: dict[int, set[int]]  # sharing group id -> organisation ids
    member: Member


@dataclass(slots=True)
class EventPlan:
    """Per event: id, owner, TLP and creation time, what indicators of it inherit."""

    ids: np.ndarray
    tlps: list[TLP]
    created: list[datetime]
    base_scores: list[int]
    sizes: np.ndarray
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[int, int, str, datetime]] = field(default_factory=list)
    recipients: list[tuple[str, int, int]] = field(default_factory=list)


# ---- members, groups, the benchmark user (through the services) -------------------------


def create_population(session: Session, rng: np.random.Generator) -> Population:
    """The demo's organisations, a few sharing groups, and an analyst with an API token."""
    organisations = [
        members_service.create_organisation(session, SETUP_ACTOR, spec)
        for spec in demo.read_demo_data().organisations
    ]
    ids = [organisation.id for organisation in organisations]
    member_org = ids[0]
    group_members: dict[int, set[int]] = {}
    for position, (name, size) in enumerate(GROUPS.items()):
        chosen = {int(i) for i in rng.choice(ids, size, replace=False)}
        if position < 2:  # the benchmark user's organisation is in two of the groups
            chosen.add(member_org)
        data = GroupCreate(
            name=name,
            creator_organisation_id=min(chosen),
            member_organisation_ids=sorted(chosen),
        )
        group = groups.create_group(session, SETUP_ACTOR, None, data)
        group_members[group.id] = chosen
    user = accounts.create_user(
        session,
        SETUP_ACTOR,
        None,
        UserCreate(
            username="bench.analyst",
            email="bench.analyst@bench.example.org",
            password=BENCH_PASSWORD,
            role=Role.ANALYST,
            organisation_id=member_org,
        ),
    )
    _token, clear = accounts.create_token(
        session, SETUP_ACTOR, user, TokenCreate(name="bench", expires_in_days=1)
    )
    return Population(ids, group_members, Member(user.id, member_org, clear))


# ---- events -----------------------------------------------------------------------------


def plan_events(
    rng: np.random.Generator, population: Population, events: int, indicators: int
) -> EventPlan:
    """Events with skewed sizes (most small, a few with thousands of indicators)."""
    raw = rng.lognormal(2.3, 1.3, events)
    sizes = np.maximum(1, np.floor(raw / raw.sum() * indicators)).astype(np.int64)
    short = indicators - int(sizes.sum())
    if short > 0:
        np.add.at(sizes, rng.integers(0, events, short), 1)
    while short < 0:  # rounding up the tiny ones overshot: take it back from the largest
        largest = int(np.argmax(sizes))
        take = min(-short, int(sizes[largest]) - 1)
        sizes[largest] -= take
        short += take
    weights = np.array([w for _, _, w in MARKINGS], dtype=np.float64)
    markings = rng.choice(len(MARKINGS), events, p=weights / weights.sum())
    owners = rng.choice(population.organisation_ids, events)
    ages = rng.integers(0, 730 * 24 * 3600, events)
    tag_pool = [canonical_tag(tag) for tag in TAGS]
    plan = EventPlan(np.arange(1, events + 1), [], [], [], sizes)
    for index in range(events):
        owner = int(owners[index])
        created = NOW - timedelta(seconds=int(ages[index]))
        tlp, distribution, _ = MARKINGS[int(markings[index])]
        group = (
            _group_of(rng, population, owner)
            if distribution is Distribution.SHARING_GROUP
            else None
        )
        if distribution is Distribution.SHARING_GROUP and group is None:
            distribution = Distribution.ALL_MEMBERS
            tlp = TLP.AMBER if tlp is TLP.AMBER_STRICT else tlp
        tags = [str(t) for t in rng.choice(tag_pool, int(rng.integers(0, 4)), replace=False)]
        event_id = index + 1
        plan.tlps.append(tlp)
        plan.created.append(created)
        plan.base_scores.append(decay.base_score(tags))
        marking = Marking(owner, tlp, distribution, group)
        plan.rows.append(_event_row(rng, event_id, marking, created))
        plan.tags.extend((event_id, owner, tag, created) for tag in tags)
        if distribution is Distribution.ORGANISATION and rng.random() < 0.3:
            for recipient in rng.choice(population.organisation_ids, 2, replace=False):
                if int(recipient) != owner:
                    plan.recipients.append(("event", event_id, int(recipient)))
    return plan


def _group_of(rng: np.random.Generator, population: Population, owner: int) -> int | None:
    mine = [gid for gid, members in population.group_members.items() if owner in members]
    return int(rng.choice(mine)) if mine else None


def _event_row(
    rng: np.random.Generator, event_id: int, marking: Marking, created: datetime
) -> tuple[Any, ...]:
    title = TITLES[int(rng.integers(0, len(TITLES)))].format(
        TARGETS[int(rng.integers(0, len(TARGETS)))]
    )
    published = bool(rng.random() < 0.8)
    threat = list(ThreatLevel)[int(rng.integers(0, len(ThreatLevel)))]
    analysis = list(AnalysisState)[int(rng.integers(0, len(AnalysisState)))]
    return (
        event_id,
        str(uuid.uuid4()),
        f"{title} ({event_id})",
        "",
        created.date(),
        threat.value,
        analysis.value,
        published,
        1 if published else 0,
        created,
        created,
        created + timedelta(hours=2) if published else None,
        marking.owner_organisation_id,
        marking.tlp.value,
        marking.distribution.value,
        marking.sharing_group_id,
    )


# ---- indicators -------------------------------------------------------------------------


class IndicatorRows:
    """Indicator rows event by event, with a share of values repeated across events."""

    def __init__(self, rng: np.random.Generator, plan: EventPlan, warnings: WarningListIndex):
        self.rng = rng
        self.plan = plan
        self.warnings = warnings
        self.maker = ValueMaker(rng)
        total = int(plan.sizes.sum())
        self.pool = {
            kind: self.maker.make(kind, max(1, int(total * POOL_SHARE * share)))
            for kind, share in zip(TYPES, TYPE_WEIGHTS, strict=True)
        }
        self.next_id = 1

    def chunks(self, events_per_chunk: int) -> Iterator[list[tuple[Any, ...]]]:
        """Rows of `events_per_chunk` events at a time, ready for COPY."""
        count = len(self.plan.sizes)
        for start in range(0, count, events_per_chunk):
            yield self._rows(range(start, min(count, start + events_per_chunk)))

    def _rows(self, event_indexes: range) -> list[tuple[Any, ...]]:
        sizes = self.plan.sizes[event_indexes.start : event_indexes.stop]
        owners = np.repeat(np.arange(event_indexes.start, event_indexes.stop), sizes)
        kinds, values = self._values(len(owners))
        seen: set[tuple[int, IndicatorType, str]] = set()
        for position, (owner, kind, value) in enumerate(zip(owners, kinds, values, strict=True)):
            key = (int(owner), kind, value)
            if key in seen:  # one value once per event, as `add_indicators` keeps it
                kinds[position] = IndicatorType.SHA256
                values[position] = self.maker.make(IndicatorType.SHA256, 1)[0]
            seen.add(key)
        flags = self.warnings.match_many(kinds, values)
        return [
            self._row(int(owner), kind, value, hits)
            for owner, kind, value, hits in zip(owners, kinds, values, flags, strict=True)
        ]

    def _values(self, count: int) -> tuple[list[IndicatorType], list[str]]:
        kind_index = self.rng.choice(len(TYPES), count, p=TYPE_WEIGHTS)
        repeated = self.rng.random(count) < REPEATED_SHARE
        # Popularity is skewed: a few values (a busy C2 address) recur in many events.
        popularity = self.rng.random(count) ** 1.6
        kinds = [TYPES[int(k)] for k in kind_index]
        values = [""] * count
        for type_index, kind in enumerate(TYPES):
            fresh = np.flatnonzero((kind_index == type_index) & ~repeated)
            for position, value in zip(fresh, self.maker.make(kind, len(fresh)), strict=True):
                values[position] = value
            pool = self.pool[kind]
            for position in np.flatnonzero((kind_index == type_index) & repeated):
                values[position] = pool[int(popularity[position] * len(pool))]
        return kinds, values

    def _row(
        self, event_index: int, kind: IndicatorType, value: str, hits: list[str]
    ) -> tuple[Any, ...]:
        created = self.plan.created[event_index] + timedelta(minutes=5)
        base = self.plan.base_scores[event_index]
        addresses = address_range(kind, value)
        row = (
            self.next_id,
            str(uuid.uuid4()),
            event_index + 1,
            kind.value,
            value,
            value_digest(value),
            kind.default_category.value,
            True,
            "",
            self.plan.tlps[event_index].value,
            created,
            addresses.low if addresses else None,
            addresses.high if addresses else None,
            addresses.bucket if addresses else None,
            ",".join(hits),
            base,
            created,
            decay.expiry(kind, base, created),
        )
        self.next_id += 1
        return row


# ---- COPY and set-based SQL -------------------------------------------------------------


def copy_rows(
    connection: psycopg.Connection[Any],
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    written = 0
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    return written


def load_events(connection: psycopg.Connection[Any], plan: EventPlan) -> None:
    copy_rows(connection, "event", EVENT_COLUMNS, plan.rows)
    copy_rows(
        connection, "event_tag", ["event_id", "organisation_id", "name", "created_at"], plan.tags
    )
    copy_rows(
        connection,
        "access_recipient",
        ["object_type", "object_id", "organisation_id"],
        plan.recipients,
    )
    _advance_sequence(connection, "event")


def load_indicators(connection: psycopg.Connection[Any], rows: IndicatorRows) -> Iterator[int]:
    """COPY the indicators chunk by chunk, yielding the running total for progress."""
    total = 0
    for chunk in rows.chunks(events_per_chunk=2_000):
        total += copy_rows(connection, "indicator", INDICATOR_COLUMNS, chunk)
        connection.commit()
        yield total
    _advance_sequence(connection, "indicator")


def _advance_sequence(connection: psycopg.Connection[Any], table: str) -> None:
    connection.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
    )
    connection.commit()


# The rule of `sharing.correlation.correlate`, over the whole table at once.
_EXACT_LINKS = """
INSERT INTO correlation (indicator_id, other_indicator_id, event_id, other_event_id, kind)
SELECT a.id, b.id, a.event_id, b.event_id, 'exact'
FROM indicator a JOIN indicator b ON b.value_digest = a.value_digest AND b.event_id <> a.event_id
"""
_CONTAINED = """
CREATE TEMPORARY TABLE contained AS
SELECT inner_.id AS inner_id, outer_.id AS outer_id,
       inner_.event_id AS inner_event, outer_.event_id AS outer_event
FROM indicator outer_
JOIN indicator inner_ ON inner_.net_bucket = outer_.net_bucket
WHERE outer_.type = 'cidr' AND inner_.event_id <> outer_.event_id
  AND inner_.value_digest <> outer_.value_digest
  AND outer_.net_low <= inner_.net_low AND outer_.net_high >= inner_.net_high
UNION ALL
SELECT inner_.id, outer_.id, inner_.event_id, outer_.event_id
FROM indicator outer_
JOIN indicator inner_ ON inner_.net_low >= outer_.net_low AND inner_.net_low <= outer_.net_high
WHERE outer_.type = 'cidr' AND outer_.net_bucket IS NULL AND outer_.net_low IS NOT NULL
  AND inner_.net_high <= outer_.net_high AND inner_.event_id <> outer_.event_id
  AND inner_.value_digest <> outer_.value_digest
"""
_CIDR_LINKS = """
INSERT INTO correlation (indicator_id, other_indicator_id, event_id, other_event_id, kind)
SELECT inner_id, outer_id, inner_event, outer_event, 'cidr' FROM contained
UNION ALL
SELECT outer_id, inner_id, outer_event, inner_event, 'cidr' FROM contained
"""


def build_correlations(connection: psycopg.Connection[Any]) -> dict[str, int]:
    """All correlation links of the loaded indicators; returns the rows per kind."""
    connection.execute(_EXACT_LINKS)
    connection.execute(_CONTAINED)
    connection.execute(_CIDR_LINKS)
    connection.execute("DROP TABLE contained")
    connection.commit()
    rows = connection.execute("SELECT kind, count(*) FROM correlation GROUP BY kind").fetchall()
    return {str(kind): int(count) for kind, count in rows}


def analyse(connection: psycopg.Connection[Any]) -> None:
    """VACUUM ANALYZE, as autovacuum would have done on a hub that grew to this size."""
    connection.commit()
    connection.autocommit = True
    connection.execute("VACUUM ANALYZE")
    connection.autocommit = False


def sample_indicators(
    connection: psycopg.Connection[Any], count: int, rng: np.random.Generator
) -> list[tuple[IndicatorType, str]]:
    """Distinct (type, value) pairs of loaded indicators, drawn at random."""
    total = int(connection.execute("SELECT max(id) FROM indicator").fetchone()[0])  # type: ignore[index]
    ids = rng.choice(np.arange(1, total + 1), min(total, count * 2), replace=False)
    rows = connection.execute(
        "SELECT type, value FROM indicator WHERE id = ANY(%s)", ([int(i) for i in ids],)
    ).fetchall()
    unique = list(dict.fromkeys((IndicatorType(kind), str(value)) for kind, value in rows))
    order = rng.permutation(len(unique))
    return [unique[int(i)] for i in order[:count]]
