"""link_code: the account that typed a code, linked only once the code's owner confirms it

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 11:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by_identity_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            "fk_link_code_claimed_by_identity_id", "identity", ["claimed_by_identity_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("link_code", schema=None) as batch_op:
        batch_op.drop_constraint("fk_link_code_claimed_by_identity_id", type_="foreignkey")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claimed_by_identity_id")
