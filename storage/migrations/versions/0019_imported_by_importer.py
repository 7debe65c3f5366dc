"""initiative.member_id: initiatives an admin imported in the chat belong to the importer («Nhập từ tệp»), as
those imported from the command line do; the admin stays their `entered_by_member_id`. They were his: his
/mine listed hundreds of them, and a unit's senders named him.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 02:10:00
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

IMPORTER_NAME = "Nhập từ tệp"  # storage/initiative_import.py
member = sa.table("member", sa.column("id", sa.Integer), sa.column("full_name", sa.String),
                  sa.column("branch_id", sa.Integer), sa.column("created_at", sa.DateTime(timezone=True)))  # fmt: skip
initiative = sa.table("initiative", sa.column("id", sa.Integer), sa.column("member_id", sa.Integer),
                      sa.column("entered_by_member_id", sa.Integer))  # fmt: skip
audit = sa.table("audit_event", sa.column("initiative_id", sa.Integer), sa.column("action", sa.String))
imported = sa.select(audit.c.initiative_id).where(audit.c.action == "imported")


def _importer(connection: sa.Connection) -> int:
    query = sa.select(member.c.id).where(member.c.full_name == IMPORTER_NAME, member.c.branch_id.is_(None)).limit(1)
    found = connection.scalar(query)
    if found is not None:
        return found
    values = {"full_name": IMPORTER_NAME, "branch_id": None, "created_at": dt.datetime.now(dt.UTC)}
    return connection.execute(member.insert().values(values).returning(member.c.id)).scalar_one()


def upgrade() -> None:
    connection = op.get_bind()
    admins_own = initiative.c.id.in_(imported) & (initiative.c.member_id == initiative.c.entered_by_member_id)
    if connection.scalar(sa.select(sa.func.count()).where(admins_own)) == 0:
        return
    importer = _importer(connection)
    connection.execute(initiative.update().where(admins_own, initiative.c.member_id != importer)
                       .values(member_id=importer))  # fmt: skip


def downgrade() -> None:
    connection = op.get_bind()
    importer = connection.scalar(
        sa.select(member.c.id).where(member.c.full_name == IMPORTER_NAME, member.c.branch_id.is_(None)).limit(1)
    )
    if importer is None:
        return
    entered_in_chat = (
        initiative.c.id.in_(imported)
        & (initiative.c.member_id == importer)
        & (initiative.c.entered_by_member_id != importer)
    )
    connection.execute(initiative.update().where(entered_in_chat).values(member_id=initiative.c.entered_by_member_id))
