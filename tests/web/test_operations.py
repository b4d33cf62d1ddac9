"""Health, readiness against real PostgreSQL/SQLite and Redis, metrics, security headers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import redis
import structlog.testing
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from entente.core.config import Settings
from entente.core.db import create_db_engine, make_session_factory
from entente.web.app import create_app
from tests.conftest import REDIS_URL

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: bound once to pick it, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def client_for(
    settings: Settings, session_factory: sessionmaker[Session], **overrides: object
) -> TestClient:
    app: FastAPI = create_app(settings.model_copy(update=overrides))
    app.state.session_factory = session_factory
    return TestClient(app)


def test_healthz_answers_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {}}


def test_readyz_checks_the_database(client: TestClient, backend: str) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_readyz_checks_redis_when_configured(
    settings: Settings, session_factory: sessionmaker[Session], redis_client: redis.Redis
) -> None:
    with client_for(settings, session_factory, redis_url=REDIS_URL) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_is_503_when_redis_does_not_answer(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    unreachable = f"redis://127.0.0.1:{closed_port()}/0"
    with client_for(settings, session_factory, redis_url=unreachable) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unavailable")


@pytest.fixture
def unreachable_database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on a PostgreSQL URL whose port nobody listens on."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/entente"
    dead = settings.model_copy(update={"database_url": url})
    engine = create_db_engine(dead)
    yield make_session_factory(engine, dead)
    engine.dispose()


def test_readyz_is_503_when_the_database_does_not_answer(
    settings: Settings, unreachable_database: sessionmaker[Session]
) -> None:
    with client_for(settings, unreachable_database) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200  # alive, just not ready
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unavailable")


def metric_value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_per_route_template(client: TestClient) -> None:
    labels = 'method="GET",route="/api/v1/member-states/{code}",status="200"'
    sample = "entente_http_requests_total{" + labels + "}"
    before = metric_value(client.get("/metrics").text, sample)
    for code in ("GH", "FR", "JP"):
        assert client.get(f"/api/v1/member-states/{code}").status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "# TYPE entente_http_requests_total counter" in response.text
    assert metric_value(response.text, sample) == before + 3
    assert "entente_http_request_duration_seconds_bucket" in response.text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/member-states", 200),
        ("GET", "/api/v1/organisations", 401),
        ("GET", "/api/v1/nowhere", 404),
    ],
)
def test_security_headers_on_every_response(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


def test_security_headers_on_a_refused_oversized_body(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with client_for(settings, session_factory, max_body_bytes=1024) as client:
        response = client.post("/api/v1/organisations", content=b"x" * 4096)
    assert response.status_code == 413
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value


def test_every_request_is_logged_as_one_structured_line(client: TestClient) -> None:
    with structlog.testing.capture_logs() as lines:
        client.get("/api/v1/member-states/GH")
    requests = [line for line in lines if line["event"] == "http_request"]
    assert len(requests) == 1
    assert requests[0]["path"] == "/api/v1/member-states/GH"
    assert requests[0]["route"] == "/api/v1/member-states/{code}"
    assert requests[0]["status"] == 200
