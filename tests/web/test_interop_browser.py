"""TAXII collections in a real Chromium against a live server: an admin follows the "TAXII"
link, creates a collection through the form (a field error first) and finds it in the list.

Screenshots go to test-artifacts/ for people reviewing the UI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import ConsoleLog, LiveServer, shot, submit

pytestmark = pytest.mark.browser


def test_an_admin_creates_a_collection_and_sees_it_in_the_list(
    admin_page: Page, live_server: LiveServer, console: ConsoleLog, artifacts_dir: Path
) -> None:
    admin_page.click("nav.mainnav >> text=TAXII")
    expect(admin_page.locator("h1")).to_have_text("TAXII collections")
    expect(admin_page.locator("#results")).to_contain_text(f"{live_server.url}/taxii2/")
    shot(admin_page, artifacts_dir, "interop-01-collections-empty.png")

    admin_page.click("text=Create the first collection")
    admin_page.fill("#f-alias", "Not An Alias")
    submit(admin_page)
    expect(admin_page.locator("#f-title-error")).to_have_text("This field is required.")
    expect(admin_page.locator("#f-alias")).to_have_value("Not An Alias")

    admin_page.fill("#f-title", "Hub phishing, shareable")
    admin_page.fill("#f-alias", "hub-phishing")
    admin_page.fill("#f-tags", "phishing")
    admin_page.select_option("#f-max_tlp", "green")
    admin_page.select_option("select[id^=f-permission-]", "read")
    shot(admin_page, artifacts_dir, "interop-02-collection-form.png")
    submit(admin_page)

    expect(admin_page.locator(".alert-success")).to_contain_text("Hub phishing, shareable")
    row = admin_page.locator("#results tbody tr", has_text="Hub phishing, shareable")
    expect(row).to_contain_text("hub-phishing")
    expect(row).to_contain_text("TLP:GREEN")
    expect(row).to_contain_text(f"{live_server.home_organisation} (read)")
    shot(admin_page, artifacts_dir, "interop-03-collections.png")
    # Chromium logs each 4xx answer; the one 422 answers the missing title above.
    assert [error for error in console.errors if "status of 422" not in error] == []
