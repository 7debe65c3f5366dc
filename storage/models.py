"""SQLAlchemy 2 models. The schema itself is created by the Alembic migrations in `storage/migrations`."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC and read back aware, on SQLite as on PostgreSQL.

    SQLite keeps the wall time it is given and drops the offset; normalising to UTC on the way in keeps
    comparisons (phase bounds, due times) right whatever zone a caller's datetime is in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


class Base(AsyncAttrs, DeclarativeBase):
    pass


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Status(enum.StrEnum):
    """The plan's lifecycle: written (draft) → submitted to the CĐCS → its dossier verified by a chair
    ("xác nhận"; or sent back, or rejected) → recognised by a council or the head of the unit ("công
    nhận": only these count) → entered on the national portal."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    VERIFIED = "verified"
    RECOGNISED = "recognised"
    REPORTED = "reported"


# Counted toward quotas and targets (with a recognition date): recognised, and entered on the portal.
COUNTED = (Status.RECOGNISED, Status.REPORTED)
# Still being written: drafts and initiatives sent back for changes.
IN_PROGRESS = (Status.DRAFT, Status.CHANGES_REQUESTED)


class Role(enum.StrEnum):
    MEMBER = "member"
    CHAIR = "chair"
    SUPPORT = "support"
    ADMIN = "admin"


class CampaignRecord(Base):
    """A campaign as data (bot/config.Campaign as JSON): the config's [campaign] is the seed, others are added
    with `sangkien campaign add`. Their counting windows never overlap (storage/campaigns.py), so the plan's
    rule — a recognition counts in the phase holding its date — puts each initiative in one campaign."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)


class CountingPhase(Base):
    """Every stored campaign's phases with the days each counts (storage/tally.py keeps it in step with the
    campaigns): the database's triggers read it to file a recognition under its phase."""

    __tablename__ = "counting_phase"

    code: Mapped[str] = mapped_column(String, primary_key=True)  # as long as a config gives
    counts_from: Mapped[dt.date] = mapped_column(Date)
    ends: Mapped[dt.date] = mapped_column(Date)


class BranchTally(Base):
    """How many initiatives a branch has in each bucket of /progress (storage/tally.py): kept by triggers on
    `initiative`, so a province's figures read ten thousand rows, not a million initiatives."""

    __tablename__ = "branch_tally"
    # Each lookup one B-tree search (SQLite), not an index and then the row.
    __table_args__ = ({"sqlite_with_rowid": False},)

    bucket: Mapped[str] = mapped_column(String, primary_key=True)
    branch_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)


class Branch(Base):
    """A unit of the union: a CĐCS, or an upper unit (CĐ cấp trên cơ sở, LĐLĐ tỉnh…) over its children.

    A unit with no parent is a root; a deployment with a flat list of branches has only roots. Officers
    (the chair role) of a unit see its whole subtree (storage/org_tree.py)."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who recognises this branch's initiatives ("Hội đồng sáng kiến Bệnh viện …"): the Đơn's "Kính gửi".
    recognising_body: Mapped[str | None] = mapped_column(String(255))
    quotas: Mapped[list[BranchQuota]] = relationship(back_populates="branch", cascade="all, delete-orphan")


class BranchQuota(Base):
    """A branch's quota for one campaign phase (phase codes come from config)."""

    __tablename__ = "branch_quota"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"), primary_key=True)
    phase_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    quota: Mapped[int] = mapped_column(Integer)
    branch: Mapped[Branch] = relationship(back_populates="quotas")


class Member(Base):
    """One row per person, whatever platforms they use (see `Identity`)."""

    __tablename__ = "member"

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(120))
    # The member's CĐCS; none for an admin who belongs to no branch.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    # The author's profile, asked once and used by every form (Đơn yêu cầu công nhận sáng kiến).
    workplace: Mapped[str | None] = mapped_column(String(255))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    job_title: Mapped[str | None] = mapped_column(String(120))
    qualification: Mapped[str | None] = mapped_column(String(120))
    profile_asked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    branch: Mapped[Branch | None] = relationship()
    roles: Mapped[list[MemberRole]] = relationship(back_populates="member", cascade="all, delete-orphan")
    # The person's accounts (a Telegram user, a Zalo user): drafts and roles belong to the member.
    identities: Mapped[list[Identity]] = relationship(back_populates="member", viewonly=True)


