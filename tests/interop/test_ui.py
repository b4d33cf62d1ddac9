"""The interop UI without a browser, on SQLite and PostgreSQL: TAXII collection pages (admins
only; create, edit, delete; errors next to their fields) and import with preview (the
preview stores nothing, the confirmation stores, another member's event is refused)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from entente.core.audit import SYSTEM, AuditEntry
from entente.core.migrate import upgrade
from entente.interop.models import StixObject
from entente.interop.taxii import collections
from entente.interop.taxii.models import TaxiiCollection, TaxiiPermission
from entente.interop.taxii.schemas import CollectionCreate
from entente.members.choices import Role
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event, Indicator
from entente.vocabulary.markings import TLP, Distribution
from entente.web.app import create_app
from tests.conftest import make_settings
from tests.factories import make_organisation, make_user
from tests.interop.builders import Member, event, indicators, member
from tests.web.test_ui_pages import HTML, csrf_of, log_in

DATA = Path(__file__).parent.parent / "data"
LAGOON = DATA / "stix" / "lagoon_campaign.json"
MISP_EVENT = DATA / "misp" / "event.json"
TOKEN = re.compile(r'name="token" value="([^"]+)"')


def _count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _admin(session: Session) -> Member:
    return member(session, Role.ADMIN, "CH")


# ---- TAXII collections -------------------------------------------------------------------


def _collection_form(client: TestClient, path: str, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf_of(client, path), "max_tlp": "amber", **fields}


def test_collection_pages_render_for_admins_with_an_empty_state_then_a_row(
    client: TestClient, session: Session
) -> None:
    admin = _admin(session)
    log_in(client, admin.user)

    empty = client.get("/taxii/collections", headers=HTML)
    assert empty.status_code == 200
    assert "No collection yet." in empty.text
    assert "/taxii2/</code>" in empty.text, "the discovery URL a TAXII client is given"
    assert 'href="/taxii/collections"' in empty.text, "the admin navigation links the page"

    reader = make_organisation(session, "KE", name="KE-CERT")
    collections.create_collection(
        session,
        SYSTEM,
        CollectionCreate.model_validate(
            {
                "title": "Phishing, shareable",
                "alias": "phishing",
                "owner_organisation_id": admin.organisation.id,
                "tags": ["phishing"],
                "max_tlp": "green",
                "permissions": [{"organisation_id": reader.id}],
            }
        ),
    )
    listing = client.get("/taxii/collections", headers=HTML)
    assert listing.status_code == 200
    assert "Phishing, shareable" in listing.text
    assert f"events of {admin.organisation.name}; tagged phishing" in listing.text
    assert "KE-CERT (read)" in listing.text
    assert "TLP:GREEN" in listing.text

    assert (
        client.get("/taxii/collections?q=nothing-like-it", headers=HTML).text.count(
            "Phishing, shareable"
        )
        == 0
    )
    assert client.get("/taxii/collections/new", headers=HTML).status_code == 200


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ORG_ADMIN, Role.READER])
def test_collection_pages_are_refused_to_non_admins(
    client: TestClient, session: Session, role: Role
) -> None:
    created = collections.create_collection(
        session, SYSTEM, CollectionCreate(title="Hub collection")
    )
    log_in(client, member(session, role).user)
    csrf = csrf_of(client, "/events")
    assert client.get("/taxii/collections", headers=HTML).status_code == 403
    assert client.get("/taxii/collections/new", headers=HTML).status_code == 403
    refused = client.post(
        "/taxii/collections/new", data={"csrf_token": csrf, "title": "Mine"}, headers=HTML
    )
    assert refused.status_code == 403
    delete = client.post(
        f"/taxii/collections/{created.uuid}/delete", data={"csrf_token": csrf}, headers=HTML
    )
    assert delete.status_code == 403
    assert _count(session, TaxiiCollection) == 1


def test_create_edit_and_delete_a_collection_through_the_forms(
    client: TestClient, session: Session
) -> None:
    admin = _admin(session)
    reader = make_organisation(session, "KE", name="KE-CERT")
    log_in(client, admin.user)

    created = client.post(
        "/taxii/collections/new",
        data=_collection_form(
            client,
            "/taxii/collections/new",
            title="West Africa phishing",
            alias="wa-phishing",
            tags="phishing, botnet",
            **{
                f"permission-{reader.id}": "read",
                f"permission-{admin.organisation.id}": "read-write",
            },
        ),
        headers=HTML,
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    collection = collections.get_collection(session, "wa-phishing")
    assert collection.tags == ["botnet", "phishing"]
    assert {
        (p.organisation_id, p.can_read, p.can_write)
        for p in collections.permissions_of(session, collection)
    } == {(reader.id, True, False), (admin.organisation.id, True, True)}
    assert session.scalar(
        select(AuditEntry.action).where(AuditEntry.action == "taxii.collection.create")
    )

    edit_page = client.get(f"/taxii/collections/{collection.uuid}/edit", headers=HTML)
    assert 'value="wa-phishing"' in edit_page.text
    edited = client.post(
        f"/taxii/collections/{collection.uuid}/edit",
        data=_collection_form(
            client,
            f"/taxii/collections/{collection.uuid}/edit",
            title="West Africa phishing (red)",
            max_tlp="red",
            owner_organisation_id=str(admin.organisation.id),
            **{f"permission-{reader.id}": "read"},
        ),
        headers=HTML,
        follow_redirects=False,
    )
    assert edited.status_code == 303, edited.text
    session.expire_all()
    collection = collections.get_collection(session, collection.uuid)
    assert (collection.title, collection.max_tlp, collection.alias) == (
        "West Africa phishing (red)",
        TLP.RED,
        None,
    ), "blank fields on the edit form clear them"
    assert collection.tags == []
    assert [p.organisation_id for p in collections.permissions_of(session, collection)] == [
        reader.id
    ]

    deleted = client.post(
        f"/taxii/collections/{collection.uuid}/delete",
        data={"csrf_token": csrf_of(client, "/taxii/collections")},
        headers=HTML,
        follow_redirects=False,
    )
    assert deleted.status_code == 303
    assert _count(session, TaxiiCollection) == 0
    assert _count(session, TaxiiPermission) == 0


def test_collection_form_errors_are_shown_next_to_their_fields(
    client: TestClient, session: Session
) -> None:
    admin = _admin(session)
    other = make_organisation(session, "KE", name="KE-CERT")
    log_in(client, admin.user)
    path = "/taxii/collections/new"

    no_title = client.post(
        path, data=_collection_form(client, path, alias="Bad Alias!"), headers=HTML
    )
    assert no_title.status_code == 422
    assert 'id="f-title-error"' in no_title.text and "This field is required." in no_title.text
    assert 'id="f-alias-error"' in no_title.text

    bad_tag = client.post(
        path, data=_collection_form(client, path, title="Tagged", tags="ok, tlp:red"), headers=HTML
    )
    assert bad_tag.status_code == 422
    assert "f-tags-error" in bad_tag.text and "TLP is the event" in bad_tag.text

    # Write access where the collection shows only another organisation's events: refused
    # by the service, shown at that organisation's select.
    write_elsewhere = client.post(
        path,
        data=_collection_form(
            client,
            path,
            title="Only ours",
            owner_organisation_id=str(admin.organisation.id),
            **{f"permission-{other.id}": "read-write"},
        ),
        headers=HTML,
    )
    assert write_elsewhere.status_code == 422
    assert f'id="f-permission-{other.id}-error"' in write_elsewhere.text
    assert 'value="Only ours"' in write_elsewhere.text, "the form keeps what was typed"

    collections.create_collection(session, SYSTEM, CollectionCreate(title="Taken", alias="taken"))
    taken = client.post(
        path, data=_collection_form(client, path, title="Again", alias="taken"), headers=HTML
    )
    assert taken.status_code == 409
    assert 'id="f-alias-error"' in taken.text
    assert _count(session, TaxiiCollection) == 1

    no_csrf = client.post(path, data={"title": "No token", "max_tlp": "amber"}, headers=HTML)
    assert no_csrf.status_code == 403
    assert _count(session, TaxiiCollection) == 1


# ---- import with preview ------------------------------------------------------------------


def _preview(client: TestClient, event_id: int, content: bytes, import_format: str = "stix") -> Any:
    path = f"/events/{event_id}/import"
    return client.post(
        f"{path}/preview",
        data={"csrf_token": csrf_of(client, path), "format": import_format},
        files={"file": ("upload.json", io.BytesIO(content), "application/json")},
        headers=HTML,
    )


def _rows(session: Session) -> tuple[int, int, int, int]:
    session.expire_all()
    return (
        _count(session, Indicator),
        _count(session, StixObject),
        _count(session, Event),
        _count(session, AuditEntry),
    )


def test_a_stix_preview_stores_nothing_and_the_confirmation_stores(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    target = event(session, owner, TLP.AMBER)
    indicators(session, owner, target, {IndicatorType.IPV4: "198.51.100.23"})
    log_in(client, owner.user)
    page = client.get(f"/events/{target.id}", headers=HTML)
    assert page.text.count(f'href="/events/{target.id}/import"') == 1
    before = _rows(session)

    preview = _preview(client, target.id, LAGOON.read_bytes())
    assert preview.status_code == 200, preview.text
    assert _rows(session) == before, "the preview stored nothing, not even an audit entry"
    assert "Nothing is stored yet." in preview.text
    assert re.search(
        r"<td><span class=\"cell-code\">malware</span></td><td class=\"align-right\">1</td>",
        preview.text,
    )
    assert "Import now" in preview.text
    token = TOKEN.search(preview.text)
    assert token

    confirmed = client.post(
        f"/events/{target.id}/import",
        data={
            "csrf_token": csrf_of(client, f"/events/{target.id}"),
            "token": token.group(1),
            "format": "stix",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert confirmed.status_code == 303, confirmed.text
    after = _rows(session)
    assert after[0] > before[0] and after[1] > before[1]
    assert after[2] == before[2], "imported into this event, no new event"
    assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "stix.import"))

    again = client.post(
        f"/events/{target.id}/import",
        data={
            "csrf_token": csrf_of(client, f"/events/{target.id}"),
            "token": token.group(1),
            "format": "stix",
        },
        headers=HTML,
    )
    assert again.status_code == 404, "a preview is confirmed once"


def test_the_preview_reports_what_is_already_there_and_what_is_rejected(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    target = event(session, owner, TLP.AMBER)
    log_in(client, owner.user)
    bundle = json.loads(LAGOON.read_text())
    indicator = next(o for o in bundle["objects"] if o["type"] == "indicator")
    broken = {
        **indicator,
        "id": "indicator--7e2f7d7a-3a4e-4c53-9c8e-3f1a7f1f0a01",
        "pattern": "[ipv4-addr:value = ",
    }
    bundle["objects"].append(broken)
    first = _preview(client, target.id, json.dumps(bundle).encode())
    assert first.status_code == 200, first.text
    assert "Rejected (1)" in first.text
    assert broken["id"] in first.text

    token = TOKEN.search(first.text)
    assert token
    client.post(
        f"/events/{target.id}/import",
        data={
            "csrf_token": csrf_of(client, f"/events/{target.id}"),
            "token": token.group(1),
            "format": "stix",
        },
        headers=HTML,
    )
    second = _preview(client, target.id, LAGOON.read_bytes())
    assert second.status_code == 200
    assert "Importing would add <strong>0</strong>" in second.text
    assert re.search(r"<strong>[1-9][0-9]*</strong> already there", second.text)


def test_a_misp_event_previews_then_imports_its_attributes_into_this_event(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    target = event(session, owner, TLP.AMBER)
    log_in(client, owner.user)
    before = _rows(session)
    preview = _preview(client, target.id, MISP_EVENT.read_bytes(), "misp")
    assert preview.status_code == 200, preview.text
    assert _rows(session) == before
    assert "MISP event JSON" in preview.text
    token = TOKEN.search(preview.text)
    assert token
    confirmed = client.post(
        f"/events/{target.id}/import",
        data={
            "csrf_token": csrf_of(client, f"/events/{target.id}"),
            "token": token.group(1),
            "format": "misp",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert confirmed.status_code == 303, confirmed.text
    session.expire_all()
    stored = session.scalars(select(Indicator).where(Indicator.event_id == target.id)).all()
    assert stored and all(i.tlp.rank >= TLP.AMBER.rank for i in stored)
    assert _count(session, Event) == before[2], "no event of its own"


@pytest.mark.parametrize(
    ("content", "import_format", "problem"),
    [
        (b"{not json", "stix", "STIX 2.1 bundle:"),
        (b'{"type": "indicator", "id": "x"}', "stix", "not a STIX bundle"),
        (
            b'{"type": "bundle", "id": "bundle--0c3b5b9e-8b4a-4d7a-9a5e-4c1a2f3e4d5b", '
            b'"objects": []}',
            "stix",
            "no STIX object",
        ),
        (b"[]", "misp", "MISP event JSON:"),
        (b"", "stix", "the file is empty"),
    ],
)
def test_a_bad_file_gives_an_inline_error_naming_the_problem(
    client: TestClient, session: Session, content: bytes, import_format: str, problem: str
) -> None:
    owner = member(session)
    target = event(session, owner)
    log_in(client, owner.user)
    before = _rows(session)
    response = _preview(client, target.id, content, import_format)
    assert response.status_code == 422, response.text
    assert 'id="f-file-error"' in response.text
    assert problem in response.text
    assert "Import now" not in response.text
    assert _rows(session) == before


def test_a_file_over_the_size_limit_is_refused(
    client: TestClient, session: Session, settings: Any
) -> None:
    owner = member(session)
    target = event(session, owner)
    log_in(client, owner.user)
    too_large = b" " * (settings.max_body_bytes + 1)
    response = _preview(client, target.id, too_large)
    assert response.status_code == 413


def test_another_members_event_cannot_be_imported_into(
    client: TestClient, session: Session
) -> None:
    owner = member(session)
    visible = event(session, owner, TLP.GREEN)
    hidden = event(session, owner, TLP.AMBER, distribution=Distribution.ORGANISATION)
    other = make_user(session, make_organisation(session, "KE"), Role.ANALYST)
    log_in(client, other)
    before = _rows(session)

    assert client.get(f"/events/{hidden.id}/import", headers=HTML).status_code == 404
    assert _preview(client, hidden.id, LAGOON.read_bytes()).status_code == 404
    assert client.get(f"/events/{visible.id}/import", headers=HTML).status_code == 403
    assert _preview(client, visible.id, LAGOON.read_bytes()).status_code == 403
    page = client.get(f"/events/{visible.id}", headers=HTML)
    assert f'href="/events/{visible.id}/import"' not in page.text
    assert _rows(session) == before


@pytest.mark.slow
def test_the_preview_stores_nothing_with_the_production_session_setup(
    backend: str, scratch_database: Callable[[str], str], tmp_path: Path
) -> None:
    """The other tests run inside one rolled-back transaction; here the app's own sessions
    commit to a database of their own, as in production, so a rehearsal that leaked would
    leave rows behind."""
    app = create_app(make_settings(scratch_database(backend), data_dir=tmp_path))
    upgrade(app.state.engine)
    factory: sessionmaker[Session] = app.state.session_factory
    with factory() as session:
        owner = member(session)
        event_id = event(session, owner, TLP.AMBER).id
    with TestClient(app) as client:
        log_in(client, owner.user)
        with factory() as session:
            before = _rows(session)
        preview = _preview(client, event_id, LAGOON.read_bytes())
        assert preview.status_code == 200, preview.text
        with factory() as session:
            assert _rows(session) == before
        token = TOKEN.search(preview.text)
        assert token
        client.post(
            f"/events/{event_id}/import",
            data={
                "csrf_token": csrf_of(client, f"/events/{event_id}"),
                "token": token.group(1),
                "format": "stix",
            },
            headers=HTML,
        )
    with factory() as session:
        after = _rows(session)
    assert after[0] > before[0] and after[1] > before[1]
    app.state.engine.dispose()
