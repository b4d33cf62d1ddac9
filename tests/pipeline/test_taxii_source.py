"""TAXII 2.1 feeds against medallion (the OASIS reference server) on a loopback port: the
first look gets every object, later looks only what was added since (also after a
restart), `Scope.ALL` everything again; refused credentials, unknown collections, server
errors and the size limit; the options checked when a feed is added (CLI exit 2, HTTP 422)
and credentials never shown; and a whole feed run through the stix parser on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from entente.core.audit import SYSTEM
from entente.core.config import Settings
from entente.core.errors import BadValue, FetchError
from entente.members.accounts import Principal, load_viewer
from entente.members.choices import ConstituencyKind, Role
from entente.members.constituencies import add_constituency
from entente.members.constituency_schemas import ConstituencyCreate
from entente.pipeline import feeds
from entente.pipeline.choices import FetchOutcome, RunStatus
from entente.pipeline.models import Feed, FeedSourceState
from entente.pipeline.runner import FeedRunner
from entente.pipeline.schemas import FeedCreate
from entente.pipeline.sources import Fetched, Scope, SourceOptions, SourceState
from entente.pipeline.taxii_source import MASK, TaxiiOptions, TaxiiSource
from entente.sharing import indicator_service, service
from entente.sharing.indicators import IndicatorType
from entente.sharing.schemas import EventCreate, IndicatorBatch, IndicatorCreate
from entente.vocabulary.markings import TLP, Distribution
from tests.conftest import BACKENDS
from tests.factories import auth, make_organisation, make_token, make_user
from tests.interop.builders import assert_strictly_valid
from tests.pipeline.feed_server import DROP, FeedServer, Reply
from tests.pipeline.taxii_server import (
    PASSWORD,
    USER,
    Medallion,
    collection_id,
    indicators,
    start_medallion,
)
from tests.pipeline.test_feed_cli import migrated, ok, run
from tests.pipeline.test_sources import after, no_partials
from tests.web.test_ui_pages import HTML, log_in

FAST = SourceOptions(retry_backoff_seconds=0.0, timeout_seconds=5.0)
COLLECTIONS = (
    "first-look",
    "scope-all",
    "limits",
    *(f"feed-run-{backend}" for backend in BACKENDS),
    *(f"cli-{backend}" for backend in BACKENDS),
)
CLOSED, TWINS = "closed", "twins"
MEMBER_NETWORK = "192.0.2.0/24"


@pytest.fixture(scope="module")
def medallion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Medallion]:
    """One medallion for the module (it takes about a second to start); each test reads a
    collection of its own, so they stay independent."""
    server = start_medallion(
        tmp_path_factory.mktemp("medallion"),
        COLLECTIONS,
        max_page_size=50,
        unreadable=(CLOSED,),
        twins=(TWINS,),
    )
    yield server
    server.stop()


def taxii(collection: str, **options: Any) -> TaxiiOptions:
    return TaxiiOptions(collection=collection, user=USER, password=PASSWORD, **options)


def source(url: str, directory: Path, collection: str, **source_options: Any) -> TaxiiSource:
    return TaxiiSource(
        url, directory, replace(FAST, **source_options), taxii(collection, page_size=20)
    )


def addresses(first: int, count: int) -> list[str]:
    return [f"192.0.2.{n}" for n in range(first, first + count)]


def ids_in(fetched: Fetched) -> list[str]:
    return [item["id"] for file in fetched.files for item in bundle(file.path)["objects"]]


def bundle(path: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return found


# ---- the source alone ------------------------------------------------------------------


def test_a_first_look_gets_everything_then_only_what_was_added_since(
    medallion: Medallion, tmp_path: Path
) -> None:
    seeded = indicators(addresses(1, 45))
    medallion.add("first-look", seeded)
    # By id: the collection's title would do as well (see the next test).
    look = source(medallion.api_root, tmp_path, collection_id("first-look"))

    first = look.fetch(SourceState(), Scope.NEW)
    assert first.outcome is FetchOutcome.NEW
    assert len(first.files) == 3, "45 objects at 20 a page"
    assert sorted(ids_in(first)) == sorted(item["id"] for item in seeded)
    assert first.last_modified and first.last_modified.endswith("Z")
    assert "45 object(s) in 3 page(s)" in first.note
    page = first.files[0].path.read_text(encoding="utf-8")
    assert json.loads(page)["type"] == "bundle"
    assert_strictly_valid(page)
    assert no_partials(tmp_path)

    state = after(SourceState(), first)
    again = look.fetch(state, Scope.NEW)
    assert (again.outcome, again.files, again.last_modified) == (FetchOutcome.NOTHING_NEW, (), None)

    later = indicators(addresses(101, 3))
    medallion.add("first-look", later)
    # A new source object from nothing but what the feed remembered: as after a restart.
    restarted = source(medallion.api_root, tmp_path, "first-look")
    remembered = SourceState(last_modified=state.last_modified, read=state.read)
    third = restarted.fetch(remembered, Scope.NEW)
    assert third.outcome is FetchOutcome.NEW
    assert ids_in(third) == [item["id"] for item in later]
    assert third.last_modified and third.last_modified > state.last_modified


def test_scope_all_pulls_every_object_again(medallion: Medallion, tmp_path: Path) -> None:
    medallion.add("scope-all", indicators(addresses(1, 25)))
    look = source(medallion.api_root, tmp_path, "scope-all")
    state = after(SourceState(), look.fetch(SourceState(), Scope.NEW))
    assert look.fetch(state, Scope.NEW).outcome is FetchOutcome.NOTHING_NEW

    everything = look.fetch(state, Scope.ALL)
    assert everything.outcome is FetchOutcome.NEW
    assert len(ids_in(everything)) == 25
    assert all(str(file.path) not in state.read for file in everything.files)


def test_refused_credentials_are_a_fetch_error_naming_the_url_not_the_password(
    medallion: Medallion, tmp_path: Path
) -> None:
    wrong = TaxiiOptions(collection="first-look", user=USER, password="not-the-password")
    look = TaxiiSource(medallion.api_root, tmp_path, FAST, wrong)
    with pytest.raises(FetchError, match="HTTP 401") as raised:
        look.fetch(SourceState(), Scope.NEW)
    assert medallion.api_root in raised.value.message
    assert "not-the-password" not in raised.value.message
    assert "not-the-password" not in repr(wrong)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_an_unknown_collection_is_refused_naming_the_option_and_the_collections_there(
    medallion: Medallion, tmp_path: Path
) -> None:
    with pytest.raises(BadValue, match="no collection with the id or title 'nothing'") as raised:
        source(medallion.api_root, tmp_path, "nothing").fetch(SourceState(), Scope.NEW)
    assert raised.value.field == "options.taxii.collection"
    assert f"{collection_id('limits')} ('limits')" in raised.value.message

    with pytest.raises(BadValue, match="2 collections are titled 'twins': give one's id"):
        source(medallion.api_root, tmp_path, TWINS).fetch(SourceState(), Scope.NEW)


def test_an_unreadable_collection_and_a_wrong_api_root_are_fetch_errors(
    medallion: Medallion, tmp_path: Path
) -> None:
    with pytest.raises(FetchError, match="does not allow reading") as raised:
        source(medallion.api_root, tmp_path, CLOSED).fetch(SourceState(), Scope.NEW)
    assert collection_id(CLOSED) in raised.value.message

    wrong_root = medallion.api_root.replace("/api1/", "/api9/")
    with pytest.raises(FetchError, match=r"HTTP 404.*no such TAXII 2\.1 API root") as missing:
        source(wrong_root, tmp_path, "limits").fetch(SourceState(), Scope.NEW)
    assert missing.value.message.startswith(f"{wrong_root}collections/")


def test_a_page_over_the_size_limit_is_refused_and_leaves_no_file(
    medallion: Medallion, tmp_path: Path
) -> None:
    medallion.add("limits", indicators(addresses(1, 30)))
    # The collections list (about 2 kB) passes; a page of 20 indicators (about 10 kB) not.
    look = source(medallion.api_root, tmp_path, "limits", max_bytes=5000)
    with pytest.raises(FetchError, match="larger than the limit of 5,000 bytes") as raised:
        look.fetch(SourceState(), Scope.NEW)
    assert raised.value.field == "options.source.max_bytes"
    assert "/objects/" in raised.value.message
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_server_errors_are_retried_with_a_growing_pause_then_named(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    # Not a TAXII server at all once it answers: no TAXII Content-Type.
    listing = b'{"collections": []}'
    feed_server.scripts["/taxii/collections/"] = [Reply(503), Reply(DROP), Reply(200, listing)]
    pauses: list[float] = []
    look = source(feed_server.url("taxii/"), tmp_path, "x", retry_backoff_seconds=0.5)
    look.sleep = pauses.append
    with pytest.raises(FetchError, match=r"did not answer as a TAXII 2\.1 server") as raised:
        look.fetch(SourceState(), Scope.NEW)
    assert pauses == [0.5, 1.0]
    assert raised.value.message.startswith(feed_server.url("taxii/collections/"))

    feed_server.scripts["/taxii/collections/"] = [Reply(503)] * 3
    with pytest.raises(FetchError, match=r"HTTP 503 .*gave up after 3 attempts"):
        source(feed_server.url("taxii/"), tmp_path, "x", retries=2).fetch(SourceState(), Scope.NEW)


def test_an_unreachable_server_is_a_fetch_error_naming_it(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/taxii2/api/"
    with pytest.raises(FetchError, match=r"could not fetch http://127\.0\.0\.1.*1 attempt"):
        source(url, tmp_path, "x", retries=0).fetch(SourceState(), Scope.NEW)


def test_a_token_is_sent_as_bearer_and_never_shown() -> None:
    options = TaxiiOptions.of({"taxii": {"collection": "c", "token": "tok-123"}})
    prepared = requests.Request("GET", "https://taxii.example/", auth=options.auth()).prepare()
    assert prepared.headers["Authorization"] == "Bearer tok-123"
    assert "tok-123" not in repr(options) and "tok-123" not in repr(options.auth())


# ---- options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({}, "options.taxii"),
        ({"taxii": ["c"]}, "options.taxii"),
        ({"taxii": {}}, "options.taxii.collection"),
        ({"taxii": {"collection": " "}}, "options.taxii.collection"),
        ({"taxii": {"collection": "c", "colour": "red"}}, "options.taxii.colour"),
        ({"taxii": {"collection": "c", "user": "u"}}, "options.taxii.password"),
        ({"taxii": {"collection": "c", "password": "p"}}, "options.taxii.user"),
        (
            {"taxii": {"collection": "c", "user": "u", "password": "p", "token": "t"}},
            "options.taxii.token",
        ),
        ({"taxii": {"collection": "c", "page_size": 0}}, "options.taxii.page_size"),
        ({"taxii": {"collection": "c", "page_size": "20"}}, "options.taxii.page_size"),
    ],
)
def test_bad_taxii_options_name_the_option(options: dict[str, Any], field: str) -> None:
    with pytest.raises(BadValue) as raised:
        TaxiiOptions.of(options)
    assert raised.value.field == field


def test_a_secret_of_the_wrong_kind_is_not_echoed() -> None:
    with pytest.raises(BadValue) as raised:
        TaxiiOptions.of({"taxii": {"collection": "c", "user": "u", "password": 271828}})
    assert raised.value.field == "options.taxii.password"
    assert raised.value.value == MASK
    assert "271828" not in raised.value.message


# ---- feeds (SQLite and PostgreSQL) -----------------------------------------------------


@pytest.fixture
def hub(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path / "var"})


def taxii_feed(
    medallion: Medallion, collection: str, name: str = "cert-x", **options: Any
) -> dict[str, Any]:
    """A taxii feed's fields, as the API takes them."""
    return {
        "name": name,
        "parser": "stix",
        "source_kind": "taxii",
        "source": medallion.api_root,
        "options": {
            "taxii": {"collection": collection, "user": USER, "password": PASSWORD, **options},
            "source": {"retries": 0, "timeout_seconds": 5},
        },
    }