class MemberRole(Base):
    __tablename__ = "member_role"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    # The branch the role applies to (chair, support); NULL for province-wide roles (admin).
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    member: Mapped[Member] = relationship(back_populates="roles")
    __table_args__ = (UniqueConstraint("member_id", "role", "branch_id"),)


class Identity(Base):
    """A platform account (Telegram user, Zalo user) and, once registered, the member it belongs to.

    It also holds the account's conversation state: which flow it is in and that flow's scratch data,
    so a restart or a second worker resumes exactly where the person was.
    """

    __tablename__ = "identity"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(255), default="")
    language: Mapped[str] = mapped_column(String(8), default="vi")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    flow: Mapped[str | None] = mapped_column(String(32))
    flow_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when a send to this account was refused (blocked the bot, account deleted): reminders and
    # broadcasts skip it. Cleared when the person writes to the bot again.
    blocked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    member: Mapped[Member | None] = relationship(back_populates="identities")
    __table_args__ = (UniqueConstraint("platform", "platform_user_id"),)


class Initiative(Base):
    """An initiative from its first answer (a draft: the conversation) to the portal.

    `member_id` is whoever writes it (the author, or an officer entering it for members: then
    `entered_by_member_id` says so); `branch_id` the CĐCS it is submitted to; `credited_branch_id` the
    branch of its credited author (plan IV.2.5), which is where it counts."""

    __tablename__ = "initiative"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    credited_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    entered_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    status: Mapped[Status] = mapped_column(Enum(Status, native_enum=False, length=24), default=Status.DRAFT)
    # The wizard step the member is on (a step key of handlers.wizard_steps), and whether they came
    # to it from the summary's Edit button (then the step returns to the summary when answered).
    current_step: Mapped[str | None] = mapped_column(String(32))
    editing_from_summary: Mapped[bool] = mapped_column(Boolean, default=False)

    # Eligibility, declared first (plan IV.2.2, IV.3): novel in the unit, not under IP protection, lawful.
    declared_novel: Mapped[bool | None] = mapped_column(Boolean)
    declared_no_ip: Mapped[bool | None] = mapped_column(Boolean)
    declared_lawful: Mapped[bool | None] = mapped_column(Boolean)
    title: Mapped[str | None] = mapped_column(String(300))
    # The title folded (no accents, case or extra spaces), to find the same initiative sent twice.
    title_key: Mapped[str | None] = mapped_column(String(300), index=True)
    type_code: Mapped[str | None] = mapped_column(String(8))
    research_level: Mapped[str | None] = mapped_column(String(16))
    # A research topic (1.7, plan IV.2.4): accepted by an acceptance council (its decision is the
    # recognition below) and its effect confirmed by the head of the unit applying it.
    head_confirmed: Mapped[bool | None] = mapped_column(Boolean)
    field: Mapped[str | None] = mapped_column(String(200))
    problem: Mapped[str | None] = mapped_column(Text)
    solution: Mapped[str | None] = mapped_column(Text)
    first_applied_on: Mapped[dt.date | None] = mapped_column(Date)
    application_kind: Mapped[str | None] = mapped_column(String(16))
    application_place: Mapped[str | None] = mapped_column(String(300))
    economic_benefit: Mapped[str | None] = mapped_column(Text)
    economic_amount_vnd: Mapped[int | None] = mapped_column(BigInteger)
    social_benefit: Mapped[str | None] = mapped_column(Text)
    # Recognition (công nhận, plan IV.2.2): by a council, the head of the unit, or (1.7) the acceptance
    # council; its decision's number and date — the date decides the phase it counts in.
    recognition_kind: Mapped[str | None] = mapped_column(String(16))
    recognition_decision_no: Mapped[str | None] = mapped_column(String(100))
    recognition_date: Mapped[dt.date | None] = mapped_column(Date)
    # The dossier (handlers/dossier.py), optional: what the council's forms ask beyond the wizard.
    addressee: Mapped[str | None] = mapped_column(String(255))  # "Kính gửi"; else the branch's default
    investor: Mapped[str | None] = mapped_column(String(255))  # chủ đầu tư tạo ra sáng kiến
    purpose: Mapped[str | None] = mapped_column(Text)
    applicability: Mapped[str | None] = mapped_column(Text)  # khả năng áp dụng (who else could use it)
    conditions: Mapped[str | None] = mapped_column(Text)  # điều kiện cần thiết để áp dụng
    confidential: Mapped[str | None] = mapped_column(Text)  # thông tin cần được bảo mật
    appliers_opinion: Mapped[str | None] = mapped_column(Text)
    # Who applied it first or on trial: one person a line, "name; birth date; workplace; title;
    # qualification; their part" (the form's table columns, in order; missing ones stay blank).
    appliers: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The chair's last decision (verified, changes requested, rejected): who, when, the reason given.
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    # Entry on the national portal (status reported): when, by whom, the portal's reference if given.
    reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reported_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    portal_reference: Mapped[str | None] = mapped_column(String(100))
    # The answers as they were at the last submission, to show chairs what changed on resubmission.
    submitted_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A resubmission's changed steps (their keys; [] for none), for every card of it; None: first submitted.
    resubmission_changes: Mapped[list[str] | None] = mapped_column(JSON)

    member: Mapped[Member] = relationship(foreign_keys=[member_id])
    decided_by: Mapped[Member | None] = relationship(foreign_keys=[decided_by_member_id])
    entered_by: Mapped[Member | None] = relationship(foreign_keys=[entered_by_member_id])
    branch: Mapped[Branch] = relationship(foreign_keys=[branch_id])
    credited_branch: Mapped[Branch | None] = relationship(foreign_keys=[credited_branch_id])
    authors: Mapped[list[Author]] = relationship(
        back_populates="initiative", cascade="all, delete-orphan", order_by="Author.position"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="initiative", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    # Progress counts read only these columns: from these indexes, without touching the wide rows.
    __table_args__ = (
        Index("ix_initiative_credit", "credited_branch_id", "status", "recognition_date"),
        Index("ix_initiative_recognised", "status", "recognition_date", "credited_branch_id"),
        Index("ix_initiative_branch_status", "branch_id", "status"),
        Index("ix_initiative_status_credit", "status", "credited_branch_id"),
        Index("ix_initiative_status_branch", "status", "branch_id"),
    )


class FeaturedInitiative(Base):
    """A recognised initiative a unit's officers marked "tiêu biểu" and proposed to the unit above (plan V.3:
    the CĐCS "đề xuất cấp có thẩm quyền xem xét công nhận những đề tài, sáng kiến xuất sắc"); that unit's
    officers may propose it on. `unit_id` NULL: marked for the whole organisation by an admin."""

    __tablename__ = "featured_initiative"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    proposed_to_unit_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    # NULLs are distinct in a unique constraint: marks for the whole organisation get an index of their own.
    __table_args__ = (
        UniqueConstraint("initiative_id", "unit_id"),
        Index("uq_featured_initiative_top", "initiative_id", unique=True, sqlite_where=text("unit_id IS NULL"),
              postgresql_where=text("unit_id IS NULL")),
    )  # fmt: skip


class Author(Base):
    """One author of an initiative: a registered member (who can confirm it), or a name with a branch."""

    __tablename__ = "author"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    full_name: Mapped[str] = mapped_column(String(120))
    share_percent: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    # The author's branch: where the initiative counts if this author is the credited one.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    # The project leader (chủ nhiệm) of a research topic: credited whatever the shares.
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    # A registered co-author's answer to "is this you?": None until they answer, then True or False.
    confirmed: Mapped[bool | None] = mapped_column(Boolean)
    # Details for the council's form (from the member's profile, or given for a typed co-author).
    workplace: Mapped[str | None] = mapped_column(String(255))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    job_title: Mapped[str | None] = mapped_column(String(120))
    qualification: Mapped[str | None] = mapped_column(String(120))
    initiative: Mapped[Initiative] = relationship(back_populates="authors")
    branch: Mapped[Branch | None] = relationship()


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int] = mapped_column(ForeignKey("initiative.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(100))
    # "evidence" (what the author sent to illustrate it) or "decision" (the recognition decision's scan).
    purpose: Mapped[str] = mapped_column(String(16), default="evidence")
    initiative: Mapped[Initiative] = relationship(back_populates="attachments")


# The reason of a draft's "created" event when an officer entered it for members (shown in their words by /history;
# earlier rows read "entered for the members of branch <id>").
ENTERED_FOR_MEMBERS = "entered_for_members"


class AuditEvent(Base):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiative.id", ondelete="CASCADE"), index=True)
    actor_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str | None] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)


