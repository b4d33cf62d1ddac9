"""The UI without a browser: login, CSRF, open redirects, roles, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.audit import AuditEntry
from entente.members.choices import Role
from entente.members.models import ApiToken, Organisation, User
from entente.web.shell import safe_next
from tests.factories import PASSWORD, make_organisation, make_token, make_user

HTML = {"accept": "text/html"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/login") -> str:
    match = CSRF_FIELD.search(client.get(path, headers=HTML).text)
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def log_in(client: TestClient, user: User, next_path: str = "/") -> None:
    form = {
        "csrf_token": csrf_of(client),
        "username": user.username,
        "password": PASSWORD,
        "next": next_path,
    }
    response = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert response.status_code == 303, response.text


def test_login_page_renders_a_form_with_a_csrf_token(client: TestClient) -> None:
    response = client.get("/login", headers=HTML)
    assert response.status_code == 200
    assert 'action="/login"' in response.text
    assert CSRF_FIELD.search(response.text)
    assert "<script>" not in response.text, "the CSP forbids inline scripts"


def test_a_ui_page_without_login_redirects_to_login_with_next(client: TestClient) -> None:
    response = client.get("/organisations", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/organisations"


def test_wrong_password_returns_the_form_with_an_error(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, make_organisation(session))
    form = {"csrf_token": csrf_of(client), "username": user.username, "password": "wrong password"}
    response = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert response.status_code == 401
    assert "unknown username or wrong password" in response.text
    assert f'value="{user.username}"' in response.text
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303


def test_repeated_failures_are_rate_limited_on_the_form(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, make_organisation(session))
    form = {"csrf_token": csrf_of(client), "username": user.username, "password": "nope"}
    statuses = [client.post("/login", data=form, headers=HTML).status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    form["password"] = PASSWORD
    response = client.post("/login", data=form, headers=HTML)
    assert response.status_code == 429
    assert "too many failed logins" in response.text


def test_login_without_csrf_token_is_refused(client: TestClient, session: Session) -> None:
    user = make_user(session, make_organisation(session))
    client.get("/login", headers=HTML)
    form = {"username": user.username, "password": PASSWORD}
    response = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_ui_write_without_csrf_token_is_refused_and_writes_nothing(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, make_organisation(session))
    log_in(client, user)
    response = client.post("/tokens/new", data={"name": "sneaky"}, headers=HTML)
    assert response.status_code == 403
    forged = client.post(
        "/tokens/new", data={"name": "sneaky", "csrf_token": "forged"}, headers=HTML
    )
    assert forged.status_code == 403
    assert session.scalar(select(ApiToken).where(ApiToken.name == "sneaky")) is None


def test_htmx_sends_the_csrf_token_as_a_header(client: TestClient, session: Session) -> None:
    user = make_user(session, make_organisation(session))
    token_id = _token_id(session, user, "htmx revoke")
    log_in(client, user)
    headers = {**HTML, "X-CSRF-Token": csrf_of(client, "/tokens"), "HX-Request": "true"}
    response = client.post(f"/tokens/{token_id}/revoke", headers=headers, follow_redirects=False)
    assert response.status_code == 303
    session.expire_all()
    assert session.get(ApiToken, token_id).revoked_at is not None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_open_redirect_in_next_is_refused(
    client: TestClient, session: Session, target: str
) -> None:
    user = make_user(session, make_organisation(session))
    form = {
        "csrf_token": csrf_of(client),
        "username": user.username,
        "password": PASSWORD,
        "next": target,
    }
    response = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_a_local_next_path_is_kept(client: TestClient, session: Session) -> None:
    user = make_user(session, make_organisation(session))
    page = client.get("/login", params={"next": "https://evil.example"}, headers=HTML)
    assert 'name="next" value="/"' in page.text
    form = {
        "csrf_token": csrf_of(client),
        "username": user.username,
        "password": PASSWORD,
        "next": "/organisations?type=national_cert",
    }
    response = client.post("/login", data=form, headers=HTML, follow_redirects=False)
    assert response.headers["location"] == "/organisations?type=national_cert"


def test_safe_next_accepts_only_local_paths() -> None:
    assert safe_next("/member-states/GH") == "/member-states/GH"
    assert safe_next(None) == "/"
    assert safe_next("/\r\nSet-Cookie: x") == "/"
    assert safe_next("http:/evil.example") == "/"


def test_non_admin_gets_403_on_the_audit_log(client: TestClient, session: Session) -> None:
    reader = make_user(session, make_organisation(session), Role.READER)
    log_in(client, reader)
    response = client.get("/audit", headers=HTML)
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert 'href="/audit"' not in client.get("/", headers=HTML).text


def test_admin_sees_the_audit_log_filtered_by_action(client: TestClient, session: Session) -> None:
    admin = make_user(session, make_organisation(session), Role.ADMIN)
    log_in(client, admin)
    response = client.get(
        "/audit", params={"action": "user.login", "since": "2000-01-01"}, headers=HTML
    )
    assert response.status_code == 200
    assert "user.login" in response.text
    assert "organisation.create</span>" not in response.text
    bad_date = client.get("/audit", params={"since": "yesterday"}, headers=HTML)
    assert bad_date.status_code == 422


def test_logout_clears_the_session(client: TestClient, session: Session) -> None:
    user = make_user(session, make_organisation(session))
    log_in(client, user)
    token = csrf_of(client, "/")
    response = client.post(
        "/logout", data={"csrf_token": token}, headers=HTML, follow_redirects=False
    )
    assert response.status_code == 303
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303


def test_org_admin_edits_own_organisation_but_not_another(
    client: TestClient, session: Session
) -> None:
    own = make_organisation(session)
    other = make_organisation(session)
    log_in(client, make_user(session, own, Role.ORG_ADMIN))
    form = {
        "csrf_token": csrf_of(client, f"/organisations/{own.id}/edit"),
        "name": own.name,
        "type": "sector_cert",
        "short_name": "",
        "website": "https://cert.example",
        "description": "",
    }
    response = client.post(f"/organisations/{own.id}/edit", data=form, headers=HTML)
    assert response.status_code == 200
    session.expire_all()
    assert session.get(Organisation, own.id).website == "https://cert.example"  # type: ignore[union-attr]
    assert client.get(f"/organisations/{other.id}/edit", headers=HTML).status_code == 403
    assert (
        client.post(f"/organisations/{other.id}/edit", data=form, headers=HTML).status_code == 403
    )


def test_organisation_form_keeps_values_and_names_the_bad_field(
    client: TestClient, session: Session
) -> None:
    log_in(client, make_user(session, make_organisation(session), Role.ADMIN))
    form = {
        "csrf_token": csrf_of(client, "/organisations/new"),
        "name": "Atlantis CERT",
        "type": "national_cert",
        "member_state": "QQ",
    }
    response = client.post("/organisations/new", data=form, headers=HTML)
    assert response.status_code == 422
    assert 'id="f-member_state-error"' in response.text
    assert 'value="Atlantis CERT"' in response.text
    assert session.scalar(select(Organisation).where(Organisation.name == "Atlantis CERT")) is None


def test_org_admin_may_not_create_a_platform_admin(client: TestClient, session: Session) -> None:
    organisation = make_organisation(session)
    log_in(client, make_user(session, organisation, Role.ORG_ADMIN))
    form = {
        "csrf_token": csrf_of(client, "/users/new"),
        "username": "mallory",
        "email": "mallory@example.org",
        "password": "river violet compass 42",
        "role": "admin",
        "organisation_id": str(organisation.id),
    }
    response = client.post("/users/new", data=form, headers=HTML)
    assert response.status_code == 403
    assert "may not grant the role" in response.text
    assert session.scalar(select(User).where(User.username == "mallory")) is None


def test_ui_writes_are_audited_as_ui(client: TestClient, session: Session) -> None:
    user = make_user(session, make_organisation(session))
    log_in(client, user)
    form = {"csrf_token": csrf_of(client, "/tokens/new"), "name": "audited", "expires_in_days": "7"}
    response = client.post("/tokens/new", data=form, headers=HTML)
    assert response.status_code == 201
    clear = re.search(r'value="(ent_[^"]+)"', response.text)
    assert clear is not None
    assert clear.group(1) not in client.get("/tokens", headers=HTML).text
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "token.create").order_by(AuditEntry.id.desc())
    )
    assert entry is not None and entry.via == "ui" and entry.actor == user.username


def test_map_data_has_a_row_per_member_state_and_refuses_unknown_metrics(
    client: TestClient, session: Session
) -> None:
    log_in(client, make_user(session, make_organisation(session, "GH")))
    body = client.get("/map/data", params={"metric": "organisations"}).json()
    ghana = next(row for row in body["values"] if row["alpha2"] == "GH")
    assert ghana["numeric"] == "288"
    assert ghana["value"] >= 1
    assert len(body["values"]) == 194
    assert client.get("/map/data", params={"metric": "nope"}).status_code == 422


def test_member_state_pages_keep_the_filters_in_the_next_page_link(
    client: TestClient, session: Session
) -> None:
    log_in(client, make_user(session, make_organisation(session)))
    first = client.get("/member-states", params={"region": "africa", "limit": 20}, headers=HTML)
    link = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert link is not None
    next_url = link.group(1).replace("&amp;", "&")
    assert "region=africa" in next_url and "limit=20" in next_url and "cursor=" in next_url
    second = client.get(next_url, headers=HTML)
    names = re.compile(r'href="/member-states/([A-Z]{2})"')
    assert set(names.findall(first.text)).isdisjoint(names.findall(second.text))
    assert len(names.findall(second.text)) == 20


def test_unknown_region_filter_is_a_422_page(client: TestClient, session: Session) -> None:
    log_in(client, make_user(session, make_organisation(session)))
    response = client.get("/member-states", params={"region": "atlantis"}, headers=HTML)
    assert response.status_code == 422
    assert "unknown region" in response.text


def _token_id(session: Session, user: User, name: str) -> int:
    make_token(session, user, name=name)
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == name))
    assert token_id is not None
    return token_id


def test_audit_filter_with_nul_byte_is_refused_not_a_server_error(
    client: TestClient, session: Session
) -> None:
    admin = make_user(session, make_organisation(session), Role.ADMIN)
    log_in(client, admin)
    response = client.get("/audit", params={"actor": "bad\x00actor"}, headers=HTML)
    assert response.status_code == 422
    assert "actor" in response.text
