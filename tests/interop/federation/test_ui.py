"""The federation peers UI without a browser, on SQLite and PostgreSQL: admins only, the
empty state with this hub's id, the list's status and filters, the form's errors next to
their fields, a token never shown back (a blank one on edit kept), "Sync now" against an
unreachable peer, delete."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.core.clock import utcnow
from entente.interop.federation.choices import SyncOutcome
from entente.interop.federation.identity import local_hub_uuid
from entente.interop.federation.models import Peer
from entente.members.choices import Role
from tests.factories import make_organisation, make_user
from tests.interop.federation.wire import make_peer
from tests.web.test_ui_pages import HTML, csrf_of, log_in

TOKEN = "ent_ui-secret-token-5678"
PAGES = ("/peers", "/peers/new")


def _log_in_as(client: TestClient, session: Session, role: Role) -> None:
    log_in(client, make_user(session, make_organisation(session), role))


def _post(client: TestClient, path: str, **fields: str) -> httpx.Response:
    form = {"csrf_token": csrf_of(client, "/peers"), **fields}
    response: httpx.Response = client.post(path, data=form, headers=HTML, follow_redirects=False)
    return response


def _peer_form(**fields: str) -> dict[str, str]:
    return {
        "name": "global-hub",
        "base_url": "https://global.example.org",
        "api_token": TOKEN,
        "direction": "both",
        "max_tlp": "amber",
        "tags": "botnet, phishing",
        "enabled": "true",
        **fields,
    }


def test_non_admins_get_403_and_change_nothing(client: TestClient, session: Session) -> None:
    peer = make_peer(session)
    _log_in_as(client, session, Role.ORG_ADMIN)
    for path in (*PAGES, f"/peers/{peer.id}", f"/peers/{peer.id}/edit"):
        assert client.get(path, headers=HTML).status_code == 403, path
    csrf = csrf_of(client, "/")
    for path in (f"/peers/{peer.id}/sync", f"/peers/{peer.id}/delete", "/peers/new"):
        response = client.post(path, data={"csrf_token": csrf, **_peer_form()}, headers=HTML)
        assert response.status_code == 403, path
    session.expire_all()
    assert session.get(Peer, peer.id) is not None and peer.last_sync_at is None
    assert session.scalar(select(Peer).where(Peer.name == "global-hub")) is None


def test_the_empty_list_explains_federation_with_this_hubs_id(
    client: TestClient, session: Session
) -> None:
    _log_in_as(client, session, Role.ADMIN)
    page = client.get("/peers", headers=HTML)
    assert page.status_code == 200
    assert "No peer yet." in page.text and local_hub_uuid(session) in page.text
    assert 'href="/peers/new"' in page.text


def test_the_list_shows_each_peers_last_sync_and_filters_by_it(
    client: TestClient, session: Session
) -> None:
    failed = make_peer(session, "failing-hub", remote_hub_uuid=None)
    failed.last_sync_at, failed.last_sync_outcome = utcnow(), SyncOutcome.FAILED
    failed.last_sync_error = "the peer at http://127.0.0.1:9 did not answer: " + "x" * 80
    good = make_peer(session, "good-hub", remote_hub_uuid=None, enabled=False)
    good.last_sync_at, good.last_sync_outcome = utcnow(), SyncOutcome.SUCCEEDED
    good.last_sync_counts = {"pulled": {"imported": 3, "updated": 1}}
    make_peer(session, "new-hub", remote_hub_uuid=None)
    session.commit()
    _log_in_as(client, session, Role.ADMIN)

    page = client.get("/peers", headers=HTML).text
    assert "3 peers" in page and 'badge-tlp-amber"' in page
    assert "Failed" in page and "OK" in page and "Never synced" in page
    assert "did not answer" in page and "x" * 80 not in page, "the error is shortened"
    assert "in 4" in page, "imported + updated of the pull"
    detail = client.get(f"/peers/{failed.id}", headers=HTML).text
    assert "x" * 80 in detail, "the peer's page has the whole error"

    only_failed = client.get("/peers?last_sync=failed", headers=HTML).text
    assert "failing-hub" in only_failed and "good-hub" not in only_failed
    never = client.get("/peers?last_sync=never", headers=HTML).text
    assert "new-hub" in never and "failing-hub" not in never
    disabled = client.get("/peers?enabled=false", headers=HTML).text
    assert "good-hub" in disabled and "new-hub" not in disabled
    assert client.get("/peers?last_sync=sometimes", headers=HTML).status_code == 422


def test_create_shows_errors_next_to_fields_then_succeeds_and_never_shows_the_token(
    client: TestClient, session: Session
) -> None:
    _log_in_as(client, session, Role.ADMIN)
    bad = _post(
        client, "/peers/new",
        **_peer_form(name="", base_url="ftp://global.example.org", api_token="short"),
    )  # fmt: skip
    assert bad.status_code == 422
    for field in ("name", "base_url", "api_token"):
        assert f'id="f-{field}-error"' in bad.text, field
    assert 'value="ftp://global.example.org"' in bad.text, "what was typed is kept"
    assert 'value="short"' not in bad.text, "a typed token is not sent back either"
    assert session.scalar(select(Peer)) is None

    created = _post(client, "/peers/new", **_peer_form())
    assert created.status_code == 303
    peer = session.scalars(select(Peer)).one()
    assert created.headers["location"] == f"/peers/{peer.id}"
    assert peer.api_token == TOKEN and peer.tags == ["botnet", "phishing"]
    detail = client.get(f"/peers/{peer.id}", headers=HTML)
    assert "Peer &#39;global-hub&#39; created" in detail.text and "…5678" in detail.text
    duplicate = _post(client, "/peers/new", **_peer_form())
    assert duplicate.status_code == 409 and 'id="f-name-error"' in duplicate.text
    for path in ("/peers", f"/peers/{peer.id}", f"/peers/{peer.id}/edit", "/peers/new"):
        assert TOKEN not in client.get(path, headers=HTML).text, path
    assert TOKEN not in duplicate.text


def test_edit_keeps_the_token_when_blank_and_replaces_it_when_typed(
    client: TestClient, session: Session
) -> None:
    peer = make_peer(session, "global-hub", remote_hub_uuid=None)
    stored = peer.api_token
    _log_in_as(client, session, Role.ADMIN)
    edit = f"/peers/{peer.id}/edit"

    refused = _post(client, edit, **_peer_form(name="", api_token=""))
    assert refused.status_code == 422 and 'id="f-name-error"' in refused.text
    assert stored not in refused.text

    kept = _post(client, edit, **_peer_form(api_token="", max_tlp="green", enabled="false"))
    assert kept.status_code == 303
    session.expire_all()
    assert peer.api_token == stored and peer.max_tlp.value == "green" and not peer.enabled

    replaced = _post(client, edit, **_peer_form())
    assert replaced.status_code == 303
    session.expire_all()
    assert peer.api_token == TOKEN


def test_sync_now_against_an_unreachable_peer_flashes_the_failure_and_keeps_the_peer(
    client: TestClient, session: Session
) -> None:
    peer = make_peer(session)  # http://127.0.0.1:9: nothing listens there
    _log_in_as(client, session, Role.ADMIN)
    synced = _post(client, f"/peers/{peer.id}/sync")
    assert synced.status_code == 303 and synced.headers["location"] == f"/peers/{peer.id}"
    page = client.get(f"/peers/{peer.id}", headers=HTML).text
    assert "Sync with &#39;global&#39; failed" in page and "127.0.0.1:9" in page
    session.expire_all()
    assert peer.last_sync_outcome is SyncOutcome.FAILED and peer.last_sync_error
    assert peer.pulled_until is None, "a failed sync moves no cursor"
    assert "Failed" in client.get("/peers", headers=HTML).text


def test_delete_removes_the_peer(client: TestClient, session: Session) -> None:
    peer_id = make_peer(session).id
    _log_in_as(client, session, Role.ADMIN)
    deleted = _post(client, f"/peers/{peer_id}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/peers"
    assert "Peer &#39;global&#39; deleted" in client.get("/peers", headers=HTML).text
    session.expire_all()
    assert session.scalar(select(Peer)) is None
    assert client.get(f"/peers/{peer_id}", headers=HTML).status_code == 404
