"""featured initiatives: "tiêu biểu" marked by a unit and proposed to the unit above (plan V.3)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 08:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "featured_initiative",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("initiative_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("proposed_to_unit_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["initiative_id"], ["initiative.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["branch.id"]),
        sa.ForeignKeyConstraint(["proposed_to_unit_id"], ["branch.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("initiative_id", "unit_id"),
    )
    op.create_index("ix_featured_initiative_initiative_id", "featured_initiative", ["initiative_id"])
    op.create_index("ix_featured_initiative_proposed_to_unit_id", "featured_initiative", ["proposed_to_unit_id"])
    op.create_index(
        "uq_featured_initiative_top",
        "featured_initiative",
        ["initiative_id"],
        unique=True,
        sqlite_where=sa.text("unit_id IS NULL"),
        postgresql_where=sa.text("unit_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_featured_initiative_top", table_name="featured_initiative")
    op.drop_index("ix_featured_initiative_proposed_to_unit_id", table_name="featured_initiative")
    op.drop_index("ix_featured_initiative_initiative_id", table_name="featured_initiative")
    op.drop_table("featured_initiative")
