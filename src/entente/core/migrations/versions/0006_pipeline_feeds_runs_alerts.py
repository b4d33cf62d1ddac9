"""Pipeline feeds, their runs, the batches workers processed, and alerts.

Revision ID: 0006
Revises: 0005

Feeds are configured sources and each ingest of a file is a run with its counts (issue 5);
stream batches record which batch of a run a worker committed, so a re-delivered batch is
not counted twice; alerts sum the findings per organisation, day, feed and classification.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entente.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parser", sa.String(length=60), nullable=False),
        sa.Column(
            "source_kind",
            sa.Enum(
                "file",
                "directory",
                "url",
                "upload",
                name="feedsourcekind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed")),
        sa.UniqueConstraint("name", name=op.f("uq_feed_name")),
    )
    op.create_table(
        "feed_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running", "succeeded", "failed", name="runstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("started_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", entente.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rows_in", sa.Integer(), nullable=False),
        sa.Column("rows_stored", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("unrouted", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feed.id"], name=op.f("fk_feed_run_feed_id_feed"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_run")),
    )
    with op.batch_alter_table("feed_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_run_feed_id"), ["feed_id"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("feed_name", sa.String(length=100), nullable=False),
        sa.Column("taxonomy", sa.String(length=60), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("identifier", sa.String(length=120), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("matched_rows", sa.Integer(), nullable=False),
        sa.Column("first_seen", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "notified",
                "acknowledged",
                "remediated",
                "closed",
                name="alertstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_alert_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint(
            "organisation_id",
            "day",
            "feed_name",
            "taxonomy",
            "type",
            "identifier",
            name="uq_alert_finding",
        ),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_day"), ["day"], unique=False)
        batch_op.create_index(
            "ix_alert_organisation_id_day", ["organisation_id", "day"], unique=False
        )

    op.create_table(
        "pipeline_stream_batch",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("last", sa.Boolean(), nullable=False),
        sa.Column("entry_id", sa.String(length=40), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("processed_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["feed_run.id"],
            name=op.f("fk_pipeline_stream_batch_run_id_feed_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_pipeline_stream_batch")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_stream_batch")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_organisation_id_day")
        batch_op.drop_index(batch_op.f("ix_alert_day"))

    op.drop_table("alert")
    with op.batch_alter_table("feed_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_run_feed_id"))

    op.drop_table("feed_run")
    op.drop_table("feed")
