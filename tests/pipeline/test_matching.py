"""Matching pipeline rows against shared indicators: what matches what, and who may see it.

The first half builds indexes from plain rows (`IndicatorIndex.from_rows`) and needs no
database; the brute-force property compares every match with a reference written with
`ipaddress` and string suffixes. The second half creates events and indicators through the
real services on SQLite and PostgreSQL, loads the index from the database and checks the
access rule against `visible_events` / `visible_indicators`, the queries the API uses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from entente.core.access import GROUP_TLPS, MEMBER_TLPS_BY_DISTRIBUTION
from entente.core.clock import utcnow
from entente.core.errors import AppError
from entente.members.accounts import Principal, load_viewer
from entente.members.models import User
from entente.pipeline.batches import MATCHED_EVENTS, MATCHED_INDICATORS, ORGANISATION
from entente.pipeline.matching import ROWS_SCHEMA, IndicatorIndex, match, restrict_to_recipients
from entente.pipeline.matching.values import CANONICAL_URL
from entente.sharing import indicator_service, service
from entente.sharing.indicators import IndicatorType, canonicalise
from entente.sharing.indicators.addresses import address_range
from entente.sharing.models import Event, Indicator
from entente.sharing.queries import visible_events, visible_indicators
from entente.sharing.schemas import EventCreate, IndicatorBatch, IndicatorCreate
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_organisation, make_sharing_group, make_user

# ---- indexes from plain rows ---------------------------------------------------------------


def index_of(*indicators: tuple[int, str, str]) -> IndicatorIndex:
    """An index of (indicator id, type, value) rows; each indicator's event id is 1000 + id."""
    rows = []
    for indicator_id, kind, value in indicators:
        ranges = address_range(IndicatorType(kind), value)
        rows.append(
            {
                "indicator_id": indicator_id,
                "event_id": 1000 + indicator_id,
                "type": kind,
                "value": value,
                "net_low": ranges.low if ranges else None,
                "net_high": ranges.high if ranges else None,
            }
        )
    return IndicatorIndex.from_rows(pl.DataFrame(rows, schema=ROWS_SCHEMA))


def matched(index: IndicatorIndex, **columns: list[Any]) -> list[list[int]]:
    batch = pl.DataFrame(columns, schema={name: pl.String for name in columns})
    return list(match(batch, index)[MATCHED_INDICATORS].to_list())


def test_an_exact_address_matches_itself_only() -> None:
    index = index_of((1, "ipv4", "198.51.100.7"))
    ips = ["198.51.100.7", "198.51.100.8", "198.51.100.6", None, "198.51.100.7 "]
    assert matched(index, **{"source.ip": ips}) == [[1], [], [], [], [1]]


def test_a_row_gets_every_network_that_contains_it() -> None:
    index = index_of(
        (1, "cidr", "10.0.0.0/8"),
        (2, "cidr", "10.1.0.0/16"),
        (3, "cidr", "10.1.2.0/24"),
        (4, "ipv4", "10.1.2.3"),
        (5, "cidr", "10.1.0.0/16"),  # the same network in a second event
        (6, "cidr", "0.0.0.0/0"),
    )
    ips = ["10.1.2.3", "10.1.2.4", "10.1.9.9", "10.200.0.1", "11.0.0.1", "255.255.255.255"]
    expected = [[1, 2, 3, 4, 5, 6], [1, 2, 3, 5, 6], [1, 2, 5, 6], [1, 6], [6], [6]]
    assert matched(index, **{"source.ip": ips}) == expected


def test_network_edges_are_inside_and_their_neighbours_outside() -> None:
    index = index_of((1, "cidr", "192.0.2.16/28"), (2, "cidr", "255.255.255.254/31"))
    ips = ["192.0.2.15", "192.0.2.16", "192.0.2.31", "192.0.2.32", "255.255.255.255", "0.0.0.0"]
    assert matched(index, **{"source.ip": ips}) == [[], [1], [1], [], [2], []]


