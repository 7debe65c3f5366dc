"""The sandbox's campaign in motion: a clock inside phase 1 and sample activity — initiatives recognised
across branches (loaded from `sample-data/initiatives.csv`, the import format an admin uses), some waiting
for the sample chair, one verified and waiting for its decision, a draft — so that progress, the chart,
the digests and /pending show what they will show in a real campaign."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign
from domain.text import fold
from handlers.context import Services
from storage import branch_import, initiative_import, queries
from storage.models import AuditEvent, Author, Initiative, Member, OutboxMessage, Status

SAMPLE_INITIATIVES = "sample-data/initiatives.csv"
# Where the sandbox's clock starts: a weekday morning in phase 1 (28/02/2022–31/05/2022), as in the tests.
SANDBOX_START = dt.datetime(2022, 4, 20, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


class SandboxClock:
    """Real time flowing from `origin`: the scheduler's weekly digest and countdowns happen as they would."""

    def __init__(self, origin: dt.datetime) -> None:
        self.origin = origin.astimezone(dt.UTC)
        self.started = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.origin + dt.timedelta(seconds=time.monotonic() - self.started)


async def sandbox_clock(session: AsyncSession, campaign: Campaign) -> SandboxClock:
    """Start at SANDBOX_START, or — for a sandbox database used before — where its clock stopped, so that
    nothing it wrote is in the future (unless that was after the campaign: then from the start again)."""
    latest = max(
        (value for value in (
            await session.scalar(select(func.max(AuditEvent.created_at))),
            await session.scalar(select(func.max(OutboxMessage.created_at))),
        ) if value is not None),
        default=None,
    )  # fmt: skip
    end = dt.datetime.combine(campaign.phases[-1].end, dt.time(23, 59), campaign.tz)
    if latest is not None and SANDBOX_START <= latest <= end:
        return SandboxClock(latest + dt.timedelta(minutes=1))
    return SandboxClock(SANDBOX_START)


# (branch, author, title, type, state): members of sample branches with work in progress.
IN_PROGRESS = (
    ("MAU002", "Lê Văn Cường", "[MẪU] Phần mềm nhắc lịch tiêm chủng cho trẻ", "1.2", Status.SUBMITTED),
    ("MAU003", "Đỗ Thị Dung", "[MẪU] Kho học liệu số dùng chung cho giáo viên", "1.1", Status.SUBMITTED),
    ("MAU005", "Hoàng Văn Em", "[MẪU] Câu lạc bộ kỹ năng mềm cho đoàn viên trẻ", "1.5", Status.VERIFIED),
    ("MAU002", "Lê Văn Cường", "[MẪU] Tủ thuốc trực đêm có khoá mã", "1.6", Status.DRAFT),
)


async def seed_sample_activity(services: Services) -> None:
    """Once, into a sandbox whose branches are the sample ones and which has no initiative yet."""
    config = services.config
    async with services.sessions() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Initiative)):
            return
        branches = {b.code: b for b in await queries.all_branches(session) if b.is_sample}
        if not branches:
            return
        path = config.resolve(SAMPLE_INITIATIVES)
        content = await asyncio.to_thread(Path(path).read_bytes)
        now = services.clock()
        rows = initiative_import.parse(
            branch_import.read_rows(path.name, content), config.campaign, now.astimezone(config.campaign.tz).date()
        )
        actor = await initiative_import.importer_member(session)
        await initiative_import.apply(session, rows, config.campaign, actor, now)
        members: dict[str, Member] = {}
        for code, name, title, type_code, status in IN_PROGRESS:
            member = members.get(name)
            if member is None:
                member = members[name] = Member(full_name=name, branch_id=branches[code].id)
                session.add(member)
                await session.flush()
            await _add_initiative(session, member, title, type_code, status, now)


async def _add_initiative(
    session: AsyncSession, member: Member, title: str, type_code: str, status: Status, now: dt.datetime
) -> None:
    submitted = status != Status.DRAFT
    initiative = Initiative(
        member_id=member.id, branch_id=member.branch_id, credited_branch_id=member.branch_id, status=status,
        title=title, title_key=fold(title), type_code=type_code, declared_novel=True, declared_no_ip=True,
        declared_lawful=True, field="Y tế" if "thuốc" in title or "tiêm" in title else "Giáo dục – đào tạo",
        problem="Cách làm cũ ghi chép trên giấy, mất thời gian tổng hợp và dễ sai sót khi bàn giao.",
        solution="Bước 1: lập biểu mẫu dùng chung. Bước 2: hướng dẫn cả tổ sử dụng. Điểm mới: số liệu cập nhật "
        "ngay, ai cũng xem được.",
        first_applied_on=dt.date(2021, 11, 1), application_kind="applied", application_place="Tại đơn vị",
        social_benefit="Đoàn viên đỡ mất thời gian, người dân hài lòng hơn.",
        current_step="field" if not submitted else None,
        submitted_at=now - dt.timedelta(days=3) if submitted else None,
        decided_at=now - dt.timedelta(days=1) if status == Status.VERIFIED else None,
    )  # fmt: skip
    initiative.authors = [Author(position=0, full_name=member.full_name, share_percent=100, member_id=member.id,
                                 branch_id=member.branch_id, confirmed=True)]  # fmt: skip
    initiative.attachments = []
    session.add(initiative)
    if submitted:  # its trail begins where a member's does (/history showed a decision out of nowhere)
        await session.flush()
        session.add(AuditEvent(initiative_id=initiative.id, actor_member_id=member.id, action="submitted",
                               from_status=Status.DRAFT, to_status=Status.SUBMITTED,
                               created_at=initiative.submitted_at))  # fmt: skip
