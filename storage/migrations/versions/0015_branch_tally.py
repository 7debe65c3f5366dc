"""/progress reads a tally: each branch's initiatives per bucket, and the phases they count in. The bot
creates the triggers that keep it and counts it when it stores the campaigns at its start (storage/tally.py)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counting_phase",
        sa.Column("code", sa.String(), nullable=False),
        sa.Column("counts_from", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "branch_tally",
        sa.Column("bucket", sa.String(), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "branch_id"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS initiative_tally_{event}")
    else:
        op.execute("DROP TRIGGER IF EXISTS initiative_tally ON initiative")
        op.execute("DROP FUNCTION IF EXISTS initiative_tally()")
    op.drop_table("branch_tally")
    op.drop_table("counting_phase")
