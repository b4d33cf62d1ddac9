"""Feed sources: what the last look at each feed's source found, and the files it read.

Revision ID: 0007
Revises: 0006

A URL feed remembers its ETag / Last-Modified (and a MISP feed its manifest) so the next
fetch asks only for what changed; `feed run --due` reads when each source was last looked
at; a directory feed reads again only the files that are new or changed (issue 5).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entente.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_source_state",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", entente.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("changed_at", entente.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "new",
                "not_modified",
                "nothing_new",
                "failed",
                name="fetchoutcome",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("etag", sa.String(length=500), nullable=False),
        sa.Column("last_modified", sa.String(length=100), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feed.id"],
            name=op.f("fk_feed_source_state_feed_id_feed"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feed_id", name=op.f("pk_feed_source_state")),
    )
    op.create_table(
        "feed_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("read_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"], ["feed.id"], name=op.f("fk_feed_file_feed_id_feed"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["feed_run.id"],
            name=op.f("fk_feed_file_run_id_feed_run"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_file")),
        sa.UniqueConstraint("feed_id", "path", name=op.f("uq_feed_file_feed_id_path")),
    )


def downgrade() -> None:
    op.drop_table("feed_file")
    op.drop_table("feed_source_state")
