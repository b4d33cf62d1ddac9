"""taxii2-client, the OASIS TAXII 2.1 client, against a live Entente server on loopback:
discover, list collections, read with pagination and `added_after`, write an envelope and
read its status; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
import uvicorn
from sqlalchemy.orm import Session, sessionmaker
from taxii2client.v21 import ApiRoot, Collection, Server, Status, as_pages  # type: ignore[import-untyped]

from entente.core.migrate import upgrade
from entente.interop.taxii.models import TaxiiCollection
from entente.sharing.indicators import IndicatorType
from entente.sharing.models import Event
from entente.web.app import create_app
from tests.conftest import BACKENDS, make_settings
from tests.factories import make_token
from tests.interop.builders import Member, event, indicators, member
from tests.interop.taxii.builders import collection
from tests.web.conftest import _free_port

SHARED_VALUES = 23
# A live server per backend, with a collection of a few dozen indicators: a few seconds.
pytestmark = pytest.mark.slow


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


@dataclass
class Hub:
    url: str
    session_factory: sessionmaker[Session]
    owner: Member
    reader: Member
    reader_token: str
    owner_token: str
    target: TaxiiCollection
    shared_event_id: int


@pytest.fixture(scope="module", params=BACKENDS)
def hub(request: pytest.FixtureRequest, scratch_database: Callable[[str], str]) -> Iterator[Hub]:
    app = create_app(make_settings(scratch_database(str(request.param))))
    upgrade(app.state.engine)
    factory: sessionmaker[Session] = app.state.session_factory
    with factory() as session:
        owner, reader = member(session), member(session)
        shared = event(session, owner)
        for number in range(SHARED_VALUES):
            indicators(session, owner, shared, {IndicatorType.DOMAIN: f"c2-{number}.example"})
        target = collection(session, [reader], [owner], alias="c2")
        hub = Hub(
            url="",
            session_factory=factory,
            owner=owner,
            reader=reader,
            reader_token=make_token(session, reader.user),
            owner_token=make_token(session, owner.user),
            target=target,
            shared_event_id=shared.id,
        )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="taxii-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    hub.url = f"http://127.0.0.1:{port}"
    yield hub
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


def _collection(hub: Hub, user: str, token: str) -> Collection:
    server = Server(f"{hub.url}/taxii2/", user=user, password=token)
    (root,) = server.api_roots
    assert isinstance(root, ApiRoot) and root.url == server.default.url
    (found,) = root.collections
    return found


def test_discover_list_and_read_every_page_then_only_what_was_added(hub: Hub) -> None:
    found = _collection(hub, hub.reader.user.username, hub.reader_token)
    assert found.id == hub.target.uuid and found.alias == "c2"
    assert found.can_read and not found.can_write
    pages = list(as_pages(found.get_objects, per_request=10))
    assert [len(page["objects"]) for page in pages] == [10, 10, 3]
    names = [o["name"] for page in pages for o in page["objects"]]
    assert sorted(names) == sorted(f"c2-{n}.example" for n in range(SHARED_VALUES))
    # The client remembers the last date added and asks only for what came after.
    manifest = found.get_manifest()
    last = max(record["date_added"] for record in manifest["objects"])
    assert found.get_objects(added_after=last) == {"more": False}
    with hub.session_factory() as session:
        shared = session.get_one(Event, hub.shared_event_id)
        indicators(session, hub.owner, shared, {IndicatorType.DOMAIN: "fresh.example"})
    since = found.get_objects(added_after=last)
    assert [o["name"] for o in since["objects"]] == ["fresh.example"]
    one = found.get_object(since["objects"][0]["id"])
    assert one["objects"] == since["objects"]


def test_write_an_envelope_and_read_its_status_with_a_bearer_token(hub: Hub) -> None:
    server = Server(f"{hub.url}/taxii2/", auth=BearerAuth(hub.owner_token))
    (writable,) = server.default.collections
    assert writable.can_write
    created = "2026-11-21T08:00:00.000Z"
    good = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": created,
        "pattern": "[ipv4-addr:value = '198.51.100.23']",
        "pattern_type": "stix",
        "valid_from": created,
    }
    bad = {**good, "id": f"indicator--{uuid.uuid4()}", "pattern": "[ipv4-addr:value = "}
    status = writable.add_objects({"objects": [good, bad]})
    assert isinstance(status, Status)
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (2, 1, 1)
    assert status.failures[0]["id"] == bad["id"]
    status.refresh()  # GET /status/{id}/ through the client
    assert status.success_count == 1 and status.successes[0]["id"] == good["id"]
    reader_view = _collection(hub, hub.reader.user.username, hub.reader_token)
    read = reader_view.get_object(good["id"])
    assert read["objects"] == [good]
