"""initiative.resubmission_changes: the steps a resubmission changed, kept so that every card of it says so
(/pending's too: only the chairs' notices did, from a comparison made at the resubmission).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 07:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("initiative", sa.Column("resubmission_changes", sa.JSON(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN on both databases (SQLite ≥ 3.35): no copy of the table, as a batch made
    op.drop_column("initiative", "resubmission_changes")