class ProcessedUpdate(Base):
    """Platform update ids already handled: a redelivered update has no second effect."""

    __tablename__ = "processed_update"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now, index=True)


class BotProcess(Base):
    """A process serving this bot, seen alive at `seen_at` (it writes that every few seconds): the processes
    alive share the platform's sending limits (storage/processes.py)."""

    __tablename__ = "bot_process"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, chosen by the process at start
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class InboxUpdate(Base):
    """An update received (polled or pushed) and not yet handled. Written before the platform is told it
    arrived, deleted in the transaction that handles it, replayed at start: a crash loses no update."""

    __tablename__ = "inbox_update"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    payload: Mapped[str] = mapped_column(Text)  # the update as the platform sent it (JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now, index=True)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"


class OutboxMessage(Base):
    """A notification to deliver (or a sent message to edit), written in the transaction that caused it.

    The outbox worker delivers due rows with retries and the platform's limits; a crash between the
    decision and the delivery loses nothing.
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    # The reply to send (handlers.events.Reply as JSON); for an edit, the replacement.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Set for an edit: the outbox row whose delivered message is to be replaced.
    edit_of_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    initiative_id: Mapped[int | None] = mapped_column(ForeignKey("initiative.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32), default="notice")
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast.id", ondelete="CASCADE"), index=True)
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(OutboxStatus, native_enum=False, length=16), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The lease of the worker sending it now: only that worker may record the outcome, and a worker
    # whose lease was taken over (its send outlived it) does not send again.
    lease_token: Mapped[str | None] = mapped_column(String(32))
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class ChairInvite(Base):
    """A one-time invitation, created by an admin, for whoever opens it to become a chair of a branch."""

    __tablename__ = "chair_invite"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    branch: Mapped[Branch] = relationship()


class ChatGroup(Base):
    """A group chat the bot was added to; once linked, it receives its branch's (or the province's) digests."""

    __tablename__ = "chat_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255), default="")
    # What the group follows: one branch, or the whole province (is_province); neither until linked.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id", ondelete="SET NULL"))
    is_province: Mapped[bool] = mapped_column(Boolean, default=False)
    linked_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    linked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # False once the bot is removed from the group (or the group is gone).
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    branch: Mapped[Branch | None] = relationship()
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)


class ReminderRun(Base):
    """One period of one scheduled reminder, claimed by exactly one bot process (unique constraint).

    `skipped` marks the baseline written on the first start: periods before the bot ever ran are not sent.
    """

    __tablename__ = "reminder_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    reminder: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ran_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (UniqueConstraint("reminder", "due_at"),)


class Broadcast(Base):
    """An admin's ad-hoc message to an audience; its outbox rows carry its id for the delivery report."""

    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    # Where the delivery report goes: the admin's chat.
    report_platform: Mapped[str] = mapped_column(String(16))
    report_chat_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(String(200))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    reported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OptionMenu(Base):
    """The numbered options last shown in a chat of a platform without buttons (Zalo), so that a reply "2"
    maps back to the second option. `ref` is empty for the latest menu of the chat; a menu that may be
    answered later (a review card) is also kept under its reference ("2 123": option 2 of the card #123)."""

    __tablename__ = "option_menu"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    ref: Mapped[str] = mapped_column(String(32), default="")
    # [[label, payload], …] in the order shown (numbered from 1).
    options: Mapped[list[list[str]]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now, index=True)
    __table_args__ = (UniqueConstraint("platform", "chat_id", "ref"),)


