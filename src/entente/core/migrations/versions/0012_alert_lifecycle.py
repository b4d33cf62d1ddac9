"""The alert lifecycle: an alert's assignee, and its timeline of changes.

Revision ID: 0012
Revises: 0011

Issue 7 item 1 (docs/alerts.md): every status change, assignment, comment and "returned"
finding is one `alert_timeline_entry` row. The new status `false_positive` needs no DDL:
statuses are stored as text (`str_enum`), without a CHECK constraint.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import entente.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_timeline_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", entente.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "status",
                "assignment",
                "comment",
                "returned",
                name="timelinekind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("from_value", sa.String(length=100), nullable=False),
        sa.Column("to_value", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["user_account.id"],
            name=op.f("fk_alert_timeline_entry_actor_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_timeline_entry_alert_id_alert"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_timeline_entry")),
    )
    with op.batch_alter_table("alert_timeline_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_timeline_entry_alert_id_at", ["alert_id", "at"], unique=False
        )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alert_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alert_assignee_id_user_account"),
            "user_account",
            ["assignee_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_alert_assignee_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_alert_assignee_id"))
        batch_op.drop_column("assignee_id")
    with op.batch_alter_table("alert_timeline_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_timeline_entry_alert_id_at")
    op.drop_table("alert_timeline_entry")