def test_many_networks_take_the_bitmap_path_and_still_match_exactly() -> None:
    rng = np.random.default_rng(5)
    prefixes = [8, 12, *rng.choice([16, 20, 24, 28, 30, 32, 32, 32], size=6_000).tolist()]
    networks = [
        ipaddress.IPv4Network((int(rng.integers(0, 2**32)), prefix), strict=False)
        for prefix in prefixes
    ]
    index = index_of(*((n, "cidr", str(net)) for n, net in enumerate(networks, start=1)))
    assert index.ipv4.blocks.size  # enough disjoint ranges for the /24 bitmap
    lows = np.array([int(net.network_address) for net in networks], dtype=np.int64)
    highs = np.array([int(net.broadcast_address) for net in networks], dtype=np.int64)
    edges = np.concatenate([lows, highs, lows - 1, highs + 1]) % 2**32
    probes = np.concatenate([edges, rng.integers(0, 2**32, size=4_000)])
    expected = [
        (np.flatnonzero((lows <= probe) & (probe <= highs)) + 1).tolist() for probe in probes
    ]
    ips = [str(ipaddress.IPv4Address(int(probe))) for probe in probes]
    assert matched(index, **{"source.ip": ips}) == expected


def test_ipv6_addresses_and_networks_match_and_ipv4_meets_ipv6_as_stored() -> None:
    """IPv4 is stored inside ::ffff:0:0/96 (as correlation reads it): a mapped address is
    the IPv4 address, and an IPv6 network around that whole space contains all of IPv4."""
    index = index_of(
        (1, "ipv6", "2001:db8::7"),
        (2, "cidr", "2001:db8::/32"),
        (3, "cidr", "2001:db8:0:1::/64"),
        (4, "ipv4", "192.0.2.1"),
        (5, "cidr", "::/0"),
        (6, "cidr", "::ffff:0:0/97"),  # half of IPv4: 0.0.0.0/1, stored as such
        (7, "cidr", "2001:db8::/127"),
    )
    ips = ["2001:DB8:0::7", "2001:db8::1", "2001:db8:0:1::9", "::ffff:192.0.2.1", "192.0.2.1"]
    ips += ["10.0.0.1", "2001:db9::1"]
    expected = [[1, 2, 5], [2, 5, 7], [2, 3, 5], [4, 5], [4, 5], [5, 6], [5]]
    assert matched(index, **{"source.ip": ips}) == expected


def test_destination_addresses_match_too_and_each_indicator_is_listed_once() -> None:
    index = index_of((1, "ipv4", "203.0.113.5"), (2, "ipv4", "203.0.113.6"))
    columns = {
        "source.ip": ["203.0.113.5", "203.0.113.5", None],
        "destination.ip": ["203.0.113.5", "203.0.113.6", "203.0.113.6"],
    }
    assert matched(index, **columns) == [[1], [1, 2], [2]]


def test_a_domain_matches_itself_and_every_name_below_it_and_nothing_else() -> None:
    index = index_of((1, "domain", "evil.example"), (2, "hostname", "mail.bad.example"))
    names = [
        "evil.example",
        "a.b.evil.example",
        "EVIL.Example.",
        " www.evil.example ",
        "notevil.example",
        "example",
        "evil.example.com",
        "mail.bad.example",
        "x.mail.bad.example",  # a hostname names one host, not the names below it
        "bad.example",
    ]
    expected = [[1], [1], [1], [1], [], [], [], [2], [], []]
    assert matched(index, **{"source.fqdn": names}) == expected


def test_internationalised_names_match_their_a_labels() -> None:
    index = index_of((1, "domain", canonicalise(IndicatorType.DOMAIN, "bücher.example")))
    names = ["shop.Bücher.example", "bücher。example", "bucher.example"]
    assert matched(index, **{"destination.fqdn": names}) == [[1], [1], []]


def test_urls_match_by_canonical_form_only() -> None:
    index = index_of((1, "url", "http://evil.example/login?next=~home"))
    urls = [
        "http://evil.example/login?next=~home",
        "HTTP://Evil.Example:80/login?next=%7Ehome",
        "hxxp://evil[.]example/login?next=~home",
        "http://evil.example./login?next=~home",
        "http://evil.example/login?next=~home#",
        "https://evil.example/login?next=~home",
        "http://evil.example/Login?next=~home",
        "http://user@evil.example/login?next=~home",
        "http://evil.example/login",
        "evil.example/login?next=~home",
        "not a url",
    ]
    assert matched(index, **{"source.url": urls}) == [[1]] * 5 + [[]] * 6


