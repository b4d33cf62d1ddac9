"""A live Entente server on a free port, and a real Chromium driven by Playwright.

The server runs uvicorn in a background thread against its own migrated SQLite file, so the
browser, the server and the test's direct database checks all see the same committed rows.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from entente.core.migrate import upgrade
from entente.members.choices import Role
from entente.web.app import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, make_organisation, make_user

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_USERNAME = "ada"


@dataclass
class LiveServer:
    url: str
    session_factory: sessionmaker[Session]
    admin_username: str = ADMIN_USERNAME
    password: str = PASSWORD
    home_organisation: str = "CERT-Hub Secretariat"

    def session(self) -> Session:
        return self.session_factory()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    database = tmp_path_factory.mktemp("live") / "entente.db"
    app = create_app(make_settings(f"sqlite:///{database}"))
    upgrade(app.state.engine)
    factory: sessionmaker[Session] = app.state.session_factory
    with factory() as session:
        home = make_organisation(session, "CH", name="CERT-Hub Secretariat")
        make_user(session, home, Role.ADMIN, username=ADMIN_USERNAME)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", session_factory=factory)
    server.should_exit = True
    thread.join(timeout=10)
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class ConsoleLog:
    """What the page reported: console errors and uncaught exceptions."""

    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, console: ConsoleLog) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    new_page = context.new_page()
    new_page.set_default_timeout(15_000)
    new_page.on("console", console.on_console)
    new_page.on("pageerror", console.on_page_error)
    yield new_page
    context.close()


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#f-username", username)
    page.fill("#f-password", password)
    submit(page)


def submit(page: Page) -> None:
    """Press the page's main form button (not the top bar's "Log out", also a submit button)."""
    page.locator("main form.form button[type=submit]").click()


@pytest.fixture
def admin_page(page: Page, live_server: LiveServer) -> Page:
    log_in(page, live_server.admin_username, live_server.password)
    page.wait_for_url(f"{live_server.url}/")
    return page


def shot(page: Page, artifacts_dir: Path, name: str) -> None:
    """A full-page screenshot into test-artifacts/, for people reviewing the UI."""
    page.screenshot(path=str(artifacts_dir / name), full_page=True)
