"""dossier: the optional sections of the council's forms (Kính gửi, chủ đầu tư, mục đích, khả năng áp
dụng, điều kiện áp dụng, thông tin bảo mật, the appliers' opinion and list)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TEXT_COLUMNS = ("purpose", "applicability", "conditions", "confidential", "appliers_opinion", "appliers")


def upgrade() -> None:
    with op.batch_alter_table("initiative") as batch:
        batch.add_column(sa.Column("addressee", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("investor", sa.String(length=255), nullable=True))
        for column in TEXT_COLUMNS:
            batch.add_column(sa.Column(column, sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("initiative") as batch:
        for column in ("addressee", "investor", *TEXT_COLUMNS):
            batch.drop_column(column)
