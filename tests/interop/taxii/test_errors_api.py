"""Every TAXII error path answers with its status and the TAXII 2.1 error body (section
3.6.1: title, description, http_status as a string, ...), never Entente's REST shape."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from entente.core.audit import SYSTEM
from entente.core.config import Settings
from entente.interop.taxii.collections import create_collection
from entente.interop.taxii.media import TAXII_MEDIA_TYPE
from entente.interop.taxii.schemas import CollectionCreate, CollectionPermission
from entente.members.choices import Role
from entente.members.models import ApiToken
from entente.sharing.indicators import IndicatorType
from entente.web.app import create_app
from tests.conftest import make_settings
from tests.factories import make_token
from tests.interop.builders import event, indicators, member
from tests.interop.taxii.builders import ROOT, basic, collection, objects_url, taxii_headers

SMALL_LIMIT = 2048


def assert_taxii_error(response: object, status: int, *words: str) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == TAXII_MEDIA_TYPE  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["http_status"] == str(status)
    assert body["title"] and body["description"]
    for word in words:
        assert word in body["description"], body
    return dict(body)


@pytest.fixture
def small_client(
    settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[TestClient]:
    """An app whose envelope limit is tiny, to reach the 413 with a small body."""
    app = create_app(make_settings(settings.database_url, taxii_max_envelope_bytes=SMALL_LIMIT))
    app.state.session_factory = session_factory
    with TestClient(app) as test_client:
        yield test_client


def test_406_without_a_taxii_accept_header(client: TestClient, session: Session) -> None:
    reader = member(session)
    headers = taxii_headers(session, reader)
    for accept in (None, "application/json", "*/*", "application/taxii+json;version=2.0"):
        sent = {k: v for k, v in headers.items() if k != "Accept"}
        if accept is not None:
            sent["Accept"] = accept
        body = assert_taxii_error(client.get("/taxii2/", headers=sent), 406, TAXII_MEDIA_TYPE)
        assert body["details"] == {"field": "Accept"}
    assert (
        client.get("/taxii2/", headers={**headers, "Accept": "application/taxii+json"}).status_code
        == 200
    )


def test_401_without_or_with_a_bad_credential(client: TestClient, session: Session) -> None:
    accept = {"Accept": TAXII_MEDIA_TYPE}
    missing = client.get("/taxii2/", headers=accept)
    assert_taxii_error(missing, 401, "API token")
    assert "Bearer" in missing.headers["www-authenticate"]
    assert_taxii_error(
        client.get("/taxii2/", headers={**accept, "Authorization": "Bearer ent_nope"}),
        401,
        "unknown API token",
    )
    assert_taxii_error(
        client.get("/taxii2/", headers={**accept, "Authorization": "Basic !!!"}), 401, "base64"
    )
    assert_taxii_error(
        client.get("/taxii2/", headers={**accept, "Authorization": basic("ada", "wrong")}), 401
    )
    assert_taxii_error(client.get("/taxii2/", headers={**accept, "Authorization": "Digest x"}), 401)


def test_404_for_unknown_and_unshared_collections_and_unknown_objects(
    client: TestClient, session: Session
) -> None:
    reader, stranger = member(session), member(session)
    theirs = collection(session, [stranger])
    mine = collection(session, [reader])
    headers = taxii_headers(session, reader)
    for key in ("no-such-collection", theirs.uuid):
        for suffix in ("", "objects/", "manifest/"):
            body = assert_taxii_error(
                client.get(f"{ROOT}/collections/{key}/{suffix}", headers=headers), 404, key
            )
            assert body["details"] == {"field": "collection_id"}
    unknown = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
    assert_taxii_error(client.get(f"{objects_url(mine)}{unknown}/", headers=headers), 404, unknown)
    assert_taxii_error(client.get(f"{objects_url(mine)}{unknown}/versions/", headers=headers), 404)
    assert_taxii_error(
        client.get(f"{ROOT}/status/8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f/", headers=headers), 404
    )


def test_403_to_read_without_read_or_write_without_write_permission(
    client: TestClient, session: Session
) -> None:
    writer_only, reader = member(session), member(session)
    drop_box = create_collection(
        session,
        SYSTEM,
        CollectionCreate(
            title="Drop box",
            permissions=[
                CollectionPermission(
                    organisation_id=writer_only.organisation.id, can_read=False, can_write=True
                ),
                CollectionPermission(organisation_id=reader.organisation.id),
            ],
        ),
    )
    writer_headers = taxii_headers(session, writer_only)
    assert_taxii_error(
        client.get(objects_url(drop_box), headers=writer_headers), 403, "may not read"
    )
    reader_headers = taxii_headers(session, reader, **{"Content-Type": TAXII_MEDIA_TYPE})
    posted = client.post(objects_url(drop_box), headers=reader_headers, content=b'{"objects": []}')
    assert_taxii_error(posted, 403, "may not write")
    # A user with the reader role may not write even where the organisation may.
    reader_role = member(session, Role.READER)
    shared = collection(session, [], [reader_role])
    headers = taxii_headers(session, reader_role, **{"Content-Type": TAXII_MEDIA_TYPE})
    assert_taxii_error(
        client.post(objects_url(shared), headers=headers, content=b'{"objects": []}'),
        403,
        "readers",
    )


def test_415_for_a_body_that_is_not_a_taxii_envelope(client: TestClient, session: Session) -> None:
    writer = member(session)
    target = collection(session, [], [writer])
    for content_type in (
        "application/json",
        "application/stix+json;version=2.1",
        "application/taxii+json;version=2.0",
    ):
        headers = taxii_headers(session, writer, **{"Content-Type": content_type})
        response = client.post(objects_url(target), headers=headers, content=b'{"objects": []}')
        body = assert_taxii_error(response, 415, TAXII_MEDIA_TYPE)
        assert body["details"] == {"field": "Content-Type"}


def test_413_for_an_envelope_over_the_limit_and_nothing_is_stored(
    small_client: TestClient, session: Session
) -> None:
    writer = member(session)
    target = collection(session, [writer], [writer])
    headers = taxii_headers(session, writer, **{"Content-Type": TAXII_MEDIA_TYPE})
    root = small_client.get(f"{ROOT}/", headers=headers).json()
    assert root["max_content_length"] == SMALL_LIMIT
    big = json.dumps(
        {"objects": [{"type": "x-filler", "id": "x", "pad": "a" * SMALL_LIMIT}]}
    ).encode()
    assert_taxii_error(
        small_client.post(objects_url(target), headers=headers, content=big), 413, str(SMALL_LIMIT)
    )

    def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield big[:1000]
        yield big[1000:]

    response = small_client.post(objects_url(target), headers=headers, content=streamed())
    assert_taxii_error(response, 413)
    assert small_client.get(objects_url(target), headers=headers).json() == {"more": False}


def test_400_for_bad_parameters_and_malformed_envelopes(
    client: TestClient, session: Session
) -> None:
    writer = member(session)
    shared = event(session, writer)
    indicators(session, writer, shared, {IndicatorType.DOMAIN: "bad.example"})
    target = collection(session, [writer], [writer])
    headers = taxii_headers(session, writer)
    url = objects_url(target)
    body = assert_taxii_error(
        client.get(url, headers=headers, params={"added_after": "yesterday"}), 400, "yesterday"
    )
    assert body["details"] == {"field": "added_after"}
    assert_taxii_error(client.get(url, headers=headers, params={"limit": 0}), 400, "limit")
    body = assert_taxii_error(client.get(url, headers=headers, params={"next": "not-a-token"}), 400)
    assert body["details"] == {"field": "next"}
    assert_taxii_error(client.get(url, headers=headers, params={"match[version]": "latest"}), 400)
    post = {**headers, "Content-Type": TAXII_MEDIA_TYPE}
    assert_taxii_error(client.post(url, headers=post, content=b"{not json"), 400, "not JSON")
    assert_taxii_error(client.post(url, headers=post, content=b"[]"), 400, "JSON object")
    assert_taxii_error(client.post(url, headers=post, content=b'{"objects": {}}'), 400, "list")


def test_a_revoked_token_is_refused_by_name(client: TestClient, session: Session) -> None:
    reader = member(session)
    token = make_token(session, reader.user, days=1)
    stored = session.query(ApiToken).filter_by(user_id=reader.user.id).one()
    stored.revoked_at = stored.created_at
    session.commit()
    response = client.get(
        "/taxii2/", headers={"Accept": TAXII_MEDIA_TYPE, "Authorization": f"Bearer {token}"}
    )
    assert_taxii_error(response, 401, "revoked")
