"""The events UI without a browser, on SQLite and PostgreSQL: pages, filters and facets,
hidden events, the new-event form, bulk add with preview, roles, warning-list switches."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from entente.members.accounts import Principal, load_viewer
from entente.members.choices import Role
from entente.members.models import User
from entente.sharing import indicator_service, service, sightings
from entente.sharing.choices import SightingKind, ThreatLevel
from entente.sharing.indicators import MAX_TEXT_LINES, IndicatorType
from entente.sharing.models import Event, Indicator, Sighting
from entente.sharing.schemas import EventCreate, IndicatorBatch, IndicatorCreate, SightingCreate
from entente.sharing.warninglist_settings import get_warning_list
from entente.vocabulary.markings import TLP, Distribution
from tests.factories import make_organisation, make_user
from tests.web.test_ui_pages import HTML, csrf_of, log_in


def _principal(session: Session, user: User) -> Principal:
    return Principal(user=user, viewer=load_viewer(session, user), via="api")


def _event(
    session: Session,
    owner: User,
    title: str,
    tlp: TLP = TLP.AMBER,
    distribution: Distribution = Distribution.ALL_MEMBERS,
    **fields: object,
) -> Event:
    data = EventCreate.model_validate(
        {
            "title": title,
            "event_date": date(2026, 11, 20),
            "tlp": tlp,
            "distribution": distribution,
            **fields,
        }
    )
    return service.create_event(session, _principal(session, owner), data)


def _indicators(session: Session, owner: User, event: Event, *values: str) -> list[int]:
    batch = IndicatorBatch(
        indicators=[IndicatorCreate(type=IndicatorType.IPV4, value=v) for v in values]
    )
    result = indicator_service.add_indicators(session, _principal(session, owner), event, batch)
    return [indicator.id for indicator in result.added]


def _writes(client: TestClient, path: str = "/events") -> dict[str, str]:
    """Headers of an htmx write: the CSRF token travels as a header, as base.html sets it."""
    return {**HTML, "X-CSRF-Token": csrf_of(client, path), "HX-Request": "true"}


def _count(session: Session, model: type[Event] | type[Indicator]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


# ---- pages -----------------------------------------------------------------------------


def test_every_events_page_renders_for_a_logged_in_user(
    client: TestClient, session: Session
) -> None:
    owner = make_user(session, make_organisation(session))
    event = _event(
        session,
        owner,
        "Phishing wave against ministries",
        description="**Bold** <script>x</script>",
    )
    first, _second = _indicators(session, owner, event, "203.0.113.7", "203.0.113.8")
    other = _event(session, owner, "Earlier campaign")
    _indicators(session, owner, other, "203.0.113.7")
    indicator = session.get_one(Indicator, first)
    sightings.add_sighting(
        session, _principal(session, owner), indicator, SightingCreate(kind=SightingKind.SEEN)
    )
    log_in(client, owner)

    listing = client.get("/events", headers=HTML)
    assert listing.status_code == 200
    assert "Phishing wave against ministries" in listing.text
    assert 'href="/events/new"' in listing.text

    page = client.get(f"/events/{event.id}", headers=HTML)
    assert page.status_code == 200
    assert "<strong>Bold</strong>" in page.text, "the description is rendered Markdown"
    assert "<script>x</script>" not in page.text, "raw HTML in Markdown stays text"
    assert "203.0.113.7" in page.text and "203.0.113.8" in page.text
    assert 'href="/events/' + str(other.id) + '"' in page.text, "the correlated event is linked"
    assert 'id="sightings-timeline" data-vega-spec=' in page.text
    assert "1 seen" in page.text
    assert "Publish version 1" in page.text

    for path in ("/events/new", f"/events/{event.id}/indicators/bulk", "/warninglists"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 200, path
        assert "<script>" not in response.text, "the CSP forbids inline scripts"


def test_indicators_of_a_large_event_are_paged(client: TestClient, session: Session) -> None:
    owner = make_user(session, make_organisation(session))
    event = _event(session, owner, "Scanning botnet")
    _indicators(session, owner, event, *(f"198.51.100.{n}" for n in range(1, 61)))
    log_in(client, owner)
    first = client.get(f"/events/{event.id}", headers=HTML).text
    assert "60 indicators · showing 50" in first
    cursor = re.search(r'href="/events/\d+\?cursor=([^"#]+)#indicators">Next page', first)
    assert cursor
    second = client.get(f"/events/{event.id}?cursor={cursor.group(1)}", headers=HTML).text
    assert "showing 10" in second


# ---- list: filters, facets, hidden events ----------------------------------------------


def test_filters_and_facets_narrow_the_list(client: TestClient, session: Session) -> None:
    owner = make_user(session, make_organisation(session, "KE"))
    _event(
        session,
        owner,
        "Ransomware at a hospital",
        threat_level=ThreatLevel.HIGH,
        tags=["ransomware"],
    )
    _event(session, owner, "Defacement of a portal", tlp=TLP.GREEN)
    log_in(client, owner)

    green = client.get("/events?tlp=green", headers=HTML).text
    assert "Defacement of a portal" in green and "Ransomware at a hospital" not in green

    everything = client.get("/events", headers=HTML).text
    tag_link = re.search(r'href="(/events\?[^"]*tag=ransomware[^"]*)"', everything)
    assert tag_link, "each facet value links to its filter"
    tagged = client.get(tag_link.group(1).replace("&amp;", "&"), headers=HTML).text
    assert "Ransomware at a hospital" in tagged and "Defacement of a portal" not in tagged
    high = client.get("/events?threat_level=high&member_state=ke&q=hospital", headers=HTML).text
    assert "Ransomware at a hospital" in high and "Defacement" not in high
    assert 'class="active"' in high, "an applied facet value is marked"
    none = client.get("/events?since=2027-01-01", headers=HTML).text
    assert "No event matches these filters" in none

    bad = client.get("/events?tlp=purple", headers=HTML)
    assert bad.status_code == 422
    assert "tlp" in bad.text


def test_a_hidden_event_is_404_and_absent_from_the_list_and_facets(
    client: TestClient, session: Session
) -> None:
    secret_owner = make_organisation(session, "FR", name="Secretive CERT")
    writer = make_user(session, secret_owner)
    hidden = _event(
        session,
        writer,
        "Internal only incident",
        tlp=TLP.RED,
        distribution=Distribution.ORGANISATION,
        tags=["hush-hush"],
    )
    viewer = make_user(session, make_organisation(session))
    _event(session, viewer, "Visible campaign")
    log_in(client, viewer)

    page = client.get(f"/events/{hidden.id}", headers=HTML)
    absent = client.get("/events/987654", headers=HTML)
    assert page.status_code == absent.status_code == 404
    assert f"no event with id {hidden.id}" in page.text
    listing = client.get("/events", headers=HTML).text
    assert "Visible campaign" in listing
    for leaked in ("Internal only incident", "hush-hush", "Secretive CERT", "TLP:RED"):
        assert leaked not in listing.split('class="facets')[1], leaked
    by_owner = client.get(f"/events?organisation_id={secret_owner.id}", headers=HTML).text
    assert "Internal only incident" not in by_owner
    headers = _writes(client)
    for path in (f"/events/{hidden.id}/tags", f"/events/{hidden.id}/publish"):
        assert client.post(path, data={"tag": "x"}, headers=headers).status_code == 404


# ---- the new-event form ----------------------------------------------------------------


def test_create_with_a_bad_title_shows_the_field_error_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, make_organisation(session))
    log_in(client, user)
    before = _count(session, Event)
    form = {
        "csrf_token": csrf_of(client, "/events/new"),
        "title": "x",
        "event_date": "2026-11-20",
        "tlp": "amber",
        "distribution": "all_members",
        "tags": "phishing, tlp:red",
    }
    response = client.post("/events/new", data=form, headers=HTML)
    assert response.status_code == 422
    assert 'id="f-title-error"' in response.text
    assert 'value="phishing, tlp:red"' in response.text, "entered values are kept"
    assert _count(session, Event) == before

    form["title"] = "Phishing wave"
    refused_tag = client.post("/events/new", data=form, headers=HTML)
    assert refused_tag.status_code == 422
    assert 'id="f-tags-error"' in refused_tag.text
    assert "TLP is the event" in refused_tag.text
    assert _count(session, Event) == before

    form["tags"] = 'phishing, rsit:fraud="phishing"'
    created = client.post("/events/new", data=form, headers=HTML, follow_redirects=False)
    assert created.status_code == 303
    event_id = int(created.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/events/{event_id}", headers=HTML).text
    assert "Phishing wave" in page and "rsit:fraud=&#34;phishing&#34;" in page


def test_a_sharing_group_without_that_distribution_is_named_as_the_wrong_field(
    client: TestClient, session: Session
) -> None:
    user = make_user(session, make_organisation(session))
    log_in(client, user)
    form = {
        "csrf_token": csrf_of(client, "/events/new"),
        "title": "Group event",
        "event_date": "2026-11-20",
        "tlp": "amber",
        "distribution": "sharing_group",
    }
    response = client.post("/events/new", data=form, headers=HTML)
    assert response.status_code == 422
    assert 'id="f-sharing_group_id-error"' in response.text


# ---- the event page: publish, tags, sightings ------------------------------------------


def test_owner_publishes_tags_and_reports_a_sighting(client: TestClient, session: Session) -> None:
    owner = make_user(session, make_organisation(session))
    event = _event(session, owner, "Credential theft")
    (indicator_id,) = _indicators(session, owner, event, "203.0.113.50")
    log_in(client, owner)
    headers = _writes(client)

    published = client.post(f"/events/{event.id}/publish", headers=headers)
    assert "Published version 1" in published.text
    tagged = client.post(
        f"/events/{event.id}/tags", data={"tag": "credential-theft"}, headers=headers
    )
    assert "credential-theft" in tagged.text
    assert "Unpublished changes since version 1" in tagged.text
    bad = client.post(f"/events/{event.id}/tags", data={"tag": "tlp:amber"}, headers=headers)
    assert bad.status_code == 422 and 'id="f-tag-error"' in bad.text
    removed = client.post(
        f"/events/{event.id}/tags/remove", data={"tag": "credential-theft"}, headers=headers
    )
    assert "Removed the tag" in removed.text

    reported = client.post(
        f"/indicators/{indicator_id}/sightings",
        data={"kind": "false_positive"},
        headers=headers,
        follow_redirects=False,
    )
    assert reported.status_code == 303
    assert reported.headers["location"].endswith(f"#indicator-{indicator_id}")
    kinds = session.scalars(select(Sighting.kind).where(Sighting.indicator_id == indicator_id))
    assert list(kinds) == [SightingKind.FALSE_POSITIVE]


def test_a_reader_gets_no_write_buttons_and_is_refused_on_every_write(
    client: TestClient, session: Session
) -> None:
    organisation = make_organisation(session)
    owner = make_user(session, organisation)
    event = _event(session, owner, "Reader can look")
    (indicator_id,) = _indicators(session, owner, event, "203.0.113.60")
    reader = make_user(session, organisation, Role.READER)
    log_in(client, reader)

    listing = client.get("/events", headers=HTML).text
    assert 'href="/events/new"' not in listing
    page = client.get(f"/events/{event.id}", headers=HTML).text
    for button in ("Publish version", "Add indicators", "Add tag", 'name="kind"'):
        assert button not in page, button
    assert client.get("/events/new", headers=HTML).status_code == 403
    assert client.get(f"/events/{event.id}/indicators/bulk", headers=HTML).status_code == 403
    headers = _writes(client)
    writes = {
        "/events/new": {
            "title": "Not allowed",
            "event_date": "2026-11-20",
            "tlp": "green",
            "distribution": "all_members",
        },
        f"/events/{event.id}/publish": {},
        f"/events/{event.id}/tags": {"tag": "mine"},
        f"/events/{event.id}/indicators/bulk": {"action": "save", "pick": "ipv4|198.51.100.1"},
        f"/indicators/{indicator_id}/sightings": {"kind": "seen"},
    }
    for path, form in writes.items():
        assert client.post(path, data=form, headers=headers).status_code == 403, path
    assert session.scalar(select(func.count()).select_from(Sighting)) == 0
    assert _count(session, Indicator) == 1


def test_another_organisation_may_tag_for_itself_but_not_publish(
    client: TestClient, session: Session
) -> None:
    owner = make_user(session, make_organisation(session))
    event = _event(session, owner, "Shared with everyone", tags=["owner-tag"])
    outsider = make_user(session, make_organisation(session))
    log_in(client, outsider)
    headers = _writes(client)
    page = client.get(f"/events/{event.id}", headers=HTML).text
    assert "Publish version" not in page and "Add tag" in page
    assert 'aria-label="Remove the tag owner-tag"' not in page, "the owner's tags are not ours"
    tagged = client.post(f"/events/{event.id}/tags", data={"tag": "ours"}, headers=headers)
    assert 'aria-label="Remove the tag ours"' in tagged.text
    assert client.post(f"/events/{event.id}/publish", headers=headers).status_code == 403


# ---- bulk add --------------------------------------------------------------------------

PASTE = """Seen in the phishing kit:
hxxp://login-portal[.]example/verify
callback 45.137.21[.]9 and the resolver 8.8.8.8
no indicator on this line
bad address 999.1.1.1
"""


def test_bulk_preview_then_save_stores_the_ticked_rows(
    client: TestClient, session: Session
) -> None:
    owner = make_user(session, make_organisation(session))
    event = _event(session, owner, "Phishing kit")
    log_in(client, owner)
    headers = _writes(client)
    path = f"/events/{event.id}/indicators/bulk"

    preview = client.post(path, data={"action": "preview", "text": PASTE}, headers=headers)
    assert preview.status_code == 200
    picks = dict(
        re.findall(r'name="pick" value="([^"]+)" aria-label="[^"]*"( checked)?', preview.text)
    )
    assert picks == {
        "url|http://login-portal.example/verify": " checked",
        "ipv4|45.137.21.9": " checked",
        "ipv4|8.8.8.8": "",
    }, "a value on a warning list starts unticked"
    assert "public-dns-resolvers" in preview.text
    assert "no indicator on this line" in preview.text, "lines not understood are listed"
    assert "999.1.1.1" in preview.text, "invalid candidates are listed with why"
    assert _count(session, Indicator) == 0, "a preview stores nothing"

    form = {
        "action": "save",
        "text": PASTE,
        "to_ids": "true",
        "pick": ["url|http://login-portal.example/verify", "ipv4|45.137.21.9"],
    }
    saved = client.post(path, data=form, headers=headers)
    assert saved.status_code == 201
    assert "Added 2 indicators" in saved.text
    stored = session.execute(
        select(Indicator.value, Indicator.to_ids).where(Indicator.event_id == event.id)
    )
    assert sorted(stored) == [("45.137.21.9", True), ("http://login-portal.example/verify", True)]

    again = client.post(path, data=form, headers=headers)
    assert "Added 0 indicators; 2 already in the event" in again.text
    assert _count(session, Indicator) == 2


def test_bulk_works_without_javascript_too(client: TestClient, session: Session) -> None:
    owner = make_user(session, make_organisation(session))
    event = _event(session, owner, "Plain form")
    log_in(client, owner)
    form = {
        "csrf_token": csrf_of(client, "/events"),
        "action": "save",
        "pick": "domain|evil.example",
    }
    saved = client.post(f"/events/{event.id}/indicators/bulk", data=form, headers=HTML)
    assert saved.status_code == 201
    assert session.scalar(select(Indicator.value).where(Indicator.event_id == event.id)) == (
        "evil.example"
    )


def test_bulk_errors_are_shown_on_the_form_and_store_nothing(
    client: TestClient, session: Session
) -> None:
    owner = make_user(session, make_organisation(session))
    event = _event(session, owner, "Errors")
    log_in(client, owner)
    headers = _writes(client)
    path = f"/events/{event.id}/indicators/bulk"

    nothing_ticked = client.post(path, data={"action": "save", "text": PASTE}, headers=headers)
    assert nothing_ticked.status_code == 422
    assert "tick at least one indicator" in nothing_ticked.text
    assert 'name="pick"' in nothing_ticked.text, "the preview is shown again"
    assert 'value="ipv4|45.137.21.9" aria-label="Add 45.137.21.9">' in nothing_ticked.text, (
        "the rows stay as they were ticked"
    )

    empty = client.post(path, data={"action": "preview", "text": "  "}, headers=headers)
    assert empty.status_code == 422 and 'id="f-text-error"' in empty.text

    too_long = "a\n" * (MAX_TEXT_LINES + 1)
    oversized = client.post(path, data={"action": "preview", "text": too_long}, headers=headers)
    assert oversized.status_code == 422
    assert 'id="f-text-error"' in oversized.text
    assert f"at most {MAX_TEXT_LINES} at once" in oversized.text

    tampered = client.post(path, data={"action": "save", "pick": "no-such-type|x"}, headers=headers)
    assert tampered.status_code == 422
    assert _count(session, Indicator) == 0


# ---- warning lists ---------------------------------------------------------------------


def test_an_admin_switches_a_warning_list_and_nobody_else_can(
    client: TestClient, session: Session
) -> None:
    organisation = make_organisation(session)
    analyst = make_user(session, organisation)
    log_in(client, analyst)
    page = client.get("/warninglists", headers=HTML).text
    assert "public-dns-resolvers" in page and "Disable" not in page
    refused = client.post("/warninglists/top-domains/disable", headers=_writes(client))
    assert refused.status_code == 403
    assert get_warning_list(session, "top-domains").enabled

    admin = make_user(session, organisation, Role.ADMIN)
    client.cookies.clear()
    log_in(client, admin)
    headers = _writes(client, "/warninglists")
    switched = client.post("/warninglists/top-domains/disable", headers=headers)
    assert "Warning list &#39;top-domains&#39; disabled" in switched.text
    session.expire_all()
    assert not get_warning_list(session, "top-domains").enabled
    assert 'action="/warninglists/top-domains/enable"' in switched.text
    client.post("/warninglists/top-domains/enable", headers=headers)
    session.expire_all()
    assert get_warning_list(session, "top-domains").enabled
    unknown = client.post("/warninglists/no-such-list/enable", headers=headers)
    assert unknown.status_code == 404
