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


def test_indicators_stored_before_0003_get_ranges_and_decay_backfilled(
    scratch_settings: Settings,
) -> None:
    engine = create_db_engine(scratch_settings)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organisation (name, type, member_state_id, is_active, created_at)"
                " SELECT 'CERT-X', 'national_cert', id, true, '2026-11-01 00:00:00+00:00'"
                " FROM member_state WHERE alpha2 = 'FR'"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO event (uuid, title, description, event_date, threat_level, analysis,"
                " published, version, created_at, updated_at, owner_organisation_id, tlp,"
                " distribution) SELECT 'e1', 'old event', '', '2026-11-01', 'low', 'initial',"
                " false, 0, '2026-11-01 00:00:00+00:00', '2026-11-01 00:00:00+00:00', id,"
                " 'green', 'all_members' FROM organisation"
            )
        )
        for number, (kind, value) in enumerate(
            [("cidr", "198.51.100.0/24"), ("sha256", "ab" * 32)]
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO indicator (uuid, event_id, type, value, value_digest, category,"
                    " to_ids, comment, tlp, created_at) SELECT :uuid, id, :type, :value, 'd',"
                    " 'network_activity', false, '', 'green', '2026-11-01 00:00:00+00:00'"
                    " FROM event"
                ),
                {"uuid": f"i{number}", "type": kind, "value": value},
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT type, net_low, net_high, net_bucket, base_score, expires_at"
                " FROM indicator ORDER BY uuid"
            )
        ).all()
    engine.dispose()
    network, digest = rows
    assert network.net_low == "00000000000000000000ffffc6336400"
    assert network.net_high == "00000000000000000000ffffc63364ff"
    assert network.net_bucket == "00000000000000000000ffffc633"
    assert network.expires_at is not None  # networks decay
    assert (digest.net_low, digest.base_score, digest.expires_at) == (None, 70, None)


# Hash and partial index methods are PostgreSQL's (SQLite keeps a B-tree on the digest).
@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_keeps_the_digest_as_a_hash_and_indexes_only_networks_by_bucket(
    scratch_settings: Settings,
) -> None:
    # compare_metadata sees neither an index's method nor its WHERE: checked here.
    engine = create_db_engine(scratch_settings)
    upgrade(engine)
    with engine.connect() as conn:
        definitions = dict(
            conn.execute(
                sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'indicator'")
            ).all()
        )
    engine.dispose()
    assert "USING hash (value_digest)" in definitions["ix_indicator_value_digest"]
    assert "WHERE" in definitions["ix_indicator_network_bucket"]
    assert "'cidr'" in definitions["ix_indicator_network_bucket"]
    assert "ix_indicator_type_net_bucket_net_low" not in definitions