def share_indicator(session: Session, organisation: Any, address: str) -> None:
    """The member's own RED event with one IPv4 indicator (the member alone may see it)."""
    owner = make_user(session, organisation)
    principal = Principal(user=owner, viewer=load_viewer(session, owner), via="api")
    event = service.create_event(
        session,
        principal,
        EventCreate(
            title="C2 servers",
            event_date=date(2026, 11, 20),
            tlp=TLP.RED,
            distribution=Distribution.ORGANISATION,
        ),
    )
    batch = IndicatorBatch(
        indicators=[IndicatorCreate(type=IndicatorType.IPV4, value=address, to_ids=True)]
    )
    indicator_service.add_indicators(session, principal, event, batch)


def remembered(session: Session, feed: Feed) -> FeedSourceState:
    session.expire_all()
    found = session.get(FeedSourceState, feed.id)
    assert found is not None
    return found


@pytest.mark.slow  # about 3 s: four looks and four ingests
def test_a_taxii_feed_run_ingests_the_indicators_and_resumes_where_it_stopped(
    session: Session, hub: Settings, medallion: Medallion, backend: str
) -> None:
    collection = f"feed-run-{backend}"
    member = make_organisation(session, "NL")
    data = ConstituencyCreate(
        organisation_id=member.id, kind=ConstituencyKind.PREFIX, value=MEMBER_NETWORK
    )
    add_constituency(session, SYSTEM, None, data)
    share_indicator(session, member, "192.0.2.7")
    medallion.add(collection, indicators(addresses(1, 30)))
    fields = taxii_feed(medallion, collection, page_size=20)
    feed = feeds.create_feed(session, SYSTEM, FeedCreate.model_validate(fields))

    first = FeedRunner(session, hub).run(feed)
    assert first.look.outcome is FetchOutcome.NEW
    assert [run.status for run in first.runs] == [RunStatus.SUCCEEDED] * 2
    assert sum(run.rows_in for run in first.runs) == 30
    assert sum(run.rows_stored for run in first.runs) == 30
    assert sum(run.matched for run in first.runs) == 1
    state = remembered(session, feed)
    added_after = state.last_modified
    assert added_after.endswith("Z") and state.outcome is FetchOutcome.NEW

    quiet = FeedRunner(session, hub).run(feed)
    assert (quiet.look.outcome, quiet.runs) == (FetchOutcome.NOTHING_NEW, [])
    assert remembered(session, feed).last_modified == added_after

    medallion.add(collection, indicators(addresses(101, 2)))
    # A new runner over a fresh read of the feed: what survives a restart is in the database.
    restarted = FeedRunner(session, hub).run(feeds.get_feed(session, feed.name))
    assert [run.rows_in for run in restarted.runs] == [2]
    assert [run.rows_stored for run in restarted.runs] == [2]
    assert remembered(session, feed).last_modified > added_after

    everything = FeedRunner(session, hub).run(feed, Scope.ALL)
    assert sum(run.rows_in for run in everything.runs) == 32
    assert sum(run.rows_stored for run in everything.runs) == 0, "de-duplication"


