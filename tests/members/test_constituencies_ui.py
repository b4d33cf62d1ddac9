"""The constituency pages without a browser, on SQLite and PostgreSQL: the empty state, the
add, import and contact forms, errors shown next to the field, and roles."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.members.choices import OrganisationType, Role
from entente.members.models import Constituency, ConstituencyContact, Organisation
from tests.factories import make_organisation, make_user
from tests.web.test_ui_pages import HTML, csrf_of, log_in


def page_of(organisation: Organisation) -> str:
    return f"/organisations/{organisation.id}/constituency"


def entry_values(session: Session, organisation: Organisation) -> list[str]:
    return list(
        session.scalars(
            select(Constituency.value)
            .where(Constituency.organisation_id == organisation.id)
            .order_by(Constituency.sort_key)
        )
    )


def test_organisation_page_links_to_an_empty_constituency_that_says_what_to_do(
    client: TestClient, session: Session
) -> None:
    org = make_organisation(session)
    log_in(client, make_user(session, org, Role.ORG_ADMIN))
    organisation_page = client.get(f"/organisations/{org.id}", headers=HTML)
    assert f'href="{page_of(org)}"' in organisation_page.text
    assert "Nothing declared yet" in organisation_page.text
    page = client.get(page_of(org), headers=HTML)
    assert page.status_code == 200
    assert "has declared nothing yet, so no alert is routed to it" in page.text
    assert "import its RIPE objects" in page.text
    assert "No contact yet" in page.text


def test_add_form_stores_the_entry_or_shows_the_error_by_the_field(
    client: TestClient, session: Session
) -> None:
    org = make_organisation(session, member_state="GH")
    log_in(client, make_user(session, org, Role.ORG_ADMIN))
    csrf = csrf_of(client, page_of(org))
    added = client.post(
        page_of(org),
        data={"csrf_token": csrf, "kind": "prefix", "value": "203.0.113.0/24"},
        headers=HTML,
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert "203.0.113.0/24" in client.get(page_of(org), headers=HTML).text
    refused = client.post(
        page_of(org),
        data={"csrf_token": csrf, "kind": "prefix", "value": "203.0.113.9/24"},
        headers=HTML,
    )
    assert refused.status_code == 422
    assert 'id="f-value-error"' in refused.text
    assert "the prefix is written 203.0.113.0/24" in refused.text
    assert 'value="203.0.113.9/24"' in refused.text
    assert entry_values(session, org) == ["203.0.113.0/24"]


def test_paste_import_shows_what_was_added_and_refused(
    client: TestClient, session: Session
) -> None:
    org = make_organisation(session)
    log_in(client, make_user(session, org, Role.ORG_ADMIN))
    response = client.post(
        f"{page_of(org)}/import",
        data={
            "csrf_token": csrf_of(client, page_of(org)),
            "format": "ripe",
            "text": "aut-num: AS64502\n\ninetnum: 198.51.100.0 - 198.51.100.255\n\nnonsense\n",
        },
        headers=HTML,
    )
    assert response.status_code == 200, response.text
    assert "Import: 2 added, 0 already declared, 1 refused" in " ".join(response.text.split())
    assert "not an RPSL line" in response.text
    assert entry_values(session, org) == ["198.51.100.0/24", "64502"]


def test_file_upload_import(client: TestClient, session: Session) -> None:
    org = make_organisation(session)
    log_in(client, make_user(session, org, Role.ORG_ADMIN))
    response = client.post(
        f"{page_of(org)}/import",
        data={"csrf_token": csrf_of(client, page_of(org)), "format": "csv", "text": ""},
        files={"file": ("mine.csv", b"kind,value\ndomain,example.org\n", "text/csv")},
        headers=HTML,
    )
    assert response.status_code == 200, response.text
    assert entry_values(session, org) == ["example.org"]


def test_contact_form_and_remove_buttons(client: TestClient, session: Session) -> None:
    org = make_organisation(session)
    log_in(client, make_user(session, org, Role.ORG_ADMIN))
    csrf = csrf_of(client, page_of(org))
    bad = client.post(
        f"/organisations/{org.id}/contacts",
        data={"csrf_token": csrf, "email": "cert@example.org", "pgp_fingerprint": "1234"},
        headers=HTML,
    )
    assert bad.status_code == 422
    assert 'id="f-pgp_fingerprint-error"' in bad.text
    good = client.post(
        f"/organisations/{org.id}/contacts",
        data={"csrf_token": csrf, "email": "cert@example.org", "preferred_format": "json"},
        headers=HTML,
        follow_redirects=False,
    )
    assert good.status_code == 303, good.text
    contact_id = session.scalar(
        select(ConstituencyContact.id).where(ConstituencyContact.organisation_id == org.id)
    )
    page = client.get(page_of(org), headers=HTML).text
    assert f"/constituency-contacts/{contact_id}/remove" in page
    removed = client.post(
        f"/constituency-contacts/{contact_id}/remove",
        data={"csrf_token": csrf},
        headers=HTML,
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert session.get(ConstituencyContact, contact_id) is None


def test_an_analyst_sees_no_forms_and_cannot_post_them(
    client: TestClient, session: Session
) -> None:
    org = make_organisation(session, type=OrganisationType.SECTOR_CERT)
    log_in(client, make_user(session, org, Role.ANALYST))
    page = client.get(page_of(org), headers=HTML)
    assert page.status_code == 200
    assert "Add an entry" not in page.text
    assert "Its admins can declare" in page.text
    response = client.post(
        page_of(org),
        data={"csrf_token": csrf_of(client, page_of(org)), "kind": "asn", "value": "64503"},
        headers=HTML,
    )
    assert response.status_code == 403
    count = session.scalar(select(func.count(Constituency.id)))
    assert count == 0


def test_the_hub_wide_list_filters_and_finds_who_covers_an_address(
    client: TestClient, session: Session
) -> None:
    org_a = make_organisation(session, name="Covering CERT")
    org_b = make_organisation(session, name="Elsewhere CERT")
    admin = make_user(session, org_a, Role.ADMIN)
    log_in(client, admin)
    csrf = csrf_of(client, page_of(org_a))
    for org, value in ((org_a, "192.0.2.0/24"), (org_b, "198.51.100.0/24")):
        client.post(
            page_of(org), data={"csrf_token": csrf, "kind": "prefix", "value": value}, headers=HTML
        )
    found = client.get("/constituencies", params={"q": "192.0.2.99"}, headers=HTML)
    assert found.status_code == 200
    assert "Covering CERT" in found.text
    assert "198.51.100.0/24" not in found.text
    none = client.get("/constituencies", params={"q": "203.0.113.1"}, headers=HTML)
    assert "No constituency entry matches these filters" in none.text
    wrong = client.get("/constituencies", params={"kind": "subnet"}, headers=HTML)
    assert wrong.status_code == 422
