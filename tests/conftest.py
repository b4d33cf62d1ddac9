"""Fixtures: real SQLite and PostgreSQL (each test in a rolled-back transaction), real Redis.

Under `CI` a missing PostgreSQL or Redis fails the run; on a laptop it skips those cases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import hypothesis
import pytest
import redis
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from entente.core import security
from entente.core.config import Environment, Settings
from entente.core.db import create_db_engine
from entente.core.migrate import upgrade
from entente.web.app import create_app

POSTGRES_ADMIN_URL = os.environ.get(
    "ENTENTE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("ENTENTE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BACKENDS = ["sqlite", "postgresql"]

# Real argon2id, at the lowest cost: tests create hundreds of users and the default cost
# (tuned to slow down an attacker) made account setup most of the suite's time. Hashes keep
# their parameters inside them, so verification works the same way. tests/core/test_security.py
# pins the production parameters.
PRODUCTION_HASHER = security._hasher
security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# Hypothesis: "dev" keeps the edit-test loop fast (`make test` uses it); "ci" (when CI is set,
# so in `make pytest-slow`) searches ten times harder. HYPOTHESIS_PROFILE picks one
# explicitly. Tests that must reach a fixed number of cases in CI (the access predicate's
# 10,000) scale their max_examples from the active profile. No deadline in either: a
# deadline is a timing in a pass/fail test, and a loaded machine turned it into flaky
# failures (a 200 ms example taking 390 ms).
hypothesis.settings.register_profile("dev", max_examples=50, deadline=None)
hypothesis.settings.register_profile("ci", max_examples=500, deadline=None, print_blob=True)
hypothesis.settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
)


def service_missing(what: str, error: Exception) -> None:
    """A missing service fails under CI (the suite must really use it) and skips elsewhere."""
    message = f"{what} is not reachable: {error}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "environment": Environment.TEST,
        "secret_key": "test-secret-key-" + "x" * 32,
        "min_password_length": 12,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this test run (one per xdist worker), dropped at the end."""
    name = f"entente_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        service_missing("PostgreSQL", exc)
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'entente.db'}"


@pytest.fixture(scope="session")
def migrated_engines() -> dict[str, Engine]:
    return {}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Settings:
    fixture = "postgres_database" if backend == "postgresql" else "sqlite_database"
    # Files a test makes (stores, caches, downloads) stay in its own directory, never ./var.
    return make_settings(request.getfixturevalue(fixture), data_dir=tmp_path / "data")


@pytest.fixture
def engine(settings: Settings, backend: str, migrated_engines: dict[str, Engine]) -> Engine:
    if backend not in migrated_engines:
        engine = create_db_engine(settings)
        upgrade(engine)
        migrated_engines[backend] = engine
    return migrated_engines[backend]


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test, rolled back at the end: no test sees another's rows."""
    with engine.connect() as conn:
        outer = conn.begin()
        if conn.dialect.name == "sqlite":
            # pysqlite emits no BEGIN of its own, so the first SAVEPOINT would be the outermost
            # transaction and a service's commit (RELEASE) would reach the disk.
            conn.exec_driver_sql("BEGIN")
        yield conn
        if outer.is_active:
            outer.rollback()


@pytest.fixture
def session_factory(connection: Connection, settings: Settings) -> sessionmaker[Session]:
    # Services commit; inside the test transaction each commit releases a SAVEPOINT instead.
    return sessionmaker(
        bind=connection,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
        info={"settings": settings},
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> FastAPI:
    application = create_app(settings)
    application.state.session_factory = session_factory
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    yield client
    client.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("ENTENTE_TEST_ARTIFACTS", "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def scratch_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], str]]:
    """Makes an empty database of its own per call, for code that commits for real (CLI, demo).

    Such code would leave rows behind in the shared databases that the rolled-back tests
    assume clean. PostgreSQL scratch databases are dropped at the end of the run.
    """
    created: list[str] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('scratch') / 'entente.db'}"
        name = f"entente_scratch_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError as exc:
            service_missing("PostgreSQL", exc)
        finally:
            admin.dispose()
        created.append(name)
        return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    yield make
    if created:
        admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
