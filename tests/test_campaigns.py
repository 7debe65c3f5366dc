"""Campaigns as data (storage/campaigns.py): added from a file on the command line, listed, refused when
they would share a counting day, a phase code or a code with another; two campaigns over the same branches
keep separate counts; the default one is the campaign running today."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.config import Campaign, Config
from handlers import progress
from storage import campaigns
from storage.campaigns import CampaignBook
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import Branch, BranchQuota, Initiative, Member, Status
from tests.test_cli import sangkien

pytestmark = pytest.mark.asyncio

NEXT = """
[campaign]
code = "2024-2025"
name = "Sáng kiến vì người lao động 2024–2025"
organisation = "Công đoàn Viên chức tỉnh Phú Thọ"
place = "Phú Thọ"
timezone = "Asia/Ho_Chi_Minh"
eligible_from = {eligible_from}
eligible_until = 2025-06-30
total_target = 300

[[campaign.phases]]
code = "{phase_code}"
name = "Năm 2024"
start = {start}
end = 2024-12-31
target = 120

[[campaign.phases]]
code = "2025"
name = "Năm 2025"
start = 2025-01-01
end = 2025-06-30
target = 180

[[campaign.types]]
code = "1.1"
label = "Giải pháp kỹ thuật"
explanation = "Sản phẩm hoặc quy trình kỹ thuật mới."
"""


def next_campaign(eligible_from: str = "2023-10-01", phase_code: str = "2024", start: str = "2024-01-01") -> str:
    return NEXT.format(eligible_from=eligible_from, phase_code=phase_code, start=start)


def add(tmp_path: Path, database_url: str, text: str, name: str = "campaign.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return sangkien("campaign", "add", str(path), DATABASE_URL=database_url)


async def test_a_campaign_is_added_from_a_file_listed_and_refused_when_it_would_count_twice(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    added = add(tmp_path, database_url, next_campaign())
    assert added.returncode == 0, added.stderr
    assert "campaign 2024-2025 added: Sáng kiến vì người lao động 2024–2025 (2 phases)" in added.stdout

    overlapping = add(tmp_path, database_url, next_campaign(start="2023-09-01").replace("2024-2025", "X"))
    assert overlapping.returncode == 1
    assert "overlaps campaign '2021-2023' (01/09/2021–30/09/2023)" in overlapping.stderr, overlapping.stderr
    assert "overlaps campaign '2024-2025'" in overlapping.stderr and "Traceback" not in overlapping.stderr
    same_phase = add(tmp_path, database_url, next_campaign(phase_code="p1").replace('code = "2025"', 'code = "z9"'))
    assert "phase code 'p1' is used by campaign '2021-2023'" in same_phase.stderr, same_phase.stderr
    again = add(tmp_path, database_url, next_campaign())
    assert "the code '2024-2025' is taken" in again.stderr
    broken = add(tmp_path, database_url, next_campaign().replace("total_target = 300", "total_target = -1"))
    assert "invalid value for 'total_target'" in broken.stderr
    assert add(tmp_path, database_url, "[settings]\n").stderr.endswith("no [campaign] table\n")

    quotas = tmp_path / "chi-tieu.csv"
    # today both campaigns have ended: "giai đoạn 1" is the running (latest) one's first phase, 2024; a code
    # names a phase of any campaign
    quotas.write_text("mã,tên,quota_p1,chỉ tiêu 2025\nA1,Đơn vị A,1,5\n", encoding="utf-8")
    imported = sangkien("import-branches", str(quotas), DATABASE_URL=database_url)
    assert imported.returncode == 0 and "1 created" in imported.stdout, imported.stderr

    report = tmp_path / "2024.xlsx"
    exported = sangkien("export", "--out", str(report), "--campaign", "2024-2025", DATABASE_URL=database_url)
    assert exported.returncode == 0, exported.stderr
    header = next(
        r for r in load_workbook(report)["Tổng hợp theo CĐCS"].iter_rows(values_only=True) if r[0] == "Xếp hạng"
    )
    assert "Chỉ tiêu Năm 2024" in header and "Chỉ tiêu Giai đoạn 1" not in header
    row = next(r for r in load_workbook(report)["Tổng hợp theo CĐCS"].iter_rows(values_only=True) if r[1] == "A1")
    assert row[header.index("Chỉ tiêu Năm 2025")] == 5, "the quota the command line imported for that phase"
    assert row[header.index("Chỉ tiêu Năm 2024")] == 0, "quota_p1 is the first campaign's phase p1"
    unknown = sangkien("export", "--out", str(report), "--campaign", "1999", DATABASE_URL=database_url)
    assert unknown.returncode == 2 and "Unknown campaign: 1999 (known: 2021-2023, 2024-2025)" in unknown.stderr

    listed = sangkien("campaign", "list", DATABASE_URL=database_url)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["2021-2023", "2024-2025"], "the seed first, then by date"
    assert "counts 01/09/2021–30/09/2023" in lines[0] and "counts 01/01/2024–30/06/2025" in lines[1]


async def test_two_campaigns_over_the_same_branches_keep_separate_counts(database_url: str, config: Config) -> None:
    engine = create_engine(database_url)
    await upgrade_database(engine)
    sessions = session_factory(engine)
    import tomllib

    later = Campaign.model_validate(tomllib.loads(next_campaign())["campaign"])
    async with sessions() as session, session.begin():
        await campaigns.seed(session, config.campaign)
        await campaigns.add(session, later.model_dump(mode="json"))
        branch = Branch(code="A1", name="CĐCS A")
        session.add(branch)
        await session.flush()
        session.add_all([BranchQuota(branch_id=branch.id, phase_code="p1", quota=4),
                         BranchQuota(branch_id=branch.id, phase_code="2024", quota=9)])  # fmt: skip
        author = Member(full_name="Hoa", branch_id=branch.id)
        session.add(author)
        await session.flush()
        # two in the first campaign's phase 1, one in the second's; one between them (no phase counts it:
        # the first reports it apart) and one after both (the last does)
        days = (
            dt.date(2022, 3, 1),
            dt.date(2022, 4, 1),
            dt.date(2024, 5, 2),
            dt.date(2023, 11, 1),
            dt.date(2026, 1, 5),
        )
        for day in days:
            session.add(
                Initiative(
                    member_id=author.id,
                    branch_id=branch.id,
                    credited_branch_id=branch.id,
                    status=Status.RECOGNISED,
                    recognition_date=day,
                    title=f"Sáng kiến {day}",
                )
            )
    async with sessions() as session:
        book = CampaignBook(config.campaign)
        await book.refresh(session)
        assert [c.code for c in book.campaigns] == ["2021-2023", "2024-2025"]
        second_campaign = await book.find(session, "2024-2025")
        assert second_campaign is not None and second_campaign.phases == later.phases
        first = await progress.load(session, book.default(dt.date(2022, 4, 20)), dt.date(2022, 4, 20), None)
        second = await progress.load(session, second_campaign, dt.date(2024, 6, 1), None)
        assert (await session.scalars(select(Branch.code))).all() == ["A1"]
    await engine.dispose()
    assert (first.campaign.code, first.recognised, first.quota) == ("2021-2023", 2, 4)
    assert (first.totals.by_phase, first.totals.outside) == ({"p1": 2, "p2": 0}, 1)
    assert (second.campaign.code, second.recognised, second.quota) == ("2024-2025", 1, 9)
    assert (second.totals.by_phase, second.totals.outside) == ({"2024": 1, "2025": 0}, 1)


async def test_the_default_campaign_is_the_one_counting_today(config: Config) -> None:
    import tomllib

    early_opening = tomllib.loads(next_campaign(eligible_from="2022-01-01"))["campaign"]
    book = CampaignBook(config.campaign)
    later = Campaign.model_validate(early_opening)
    book.campaigns = (config.campaign, later)
    assert [c.code for c in book.open_on(dt.date(2022, 4, 20))] == ["2021-2023", "2024-2025"], "both take initiatives"
    assert book.default(dt.date(2022, 4, 20)).code == "2021-2023", "its phase runs today"
    assert book.default(dt.date(2023, 12, 1)).code == "2024-2025", "open, and the seed has ended"
    assert book.default(dt.date(2026, 12, 1)).code == "2024-2025", "after both: the last to end"
    assert book.default(dt.date(2020, 1, 1)).code == "2021-2023", "before both: the next to start"


async def test_an_initiative_belongs_to_the_campaign_counting_its_recognition_else_taking_its_date(
    config: Config,
) -> None:
    import tomllib

    book = CampaignBook(config.campaign)
    later = Campaign.model_validate(tomllib.loads(next_campaign(eligible_from="2022-01-01"))["campaign"])
    book.campaigns = (config.campaign, later)
    today, d = dt.date(2024, 3, 1), dt.date
    assert book.of_initiative(d(2022, 3, 1), d(2021, 10, 1), today).code == "2021-2023", "recognised in its phase"
    assert book.of_initiative(d(2024, 2, 1), d(2022, 5, 1), today).code == "2024-2025"
    assert book.of_initiative(None, d(2021, 10, 1), today).code == "2021-2023", "only the first takes that day"
    assert book.of_initiative(None, d(2022, 5, 1), today).code == "2024-2025", "the running one takes it"
    assert book.of_initiative(None, None, today).code == "2024-2025"
