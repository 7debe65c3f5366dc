"""pruning and reads: indexes on the times the scheduler prunes by (handled updates, numbered menus, link
codes); progress counts led by the status, each reading only its own rows from a covering index

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:00:00
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_processed_update_processed_at", "processed_update", ["processed_at"])
    op.create_index("ix_option_menu_created_at", "option_menu", ["created_at"])
    op.create_index("ix_link_code_expires_at", "link_code", ["expires_at"])
    op.drop_index("ix_initiative_recognised", table_name="initiative")
    op.create_index("ix_initiative_recognised", "initiative", ["status", "recognition_date", "credited_branch_id"])
    op.create_index("ix_initiative_status_credit", "initiative", ["status", "credited_branch_id"])
    op.create_index("ix_initiative_status_branch", "initiative", ["status", "branch_id"])


def downgrade() -> None:
    op.drop_index("ix_initiative_status_branch", table_name="initiative")
    op.drop_index("ix_initiative_status_credit", table_name="initiative")
    op.drop_index("ix_initiative_recognised", table_name="initiative")
    op.create_index("ix_initiative_recognised", "initiative", ["status", "recognition_date"])
    op.drop_index("ix_link_code_expires_at", table_name="link_code")
    op.drop_index("ix_option_menu_created_at", table_name="option_menu")
    op.drop_index("ix_processed_update_processed_at", table_name="processed_update")
