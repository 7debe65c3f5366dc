"""organisation tree: a unit's parent (a unit with none is a root; existing branches become roots)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("branch") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_branch_parent_id_branch", "branch", ["parent_id"], ["id"])
        batch.create_index("ix_branch_parent_id", ["parent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("branch") as batch:
        batch.drop_index("ix_branch_parent_id")
        batch.drop_constraint("fk_branch_parent_id_branch", type_="foreignkey")
        batch.drop_column("parent_id")
