"""`GET /api/v1/exports/{format}`: media types, caching with ETag and 304, invalidation when
the data changes, per-organisation cache entries, and 422s naming the field at fault."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.interop.exports.service import ExportFormat
from entente.sharing import service, tags
from entente.sharing.choices import SightingKind
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Indicator
from tests.factories import auth, make_token, make_user
from tests.interop import builders
from tests.interop.export_builders import (
    NETWORK_VALUES,
    SECRET,
    World,
    build_world,
    export_settings,
)
from tests.interop.rule_grammar import parse_rules

URL = "/api/v1/exports"


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


@pytest.fixture
def cache_dir(app: FastAPI, tmp_path: Path) -> Path:
    """The app's export cache, in the test's own directory."""
    app.state.settings = export_settings(app.state.settings, tmp_path)
    return tmp_path / "exports"


def _headers(session: Session, world: World, who: str = "peer") -> dict[str, str]:
    member = world.peer if who == "peer" else world.owner
    return auth(make_token(session, member.user))


MEDIA = {
    ExportFormat.CSV: ("text/csv; charset=utf-8", "entente-indicators.csv"),
    ExportFormat.TEXT: ("text/plain; charset=utf-8", "entente-indicators.txt"),
    ExportFormat.RPZ: ("text/dns; charset=utf-8", "entente-rpz.zone"),
    ExportFormat.SURICATA: ("text/plain; charset=utf-8", "entente-suricata.rules"),
    ExportFormat.SNORT: ("text/plain; charset=utf-8", "entente-snort.rules"),
    ExportFormat.YARA: ("text/plain; charset=utf-8", "entente.yar"),
}


def test_each_format_has_its_media_type_and_file_name(
    client: TestClient, session: Session, world: World, cache_dir: Path
) -> None:
    headers = _headers(session, world)
    for export_format, (media_type, filename) in MEDIA.items():
        response = client.get(f"{URL}/{export_format.value}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == media_type
        assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
        assert response.headers["cache-control"] == "private, no-cache"
        assert SECRET not in response.text


def test_a_repeated_request_is_a_cache_hit_and_a_304_with_its_etag(
    client: TestClient, session: Session, world: World, cache_dir: Path
) -> None:
    headers = _headers(session, world)
    first = client.get(f"{URL}/suricata", headers=headers)
    assert first.headers["x-entente-cache"] == "miss"
    assert len(list(cache_dir.glob("*.export"))) == 1
    second = client.get(f"{URL}/suricata", headers=headers)
    assert second.headers["x-entente-cache"] == "hit"
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    parse_rules(second.text)
    unchanged = client.get(
        f"{URL}/suricata", headers={**headers, "If-None-Match": first.headers["etag"]}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["etag"] == first.headers["etag"]
    other = client.get(f"{URL}/suricata", headers={**headers, "If-None-Match": '"stale"'})
    assert other.status_code == 200


def test_adding_an_indicator_invalidates_the_cached_export(
    client: TestClient, session: Session, world: World, cache_dir: Path
) -> None:
    headers = _headers(session, world)
    before = client.get(f"{URL}/text", headers=headers)
    assert "fresh.example" not in before.text
    builders.indicators(
        session, world.owner, world.shared, {IndicatorType.DOMAIN: "fresh.example"}, to_ids=True
    )
    after = client.get(f"{URL}/text", headers={**headers, "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["x-entente-cache"] == "miss"
    assert "fresh.example" in after.text.splitlines()
    assert after.headers["etag"] != before.headers["etag"]


def test_publishing_and_tagging_invalidate_too(
    client: TestClient, session: Session, world: World, cache_dir: Path
) -> None:
    headers = _headers(session, world)
    published_only = {"published": "true"}
    assert client.get(f"{URL}/text", headers=headers, params=published_only).text == ""
    service.publish_event(session, world.owner.principal(session), world.shared)
    listed = client.get(f"{URL}/text", headers=headers, params=published_only).text.splitlines()
    assert NETWORK_VALUES[IndicatorType.IPV4] in listed
    # A local tag of the peer's own: it moves no `updated_at`, the cache key still changes.
    local = {"tag": "peer-watchlist"}
    assert client.get(f"{URL}/text", headers=headers, params=local).text == ""
    tags.add_tag(session, world.peer.principal(session), world.shared, "peer-watchlist")
    assert client.get(f"{URL}/text", headers=headers, params=local).text != ""
    # A sighting reporting the address expired ends it in the next export.
    address = NETWORK_VALUES[IndicatorType.IPV4]
    assert address in client.get(f"{URL}/text", headers=headers).text.splitlines()
    [indicator] = session.scalars(select(Indicator).where(Indicator.value == address))
    builders.sighting(session, world.peer, indicator, SightingKind.EXPIRED)
    assert address not in client.get(f"{URL}/text", headers=headers).text.splitlines()


def test_users_of_one_organisation_share_an_entry_other_organisations_never_do(
    client: TestClient, session: Session, world: World, cache_dir: Path
) -> None:
    peer = client.get(f"{URL}/text", headers=_headers(session, world))
    colleague = make_user(session, world.peer.organisation)
    same_org = client.get(f"{URL}/text", headers=auth(make_token(session, colleague)))
    assert same_org.headers["x-entente-cache"] == "hit"
    # A third organisation sees exactly what the peer sees, yet gets an entry of its own.
    stranger = builders.member(session, country="NG")
    other_org = client.get(f"{URL}/text", headers=auth(make_token(session, stranger.user)))
    assert other_org.text == peer.text
    assert other_org.headers["x-entente-cache"] == "miss"
    assert other_org.headers["etag"] != peer.headers["etag"]
    owner = client.get(f"{URL}/text", headers=_headers(session, world, "owner"))
    assert SECRET in owner.text and SECRET not in peer.text


BAD_QUERIES = [
    ({"type": "nope"}, "type.0"),
    ({"tlp": "purple"}, "tlp.0"),
    ({"event_id": "0"}, "event_id.0"),
    ({"sid_base": "0"}, "sid_base"),
    ({"min_score": "101"}, "min_score"),
    ({"seen_within_days": "0"}, "seen_within_days"),
    ({"since": "yesterday"}, "since"),
    ({"rpz_zone": "not a zone!"}, "rpz_zone"),
    ({"rpz_policy": "teapot"}, "rpz_policy"),
    ({"snort_version": "4"}, "snort_version"),
    ({"tag": "tlp:red"}, "tag"),
]


def test_a_bad_filter_or_option_is_a_422_naming_it(
    client: TestClient, session: Session, cache_dir: Path
) -> None:
    headers = auth(make_token(session, builders.member(session).user))
    for params, field in BAD_QUERIES:
        response = client.get(f"{URL}/rpz", headers=headers, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["field"] == field, params
    assert not cache_dir.exists() or not list(cache_dir.iterdir())
    unknown = client.get(f"{URL}/pdf", headers=headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "format"
    assert client.get(f"{URL}/csv").status_code == 401
