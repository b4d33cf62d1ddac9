"""Migrations match the models and run both ways, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import entente.all_models  # noqa: F401  (registers every table)
from entente.core.config import Settings
from entente.core.db import Base, create_db_engine
from entente.core.migrate import downgrade, upgrade
from tests.conftest import make_settings


@pytest.fixture
def scratch_settings(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Settings:
    if backend == "sqlite":
        return make_settings(f"sqlite:///{tmp_path}/scratch.db")
    base_url = request.getfixturevalue("postgres_database")
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    name = "scratch_" + base_url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    request.addfinalizer(lambda: _drop(base_url, name))
    return make_settings(base_url.rsplit("/", 1)[0] + "/" + name)


def _drop(base_url: str, name: str) -> None:
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrated_schema_matches_the_models(scratch_settings: Settings) -> None:
    engine = create_db_engine(scratch_settings)
    upgrade(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []


def test_downgrade_to_base_and_upgrade_again_restores_member_states(
    scratch_settings: Settings,
) -> None:
    engine = create_db_engine(scratch_settings)
    upgrade(engine)
    downgrade(engine, "base")
    assert "member_state" not in sa.inspect(engine).get_table_names()
    upgrade(engine)
    upgrade(engine)  # idempotent: a second run applies nothing and duplicates nothing
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM member_state")).scalar_one()
    engine.dispose()
    assert count == 194
