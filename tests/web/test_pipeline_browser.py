"""The early-warning pipeline in a real Chromium against a live server: an operator adds a
feed, uploads a Shadowserver report through the form and sees the run; the member whose
network it concerns then finds the alerts, the trend chart and the map on its findings page.

Screenshots go to test-artifacts/ for people reviewing the UI.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session, sessionmaker

from entente.core.migrate import upgrade
from entente.members.choices import Role
from entente.web.app import create_app
from tests.conftest import make_settings
from tests.factories import make_organisation, make_user
from tests.pipeline.test_api import (
    FIRST_NETWORK,
    SAMPLES,
    dated_today,
    declare,
    in_network,
    sample_ips,
)
from tests.web.conftest import (
    ADMIN_USERNAME,
    ConsoleLog,
    LiveServer,
    _free_port,
    log_in,
    shot,
)

pytestmark = pytest.mark.browser

ANALYST = "nadia"
MEMBER = "NL-CERT"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The shared live server's set-up, with the event store and uploads in a temp directory
    and a member whose prefix the sample's first rows fall in."""
    root = tmp_path_factory.mktemp("pipeline-live")
    app = create_app(make_settings(f"sqlite:///{root / 'entente.db'}", data_dir=root / "var"))
    upgrade(app.state.engine)
    factory: sessionmaker[Session] = app.state.session_factory
    with factory() as session:
        home = make_organisation(session, "CH", name="CERT-Hub Secretariat")
        make_user(session, home, Role.ADMIN, username=ADMIN_USERNAME)
        member = make_organisation(session, "NL", name=MEMBER)
        declare(session, member, FIRST_NETWORK)
        make_user(session, member, Role.ANALYST, username=ANALYST)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=_free_port(), log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="pipeline-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{server.config.port}", session_factory=factory)
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


def test_an_uploaded_shadowserver_report_reaches_the_members_findings(
    page: Page,
    live_server: LiveServer,
    console: ConsoleLog,
    artifacts_dir: Path,
    tmp_path: Path,
) -> None:
    sample = dated_today(SAMPLES / "scan_http.csv", tmp_path)
    routed = in_network(sample_ips(sample), FIRST_NETWORK)
    log_in(page, live_server.admin_username, live_server.password)
    page.click("nav.mainnav >> text=Feeds")
    expect(page.locator("h1")).to_have_text("Feeds")
    expect(page.locator("#results .empty")).to_contain_text("No feeds yet")

    page.fill("#f-name", "shadowserver")
    page.select_option("#f-parser", "shadowserver")
    page.get_by_role("button", name="Add feed").click()
    expect(page.locator(".alert-success")).to_contain_text("Feed 'shadowserver' added")
    expect(page.locator("h1")).to_have_text("shadowserver")

    too_large = tmp_path / "scan_http-huge.csv"
    too_large.write_bytes(b"x" * (make_settings("sqlite://").max_body_bytes + 1))
    page.set_input_files("#f-file", str(too_large))
    page.get_by_role("button", name="Upload and ingest").click()
    expect(page.locator("[data-too-large]")).to_contain_text("larger than the server accepts")

    page.set_input_files("#f-file", str(sample))
    page.get_by_role("button", name="Upload and ingest").click()
    expect(page.locator(".alert-success")).to_contain_text("stored")
    runs = page.locator("#results tbody tr")
    expect(runs).to_have_count(1)
    expect(runs.first.locator(".badge-green")).to_have_text("Succeeded")
    chart = page.locator("#throughput-chart[data-chart-state=ready]")
    expect(chart.locator("svg")).to_be_visible()
    shot(page, artifacts_dir, "40-feed-after-upload.png")

    page.set_input_files("#f-file", str(SAMPLES / "scan_http-junk-ips.csv"))
    page.get_by_role("button", name="Upload and ingest").click()
    expect(page.locator(".alert-success")).to_contain_text("4 quarantined")
    page.get_by_role("link", name="Its quarantine").click()
    expect(page.locator("#reasons")).to_contain_text("is not an IP address")
    picks = page.locator("#results input[name=pick]")
    expect(picks).to_have_count(4)
    picks.first.check()
    shot(page, artifacts_dir, "41-quarantine.png")
    page.get_by_role("button", name="Re-process the ticked rows").click()
    # Re-processing loads the pipeline (indexes, enrichment) in the request: on a loaded CI
    # machine that outlasted the default 5 s wait once.
    expect(page.locator(".alert-success")).to_contain_text("1 quarantined again", timeout=30_000)

    page.click("nav.mainnav >> text=Feeds")
    expect(page.locator("#results")).to_contain_text("Succeeded")
    shot(page, artifacts_dir, "43-feeds.png")
    page.get_by_role("button", name="Log out").click()

    log_in(page, ANALYST, live_server.password)
    expect(page.locator("nav.mainnav")).not_to_contain_text("Feeds")
    page.click("nav.mainnav >> text=Findings")
    expect(page.locator("h1")).to_have_text("Findings")
    table = page.locator("#results table")
    expect(table).to_contain_text("Accessible-HTTP")
    expect(table.locator(".badge-red").first).to_have_text("New")
    trend = page.locator("#trend-chart[data-chart-state=ready]")
    today = trend.locator(f"path[aria-roledescription=bar][aria-label*='Findings: {routed};']")
    expect(today).to_be_visible()
    world = page.locator("#findings-map[data-chart-state=ready]")
    expect(world.locator("path[aria-label*='Member state: Netherlands']")).to_have_count(1)
    shot(page, artifacts_dir, "42-findings.png")
    # The browser logs the refused upload's 413 itself; anything else is a fault of the page.
    assert [error for error in console.errors if "status of 413" not in error] == []