def test_a_taxii_feed_shows_its_credentials_masked(
    session: Session, client: TestClient, medallion: Medallion
) -> None:
    hub_org = make_organisation(session, "CH")
    admin = make_user(session, hub_org, Role.ADMIN)
    headers = auth(make_token(session, admin))
    fields = taxii_feed(medallion, "limits", name="masked")
    created = client.post("/api/v1/feeds", json=fields, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["options"]["taxii"]["password"] == MASK

    for path in ("/api/v1/feeds", "/api/v1/feeds/masked"):
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200
        assert PASSWORD not in answer.text and MASK in answer.text
    log_in(client, admin)
    page = client.get("/feeds/masked", headers=HTML)
    assert page.status_code == 200
    assert PASSWORD not in page.text and "TAXII" in page.text


BAD_FEEDS = [
    ({"parser": "shadowserver"}, "parser"),
    ({"source": "https://hub:pw@taxii.example/api1/"}, "source"),
    ({"source": "ftp://taxii.example/api1/"}, "source"),
    ({"options": {}}, "options.taxii"),
    ({"options": {"taxii": {"collection": "c", "page_size": -1}}}, "options.taxii.page_size"),
    ({"source_kind": "url"}, "options.taxii"),
]


def test_a_bad_taxii_feed_is_a_422_naming_the_field(session: Session, client: TestClient) -> None:
    admin = make_user(session, make_organisation(session, "CH"), Role.ADMIN)
    headers = auth(make_token(session, admin))
    good = {
        "name": "bad",
        "parser": "stix",
        "source_kind": "taxii",
        "source": "https://taxii.example/api1/",
        "options": {"taxii": {"collection": "c"}},
    }
    # One client for every case: the app's start dominates a request's cost.
    for change, field in BAD_FEEDS:
        answer = client.post("/api/v1/feeds", json=good | change, headers=headers)
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["error"]["field"] == field, change
        assert "pw@" not in answer.text


# ---- the CLI ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def cli_database(
    request: pytest.FixtureRequest, scratch_database: Callable[[str], str]
) -> tuple[str, str]:
    """(backend, URL) of a migrated scratch database: the CLI commits for real."""
    return str(request.param), migrated(scratch_database(request.param))


def test_the_cli_adds_lists_and_runs_a_taxii_feed(
    cli_database: tuple[str, str], tmp_path: Path, medallion: Medallion
) -> None:
    backend, url = cli_database
    collection = f"cli-{backend}"
    medallion.add(collection, indicators(addresses(1, 5)))
    add = ("feed", "add", "taxii-cli", "--parser", "stix", "--kind", "taxii")
    where = ("--source", medallion.api_root)
    options = taxii_feed(medallion, collection)["options"]

    refused = run(url, tmp_path, *add, *where, "--options", json.dumps({"taxii": {"user": "u"}}))
    assert refused.exit_code == 2, refused.output
    assert "options.taxii" in refused.output

    ok(run(url, tmp_path, *add, *where, "--options", json.dumps(options)))
    listed = ok(run(url, tmp_path, "feed", "list", "--json"))
    assert PASSWORD not in listed and MASK in listed
    ran = ok(run(url, tmp_path, "feed", "run", "taxii-cli"))
    assert "5 rows in" in ran
    again = ok(run(url, tmp_path, "feed", "run", "taxii-cli"))
    assert "nothing new" in again
