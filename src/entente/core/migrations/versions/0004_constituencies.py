"""constituencies

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:20:09.079894

Constituencies (issue 5): the prefixes, AS numbers, domains and (for national CERTs) the
country each organisation is responsible for, and the contacts its alerts go to.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entente.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "constituency",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "prefix",
                "asn",
                "domain",
                "country",
                name="constituencykind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("sort_key", sa.String(length=255), nullable=False),
        sa.Column("net_low", sa.String(length=32), nullable=True),
        sa.Column("net_high", sa.String(length=32), nullable=True),
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_constituency_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constituency")),
        sa.UniqueConstraint(
            "kind",
            "value",
            "organisation_id",
            name=op.f("uq_constituency_kind_value_organisation_id"),
        ),
    )
    with op.batch_alter_table("constituency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_constituency_net_low"), ["net_low"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_constituency_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_constituency_sort_key"), ["sort_key"], unique=False)

    op.create_table(
        "constituency_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("constituency_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("pgp_fingerprint", sa.String(length=40), nullable=True),
        sa.Column(
            "preferred_format",
            sa.Enum("csv", "json", "stix", name="reportformat", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["constituency_id"],
            ["constituency.id"],
            name=op.f("fk_constituency_contact_constituency_id_constituency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_constituency_contact_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_constituency_contact")),
        sa.UniqueConstraint(
            "organisation_id",
            "constituency_id",
            "email",
            name=op.f("uq_constituency_contact_organisation_id_constituency_id_email"),
        ),
    )
    with op.batch_alter_table("constituency_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_constituency_contact_constituency_id"), ["constituency_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_constituency_contact_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("constituency_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_constituency_contact_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_constituency_contact_constituency_id"))

    op.drop_table("constituency_contact")
    with op.batch_alter_table("constituency", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_constituency_sort_key"))
        batch_op.drop_index(batch_op.f("ix_constituency_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_constituency_net_low"))

    op.drop_table("constituency")
