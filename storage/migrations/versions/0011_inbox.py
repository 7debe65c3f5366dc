"""inbox: updates received and not yet handled, replayed at start (no update lost to a crash)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 23:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_update",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("update_key", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "update_key"),
    )
    op.create_index("ix_inbox_update_received_at", "inbox_update", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_update_received_at", table_name="inbox_update")
    op.drop_table("inbox_update")
