"""Shared events in a real Chromium against a live server: create an event, paste defanged
indicators, preview and save them, report a sighting and see it on the timeline chart.

Screenshots go to test-artifacts/ for people reviewing the UI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from entente.sharing.models import Event, Indicator
from tests.conftest import make_settings
from tests.web.conftest import ConsoleLog, LiveServer, shot, submit

pytestmark = pytest.mark.browser


def live_server_body_limit() -> int:
    return make_settings("sqlite://").max_body_bytes


PASTE = """Phishing kit seen on three ministry look-alike sites:
hxxps://minfin-login[.]example/verify?id=7
callback to 45.137.21[.]9, resolving through 8.8.8.8
Dropper: 44d88612fea8a8f36de82e1278abb02f
contact: billing[@]minfin-login[.]example
"""


def test_an_event_from_creation_to_a_sighting_on_the_timeline(
    admin_page: Page, live_server: LiveServer, console: ConsoleLog, artifacts_dir: Path
) -> None:
    page = admin_page
    page.click("nav.mainnav >> text=Events")
    expect(page.locator("h1")).to_have_text("Events")
    expect(page.locator("#results .empty")).to_contain_text("No event has been shared")
    shot(page, artifacts_dir, "20-events-empty.png")

    page.click("text=New event")
    page.fill("#f-title", "x")
    submit(page)
    expect(page.locator("#f-title-error")).to_contain_text("at least 3 characters")
    shot(page, artifacts_dir, "21-event-form-error.png")

    page.fill("#f-title", "Phishing wave against finance ministries")
    page.fill("#f-description", "Kit found on **three** sites.\n\n- finance\n- health")
    page.select_option("#f-threat_level", "high")
    page.select_option("#f-tlp", "green")
    page.fill("#f-tags", 'rsit:fraud="phishing", ministries')
    submit(page)
    expect(page.locator(".alert-success")).to_contain_text("created")
    expect(page.locator("h1")).to_have_text("Phishing wave against finance ministries")
    expect(page.locator(".markdown strong")).to_have_text("three")
    expect(page.locator(".markings .badge-tlp-green")).to_have_text("TLP:GREEN")
    expect(page.locator(".tags")).to_contain_text('rsit:fraud="phishing"')

    page.get_by_role("link", name="Add indicators").click()
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#f-text-error")).to_contain_text("paste some text")
    too_large = live_server_body_limit() + 1
    page.evaluate(
        "size => { document.querySelector('#f-text').value = 'x'.repeat(size); }", too_large
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("[data-too-large]")).to_be_visible()
    expect(page.locator("[data-too-large]")).to_contain_text("larger than the server accepts")
    page.fill("#f-text", PASTE)
    page.get_by_role("button", name="Preview").click()
    rows = page.locator("#preview tbody tr")
    expect(rows).to_have_count(5)
    resolver = rows.filter(has_text="8.8.8.8")
    expect(resolver.locator(".badge-orange")).to_contain_text("public-dns-resolvers")
    expect(resolver.locator("input[name=pick]")).not_to_be_checked()
    expect(page.locator("#unmatched")).to_contain_text("Phishing kit seen on three")
    shot(page, artifacts_dir, "22-bulk-preview.png")

    rows.filter(has_text="billing@minfin-login.example").locator("input[name=pick]").uncheck()
    page.get_by_role("button", name="Add the ticked indicators").click()
    expect(page.locator("#bulk-result")).to_contain_text("Added 3 indicators")
    expect(page.locator("#f-text")).to_have_value("")
    shot(page, artifacts_dir, "23-bulk-saved.png")

    page.click("text=See them on the event")
    table = page.locator("#indicator-list")
    for value in (
        "https://minfin-login.example/verify?id=7",
        "45.137.21.9",
        "44d88612fea8a8f36de82e1278abb02f",
    ):
        expect(table).to_contain_text(value)
    expect(table).not_to_contain_text("8.8.8.8")
    expect(page.locator("#sightings-timeline")).to_have_count(0)

    table.locator("tr", has_text="45.137.21.9").get_by_role("button", name="Seen").click()
    expect(page.locator(".alert-success")).to_contain_text("Reported 45.137.21.9 as 'Seen'")
    expect(table.locator("tr", has_text="45.137.21.9")).to_contain_text("1 seen")
    chart = page.locator("#sightings-timeline[data-chart-state=ready]")
    expect(chart.locator("svg")).to_be_visible()
    expect(chart.locator("path[aria-roledescription=bar]")).to_have_count(1)
    shot(page, artifacts_dir, "24-event-with-sighting.png")

    page.get_by_role("button", name="Publish version 1").click()
    expect(page.locator(".alert-success")).to_contain_text("Published version 1")
    with live_server.session() as session:
        event = session.scalar(select(Event).where(Event.title.startswith("Phishing wave")))
        assert event is not None and event.published and event.version == 1
        stored = session.scalars(select(Indicator.value).where(Indicator.event_id == event.id))
        assert len(list(stored)) == 3

    page.click("nav.mainnav >> text=Events")
    page.locator(".facets a", has_text="TLP:GREEN").click()
    expect(page).to_have_url(re.compile(r"tlp=green"))
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator(".facets a.active")).to_contain_text("TLP:GREEN")
    shot(page, artifacts_dir, "25-events-list.png")
    # Chromium logs each 4xx answer; the 422s and the 413 answer the bad inputs above.
    expected = ("status of 422", "status of 413")
    assert [e for e in console.errors if not any(s in e for s in expected)] == []


def test_an_admin_switches_a_warning_list(admin_page: Page, artifacts_dir: Path) -> None:
    admin_page.click("nav.mainnav >> text=Warning lists")
    row = admin_page.locator("#results tbody tr", has_text="top-domains")
    expect(row.locator(".badge-green")).to_have_text("Enabled")
    admin_page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Disable").click()
    expect(admin_page.locator(".alert-success")).to_contain_text("'top-domains' disabled")
    expect(row.locator(".badge-grey")).to_have_text("Off")
    shot(admin_page, artifacts_dir, "26-warning-lists.png")
    admin_page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Enable").click()
    expect(row.locator(".badge-green")).to_have_text("Enabled")
