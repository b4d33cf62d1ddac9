"""A feed file end to end on SQLite and PostgreSQL: parsed, routed to the member whose
network it concerns, stored once however often it is re-run, matched against shared
indicators the member may see, summed into alerts; bad rows and bad files are reported."""

from __future__ import annotations

import csv
import ipaddress
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from entente.alerts.models import Alert
from entente.core.audit import SYSTEM
from entente.core.config import Settings
from entente.core.errors import ParseError
from entente.members.accounts import Principal, load_viewer
from entente.members.choices import ConstituencyKind
from entente.members.constituencies import add_constituency
from entente.members.constituency_schemas import ConstituencyCreate
from entente.members.models import Organisation
from entente.pipeline import feeds
from entente.pipeline.batches import MATCHED_INDICATORS, ORGANISATION
from entente.pipeline.choices import RunStatus
from entente.pipeline.ingest import Pipeline, ingest_file
from entente.pipeline.models import Feed
from entente.pipeline.store import EventFilters
from entente.sharing import indicator_service, service
from entente.sharing.indicators import IndicatorType
from entente.sharing.schemas import EventCreate, IndicatorBatch, IndicatorCreate
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_organisation, make_user

SAMPLES = Path(__file__).parent.parent / "data" / "shadowserver"
SCAN_HTTP = SAMPLES / "scan_http.csv"


@pytest.fixture
def hub(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path})


def declare(
    session: Session, organisation: Organisation, kind: ConstituencyKind, value: str
) -> None:
    data = ConstituencyCreate(organisation_id=organisation.id, kind=kind, value=value)
    add_constituency(session, SYSTEM, None, data)


def sample_ips(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return [row["ip"] for row in csv.DictReader(handle)]


def in_network(ips: list[str], network: str) -> int:
    inside = ipaddress.ip_network(network)
    return sum(ipaddress.ip_address(ip) in inside for ip in ips)


def feed(session: Session) -> Feed:
    return feeds.feed_for_ingest(session, SYSTEM, "shadowserver", "shadowserver")


def test_a_file_is_routed_stored_once_and_summed_into_alerts(
    session: Session, hub: Settings
) -> None:
    ips = sample_ips(SCAN_HTTP)
    first, second = make_organisation(session, "NL"), make_organisation(session, "KE")
    declare(session, first, ConstituencyKind.PREFIX, "192.0.2.0/24")
    declare(session, second, ConstituencyKind.PREFIX, "198.51.100.0/24")
    declare(session, second, ConstituencyKind.PREFIX, "198.51.100.0/25")  # more specific, same org
    pipeline = Pipeline.load(session, hub)

    run = ingest_file(session, pipeline, feed(session), SCAN_HTTP)

    assert run.status is RunStatus.SUCCEEDED
    assert (run.rows_in, run.rows_stored, run.duplicates) == (len(ips), len(ips), 0)
    routed = in_network(ips, "192.0.2.0/24") + in_network(ips, "198.51.100.0/24")
    assert run.unrouted == len(ips) - routed
    alerts = session.scalars(select(Alert)).all()
    by_org: dict[int, int] = {}
    for alert in alerts:
        by_org[alert.organisation_id] = by_org.get(alert.organisation_id, 0) + alert.rows
        assert alert.first_seen <= alert.last_seen
        assert 0 < len(alert.samples) <= 5
    assert by_org == {
        first.id: in_network(ips, "192.0.2.0/24"),
        second.id: in_network(ips, "198.51.100.0/24"),
    }
    stored = pipeline.store.rows(EventFilters(organisation_id=first.id), limit=100)
    assert stored.height == in_network(ips, "192.0.2.0/24")

    again = ingest_file(session, pipeline, feed(session), SCAN_HTTP)

    assert (again.rows_stored, again.duplicates) == (0, len(ips))
    session.expire_all()
    assert sum(alert.rows for alert in session.scalars(select(Alert))) == routed
    assert pipeline.store.total(EventFilters()) == len(ips)


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_stored(
    session: Session, hub: Settings
) -> None:
    pipeline = Pipeline.load(session, hub)
    run = ingest_file(session, pipeline, feed(session), SAMPLES / "scan_http-junk-ips.csv")
    assert run.quarantined > 0
    assert run.rows_stored + run.quarantined + run.duplicates == run.rows_in
    rows, total = pipeline.quarantine.list(feed="shadowserver", limit=100, offset=0)
    assert total == run.quarantined
    assert all("source.ip" in reason for reason in rows["_reason"].to_list())


def test_a_file_its_parser_cannot_read_fails_the_run_with_the_reason(
    session: Session, hub: Settings
) -> None:
    pipeline = Pipeline.load(session, hub)
    the_feed = feed(session)
    with pytest.raises(ParseError, match="missing column ip"):
        ingest_file(session, pipeline, the_feed, SAMPLES / "scan_http-missing-column.csv")
    latest = feeds.list_feeds(session)[0].last_run
    assert latest is not None
    assert latest.status is RunStatus.FAILED
    assert "missing column ip" in latest.error
    assert pipeline.store.total(EventFilters()) == 0


def test_a_row_matching_a_shared_indicator_carries_it_only_for_a_member_who_may_see_it(
    session: Session, hub: Settings
) -> None:
    ips = sample_ips(SCAN_HTTP)
    reader, outsider = make_organisation(session, "NL"), make_organisation(session, "KE")
    declare(session, reader, ConstituencyKind.PREFIX, "192.0.2.0/24")
    declare(session, outsider, ConstituencyKind.PREFIX, "198.51.100.0/24")
    seen_by_reader = next(ip for ip in ips if ip.startswith("192.0.2."))
    seen_by_outsider = next(ip for ip in ips if ip.startswith("198.51.100."))
    # The reader's own RED event: only the reader may see it.
    owner = make_user(session, reader)
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
    values = [seen_by_reader, seen_by_outsider]
    batch = IndicatorBatch(
        indicators=[IndicatorCreate(type=IndicatorType.IPV4, value=v, to_ids=True) for v in values]
    )
    indicator_service.add_indicators(session, principal, event, batch)
    pipeline = Pipeline.load(session, hub)

    run = ingest_file(session, pipeline, feed(session), SCAN_HTTP)

    assert run.matched == 1
    stored = pipeline.store.rows(EventFilters(), limit=100)
    matched = stored.filter(stored[MATCHED_INDICATORS].list.len() > 0)
    assert matched["source.ip"].to_list() == [seen_by_reader]
    assert matched[ORGANISATION].to_list() == [reader.id]
