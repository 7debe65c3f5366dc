"""security: link attempts, outbox lease tokens, stored files owned by their attachment

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("platform_user_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_link_attempt_created_at", "link_attempt", ["created_at"], unique=False)
    op.create_index(
        "ix_link_attempt_account", "link_attempt", ["platform", "platform_user_id", "created_at"], unique=False
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("lease_token", sa.String(length=32), nullable=True))
    with op.batch_alter_table("stored_file") as batch:
        batch.add_column(sa.Column("attachment_id", sa.Integer(), nullable=True))
        batch.create_index("ix_stored_file_attachment_id", ["attachment_id"], unique=False)
        batch.create_foreign_key(
            "fk_stored_file_attachment_id_attachment", "attachment", ["attachment_id"], ["id"], ondelete="CASCADE"
        )
    # Photos people sent before files were owned: kept while attached to an initiative, else 1 day more.
    op.execute(
        "UPDATE stored_file SET attachment_id = (SELECT attachment.id FROM attachment "
        "WHERE attachment.file_id = stored_file.token LIMIT 1) WHERE expires_at IS NULL"
    )
    op.execute(
        "UPDATE stored_file SET expires_at = CURRENT_TIMESTAMP WHERE expires_at IS NULL AND attachment_id IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("stored_file") as batch:
        batch.drop_constraint("fk_stored_file_attachment_id_attachment", type_="foreignkey")
        batch.drop_index("ix_stored_file_attachment_id")
        batch.drop_column("attachment_id")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("lease_token")
    op.drop_index("ix_link_attempt_account", table_name="link_attempt")
    op.drop_index("ix_link_attempt_created_at", table_name="link_attempt")
    op.drop_table("link_attempt")
