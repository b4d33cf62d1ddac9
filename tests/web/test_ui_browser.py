"""UI flows in a real Chromium (Playwright) against a live server: what a member really sees.

Each test leaves full-page screenshots in test-artifacts/ for people reviewing the UI.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from entente.members.choices import Role
from entente.members.models import ApiToken, Organisation, User
from tests.factories import make_user
from tests.web.conftest import ConsoleLog, LiveServer, log_in, shot, submit

pytestmark = pytest.mark.browser


def test_failed_login_shows_the_error_and_a_good_one_opens_the_dashboard(
    page: Page, live_server: LiveServer, artifacts_dir: Path
) -> None:
    page.goto("/organisations")
    expect(page).to_have_url(re.compile(r"/login\?next=/organisations$"))
    expect(page.locator("h1")).to_have_text("Log in to Entente")
    shot(page, artifacts_dir, "01-login.png")

    page.fill("#f-username", live_server.admin_username)
    page.fill("#f-password", "not the password")
    submit(page)
    expect(page.locator(".alert-error")).to_contain_text("unknown username or wrong password")
    expect(page.locator("#f-username")).to_have_value(live_server.admin_username)
    shot(page, artifacts_dir, "02-login-failed.png")

    page.fill("#f-password", live_server.password)
    submit(page)
    expect(page).to_have_url(f"{live_server.url}/organisations")
    expect(page.locator(".who-name")).to_have_text(live_server.admin_username)
    expect(page.locator(".topbar .badge")).to_have_text(Role.ADMIN.label)


def test_dashboard_shows_counts_and_the_region_chart(
    admin_page: Page, console: ConsoleLog, artifacts_dir: Path
) -> None:
    stats = admin_page.locator(".stat")
    expect(stats.filter(has_text="Member states").locator(".stat-value")).to_have_text("194")
    expect(admin_page.locator(".chart[data-chart-state=ready] svg")).to_be_visible()
    expect(admin_page.locator(".activity li").first).to_be_visible()
    shot(admin_page, artifacts_dir, "03-dashboard.png")
    assert console.errors == []


def test_member_states_filter_by_region_and_open_a_detail_page(
    admin_page: Page, live_server: LiveServer, artifacts_dir: Path
) -> None:
    admin_page.click("nav.mainnav >> text=Member states")
    expect(admin_page.locator(".pager-count")).to_contain_text("194 member states")
    shot(admin_page, artifacts_dir, "04-member-states.png")

    admin_page.select_option("#f-region", "europe")
    admin_page.wait_for_url(re.compile(r"region=europe"))
    results = admin_page.locator("#results")
    expect(results).to_contain_text("France")
    expect(results).not_to_contain_text("Ghana")
    shot(admin_page, artifacts_dir, "05-member-states-europe.png")

    admin_page.fill("#f-q", "switz")
    admin_page.wait_for_url(re.compile(r"q=switz"))
    expect(results.locator("tbody tr")).to_have_count(1)
    results.get_by_role("link", name="Switzerland").click()
    expect(admin_page.locator("h1")).to_have_text("Switzerland")
    expect(admin_page.locator("#results")).to_contain_text(live_server.home_organisation)
    shot(admin_page, artifacts_dir, "06-member-state-detail.png")


def test_create_an_organisation_and_see_field_errors_inline(
    admin_page: Page, live_server: LiveServer, artifacts_dir: Path
) -> None:
    admin_page.goto("/organisations")
    admin_page.click("text=New organisation")
    admin_page.fill("#f-name", "CERT-Test Ghana")
    admin_page.fill("#f-short_name", "CERT-GH")
    admin_page.select_option("#f-type", "national_cert")
    admin_page.fill("#f-member_state", "QQ")
    submit(admin_page)
    expect(admin_page.locator("#f-member_state-error")).to_contain_text("no ITU member state")
    expect(admin_page.locator("#f-name")).to_have_value("CERT-Test Ghana")

    admin_page.fill("#f-member_state", "GH")
    submit(admin_page)
    expect(admin_page.locator(".alert-success")).to_contain_text(
        "Organisation 'CERT-Test Ghana' created"
    )
    expect(admin_page.locator("h1")).to_contain_text("CERT-Test Ghana")
    shot(admin_page, artifacts_dir, "07-organisation-created.png")

    admin_page.goto("/organisations/new")
    admin_page.fill("#f-name", "cert-test ghana")
    admin_page.fill("#f-member_state", "GH")
    admin_page.fill("#f-website", "https://cert.example.gh")
    submit(admin_page)
    expect(admin_page.locator("#f-name-error")).to_contain_text("already exists")
    expect(admin_page.locator("#f-website")).to_have_value("https://cert.example.gh")
    shot(admin_page, artifacts_dir, "08-organisation-duplicate-name.png")

    with live_server.session() as session:
        names = session.scalars(
            select(Organisation.name).where(Organisation.name.ilike("cert-test ghana"))
        )
        assert list(names) == ["CERT-Test Ghana"]

    admin_page.goto("/organisations?type=national_cert")
    expect(admin_page.locator("#results")).to_contain_text("CERT-Test Ghana")
    shot(admin_page, artifacts_dir, "09-organisations.png")


def test_world_map_draws_the_countries_without_console_errors(
    admin_page: Page, console: ConsoleLog, artifacts_dir: Path
) -> None:
    admin_page.click("nav.mainnav >> text=Map")
    chart = admin_page.locator(".chart-map[data-chart-state=ready]")
    expect(chart.locator("svg")).to_be_visible()
    countries = chart.locator("path[aria-roledescription=geoshape][aria-label^='Country:']")
    members = chart.locator("path[aria-roledescription=geoshape][aria-label*='Member state:']")
    assert countries.count() == 177, "every country of the atlas is drawn"
    assert members.count() > 150, "member states are joined to the atlas by ISO numeric id"
    box = chart.locator("svg").bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 300
    chart.locator("path[aria-label*='Member state: Ghana;']").hover()
    tooltip = admin_page.locator("#vg-tooltip-element")
    expect(tooltip).to_contain_text("Ghana")
    expect(tooltip).to_contain_text("Africa")
    shot(admin_page, artifacts_dir, "10-map.png")
    assert console.errors == []


def test_map_data_joins_member_states_by_iso_numeric(admin_page: Page) -> None:
    body = admin_page.request.get("/map/data?metric=organisations").json()
    rows = {row["alpha2"]: row for row in body["values"]}
    assert len(rows) == 194
    assert rows["CH"]["numeric"] == "756"
    assert rows["CH"]["value"] >= 1


def test_create_a_user_refusing_a_weak_password_inline(
    admin_page: Page, live_server: LiveServer, artifacts_dir: Path
) -> None:
    admin_page.goto("/users/new")
    admin_page.fill("#f-username", "kwame")
    admin_page.fill("#f-full_name", "Kwame Mensah")
    admin_page.fill("#f-email", "kwame@cert.example.gh")
    admin_page.fill("#f-password", "short")
    admin_page.select_option("#f-role", "analyst")
    submit(admin_page)
    expect(admin_page.locator("#f-password-error")).to_contain_text("at least 12 characters")
    expect(admin_page.locator("#f-email")).to_have_value("kwame@cert.example.gh")
    shot(admin_page, artifacts_dir, "11-user-weak-password.png")

    admin_page.fill("#f-password", "river violet compass 42")
    submit(admin_page)
    expect(admin_page.locator(".alert-success")).to_contain_text("User 'kwame' created")
    expect(admin_page.locator("h1")).to_have_text("Kwame Mensah")

    admin_page.select_option("#f-role", "reader")
    admin_page.get_by_role("button", name="Change role").click()
    expect(admin_page.locator(".page-head .badge").first).to_have_text(Role.READER.label)
    shot(admin_page, artifacts_dir, "12-user-detail.png")
    with live_server.session() as session:
        assert session.scalar(select(User.role).where(User.username == "kwame")) is Role.READER

    admin_page.goto("/users")
    expect(admin_page.locator("#results")).to_contain_text("kwame")
    shot(admin_page, artifacts_dir, "13-users.png")


def test_token_is_shown_once_and_can_be_revoked(
    admin_page: Page, live_server: LiveServer, artifacts_dir: Path
) -> None:
    admin_page.goto("/tokens")
    admin_page.click("text=New token")
    admin_page.fill("#f-name", "MISP sync")
    admin_page.fill("#f-expires_in_days", "30")
    submit(admin_page)
    clear = admin_page.get_by_test_id("clear-token").input_value()
    assert clear.startswith("ent_")
    expect(admin_page.locator(".alert-warning")).to_contain_text("shown this once")
    shot(admin_page, artifacts_dir, "14-token-created.png")

    admin_page.click("text=Done, back to the tokens")
    row = admin_page.locator("#results tbody tr", has_text="MISP sync")
    expect(row.locator(".badge")).to_have_text("Active")
    assert clear not in admin_page.content()
    assert clear[:12] in admin_page.content()

    admin_page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(admin_page.locator(".alert-success")).to_contain_text("Token 'MISP sync' revoked")
    expect(row.locator(".badge")).to_have_text("Revoked")
    shot(admin_page, artifacts_dir, "15-tokens-revoked.png")
    with live_server.session() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.name == "MISP sync"))
        assert token is not None and token.revoked_at is not None


def test_audit_log_lists_the_writes_and_filters_by_action(
    admin_page: Page, artifacts_dir: Path
) -> None:
    admin_page.goto("/tokens/new")
    admin_page.fill("#f-name", "audit probe")
    submit(admin_page)
    admin_page.click("nav.mainnav >> text=Audit log")
    results = admin_page.locator("#results")
    expect(
        results.locator("tr", has_text="token.create").filter(has_text="audit probe")
    ).to_have_count(1)
    expect(results).to_contain_text("ui")
    shot(admin_page, artifacts_dir, "16-audit-log.png")

    admin_page.select_option("#f-action", "token.create")
    admin_page.wait_for_url(re.compile(r"action=token.create"))
    actions = results.locator("tbody tr td:nth-child(3)")
    assert actions.count() >= 1
    assert set(actions.all_inner_texts()) == {"token.create"}
    shot(admin_page, artifacts_dir, "17-audit-log-filtered.png")


def test_a_reader_sees_no_audit_link_and_gets_403_on_the_audit_page(
    page: Page, live_server: LiveServer, artifacts_dir: Path
) -> None:
    with live_server.session() as session:
        home = session.scalar(
            select(Organisation).where(Organisation.name == live_server.home_organisation)
        )
        assert home is not None
        make_user(session, home, Role.READER, username="rita")
    log_in(page, "rita", live_server.password)
    expect(page.locator(".who-name")).to_have_text("rita")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Audit log")
    response = page.goto("/audit")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    shot(page, artifacts_dir, "18-forbidden.png")
