"""plan: verified / recognised lifecycle, credit to the credited author's branch, eligibility declared
first, the member's profile, authors with branches and details

Existing data moves: an approved initiative with a recognition decision becomes recognised, one without
becomes verified; a research topic's acceptance date becomes its recognition (by the acceptance council);
the submitter's details on each initiative move to its author row and to the member's profile; every
initiative is credited to the branch it was submitted to (all authors so far were of that branch).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 17:00:00
"""

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def fold(text: str) -> str:
    """domain.text.fold as it was when this migration was written (migrations do not import the app)."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return " ".join("".join(ch for ch in text if not unicodedata.combining(ch)).lower().split())


def upgrade() -> None:
    with op.batch_alter_table("branch") as batch:
        batch.add_column(sa.Column("recognising_body", sa.String(length=255), nullable=True))
    with op.batch_alter_table("member") as batch:
        batch.alter_column("branch_id", existing_type=sa.Integer(), nullable=True)  # admins need no branch
        batch.add_column(sa.Column("workplace", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("job_title", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("qualification", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("profile_asked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("author") as batch:
        batch.add_column(sa.Column("branch_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("is_lead", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("confirmed", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("workplace", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("job_title", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("qualification", sa.String(length=120), nullable=True))
        batch.create_foreign_key("fk_author_branch_id_branch", "branch", ["branch_id"], ["id"])
        batch.create_index("ix_author_member_id", ["member_id"], unique=False)
    with op.batch_alter_table("attachment") as batch:
        batch.add_column(sa.Column("purpose", sa.String(length=16), nullable=False, server_default="evidence"))
    with op.batch_alter_table("initiative") as batch:
        batch.add_column(sa.Column("credited_branch_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("entered_by_member_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("declared_novel", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("head_confirmed", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("title_key", sa.String(length=300), nullable=True))
        batch.create_foreign_key("fk_initiative_credited_branch_id_branch", "branch", ["credited_branch_id"], ["id"])
        batch.create_foreign_key("fk_initiative_entered_by_member_id_member", "member", ["entered_by_member_id"],
                                 ["id"])  # fmt: skip

    # A research topic's acceptance is its recognition (by the acceptance council).
    op.execute(
        "UPDATE initiative SET recognition_kind = 'acceptance', recognition_date = acceptance_date "
        "WHERE type_code = '1.7' AND acceptance_date IS NOT NULL AND recognition_date IS NULL"
    )
    op.execute(
        "UPDATE initiative SET status = 'recognised' WHERE status = 'approved' "
        "AND recognition_kind IS NOT NULL AND recognition_date IS NOT NULL"
    )
    op.execute("UPDATE initiative SET status = 'verified' WHERE status = 'approved'")
    op.execute("UPDATE initiative SET credited_branch_id = branch_id")
    for column in ("birth_date", "job_title", "qualification"):
        op.execute(
            f"UPDATE author SET {column} = (SELECT i.author_{column} FROM initiative i "
            "WHERE i.id = author.initiative_id) "
            "WHERE member_id = (SELECT i.member_id FROM initiative i WHERE i.id = author.initiative_id)"
        )
    op.execute(
        "UPDATE author SET branch_id = COALESCE((SELECT m.branch_id FROM member m WHERE m.id = author.member_id), "
        "(SELECT i.branch_id FROM initiative i WHERE i.id = author.initiative_id))"
    )
    for column, source in (("birth_date", "author_birth_date"), ("job_title", "author_job_title"),
                           ("qualification", "author_qualification")):  # fmt: skip
        op.execute(
            f"UPDATE member SET {column} = (SELECT i.{source} FROM initiative i WHERE i.member_id = member.id "
            f"AND i.{source} IS NOT NULL ORDER BY i.updated_at DESC LIMIT 1) WHERE {column} IS NULL"
        )

    op.drop_index("ix_initiative_progress", table_name="initiative")
    op.drop_index("ix_initiative_decided", table_name="initiative")
    with op.batch_alter_table("initiative") as batch:
        batch.drop_column("acceptance_date")
        batch.drop_column("author_birth_date")
        batch.drop_column("author_job_title")
        batch.drop_column("author_qualification")
    op.create_index("ix_initiative_title_key", "initiative", ["title_key"])
    titles = op.get_bind().execute(sa.text("SELECT id, title FROM initiative WHERE title IS NOT NULL")).all()
    for initiative_id, title in titles:
        op.execute(
            sa.text("UPDATE initiative SET title_key = :key WHERE id = :id").bindparams(
                key=fold(title), id=initiative_id
            )
        )
    op.create_index("ix_initiative_credit", "initiative", ["credited_branch_id", "status", "recognition_date"])
    op.create_index("ix_initiative_recognised", "initiative", ["status", "recognition_date"])
    op.create_index("ix_initiative_branch_status", "initiative", ["branch_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_initiative_branch_status", table_name="initiative")
    op.drop_index("ix_initiative_title_key", table_name="initiative")
    op.drop_index("ix_initiative_recognised", table_name="initiative")
    op.drop_index("ix_initiative_credit", table_name="initiative")
    with op.batch_alter_table("initiative") as batch:
        batch.add_column(sa.Column("acceptance_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("author_birth_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("author_job_title", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("author_qualification", sa.String(length=120), nullable=True))
        batch.drop_constraint("fk_initiative_entered_by_member_id_member", type_="foreignkey")
        batch.drop_constraint("fk_initiative_credited_branch_id_branch", type_="foreignkey")
        batch.drop_column("title_key")
        batch.drop_column("head_confirmed")
        batch.drop_column("declared_novel")
        batch.drop_column("entered_by_member_id")
        batch.drop_column("credited_branch_id")
    op.execute("UPDATE initiative SET status = 'approved' WHERE status IN ('verified', 'recognised')")
    op.create_index("ix_initiative_progress", "initiative", ["branch_id", "status", "decided_at"])
    op.create_index("ix_initiative_decided", "initiative", ["status", "decided_at"])
    with op.batch_alter_table("attachment") as batch:
        batch.drop_column("purpose")
    with op.batch_alter_table("author") as batch:
        batch.drop_index("ix_author_member_id")
        batch.drop_constraint("fk_author_branch_id_branch", type_="foreignkey")
        for column in ("qualification", "job_title", "birth_date", "workplace", "confirmed", "is_lead", "branch_id"):
            batch.drop_column(column)
    with op.batch_alter_table("member") as batch:
        for column in ("profile_asked_at", "qualification", "job_title", "birth_date", "workplace"):
            batch.drop_column(column)
    with op.batch_alter_table("branch") as batch:
        batch.drop_column("recognising_body")