class StoredFile(Base):
    """Bytes the bot serves at an unguessable URL: documents and charts for Zalo (which cannot upload
    files, only send a photo by URL), and photos people sent on Zalo (whose URLs expire)."""

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    file_name: Mapped[str] = mapped_column(String(255))
    mime_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    # Everything expires (generated documents hold personal data; a photo not attached to anything is of
    # no use) except a file attached to an initiative: it lives as long as that attachment.
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id", ondelete="CASCADE"), index=True)


class LinkAttempt(Base):
    """A `LIENKET <code>` typed: who tried which code and whether it worked. Failures are counted per
    account (5 an hour) and survive /start, unlike a conversation's scratch data."""

    __tablename__ = "link_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(16))
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now, index=True)
    __table_args__ = (Index("ix_link_attempt_account", "platform", "platform_user_id", "created_at"),)


class LinkCode(Base):
    """A short one-time code that links another account (Zalo ↔ Telegram) to a member, once its owner has
    confirmed the account that typed it."""

    __tablename__ = "link_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    used_by_identity_id: Mapped[int | None] = mapped_column(ForeignKey("identity.id", ondelete="SET NULL"))
    # The account that typed the code, waiting for the owner's "yes, it is me" (linking.py).
    claimed_by_identity_id: Mapped[int | None] = mapped_column(ForeignKey("identity.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
