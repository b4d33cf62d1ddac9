"""STIX objects kept as they came, linked to the event they were imported into.

Revision ID: 0008
Revises: 0007

An imported bundle's objects are kept as JSON text per event (issue 6), so an export gives
back the same ids, timestamps, markings, labels and external references; the Entente
indicators made from an object's pattern are linked to it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entente.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stix_object",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("stix_id", sa.String(length=300), nullable=False),
        sa.Column("type", sa.String(length=250), nullable=False),
        sa.Column("spec_version", sa.String(length=8), nullable=False),
        sa.Column("created", entente.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("modified", entente.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "container", "indicator", "kept", name="stixrole", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column(
            "tlp",
            sa.Enum(
                "clear",
                "green",
                "amber",
                "amber+strict",
                "red",
                name="tlp",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("imported_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_stix_object_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stix_object")),
        sa.UniqueConstraint("event_id", "stix_id", name=op.f("uq_stix_object_event_id_stix_id")),
    )
    with op.batch_alter_table("stix_object", schema=None) as batch_op:
        batch_op.create_index("ix_stix_object_event_id_id", ["event_id", "id"], unique=False)
    op.create_table(
        "stix_indicator_link",
        sa.Column("stix_object_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"],
            ["indicator.id"],
            name=op.f("fk_stix_indicator_link_indicator_id_indicator"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stix_object_id"],
            ["stix_object.id"],
            name=op.f("fk_stix_indicator_link_stix_object_id_stix_object"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "stix_object_id", "indicator_id", name=op.f("pk_stix_indicator_link")
        ),
    )
    with op.batch_alter_table("stix_indicator_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stix_indicator_link_indicator_id"), ["indicator_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("stix_indicator_link")
    op.drop_table("stix_object")
