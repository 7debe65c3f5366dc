"""initiative.investor: the suggestion «Tác giả tự đầu tư» becomes «Tác giả đồng thời là chủ đầu tư», the
words of the request form's own line («trường hợp tác giả không đồng thời là chủ đầu tư …»)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OLD, NEW = "Tác giả tự đầu tư", "Tác giả đồng thời là chủ đầu tư"


def _replace(before: str, after: str) -> None:
    initiative = sa.table("initiative", sa.column("investor", sa.String))
    op.execute(initiative.update().where(initiative.c.investor == before).values(investor=after))


def upgrade() -> None:
    _replace(OLD, NEW)


def downgrade() -> None:
    _replace(NEW, OLD)
