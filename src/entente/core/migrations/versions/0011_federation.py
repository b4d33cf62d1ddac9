"""Federation between hubs: this hub's identity, its peers, federated events' origins.

Revision ID: 0011
Revises: 0010

Issue 6 item 5 (docs/federation.md): a peer is an agreement with another Entente hub (address,
token, direction, filter, maximum TLP, last sync status); an event received from a peer keeps
its origin hub, the hubs it passed through and its original owner, owned here by a "remote
organisation" record keyed by (origin hub, organisation uuid).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entente.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_hub",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hub_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_hub")),
        sa.UniqueConstraint("hub_uuid", name=op.f("uq_federation_hub_hub_uuid")),
    )
    op.create_table(
        "federation_peer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("api_token", sa.String(length=500), nullable=False),
        sa.Column(
            "direction",
            sa.Enum("pull", "push", "both", name="direction", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("organisations", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("sharing_groups", sa.JSON(), nullable=False),
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
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("remote_hub_uuid", sa.String(length=36), nullable=True),
        sa.Column("pulled_until", entente.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pushed_until", entente.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_sync_at", entente.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "last_sync_outcome",
            sa.Enum("succeeded", "failed", name="syncoutcome", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column("last_sync_counts", sa.JSON(), nullable=False),
        sa.Column("last_sync_error", sa.Text(), nullable=True),
        sa.Column("created_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_peer")),
        sa.UniqueConstraint("name", name=op.f("uq_federation_peer_name")),
        sa.UniqueConstraint("remote_hub_uuid", name=op.f("uq_federation_peer_remote_hub_uuid")),
    )
    op.create_table(
        "federation_remote_organisation",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("origin_hub_uuid", sa.String(length=36), nullable=False),
        sa.Column("origin_organisation_uuid", sa.String(length=36), nullable=False),
        sa.Column("origin_organisation_name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_federation_remote_organisation_organisation_id_organisation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("organisation_id", name=op.f("pk_federation_remote_organisation")),
        sa.UniqueConstraint(
            "origin_hub_uuid",
            "origin_organisation_uuid",
            name="uq_federation_remote_organisation_origin",
        ),
    )
    op.create_table(
        "federation_event",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("origin_hub_uuid", sa.String(length=36), nullable=False),
        sa.Column("origin_organisation_uuid", sa.String(length=36), nullable=False),
        sa.Column("origin_organisation_name", sa.String(length=200), nullable=False),
        sa.Column("hub_chain", sa.JSON(), nullable=False),
        sa.Column("received_from_peer_id", sa.Integer(), nullable=True),
        sa.Column("received_at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["event.id"],
            name=op.f("fk_federation_event_event_id_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["received_from_peer_id"],
            ["federation_peer.id"],
            name=op.f("fk_federation_event_received_from_peer_id_federation_peer"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_federation_event")),
    )
    with op.batch_alter_table("federation_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_federation_event_origin_hub_uuid"), ["origin_hub_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_federation_event_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_federation_event_received_from_peer_id"),
            ["received_from_peer_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("federation_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_event_received_from_peer_id"))
        batch_op.drop_index(batch_op.f("ix_federation_event_received_at"))
        batch_op.drop_index(batch_op.f("ix_federation_event_origin_hub_uuid"))

    op.drop_table("federation_event")
    op.drop_table("federation_remote_organisation")
    op.drop_table("federation_peer")
    op.drop_table("federation_hub")
