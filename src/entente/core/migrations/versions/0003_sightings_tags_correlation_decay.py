"""sightings, tags, correlation, decay, warning list settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:55:03.219320

Sightings, event tags, correlation links and warning-list overrides (issue 4); indicators
gain their address range, warning-list flags and decay columns. Existing indicators are
backfilled: decay starts from their creation, ranges are computed from their values.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entente.core.db
from entente.sharing import decay
from entente.sharing.indicators.addresses import address_range
from entente.sharing.indicators.types import IndicatorType

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "warning_list_setting",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_warning_list_setting")),
    )
    op.create_table(
        "event_tag",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["event.id"], name=op.f("fk_event_tag_event_id_event"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_event_tag_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("event_id", "organisation_id", "name", name=op.f("pk_event_tag")),
    )
    with op.batch_alter_table("event_tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_tag_name"), ["name"], unique=False)

    op.create_table(
        "correlation",
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("other_indicator_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("other_event_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("exact", "cidr", name="correlationkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_correlation_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_indicator_id"],
            ["indicator.id"],
            name=op.f("fk_correlation_other_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("indicator_id", "other_indicator_id", name=op.f("pk_correlation")),
    )
    with op.batch_alter_table("correlation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_correlation_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_correlation_other_indicator_id"), ["other_indicator_id"], unique=False
        )

    op.create_table(
        "sighting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "seen",
                "false_positive",
                "expired",
                name="sightingkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("observed_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_sighting_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_sighting_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_sighting_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sighting")),
    )
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sighting_indicator_id_observed_at", ["indicator_id", "observed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sighting_organisation_id"), ["organisation_id"], unique=False
        )

    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.add_column(sa.Column("net_low", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("net_high", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("net_bucket", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("warning_lists", sa.String(length=500), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "base_score",
                sa.SmallInteger(),
                nullable=False,
                server_default=str(decay.DEFAULT_BASE_SCORE),
            )
        )
        batch_op.add_column(
            sa.Column("decay_from", entente.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("expires_at", entente.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_indicator_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(
            "ix_indicator_type_net_bucket_net_low", ["type", "net_bucket", "net_low"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_indicator_net_low"), ["net_low"], unique=False)

    _backfill_indicators()
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.alter_column(
            "decay_from", existing_type=entente.core.db.UTCDateTime(timezone=True), nullable=False
        )


def _backfill_indicators() -> None:
    indicator = sa.table(
        "indicator",
        sa.column("id", sa.Integer()),
        sa.column("type", sa.String()),
        sa.column("value", sa.Text()),
        sa.column("created_at", entente.core.db.UTCDateTime(timezone=True)),
        sa.column("net_low", sa.String()),
        sa.column("net_high", sa.String()),
        sa.column("net_bucket", sa.String()),
        sa.column("decay_from", entente.core.db.UTCDateTime(timezone=True)),
        sa.column("expires_at", entente.core.db.UTCDateTime(timezone=True)),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(indicator.c.id, indicator.c.type, indicator.c.value, indicator.c.created_at)
    ).all()
    for row in rows:
        kind = IndicatorType(row.type)
        addresses = address_range(kind, row.value)
        connection.execute(
            indicator.update()
            .where(indicator.c.id == row.id)
            .values(
                net_low=addresses.low if addresses else None,
                net_high=addresses.high if addresses else None,
                net_bucket=addresses.bucket if addresses else None,
                decay_from=row.created_at,
                expires_at=decay.expiry(kind, decay.DEFAULT_BASE_SCORE, row.created_at),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indicator_net_low"))
        batch_op.drop_index("ix_indicator_type_net_bucket_net_low")
        batch_op.drop_index(batch_op.f("ix_indicator_expires_at"))
        batch_op.drop_column("expires_at")
        batch_op.drop_column("decay_from")
        batch_op.drop_column("base_score")
        batch_op.drop_column("warning_lists")
        batch_op.drop_column("net_bucket")
        batch_op.drop_column("net_high")
        batch_op.drop_column("net_low")

    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sighting_organisation_id"))
        batch_op.drop_index("ix_sighting_indicator_id_observed_at")

    op.drop_table("sighting")
    with op.batch_alter_table("correlation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_correlation_other_indicator_id"))
        batch_op.drop_index(batch_op.f("ix_correlation_event_id"))

    op.drop_table("correlation")
    with op.batch_alter_table("event_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_tag_name"))

    op.drop_table("event_tag")
    op.drop_table("warning_list_setting")
