"""Live Entente hubs for the end-to-end tests: each a uvicorn server in a thread, with its
own migrated SQLite file and data directory, on a loopback port of its own."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from entente.core.migrate import upgrade
from entente.members.choices import Role
from entente.web.app import create_app
from tests.conftest import make_settings
from tests.factories import auth, make_organisation, make_token, make_user
from tests.interop import builders


@dataclass
class Hub:
    name: str
    url: str
    session_factory: sessionmaker[Session]
    admin_token: str
    member: builders.Member

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + "/api/v1", headers=auth(self.admin_token), timeout=60
        )

    @property
    def hub_uuid(self) -> str:
        with self.api() as api:
            return str(api.get("/federation/hub").json()["hub_uuid"])

    def add_peer(self, other: Hub, **values: Any) -> int:
        """An agreement with `other`, presenting `other`'s admin token there."""
        body = {
            "name": other.name,
            "base_url": other.url,
            "api_token": other.admin_token,
            "max_tlp": "green",
            "remote_hub_uuid": other.hub_uuid,
            **values,
        }
        with self.api() as api:
            created = api.post("/peers", json=body)
        assert created.status_code == 201, created.text
        return int(created.json()["id"])

    def sync(self, peer_id: int) -> dict[str, Any]:
        with self.api() as api:
            answer = api.post(f"/peers/{peer_id}/sync")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_hub(name: str, directory: Path) -> Iterator[Hub]:
    directory.mkdir(parents=True)
    settings = make_settings(f"sqlite:///{directory / 'entente.db'}", data_dir=directory / "var")
    app = create_app(settings)
    upgrade(app.state.engine)
    factory: sessionmaker[Session] = app.state.session_factory
    with factory() as session:
        admin = make_user(
            session, make_organisation(session, "CH", name=f"{name} secretariat"), Role.ADMIN
        )
        token = make_token(session, admin)
        member = builders.member(session, country="GH")
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name=f"hub-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), f"hub {name} did not start"
        time.sleep(0.05)
    try:
        yield Hub(name, f"http://127.0.0.1:{port}", factory, token, member)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
