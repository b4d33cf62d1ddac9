"""The collection admin API (`/api/v1/taxii/collections`): platform admins only; bad input
is a 4xx naming the field; on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from entente.members.choices import Role
from tests.factories import auth, make_sharing_group, make_token
from tests.interop.builders import member
from tests.interop.taxii.builders import ROOT, taxii_headers

ADMIN_ROOT = "/api/v1/taxii/collections"


def test_admins_create_list_update_and_delete_collections(
    client: TestClient, session: Session
) -> None:
    admin, reader, writer = member(session, Role.ADMIN), member(session), member(session)
    headers = auth(make_token(session, admin.user))
    group = make_sharing_group(session, writer.organisation, [reader.organisation])
    created = client.post(
        ADMIN_ROOT,
        headers=headers,
        json={
            "title": "Group feed",
            "alias": "group-feed",
            "sharing_group_id": group.id,
            "tags": ["botnet"],
            "max_tlp": "amber+strict",
            "permissions": [
                {"organisation_id": reader.organisation.id},
                {"organisation_id": writer.organisation.id, "can_write": True},
            ],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["alias"] == "group-feed" and body["tags"] == ["botnet"]
    listed = client.get(ADMIN_ROOT, headers=headers).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == body["id"]
    changed = client.patch(
        f"{ADMIN_ROOT}/group-feed",
        headers=headers,
        json={"title": "Renamed", "permissions": [{"organisation_id": writer.organisation.id}]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Renamed"
    assert changed.json()["permissions"] == [
        {"organisation_id": writer.organisation.id, "can_read": True, "can_write": False}
    ]
    # The reader lost its permission: the collection is gone from its TAXII view.
    seen = client.get(f"{ROOT}/collections/", headers=taxii_headers(session, reader)).json()
    assert seen == {}
    assert client.delete(f"{ADMIN_ROOT}/{body['id']}", headers=headers).status_code == 204
    assert client.get(ADMIN_ROOT, headers=headers).json()["count"] == 0


def test_only_platform_admins_manage_collections(client: TestClient, session: Session) -> None:
    org_admin = member(session, Role.ORG_ADMIN)
    headers = auth(make_token(session, org_admin.user))
    refused = client.post(ADMIN_ROOT, headers=headers, json={"title": "Mine"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert client.get(ADMIN_ROOT).status_code == 401


def test_bad_collection_input_names_the_field(client: TestClient, session: Session) -> None:
    admin, other = member(session, Role.ADMIN), member(session)
    headers = auth(make_token(session, admin.user))
    cases = [
        ({"title": "x1", "alias": "Not Safe"}, 422, "alias"),
        (
            {"title": "Unknown org", "permissions": [{"organisation_id": 2**31 - 2}]},
            404,
            "permissions[0].organisation_id",
        ),
        ({"title": "Unknown group", "sharing_group_id": 2**31 - 2}, 404, "sharing_group_id"),
        ({"title": "Bad tag", "tags": ["tlp:red"]}, 422, "tags[0]"),
        (
            {
                "title": "Writes would not show",
                "owner_organisation_id": admin.organisation.id,
                "permissions": [{"organisation_id": other.organisation.id, "can_write": True}],
            },
            422,
            "permissions[0].can_write",
        ),
        (
            {
                "title": "Twice",
                "permissions": [
                    {"organisation_id": other.organisation.id},
                    {"organisation_id": other.organisation.id},
                ],
            },
            422,
            "permissions[1].organisation_id",
        ),
    ]
    for payload, status, field in cases:
        response = client.post(ADMIN_ROOT, headers=headers, json=payload)
        assert response.status_code == status, (payload, response.text)
        assert field in str(response.json()["error"]), response.json()
    assert (
        client.post(
            ADMIN_ROOT, headers=headers, json={"title": "Taken", "alias": "taken"}
        ).status_code
        == 201
    )
    again = client.post(
        ADMIN_ROOT, headers=headers, json={"title": "Taken again", "alias": "taken"}
    )
    assert again.status_code == 409 and again.json()["error"]["field"] == "alias"
    assert client.patch(f"{ADMIN_ROOT}/no-such", headers=headers, json={}).status_code == 404