def test_ipv6_literal_urls_are_canonicalised_before_comparing() -> None:
    index = index_of((1, "url", "http://[2001:db8::1]:8080/"))
    urls = ["http://[2001:DB8:0::1]:8080", "http://[2001:db8::2]:8080/"]
    assert matched(index, **{"destination.url": urls}) == [[1], []]


def test_hashes_match_their_own_field_in_any_case() -> None:
    md5, sha1, sha256 = "ab" * 16, "cd" * 20, "ef" * 32
    index = index_of((1, "md5", md5), (2, "sha1", sha1), (3, "sha256", sha256))
    columns = {
        "malware.hash.md5": [md5.upper(), sha1, None],
        "malware.hash.sha1": [None, sha1, md5],
        "malware.hash.sha256": [f" {sha256} ", None, sha256[:-1]],
    }
    assert matched(index, **columns) == [[1, 3], [2], []]


def test_references_are_aligned_sorted_lists_never_null() -> None:
    index = index_of((7, "ipv4", "192.0.2.1"), (3, "domain", "evil.example"))
    batch = pl.DataFrame(
        {
            "source.ip": ["192.0.2.1", "192.0.2.2", "192.0.2.1"],
            "source.fqdn": ["a.evil.example", None, None],
            "feed.name": ["f", "f", "f"],
        }
    )
    out = match(batch, index)
    assert out.columns == [*batch.columns, MATCHED_INDICATORS, MATCHED_EVENTS]
    assert out.schema[MATCHED_INDICATORS] == pl.List(pl.Int64)
    assert out.schema[MATCHED_EVENTS] == pl.List(pl.Int64)
    assert out[MATCHED_INDICATORS].to_list() == [[3, 7], [], [7]]
    assert out[MATCHED_EVENTS].to_list() == [[1003, 1007], [], [1007]]
    assert out.drop(MATCHED_INDICATORS, MATCHED_EVENTS).equals(batch)


def test_batches_without_matchable_fields_or_rows_get_empty_references() -> None:
    index = index_of((1, "ipv4", "192.0.2.1"))
    plain = match(pl.DataFrame({"feed.name": ["a", "b"]}), index)
    assert plain[MATCHED_INDICATORS].to_list() == [[], []]
    empty = match(pl.DataFrame(schema={"source.ip": pl.String}), index)
    assert empty.height == 0 and empty.schema[MATCHED_EVENTS] == pl.List(pl.Int64)
    nulls = match(pl.DataFrame({"source.ip": [None, None]}), index)
    assert nulls[MATCHED_INDICATORS].to_list() == [[], []]


def test_values_that_are_not_addresses_names_or_urls_match_nothing() -> None:
    index = index_of(
        (1, "ipv4", "192.0.2.1"), (2, "domain", "evil.example"), (3, "url", "http://a.example/")
    )
    columns = {
        "source.ip": ["192.0.2.1.5", "010.0.2.1", "evil.example", "", "::zz"],
        "source.fqdn": ["", ".", "evil.example..", "evil..example", "192.0.2.1"],
        "source.url": ["http://", "://a.example/", "http://a.example:99999/", "", "http://[::1"],
    }
    assert matched(index, **columns) == [[]] * 5


def test_indicator_rows_of_other_types_are_not_indexed() -> None:
    index = index_of((1, "email-src", "a@evil.example"), (2, "cve", "CVE-2021-44228"))
    assert index.size == 0
    assert matched(index, **{"source.fqdn": ["evil.example"]}) == [[]]


# A URL made of the characters `CANONICAL_URL` allows, built to be valid often.
label = st.from_regex(r"[a-z0-9](?:[a-z0-9_-]{0,8}[a-z0-9])?", fullmatch=True)
hosts = st.one_of(
    st.builds(
        lambda labels, top: ".".join([*labels, top]),
        st.lists(label, min_size=1, max_size=3),
        st.from_regex(r"[a-z]{2,6}", fullmatch=True),
    ),
    st.ip_addresses(v=4).map(str),
    label,
)
safe_text = st.from_regex(r"[A-Za-z0-9\-._~!$&'*+,;=:@/]{0,20}", fullmatch=True)
canonical_looking_urls = st.builds(
    lambda scheme, host, path, query, fragment: f"{scheme}://{host}/{path}{query}{fragment}",
    st.sampled_from(["http", "https", "ftp", "ws", "svn+ssh", "h.x-y"]),
    hosts,
    safe_text,
    st.one_of(st.just(""), safe_text.filter(bool).map(lambda text: "?" + text)),
    st.one_of(st.just(""), safe_text.filter(bool).map(lambda text: "#" + text)),
)


