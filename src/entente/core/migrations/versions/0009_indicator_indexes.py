"""Smaller indicator indexes: the value digest as a hash index, only networks by bucket.

Revision ID: 0009
Revises: 0008

Measured on PostgreSQL with a million indicators (bench/sharing_bench.py): the B-tree on
`value_digest` took 131 MB and the (type, net_bucket, net_low) index 60 MB, a third of the
cost of every bulk add. The digest is only ever compared for equality, so a hash index (36 MB)
serves it; correlation asks the bucket index only for networks, so a partial index on them
(1 MB) serves it. SQLite has no hash index and keeps a B-tree on the digest (issue 4).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NETWORKS = sa.text("type = 'cidr'")


def upgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_index("ix_indicator_type_net_bucket_net_low")
        batch_op.drop_index("ix_indicator_value_digest")
        batch_op.create_index(
            "ix_indicator_value_digest", ["value_digest"], unique=False, postgresql_using="hash"
        )
        batch_op.create_index(
            "ix_indicator_network_bucket",
            ["net_bucket", "net_low"],
            unique=False,
            postgresql_where=_NETWORKS,
            sqlite_where=_NETWORKS,
        )


def downgrade() -> None:
    with op.batch_alter_table("indicator", schema=None) as batch_op:
        batch_op.drop_index("ix_indicator_network_bucket")
        batch_op.drop_index("ix_indicator_value_digest")
        batch_op.create_index("ix_indicator_value_digest", ["value_digest"], unique=False)
        batch_op.create_index(
            "ix_indicator_type_net_bucket_net_low",
            ["type", "net_bucket", "net_low"],
            unique=False,
        )
