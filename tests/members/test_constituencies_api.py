"""The constituency API end to end through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.members.choices import Role
from entente.members.models import Constituency, Organisation
from tests.factories import auth, make_organisation, make_token, make_user


def org_admin(session: Session, organisation: Organisation) -> dict[str, str]:
    return auth(make_token(session, make_user(session, organisation, Role.ORG_ADMIN)))


def entry_count(session: Session, organisation: Organisation) -> int:
    return (
        session.scalar(
            select(func.count(Constituency.id)).where(
                Constituency.organisation_id == organisation.id
            )
        )
        or 0
    )


def test_add_list_get_and_remove_an_entry(client: TestClient, session: Session) -> None:
    org = make_organisation(session)
    headers = org_admin(session, org)
    created = client.post(
        "/api/v1/constituencies",
        headers=headers,
        json={"organisation_id": org.id, "kind": "domain", "value": "Example.ORG."},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["kind"], body["value"], body["organisation_name"]) == (
        "domain",
        "example.org",
        org.name,
    )
    listed = client.get(
        "/api/v1/constituencies", headers=headers, params={"q": "www.example.org"}
    ).json()
    assert [item["id"] for item in listed["data"]] == [body["id"]]
    assert client.get(f"/api/v1/constituencies/{body['id']}", headers=headers).status_code == 200
    removed = client.delete(f"/api/v1/constituencies/{body['id']}", headers=headers)
    assert removed.status_code == 204
    assert client.get(f"/api/v1/constituencies/{body['id']}", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "prefix", "value": "192.0.2.1/24"}, "value"),
        ({"kind": "asn", "value": "AS0"}, "value"),
        ({"kind": "subnet", "value": "192.0.2.0/24"}, "kind"),
        ({"kind": "prefix", "value": ""}, "value"),
        ({"kind": "prefix", "value": "192.0.2.0/24", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: TestClient, session: Session, payload: dict[str, str], field: str
) -> None:
    org = make_organisation(session)
    response = client.post(
        "/api/v1/constituencies",
        headers=org_admin(session, org),
        json={"organisation_id": org.id, **payload},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert entry_count(session, org) == 0


def test_an_analyst_of_one_organisation_cannot_add_to_another(
    client: TestClient, session: Session
) -> None:
    org_a, org_b = make_organisation(session), make_organisation(session)
    analyst = auth(make_token(session, make_user(session, org_a, Role.ANALYST)))
    response = client.post(
        "/api/v1/constituencies",
        headers=analyst,
        json={"organisation_id": org_b.id, "kind": "asn", "value": "64496"},
    )
    assert response.status_code == 403
    assert entry_count(session, org_b) == 0
    # Reading is open to every member.
    assert client.get("/api/v1/constituencies", headers=analyst).status_code == 200
    assert client.get("/api/v1/constituencies").status_code == 401


def test_a_duplicate_is_409_and_a_foreign_country_422(client: TestClient, session: Session) -> None:
    org = make_organisation(session, member_state="SN")
    headers = org_admin(session, org)
    payload = {"organisation_id": org.id, "kind": "country", "value": "sn"}
    assert client.post("/api/v1/constituencies", headers=headers, json=payload).status_code == 201
    again = client.post("/api/v1/constituencies", headers=headers, json=payload)
    assert again.status_code == 409
    foreign = client.post(
        "/api/v1/constituencies", headers=headers, json={**payload, "value": "GH"}
    )
    assert foreign.status_code == 422
    assert foreign.json()["error"]["field"] == "value"


def test_csv_import_as_a_raw_body_and_as_an_upload(client: TestClient, session: Session) -> None:
    org = make_organisation(session, name="Upload Test CERT")
    headers = org_admin(session, org)
    body = "kind,value\nprefix,203.0.113.0/24\nprefix,203.0.113.1/24\n"
    raw = client.post(
        "/api/v1/constituencies/import",
        headers={**headers, "content-type": "text/csv"},
        params={"organisation": "Upload Test CERT"},
        content=body,
    )
    assert raw.status_code == 200, raw.text
    report = raw.json()
    assert [row["value"] for row in report["added"]] == ["203.0.113.0/24"]
    assert [(row["line"], row["field"]) for row in report["rejected"]] == [(3, "value")]
    uploaded = client.post(
        "/api/v1/constituencies/import",
        headers=headers,
        params={"organisation": str(org.id)},
        files={"file": ("ranges.csv", body.encode(), "text/csv")},
    )
    assert uploaded.status_code == 200, uploaded.text
    assert [row["value"] for row in uploaded.json()["duplicates"]] == ["203.0.113.0/24"]
    assert entry_count(session, org) == 1


def test_ripe_import_over_the_api(client: TestClient, session: Session) -> None:
    org = make_organisation(session)
    headers = org_admin(session, org)
    text = "aut-num: AS64499\nabuse-mailbox: abuse@example.org\n\nperson: Someone\n"
    response = client.post(
        "/api/v1/constituencies/import",
        headers={**headers, "content-type": "text/plain"},
        params={"format": "ripe", "organisation": str(org.id)},
        content=text,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert [row["value"] for row in report["added"]] == ["64499"]
    assert (report["contacts_added"], report["ignored_objects"]) == (1, 1)


@pytest.mark.parametrize(
    ("params", "content", "field"),
    [
        ({"format": "ripe", "organisation": ""}, "aut-num: AS64499\n", "organisation"),
        ({"format": "xml"}, "kind,value\n", "format"),
        ({"organisation": "No Such CERT"}, "kind,value\n", "organisation"),
        ({}, "   ", "file"),
        ({}, "kind,value,colour\n", "colour"),
    ],
)
def test_import_problems_name_the_field(
    client: TestClient, session: Session, params: dict[str, str], content: str, field: str
) -> None:
    org = make_organisation(session)
    response = client.post(
        "/api/v1/constituencies/import",
        headers={**org_admin(session, org), "content-type": "text/csv"},
        params={"organisation": str(org.id), **params},
        content=content,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_contacts_endpoints(client: TestClient, session: Session) -> None:
    org = make_organisation(session)
    headers = org_admin(session, org)
    entry = client.post(
        "/api/v1/constituencies",
        headers=headers,
        json={"organisation_id": org.id, "kind": "prefix", "value": "198.51.100.0/24"},
    ).json()
    bad = client.post(
        "/api/v1/constituency-contacts",
        headers=headers,
        json={"organisation_id": org.id, "email": "a@example.org", "pgp_fingerprint": "89ABCDEF"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "pgp_fingerprint"
    created = client.post(
        "/api/v1/constituency-contacts",
        headers=headers,
        json={
            "organisation_id": org.id,
            "email": "CERT@example.org",
            "pgp_fingerprint": "0123:4567:89ab:cdef:0123:4567:89ab:cdef:0123:4567",
            "preferred_format": "json",
        },
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["email"] == "cert@example.org"
    assert contact["pgp_fingerprint"] == "0123456789ABCDEF0123456789ABCDEF01234567"
    recipients = client.get(f"/api/v1/constituencies/{entry['id']}/recipients", headers=headers)
    assert [c["email"] for c in recipients.json()] == ["cert@example.org"]
    listed = client.get(
        "/api/v1/constituency-contacts", headers=headers, params={"organisation_id": org.id}
    )
    assert listed.json()["count"] == 1
    deleted = client.delete(f"/api/v1/constituency-contacts/{contact['id']}", headers=headers)
    assert deleted.status_code == 204
    assert client.get("/api/v1/constituency-contacts", headers=headers).json()["count"] == 0


def test_a_broken_multipart_upload_is_422_naming_the_file(
    client: TestClient, session: Session
) -> None:
    org = make_organisation(session)
    response = client.post(
        "/api/v1/constituencies/import",
        headers={**org_admin(session, org), "content-type": "multipart/form-data"},
        params={"organisation": str(org.id)},
        content=b"--x\r\nnot a part",
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "file"
