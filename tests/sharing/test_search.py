"""Search through the REST API: indicator and event filters, facets, CIDR, the digest index."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, text
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.sharing.models import Indicator
from tests.sharing.builders import (
    Member,
    add_indicator,
    add_indicators,
    create_event,
    member,
    search,
)


def _ids(rows: list[dict[str, Any]]) -> set[int]:
    return {row["id"] for row in rows}


def _values(client: TestClient, who: Member, **params: Any) -> set[str]:
    return {row["value"] for row in search(client, who, **params)}


# ---- indicators ------------------------------------------------------------------------


def test_a_value_is_found_in_any_spelling(client: TestClient, session: Session) -> None:
    owner = member(session)
    event = create_event(client, owner)
    url, domain, address = add_indicators(
        client,
        owner,
        event,
        {"type": "url", "value": "http://evil.example/login"},
        {"type": "domain", "value": "evil.example"},
        {"type": "ipv6", "value": "2a01:4f8::7"},
    )
    assert _ids(search(client, owner, value="hxxp://Evil[.]Example/login")) == {url["id"]}
    assert _ids(search(client, owner, value="EVIL[.]example.")) == {domain["id"]}
    assert _ids(search(client, owner, value="2A01:04F8:0:0:0:0:0:7")) == {address["id"]}
    # With the type given, only that type is looked up.
    assert search(client, owner, value="evil.example", type="url") == []


def test_a_value_search_never_finds_what_the_viewer_may_not_see(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tlp="green")
    add_indicator(client, owner, event, "domain", "secret.example", tlp="amber+strict")
    assert search(client, other, value="secret.example") == []
    assert len(search(client, owner, value="secret.example")) == 1


@pytest.fixture
def networks(client: TestClient, session: Session) -> tuple[Member, dict[str, int]]:
    """An event holding addresses and networks inside and outside 45.155.205.0/24, v4 and v6."""
    owner = member(session)
    event = create_event(client, owner)
    added = add_indicators(
        client,
        owner,
        event,
        {"type": "ipv4", "value": "45.155.205.7"},
        {"type": "cidr", "value": "45.155.205.0/28"},
        {"type": "ipv4", "value": "45.155.206.1"},
        {"type": "cidr", "value": "45.155.0.0/16"},
        {"type": "ipv6", "value": "2a01:4f8:1::5"},
        {"type": "cidr", "value": "2a01:4f8::/32"},
        {"type": "ipv6", "value": "2a02::1"},
        {"type": "domain", "value": "45.155.205.7.example"},
    )
    return owner, {row["value"]: row["id"] for row in added}


def test_cidr_finds_ipv4_addresses_and_networks_inside(
    client: TestClient, networks: tuple[Member, dict[str, int]]
) -> None:
    owner, _ = networks
    assert _values(client, owner, cidr="45.155.205.0/24") == {"45.155.205.7", "45.155.205.0/28"}
    assert _values(client, owner, cidr="45.155.0.0/16") == {
        "45.155.205.7",
        "45.155.205.0/28",
        "45.155.206.1",
        "45.155.0.0/16",
    }
    # A bare address is its own /32; a host bit set in the network is tolerated.
    assert _values(client, owner, cidr="45.155.205.7") == {"45.155.205.7"}
    assert _values(client, owner, cidr="45.155.205.9/24") == {"45.155.205.7", "45.155.205.0/28"}


def test_cidr_finds_ipv6_addresses_and_networks_inside(
    client: TestClient, networks: tuple[Member, dict[str, int]]
) -> None:
    owner, _ = networks
    assert _values(client, owner, cidr="2a01:4f8::/29") == {"2a01:4f8:1::5", "2a01:4f8::/32"}
    assert _values(client, owner, cidr="2A01:04F8:0001::/48") == {"2a01:4f8:1::5"}
    assert _values(client, owner, cidr="2a00::/12") == {
        "2a01:4f8:1::5",
        "2a01:4f8::/32",
        "2a02::1",
    }


def test_cidr_combines_with_the_type_filter(
    client: TestClient, networks: tuple[Member, dict[str, int]]
) -> None:
    owner, _ = networks
    assert _values(client, owner, cidr="45.155.0.0/16", type="cidr") == {
        "45.155.205.0/28",
        "45.155.0.0/16",
    }


def test_a_bad_cidr_is_refused_naming_cidr(client: TestClient, session: Session) -> None:
    owner = member(session)
    for bad in ["45.155.205.0/33", "not-a-network", "2a01::/129", "1.2.3", "10.0.0.0/8/8"]:
        for path in ("/api/v1/indicators", "/api/v1/indicators/facets"):
            response = client.get(path, params={"cidr": bad}, headers=owner.headers)
            assert response.status_code == 422, (bad, response.text)
            error = response.json()["error"]
            assert error["field"] == "cidr", bad
            assert bad in error["message"] or "network" in error["message"], bad


@pytest.fixture
def two_members(client: TestClient, session: Session) -> dict[str, Any]:
    """Events of a Kenyan and a Ghanaian member, on two dates, with varied indicators."""
    kenyan = member(session, member_state="KE")
    ghanaian = member(session, member_state="GH")
    viewer = member(session, member_state="SN")
    january = create_event(client, kenyan, event_date="2026-01-10", tags=["winter"])
    june = create_event(client, ghanaian, event_date="2026-06-10", tlp="amber")
    added_january = add_indicators(
        client,
        kenyan,
        january,
        {"type": "domain", "value": "jan.example"},
        {"type": "md5", "value": "a" * 32, "tlp": "amber"},
        {"type": "ipv4", "value": "8.8.8.8"},
    )
    year_ago = (utcnow() - timedelta(days=365)).isoformat()
    added_june = add_indicators(
        client,
        ghanaian,
        june,
        {"type": "domain", "value": "jun.example"},
        {"type": "ipv4", "value": "45.155.205.50", "last_seen": year_ago},
    )
    return {
        "kenyan": kenyan,
        "ghanaian": ghanaian,
        "viewer": viewer,
        "january": january,
        "june": june,
        "ids": {row["value"]: row["id"] for row in added_january + added_june},
    }


def test_indicator_filters_each_narrow_the_list(
    client: TestClient, two_members: dict[str, Any]
) -> None:
    viewer: Member = two_members["viewer"]
    kenyan: Member = two_members["kenyan"]

    def found(**params: Any) -> set[str]:
        return _values(client, viewer, **params)

    everything = {"jan.example", "a" * 32, "8.8.8.8", "jun.example", "45.155.205.50"}
    assert found() >= everything
    assert found(type="domain") & everything == {"jan.example", "jun.example"}
    assert found(tlp="amber") & everything == {"a" * 32, "jun.example", "45.155.205.50"}
    assert found(organisation_id=kenyan.organisation.id) == {"jan.example", "a" * 32, "8.8.8.8"}
    assert found(member_state="gh") & everything == {"jun.example", "45.155.205.50"}
    assert found(tag="winter") == {"jan.example", "a" * 32, "8.8.8.8"}
    assert found(since="2026-03-01") & everything == {"jun.example", "45.155.205.50"}
    assert found(until="2026-03-01") & everything == {"jan.example", "a" * 32, "8.8.8.8"}
    assert found(since="2026-06-10", until="2026-06-10") & everything == {
        "jun.example",
        "45.155.205.50",
    }
    assert found(active=False) & everything == {"45.155.205.50"}
    assert "45.155.205.50" not in found(active=True)
    assert found(warning=True) & everything == {"8.8.8.8"}
    assert "8.8.8.8" not in found(warning=False)
    assert found(type="ipv4", member_state="KE") & everything == {"8.8.8.8"}


def test_an_unknown_member_state_finds_nothing_and_does_not_crash(
    client: TestClient, two_members: dict[str, Any]
) -> None:
    viewer: Member = two_members["viewer"]
    for state in ["XX", "ghana", "'; --", "日本", "%"]:
        for path in ("/api/v1/indicators", "/api/v1/events"):
            response = client.get(path, params={"member_state": state}, headers=viewer.headers)
            assert response.status_code == 200, (state, response.text)
            assert response.json()["data"] == [], state
            facets = client.get(
                f"{path}/facets", params={"member_state": state}, headers=viewer.headers
            )
            assert facets.status_code == 200, (state, facets.text)


def _facet_totals(facets: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    return {name: sum(item["count"] for item in counts) for name, counts in facets.items()}


INDICATOR_FILTERS: list[dict[str, str]] = [
    {},
    {"type": "domain"},
    {"tlp": "amber"},
    {"member_state": "KE"},
    {"tag": "winter"},
    {"active": "false"},
    {"warning": "true"},
    {"since": "2026-03-01"},
    {"cidr": "8.0.0.0/8"},
    {"value": "JAN[.]example"},
]


def test_indicator_facets_count_exactly_the_filtered_list(
    client: TestClient, two_members: dict[str, Any]
) -> None:
    viewer: Member = two_members["viewer"]
    for params in INDICATOR_FILTERS:
        listed = client.get(
            "/api/v1/indicators", params={**params, "limit": 1000}, headers=viewer.headers
        ).json()
        facets = client.get("/api/v1/indicators/facets", params=params, headers=viewer.headers)
        assert facets.status_code == 200, facets.text
        body = facets.json()
        assert set(body) == {"type", "tlp", "organisation", "member_state"}
        assert _facet_totals(body) == dict.fromkeys(body, listed["count"]), params
        assert listed["count"] == len(listed["data"]) > 0, params


def test_indicator_facets_name_their_values(
    client: TestClient, two_members: dict[str, Any]
) -> None:
    viewer: Member = two_members["viewer"]
    kenyan: Member = two_members["kenyan"]
    body = client.get(
        "/api/v1/indicators/facets",
        params={"organisation_id": kenyan.organisation.id},
        headers=viewer.headers,
    ).json()
    assert {(f["value"], f["count"]) for f in body["type"]} == {
        ("domain", 1),
        ("md5", 1),
        ("ipv4", 1),
    }
    assert body["organisation"] == [
        {"value": str(kenyan.organisation.id), "label": kenyan.organisation.name, "count": 3}
    ]
    assert [(f["value"], f["label"], f["count"]) for f in body["member_state"]] == [
        ("KE", "Kenya", 3)
    ]
    assert {(f["value"], f["label"]) for f in body["tlp"]} == {
        ("green", "TLP:GREEN"),
        ("amber", "TLP:AMBER"),
    }


def test_facets_never_count_what_the_viewer_may_not_see(
    client: TestClient, session: Session
) -> None:
    owner, other = member(session), member(session)
    event = create_event(client, owner, tlp="green")
    add_indicator(client, owner, event, "domain", "visible.example")
    add_indicator(client, owner, event, "domain", "strict.example", tlp="amber+strict")
    params = {"organisation_id": owner.organisation.id}
    theirs = client.get("/api/v1/indicators/facets", params=params, headers=other.headers).json()
    mine = client.get("/api/v1/indicators/facets", params=params, headers=owner.headers).json()
    assert _facet_totals(theirs)["type"] == 1
    assert _facet_totals(mine)["type"] == 2


# ---- events ----------------------------------------------------------------------------


def _event_ids(client: TestClient, who: Member, **params: Any) -> set[int]:
    response = client.get("/api/v1/events", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return {e["id"] for e in response.json()["data"]}


def test_event_filters_each_narrow_the_list(
    client: TestClient, session: Session, two_members: dict[str, Any]
) -> None:
    viewer: Member = two_members["viewer"]
    kenyan: Member = two_members["kenyan"]
    january, june = two_members["january"]["id"], two_members["june"]["id"]
    high = create_event(
        client, kenyan, title="Ransomware at the port authority", threat_level="high"
    )["id"]
    client.post(f"/api/v1/events/{high}/publish", headers=kenyan.headers)
    ours = {january, june, high}

    def found(**params: Any) -> set[int]:
        return _event_ids(client, viewer, **params) & ours

    assert found() == ours
    assert found(q="PORT authority") == {high}
    assert found(q="%") == set()  # a wildcard character is searched for literally
    assert found(organisation_id=kenyan.organisation.id) == {january, high}
    assert found(member_state="gh") == {june}
    assert found(tlp="amber") == {june}
    assert found(threat_level="high") == {high}
    assert found(published=True) == {high}
    assert found(published=False) == {january, june}
    assert found(tag="winter") == {january}
    assert found(since="2026-03-01") == {june, high}
    assert found(until="2026-03-01") == {january}


def test_event_facets_count_exactly_the_filtered_list(
    client: TestClient, two_members: dict[str, Any]
) -> None:
    viewer: Member = two_members["viewer"]
    for params in [{}, {"member_state": "KE"}, {"tlp": "green"}, {"tag": "winter"}, {"q": "c2"}]:
        listed = client.get(
            "/api/v1/events", params={**params, "limit": 1000}, headers=viewer.headers
        ).json()
        facets = client.get("/api/v1/events/facets", params=params, headers=viewer.headers)
        assert facets.status_code == 200, facets.text
        totals = _facet_totals(facets.json())
        count = listed["count"]
        assert count == len(listed["data"]) > 0, params
        assert {k: v for k, v in totals.items() if k != "tag"} == {
            "tlp": count,
            "threat_level": count,
            "organisation": count,
            "member_state": count,
        }, params


def test_event_tag_facet_counts_events_and_hides_other_members_local_tags(
    client: TestClient, two_members: dict[str, Any]
) -> None:
    viewer: Member = two_members["viewer"]
    ghanaian: Member = two_members["ghanaian"]
    january = two_members["january"]
    client.post(
        f"/api/v1/events/{january['id']}/tags", json={"tag": "gh-local"}, headers=ghanaian.headers
    )
    seen_by_viewer = client.get("/api/v1/events/facets", headers=viewer.headers).json()["tag"]
    assert {"value": "winter", "label": "winter", "count": 1} in seen_by_viewer
    assert "gh-local" not in {f["value"] for f in seen_by_viewer}
    seen_by_ghana = client.get("/api/v1/events/facets", headers=ghanaian.headers).json()["tag"]
    assert "gh-local" in {f["value"] for f in seen_by_ghana}


# ---- the digest index --------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql"])
def test_an_exact_lookup_uses_the_digest_index(client: TestClient, session: Session) -> None:
    owner = member(session)
    event_row = create_event(client, owner)
    # Enough rows, and fresh statistics, that the planner prefers an index where it can use one.
    batch = [{"type": "md5", "value": f"{n:032x}"} for n in range(3_000)]
    response = client.post(
        f"/api/v1/events/{event_row['id']}/indicators",
        json={"indicators": batch},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    session.execute(text(f"ANALYZE {Indicator.__tablename__}"))
    connection = session.connection()
    statements: list[tuple[str, Any]] = []

    def remember(
        conn: Connection, cursor: Any, statement: str, parameters: Any, *args: Any
    ) -> None:
        if "value_digest IN" in statement:
            statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", remember)
    try:
        found = search(client, owner, value=f"{1234:032X}")
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    assert [row["value"] for row in found] == [f"{1234:032x}"]
    assert statements, "the value filter did not go through the digest"
    for statement, parameters in statements:
        plan = "\n".join(
            row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        )
        assert "Seq Scan on indicator" not in plan, plan
        assert "ix_indicator_type_value_digest" in plan or "ix_indicator_value_digest" in plan, plan


# ---- round trips -------------------------------------------------------------------------


def _statements_of(connection: Connection, request: Any) -> list[str]:
    """The SQL statements (not transaction control) the database received during `request()`."""
    statements: list[str] = []

    def remember(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(connection, "before_cursor_execute", remember)
    try:
        request()
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    return statements


def test_an_exact_lookup_is_two_queries(
    client: TestClient, session: Session, connection: Connection
) -> None:
    """Token with its user, organisation and the viewer's groups; the matches: nothing else.

    Latency under load grows with round trips; a lookup whose matches fit the page needs no
    count of its own. A page that fills up still gets its count (`paginate`).
    """
    owner = member(session)
    event_row = create_event(client, owner)
    add_indicators(client, owner, event_row, {"type": "domain", "value": "evil.example"})
    search(client, owner, value="evil.example")  # the token's first use is written down once
    found: list[list[dict[str, Any]]] = []
    statements = _statements_of(
        connection, lambda: found.append(search(client, owner, value="EVIL[.]example"))
    )
    assert [row["value"] for row in found[0]] == ["evil.example"]
    assert len(statements) == 2, "\n\n".join(statements)
    assert all(s.lstrip().upper().startswith("SELECT") for s in statements), statements


def test_a_lookup_that_fills_the_page_still_counts_every_match(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    for _ in range(3):
        event_row = create_event(client, owner)
        add_indicators(client, owner, event_row, {"type": "domain", "value": "evil.example"})
    response = client.get(
        "/api/v1/indicators", params={"value": "evil.example", "limit": 2}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (len(body["data"]), body["count"], body["next_cursor"] is not None) == (2, 3, True)
    rest = client.get(
        "/api/v1/indicators",
        params={"value": "evil.example", "limit": 2, "cursor": body["next_cursor"]},
        headers=owner.headers,
    ).json()
    assert [len(rest["data"]), rest["count"], rest["next_cursor"]] == [1, 3, None]
