"""TAXII 2.1 collections, their per-organisation permissions, inboxes and status resources.

Revision ID: 0010
Revises: 0009

A collection is a stored filter over the sharing space (issue 6, TAXII server); it holds no
objects itself. Each writing organisation's envelopes go into one event per collection (its
inbox); each posted envelope leaves a status resource (TAXII 2.1 section 4.3).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entente.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Collections are read in `date_added` order, a page after the last row read.
    with op.batch_alter_table("stix_object", schema=None) as batch_op:
        batch_op.create_index("ix_stix_object_imported_at_id", ["imported_at", "id"], unique=False)
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.create_index("ix_indicator_created_at_id", ["created_at", "id"], unique=False)
    op.create_table(
        "taxii_collection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_organisation_id", sa.Integer(), nullable=True),
        sa.Column("sharing_group_id", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column(
            "max_tlp",
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
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_taxii_collection_owner_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["sharing_group_id"],
            ["sharing_group.id"],
            name=op.f("fk_taxii_collection_sharing_group_id_sharing_group"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_collection")),
        sa.UniqueConstraint("alias", name=op.f("uq_taxii_collection_alias")),
        sa.UniqueConstraint("uuid", name=op.f("uq_taxii_collection_uuid")),
    )
    op.create_table(
        "taxii_inbox",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["taxii_collection.id"],
            name=op.f("fk_taxii_inbox_collection_id_taxii_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_taxii_inbox_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_taxii_inbox_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", "organisation_id", name=op.f("pk_taxii_inbox")),
    )
    with op.batch_alter_table("taxii_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_taxii_inbox_event_id"), ["event_id"], unique=False)

    op.create_table(
        "taxii_permission",
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("can_read", sa.Boolean(), nullable=False),
        sa.Column("can_write", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["taxii_collection.id"],
            name=op.f("fk_taxii_permission_collection_id_taxii_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_taxii_permission_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "collection_id", "organisation_id", name=op.f("pk_taxii_permission")
        ),
    )
    with op.batch_alter_table("taxii_permission", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_taxii_permission_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "taxii_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("request_timestamp", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("success_count", sa.Integer(), nullable=False),
        sa.Column("failure_count", sa.Integer(), nullable=False),
        sa.Column("successes", sa.JSON(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["taxii_collection.id"],
            name=op.f("fk_taxii_status_collection_id_taxii_collection"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_taxii_status_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_taxii_status")),
        sa.UniqueConstraint("uuid", name=op.f("uq_taxii_status_uuid")),
    )
    with op.batch_alter_table("taxii_status", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_taxii_status_collection_id"), ["collection_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_taxii_status_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("taxii_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taxii_status_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_taxii_status_collection_id"))

    op.drop_table("taxii_status")
    with op.batch_alter_table("taxii_permission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taxii_permission_organisation_id"))

    op.drop_table("taxii_permission")
    with op.batch_alter_table("taxii_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_taxii_inbox_event_id"))

    op.drop_table("taxii_inbox")
    op.drop_table("taxii_collection")
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_index("ix_indicator_created_at_id")
    with op.batch_alter_table("stix_object", schema=None) as batch_op:
        batch_op.drop_index("ix_stix_object_imported_at_id")
