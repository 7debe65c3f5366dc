"""progress: indexes for counting a million initiatives

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 13:20:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_initiative_progress", "initiative", ["branch_id", "status", "decided_at"], unique=False)
    op.create_index("ix_initiative_decided", "initiative", ["status", "decided_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_initiative_decided", table_name="initiative")
    op.drop_index("ix_initiative_progress", table_name="initiative")