@given(canonical_looking_urls)
def test_urls_the_prefilter_compares_as_they_are_are_already_canonical(url: str) -> None:
    """The vectorised shortcut relies on this: `canonicalise` refuses them or keeps them."""
    assert pl.Series([url]).str.contains(CANONICAL_URL).item()
    try:
        canonical = canonicalise(IndicatorType.URL, url)
    except AppError:
        return
    assert canonical == url


# ---- the brute-force reference -------------------------------------------------------------

# Small spaces, so networks nest and rows hit often.
v4_networks = st.builds(
    lambda address, prefix: ipaddress.ip_network(
        f"10.0.{address >> 8}.{address & 255}/{prefix}", strict=False
    ),
    st.integers(0, 65535),
    st.integers(12, 32),
)
v6_networks = st.builds(
    lambda address, prefix: ipaddress.ip_network(
        (0x20010DB8 << 96 | address << 80, prefix), strict=False
    ),
    st.integers(0, 255),
    st.sampled_from([24, 32, 40, 48, 128]),
)
names = st.lists(st.sampled_from(["a", "b", "evil", "bad"]), min_size=1, max_size=3).map(
    lambda labels: ".".join([*labels, "example"])
)


@dataclass(frozen=True)
class Shared:
    kind: str
    value: str


def address_indicator(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Shared:
    if network.prefixlen == network.max_prefixlen:
        return Shared(f"ipv{network.version}", str(network.network_address))
    return Shared("cidr", str(network))


shared = st.one_of(
    (v4_networks | v6_networks).map(address_indicator),
    names.map(lambda name: Shared("domain", name)),
    names.map(lambda name: Shared("hostname", name)),
)
row_addresses = st.one_of(
    st.none(),
    st.integers(0, 65535).map(lambda n: f"10.0.{n >> 8}.{n & 255}"),
    st.integers(0, 255).map(lambda n: str(ipaddress.IPv6Address(0x20010DB8 << 96 | n << 80 | 1))),
)


def reference(indicators: list[Shared], ip: str | None, name: str | None) -> list[int]:
    """Ids (positions + 1) of the indicators matching a row, from first principles."""
    found = []
    for position, indicator in enumerate(indicators, start=1):
        if indicator.kind in {"ipv4", "ipv6", "cidr"}:
            hit = ip is not None and ipaddress.ip_address(ip) in ipaddress.ip_network(
                indicator.value
            )
        elif indicator.kind == "domain":
            hit = name is not None and (
                name == indicator.value or name.endswith("." + indicator.value)
            )
        else:
            hit = name == indicator.value
        if hit:
            found.append(position)
    return found


@given(
    st.lists(shared, max_size=30),
    st.lists(st.tuples(row_addresses, st.none() | names), max_size=30),
)
def test_matches_equal_a_brute_force_reference(
    indicators: list[Shared], rows: list[tuple[str | None, str | None]]
) -> None:
    index = index_of(*((n, i.kind, i.value) for n, i in enumerate(indicators, start=1)))
    ips = [ip for ip, _ in rows]
    fqdns = [name for _, name in rows]
    expected = [reference(indicators, ip, name) for ip, name in rows]
    assert matched(index, **{"source.ip": ips, "source.fqdn": fqdns}) == expected


# ---- from the database ---------------------------------------------------------------------


def writer(session: Session) -> Principal:
    user = make_user(session, make_organisation(session))
    return Principal(user=user, viewer=load_viewer(session, user), via="api")


def shared_event(
    session: Session,
    owner: Principal,
    indicators: list[IndicatorCreate],
    **marking: Any,
) -> tuple[Event, list[int]]:
    """An event marked `marking` (TLP:GREEN to all members by default) and its indicator ids."""
    data = EventCreate(
        title="Botnet C2 infrastructure",
        event_date=date(2026, 11, 20),
        **{"tlp": TLP.GREEN, "distribution": Distribution.ALL_MEMBERS, **marking},
    )
    created = service.create_event(session, owner, data)
    result = indicator_service.add_indicators(
        session, owner, created, IndicatorBatch(indicators=indicators)
    )
    return created, [indicator.id for indicator in result.added]


def detect(kind: IndicatorType, value: str, **extra: Any) -> IndicatorCreate:
    return IndicatorCreate(type=kind, value=value, **{"to_ids": True, **extra})


def test_load_reads_only_active_detection_indicators(session: Session) -> None:
    owner = writer(session)
    year_ago = utcnow() - timedelta(days=365)
    _, ids = shared_event(
        session,
        owner,
        [
            detect(IndicatorType.IPV4, "198.51.100.7"),
            detect(IndicatorType.IPV4, "198.51.100.8", last_seen=year_ago),  # decayed
            IndicatorCreate(type=IndicatorType.IPV4, value="198.51.100.9"),  # not to_ids
            detect(IndicatorType.SHA1, "c" * 40, last_seen=year_ago),  # hashes never decay
            detect(IndicatorType.EMAIL_SRC, "billing@evil.example"),  # not a detection type
        ],
    )
    index = IndicatorIndex.load(session, utcnow())
    assert index.size == 2
    columns = {
        "source.ip": ["198.51.100.7", "198.51.100.8", "198.51.100.9"],
        "malware.hash.sha1": ["C" * 40, None, None],
    }
    assert matched(index, **columns) == [[ids[0], ids[3]], [], []]
    # A year from now the address has decayed too; the hash has not.
    later = IndicatorIndex.load(session, utcnow() + timedelta(days=365))
    assert matched(later, **columns) == [[ids[3]], [], []]


def test_load_reads_networks_names_and_urls_as_stored(session: Session) -> None:
    owner = writer(session)
    event_, ids = shared_event(
        session,
        owner,
        [
            detect(IndicatorType.CIDR, "198.51.100.0/24"),
            detect(IndicatorType.CIDR, "2001:db8::/32"),
            detect(IndicatorType.IPV6, "2001:db8::7"),
            detect(IndicatorType.DOMAIN, "EVIL.example"),
            detect(IndicatorType.HOSTNAME, "mail.bad.example"),
            # Commas, quotes and a space survive the CSV of PostgreSQL's COPY.
            detect(IndicatorType.URL, 'http://a.example/x,y?q="1 2"'),
            detect(IndicatorType.MD5, "AB" * 16),
        ],
    )
    index = IndicatorIndex.load(session, utcnow())
    columns = {
        "source.ip": ["198.51.100.200", "2001:db8::7", None, None],
        "source.fqdn": [None, "x.evil.example", "mail.bad.example", None],
        "source.url": [None, None, None, 'HTTP://A.example:80/x,y?q="1 2"'],
        "malware.hash.md5": [None, None, None, "ab" * 16],
    }
    assert matched(index, **columns) == [
        [ids[0]],
        [ids[1], ids[2], ids[3]],
        [ids[4]],
        [ids[5], ids[6]],
    ]
    batch = match(pl.DataFrame(columns), index)
    assert set(batch[MATCHED_EVENTS].explode().drop_nulls()) == {event_.id}


@dataclass(frozen=True)
class Members:
    """Four organisations with a writer each; groups {0, 1} and {1, 2}; 3 is in none.

    Ids only: a test that rolls back re-reads the users (`writers`) rather than holding
    ORM objects across the rollback.
    """

    user_ids: list[int]
    organisation_ids: list[int]
    group_ids: list[int]

    def writers(self, session: Session) -> list[Principal]:
        users = [session.get_one(User, user_id) for user_id in self.user_ids]
        return [Principal(user=u, viewer=load_viewer(session, u), via="api") for u in users]


@pytest.fixture
def members(session: Session) -> Members:
    orgs = [make_organisation(session) for _ in range(4)]
    users = [make_user(session, organisation) for organisation in orgs]
    groups = [
        make_sharing_group(session, orgs[0], [orgs[1]]),
        make_sharing_group(session, orgs[1], [orgs[2]]),
    ]
    return Members([u.id for u in users], [o.id for o in orgs], [g.id for g in groups])


def routed(members: Members, value: str) -> pl.DataFrame:
    """One row per organisation, then an unrouted one, all carrying `value` as source.fqdn."""
    organisations: list[int | None] = [*members.organisation_ids, None]
    return pl.DataFrame(
        {"source.fqdn": [value] * 5, ORGANISATION: organisations},
        schema={"source.fqdn": pl.String, ORGANISATION: pl.Int64},
    )


def test_each_row_keeps_only_what_its_organisation_may_see(
    session: Session, members: Members
) -> None:
    owner, member, _, outsider = members.writers(session)
    _, green = shared_event(session, owner, [detect(IndicatorType.DOMAIN, "evil.example")])
    _, grouped = shared_event(
        session,
        owner,
        [detect(IndicatorType.DOMAIN, "evil.example")],
        tlp=TLP.AMBER,
        distribution=Distribution.SHARING_GROUP,
        sharing_group_id=members.group_ids[0],
    )
    _, named = shared_event(
        session,
        member,
        [detect(IndicatorType.DOMAIN, "evil.example")],
        tlp=TLP.RED,
        distribution=Distribution.ORGANISATION,
        recipient_organisation_ids=[outsider.user.organisation_id],
    )
    # Shared with all members, but this one indicator is held back to the owner's groups.
    _, strict = shared_event(
        session, owner, [detect(IndicatorType.DOMAIN, "evil.example", tlp=TLP.AMBER_STRICT)]
    )
    batch = match(routed(members, "www.evil.example"), IndicatorIndex.load(session, utcnow()))
    assert all(len(ids) == 4 for ids in batch[MATCHED_INDICATORS])
    kept = restrict_to_recipients(session, batch)[MATCHED_INDICATORS].to_list()
    assert kept == [
        sorted(green + grouped + strict),  # the owner sees all of its own
        sorted(green + grouped + named),  # group member; owner of the red one
        green,  # not in the first group; the strict indicator reaches nobody more
        sorted(green + named),  # named recipient of the red one
        [],  # unrouted: nobody is known to be allowed
    ]


def test_a_batch_without_routing_or_matches_keeps_no_references(session: Session) -> None:
    owner = writer(session)
    shared_event(session, owner, [detect(IndicatorType.DOMAIN, "evil.example")])
    index = IndicatorIndex.load(session, utcnow())
    unrouted = match(pl.DataFrame({"source.fqdn": ["evil.example"]}), index)
    assert restrict_to_recipients(session, unrouted)[MATCHED_INDICATORS].to_list() == [[]]
    nothing = match(pl.DataFrame({"source.fqdn": ["good.example"], ORGANISATION: [1]}), index)
    restricted = restrict_to_recipients(session, nothing)
    assert restricted[MATCHED_EVENTS].to_list() == [[]]
    assert restricted.columns == nothing.columns


@pytest.fixture
def queries(connection: Connection) -> Iterator[list[str]]:
    """The SELECT statements sent on the test's connection (savepoints left out)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2]).lstrip()
        if statement.upper().startswith(("SELECT", "WITH")):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    yield seen
    event.remove(connection, "before_cursor_execute", record)


def test_restricting_costs_a_few_queries_whatever_the_number_of_rows(
    session: Session, members: Members, queries: list[str]
) -> None:
    owner = members.writers(session)[0]
    for tlp in (TLP.GREEN, TLP.AMBER):
        shared_event(
            session,
            owner,
            [
                detect(IndicatorType.DOMAIN, "evil.example"),
                detect(IndicatorType.DOMAIN, "bad.example", tlp=TLP.RED),
            ],
            tlp=tlp,
        )
    index = IndicatorIndex.load(session, utcnow())
    rows = 3_000
    batch = match(
        pl.DataFrame(
            {
                "source.fqdn": ["a.evil.example", "b.bad.example", "nothing.example"] * (rows // 3),
                ORGANISATION: [members.organisation_ids[n % 4] for n in range(rows)],
            }
        ),
        index,
    )
    queries.clear()
    kept = restrict_to_recipients(session, batch)
    # Sharing groups, event markings, events' named recipients, indicators marked apart.
    assert len(queries) == 4
    assert kept[MATCHED_INDICATORS].list.len().sum() > 0


# ---- the access property -------------------------------------------------------------------

ACCESS_CASES = max(10, settings().max_examples // 5)  # ci: 100 worlds; dev: 10

# The (TLP, distribution) pairs an event may carry (`core.access.check_marking`).
VALID_MARKINGS = [
    (tlp, distribution)
    for tlp in TLP
    for distribution in Distribution
    if distribution is Distribution.ORGANISATION
    or (distribution is Distribution.SHARING_GROUP and tlp in GROUP_TLPS)
    or tlp in MEMBER_TLPS_BY_DISTRIBUTION.get(distribution, frozenset())
]


@dataclass(frozen=True)
class EventSpec:
    owner: int
    tlp: TLP
    distribution: Distribution
    recipients: frozenset[int]
    tightening: int  # how many TLP steps the indicator is stricter than its event


event_specs = st.builds(
    lambda owner, marking, recipients, tightening: EventSpec(
        owner, *marking, recipients, tightening
    ),
    st.integers(0, 3),
    st.sampled_from(VALID_MARKINGS),
    st.frozensets(st.integers(0, 3), max_size=2),
    st.sampled_from([0, 0, 1, 2]),
)

# Each owner's sharing group (`members`: 0 and 1 share the first, 2 only the second).
GROUP_OF_OWNER = {0: 0, 1: 0, 2: 1}


def create(
    session: Session, members: Members, writers: list[Principal], spec: EventSpec
) -> tuple[int, int]:
    """The event and indicator of a spec; an owner outside every group shares with members."""
    distribution = spec.distribution
    group = None
    if distribution is Distribution.SHARING_GROUP:
        if spec.owner in GROUP_OF_OWNER:
            group = members.group_ids[GROUP_OF_OWNER[spec.owner]]
        else:
            distribution = Distribution.ORGANISATION
    tlps = list(TLP)
    indicator_tlp = tlps[min(spec.tlp.rank + spec.tightening, len(tlps) - 1)]
    created, ids = shared_event(
        session,
        writers[spec.owner],
        [detect(IndicatorType.DOMAIN, "shared.example", tlp=indicator_tlp)],
        tlp=spec.tlp,
        distribution=distribution,
        sharing_group_id=group,
        recipient_organisation_ids=sorted(members.organisation_ids[r] for r in spec.recipients),
    )
    return created.id, ids[0]


@pytest.mark.slow
@settings(
    max_examples=ACCESS_CASES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(event_specs, min_size=1, max_size=4))
def test_a_recipient_never_gets_a_reference_it_may_not_see(
    session: Session, connection: Connection, members: Members, specs: list[EventSpec]
) -> None:
    session.commit()  # the session's own savepoint must not enclose the world's
    savepoint = connection.begin_nested()  # each world rolled back
    try:
        writers = members.writers(session)
        created = [create(session, members, writers, spec) for spec in specs]
        batch = match(routed(members, "www.shared.example"), IndicatorIndex.load(session, utcnow()))
        kept = restrict_to_recipients(session, batch)
        event_ids = [event_id for event_id, _ in created]
        indicator_ids = [indicator_id for _, indicator_id in created]
        for position in range(4):
            viewer = writers[position].viewer
            may_see_events = set(
                session.scalars(
                    visible_events(viewer)
                    .with_only_columns(Event.id)
                    .where(Event.id.in_(event_ids))
                )
            )
            may_see = session.scalars(
                visible_indicators(viewer)
                .with_only_columns(Indicator.id)
                .where(Indicator.id.in_(indicator_ids))
            )
            assert kept[MATCHED_INDICATORS][position].to_list() == sorted(may_see)
            assert set(kept[MATCHED_EVENTS][position].to_list()) <= may_see_events
        assert kept[MATCHED_INDICATORS][4].to_list() == []
    finally:
        session.rollback()
        savepoint.rollback()
        session.expunge_all()  # SQLite reuses ids of rolled-back rows


def test_the_access_property_draws_from_every_valid_marking() -> None:
    # Own organisation: any TLP; group: all but RED; all members: up to AMBER; public: up to GREEN.
    assert len(VALID_MARKINGS) == 5 + 4 + 3 + 2
