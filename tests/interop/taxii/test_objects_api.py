"""Reading collections over TAXII 2.1 (TestClient): discovery, collections, objects with
paging, `added_after`, `match[...]`, the date-added headers, manifest, versions, object by
id; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from entente.interop.taxii.media import TAXII_MEDIA_TYPE
from entente.sharing.indicators import IndicatorType
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_sharing_group, make_token
from tests.interop.builders import Member, event, indicators, member
from tests.interop.taxii.builders import ROOT, basic, collection, objects_url, taxii_headers


def _add_domains(session: Session, owner: Member, target: Any, names: list[str]) -> None:
    for name in names:
        indicators(session, owner, target, {IndicatorType.DOMAIN: name})


def _all_pages(client: TestClient, url: str, headers: dict[str, str], **params: Any) -> list[Any]:
    pages = []
    next_token = None
    while True:
        query = {**params, **({"next": next_token} if next_token else {})}
        response = client.get(url, headers=headers, params=query)
        assert response.status_code == 200, response.text
        pages.append(response)
        body = response.json()
        if not body["more"]:
            return pages
        next_token = body["next"]


def test_discovery_api_root_and_collections_show_only_what_the_caller_may_use(
    client: TestClient, session: Session
) -> None:
    reader, stranger = member(session), member(session)
    readable = collection(session, [reader], alias="shared", description="For all of us")
    collection(session, [stranger], title="Not for the reader")
    headers = taxii_headers(session, reader)
    discovery = client.get("/taxii2/", headers=headers)
    assert discovery.status_code == 200
    assert discovery.headers["content-type"] == TAXII_MEDIA_TYPE
    assert discovery.json()["api_roots"] == ["http://testserver/taxii2/api/"]
    root = client.get(f"{ROOT}/", headers=headers).json()
    assert root["versions"] == [TAXII_MEDIA_TYPE]
    assert root["max_content_length"] > 0
    listed = client.get(f"{ROOT}/collections/", headers=headers).json()["collections"]
    assert listed == [
        {
            "id": readable.uuid,
            "title": "Shared indicators",
            "description": "For all of us",
            "alias": "shared",
            "can_read": True,
            "can_write": False,
            "media_types": ["application/stix+json;version=2.1"],
        }
    ]
    by_alias = client.get(f"{ROOT}/collections/shared/", headers=headers)
    assert by_alias.json()["id"] == readable.uuid
    # A collection of others is as absent as one that does not exist.
    none_for_stranger = client.get(
        f"{ROOT}/collections/", headers=taxii_headers(session, member(session))
    )
    assert none_for_stranger.json() == {}


def test_objects_page_by_keyset_with_exact_more_next_and_date_added_headers(
    client: TestClient, session: Session
) -> None:
    owner, reader = member(session), member(session)
    shared = event(session, owner)
    names = [f"page-{n}.example" for n in range(7)]
    _add_domains(session, owner, shared, names[:4])
    indicators(
        session,
        owner,
        shared,
        {
            IndicatorType.URL: "http://a.example/x",
            IndicatorType.MD5: "d41d8cd98f00b204e9800998ecf8427e",
        },
    )
    _add_domains(session, owner, shared, names[4:])
    target = collection(session, [reader])
    headers = taxii_headers(session, reader)
    pages = _all_pages(client, objects_url(target), headers, limit=2)
    assert len(pages) == 5  # 9 objects, two a page; the last page says more=false
    seen = [o for page in pages for o in page.json().get("objects", [])]
    assert len(seen) == 9 and len({o["id"] for o in seen}) == 9
    assert {o["name"] for o in seen} == {
        *names,
        "http://a.example/x",
        "d41d8cd98f00b204e9800998ecf8427e",
    }
    firsts = [page.headers["X-TAXII-Date-Added-First"] for page in pages]
    lasts = [page.headers["X-TAXII-Date-Added-Last"] for page in pages]
    assert firsts == sorted(firsts) and lasts == sorted(lasts)
    assert all(f <= last for f, last in zip(firsts, lasts, strict=True))
    # A page boundary survives rows added meanwhile: they come after, never shift a page.
    first = client.get(objects_url(target), headers=headers, params={"limit": 3}).json()
    _add_domains(session, owner, shared, ["late.example"])
    rest = _all_pages(client, objects_url(target), headers, limit=3, next=first["next"])
    after = [o["id"] for page in rest for o in page.json().get("objects", [])]
    assert len(after) == 7 and not {o["id"] for o in first["objects"]} & set(after)


def test_added_after_the_last_date_added_returns_exactly_what_was_added_since(
    client: TestClient, session: Session
) -> None:
    owner, reader = member(session), member(session)
    shared = event(session, owner)
    _add_domains(session, owner, shared, ["one.example", "two.example"])
    target = collection(session, [reader])
    headers = taxii_headers(session, reader)
    everything = client.get(objects_url(target), headers=headers)
    mark = everything.headers["X-TAXII-Date-Added-Last"]
    assert client.get(
        objects_url(target), headers=headers, params={"added_after": mark}
    ).json() == {"more": False}
    _add_domains(session, owner, shared, ["three.example"])
    since = client.get(objects_url(target), headers=headers, params={"added_after": mark})
    assert [o["name"] for o in since.json()["objects"]] == ["three.example"]
    assert since.headers["X-TAXII-Date-Added-First"] > mark


def test_match_filters_select_by_id_type_version_and_spec_version(
    client: TestClient, session: Session
) -> None:
    owner, reader = member(session), member(session)
    shared = event(session, owner)
    values = {IndicatorType.DOMAIN: "match.example", IndicatorType.CVE: "CVE-2024-3094"}
    indicators(session, owner, shared, values)
    target = collection(session, [reader])
    headers = taxii_headers(session, reader)
    url = objects_url(target)
    everything = client.get(url, headers=headers).json()["objects"]
    by_type = client.get(url, headers=headers, params={"match[type]": "vulnerability"}).json()
    assert [o["name"] for o in by_type["objects"]] == ["CVE-2024-3094"]
    wanted = everything[0]
    by_id = client.get(url, headers=headers, params={"match[id]": wanted["id"]}).json()
    assert by_id["objects"] == [wanted]
    by_version = client.get(
        url,
        headers=headers,
        params={"match[version]": wanted["modified"], "match[id]": wanted["id"]},
    )
    assert by_version.json()["objects"] == [wanted]
    other_version = client.get(
        url, headers=headers, params={"match[version]": "2000-01-01T00:00:00Z"}
    )
    assert other_version.json() == {"more": False}
    assert (
        client.get(url, headers=headers, params={"match[version]": "all"}).json()["objects"]
        == everything
    )
    assert client.get(url, headers=headers, params={"match[spec_version]": "2.0"}).json() == {
        "more": False
    }
    assert (
        len(
            client.get(url, headers=headers, params={"match[spec_version]": "2.1"}).json()[
                "objects"
            ]
        )
        == 2
    )


def test_collection_filter_and_access_predicate_both_narrow(
    client: TestClient, session: Session
) -> None:
    owner, reader, outsider = member(session), member(session), member(session)
    group = make_sharing_group(
        session, owner.organisation, [owner.organisation, reader.organisation]
    )
    tagged = event(session, owner, tags=["ransomware"])
    untagged = event(session, owner, tags=["other"])
    red = event(
        session, owner, TLP.RED, distribution=Distribution.ORGANISATION, tags=["ransomware"]
    )
    in_group = event(
        session,
        owner,
        TLP.AMBER_STRICT,
        distribution=Distribution.SHARING_GROUP,
        sharing_group_id=group.id,
        tags=["ransomware"],
    )
    for target_event, name in [
        (tagged, "tagged"),
        (untagged, "untagged"),
        (red, "red"),
        (in_group, "group"),
    ]:
        indicators(session, owner, target_event, {IndicatorType.DOMAIN: f"{name}.example"})
    indicators(
        session, owner, tagged, {IndicatorType.DOMAIN: "strict.example"}, tlp=TLP.AMBER_STRICT
    )
    ransomware = collection(
        session, [reader, outsider, owner], tags=["ransomware"], max_tlp=TLP.RED
    )

    def names(who: Member) -> set[str]:
        body = client.get(objects_url(ransomware), headers=taxii_headers(session, who)).json()
        return {o["name"] for o in body.get("objects", [])}

    assert names(owner) == {"tagged.example", "red.example", "group.example", "strict.example"}
    assert names(reader) == {"tagged.example", "group.example"}
    assert names(outsider) == {"tagged.example"}
    amber = collection(session, [owner], tags=["ransomware"], max_tlp=TLP.AMBER)
    body = client.get(objects_url(amber), headers=taxii_headers(session, owner)).json()
    assert {o["name"] for o in body["objects"]} == {"tagged.example"}
    grouped = collection(session, [owner], sharing_group_id=group.id, max_tlp=TLP.RED)
    body = client.get(objects_url(grouped), headers=taxii_headers(session, owner)).json()
    assert {o["name"] for o in body["objects"]} == {"group.example"}
    others = collection(session, [owner], owner_organisation_id=reader.organisation.id)
    assert client.get(objects_url(others), headers=taxii_headers(session, owner)).json() == {
        "more": False
    }


def test_object_by_id_versions_and_manifest(client: TestClient, session: Session) -> None:
    owner, reader = member(session), member(session)
    shared = event(session, owner)
    indicators(
        session,
        owner,
        shared,
        {IndicatorType.DOMAIN: "manifest.example", IndicatorType.URL: "http://m.example/"},
    )
    target = collection(session, [reader])
    headers = taxii_headers(session, reader)
    objects = client.get(objects_url(target), headers=headers).json()["objects"]
    wanted = objects[1]
    one = client.get(f"{objects_url(target)}{wanted['id']}/", headers=headers)
    assert one.status_code == 200 and one.json()["objects"] == [wanted]
    versions = client.get(f"{objects_url(target)}{wanted['id']}/versions/", headers=headers).json()
    assert versions == {"more": False, "versions": [wanted["modified"]]}
    manifest = client.get(
        f"{ROOT}/collections/{target.uuid}/manifest/", headers=headers, params={"limit": 1}
    )
    body = manifest.json()
    assert body["more"] is True and len(body["objects"]) == 1
    record = body["objects"][0]
    assert (
        record["id"] == objects[0]["id"]
        and record["media_type"] == "application/stix+json;version=2.1"
    )
    assert record["date_added"] == manifest.headers["X-TAXII-Date-Added-First"]
    rest = client.get(
        f"{ROOT}/collections/{target.uuid}/manifest/",
        headers=headers,
        params={"next": body["next"]},
    ).json()
    assert [r["id"] for r in rest["objects"]] == [objects[1]["id"]]


def test_http_basic_with_a_token_as_password_authenticates_its_own_user(
    client: TestClient, session: Session
) -> None:
    reader = member(session)
    token = make_token(session, reader.user)
    accept = {"Accept": TAXII_MEDIA_TYPE}
    ok = client.get(
        "/taxii2/", headers={**accept, "Authorization": basic(reader.user.username, token)}
    )
    assert ok.status_code == 200
    someone_else = member(session).user.username
    wrong = client.get("/taxii2/", headers={**accept, "Authorization": basic(someone_else, token)})
    assert wrong.status_code == 401
    assert wrong.json()["http_status"] == "401"
