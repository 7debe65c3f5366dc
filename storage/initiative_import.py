"""Importing initiatives an officer already has on paper, as recognised (plan IV.2: only recognised
initiatives count), from a spreadsheet (.xlsx or .csv), all or nothing — like the branch list.

Columns, in any order, headers in Vietnamese or English with or without diacritics:

- `mã CĐCS` (code) — the branch it was submitted to; `tên sáng kiến` (title); `loại` (type: its code,
  "1.2", or "1.2 Giải pháp quản lý");
- `tác giả` (authors): "Nguyễn Văn An 70%, Trần Thị Bình 30% MAU003" — a branch code after a share
  when that author belongs to another branch; one name alone is the sole author (100 %);
- `số quyết định` and `ngày quyết định` (the recognition decision; the date decides the phase);
- optional: `công nhận bởi` (hội đồng / thủ trưởng / nghiệm thu; a council by default, the acceptance
  council for a research topic), `chủ nhiệm` (a research topic's leader, by name), `lĩnh vực`,
  `ngày áp dụng`, `mã cổng` (its reference on the national portal: then it is marked as entered there).

Each initiative counts for its credited author's branch (domain/credit.py). A row whose title is already
recorded for the same branch is refused (a re-import does not count twice). Any bad row stops the whole
import: every problem is reported with its row number and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign
from domain import rules
from domain.credit import AuthorShare, credited_author
from domain.text import fold
from storage.branch_import import ImportRejected, Problem, cell_text, fold_header, table
from storage.models import AuditEvent, Author, Branch, Initiative, Member, Status

COLUMNS = {
    "code": {"code", "ma", "macdcs", "madonvi", "branchcode"},
    "title": {"title", "ten", "tensangkien", "tendetai"},
    "type": {"type", "loai", "loaisangkien", "maloai"},
    "authors": {"authors", "tacgia", "tacgiavatyle", "tacgiatyle"},
    "decision_no": {"decisionno", "decision", "soquyetdinh", "quyetdinh", "soqd"},
    "decision_date": {"decisiondate", "ngayquyetdinh", "ngayqd", "ngaycongnhan"},
    "recognised_by": {"recognisedby", "congnhanboi", "capcongnhan", "noicongnhan"},
    "lead": {"lead", "chunhiem", "chunhiemdetai"},
    "field": {"field", "linhvuc", "linhvucapdung"},
    "first_applied": {"firstapplied", "ngayapdung", "ngayapdunglandau"},
    "portal": {"portal", "portalreference", "macong", "macongthongtin", "macongquocgia"},
}
REQUIRED = ("code", "title", "type", "authors", "decision_no", "decision_date")
RECOGNISED_BY = {"hoidong": "council", "hoidongsangkien": "council", "council": "council", "thutruong": "head",
                 "head": "head", "nghiemthu": "acceptance", "hoidongnghiemthu": "acceptance",
                 "acceptance": "acceptance"}  # fmt: skip
TITLE_LENGTH = (10, 250)
IMPORTER_NAME = "Nhập từ tệp"


@dataclass(frozen=True)
class InitiativeRow:
    row: int
    branch_code: str
    title: str
    type_code: str
    authors: list[AuthorShare]
    decision_no: str
    decision_date: dt.date
    recognised_by: str
    field: str | None
    first_applied: dt.date | None
    portal_reference: str | None


def is_initiative_list(rows: list[list[Any]]) -> bool:
    """Whether a spreadsheet is a list of initiatives (it has a title column) rather than of branches."""
    header = next((row for row in rows if any(cell_text(v) for v in row)), [])
    return any(fold_header(cell_text(v)) in COLUMNS["title"] - {"ten"} for v in header)


def _columns(header: list[str], header_row: int) -> dict[str, int]:
    columns: dict[str, int] = {}
    problems: list[Problem] = []
    for index, title in enumerate(header):
        folded = fold_header(title)
        if not folded:
            continue
        key = next((name for name, words in COLUMNS.items() if folded in words), None)
        if key is None:
            problems.append(Problem(header_row, "import_err_unknown_initiative_column", {"column": title[:40]}))
        elif key in columns:
            problems.append(Problem(header_row, "import_err_repeated_column", {"column": title[:40]}))
        else:
            columns[key] = index
    problems += [Problem(header_row, f"import_err_missing_{name}") for name in REQUIRED if name not in columns]
    if problems:
        raise ImportRejected(problems)
    return columns


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return rules.parse_date(cell_text(value))


def _authors(text: str) -> list[AuthorShare]:
    """ "Name share%, Name share% CODE" adding up to 100; a name alone is the sole author."""
    if not re.search(r"\d", text):
        return [AuthorShare(rules.parse_person_name(text), 100)]
    return rules.parse_coauthors(text, total=100)


def parse(rows: list[list[Any]], campaign: Campaign, today: dt.date) -> list[InitiativeRow]:
    """Validate every row; raise ImportRejected with all problems, or return the initiatives to write."""
    sheet = table(rows)
    header = sheet.header
    columns = _columns(header, sheet.header_row)
    result: list[InitiativeRow] = []
    problems: list[Problem] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in sheet.rows:
        cells = {name: (list(raw) + [None] * len(header))[index] for name, index in columns.items()}
        if not any(cell_text(value) for value in cells.values()):
            continue
        reader = _RowReader(number, {name: header[index] for name, index in columns.items()}, cells)
        row = reader.read(campaign, today)
        if row is not None:
            key = (row.branch_code, fold(row.title))
            if key in seen:
                reader.problems.append(Problem(number, "import_err_same_initiative", {"first": seen[key]}))
            else:
                seen[key] = number
                result.append(row)
        problems += reader.problems
    if problems:
        raise ImportRejected(problems)
    if not result:
        raise ImportRejected([Problem(0, "import_err_empty")])
    return result


class _RowReader:
    """One row's cells read into an InitiativeRow, collecting every problem rather than stopping at one."""

    def __init__(self, number: int, headers: dict[str, str], cells: dict[str, Any]) -> None:
        self.number, self.headers, self.cells = number, headers, cells
        self.text = {name: cell_text(value) for name, value in cells.items()}
        self.problems: list[Problem] = []

    def problem(self, key: str, **params: Any) -> None:
        self.problems.append(Problem(self.number, key, params))

    def checked(self, read: Callable[[], Any]) -> Any:
        try:
            return read()
        except rules.InputError as error:
            self.problem(error.key, **error.params)
            return None

    def date(self, name: str) -> dt.date | None:
        return self.checked(lambda: _date(self.cells[name])) if self.text.get(name) else None

    def read(self, campaign: Campaign, today: dt.date) -> InitiativeRow | None:
        text = self.text
        for name in REQUIRED:
            if not text[name]:
                self.problem("import_err_empty_cell", column=self.headers[name][:40])
        title = " ".join(text["title"].split())
        if title and not TITLE_LENGTH[0] <= len(title) <= TITLE_LENGTH[1]:
            self.problem("import_err_title_length", min=TITLE_LENGTH[0], max=TITLE_LENGTH[1])
        type_match = re.match(r"\s*(\d+(?:\.\d+)?)", text["type"])
        type_code = type_match.group(1) if type_match else ""
        kind = campaign.type_by_code(type_code)
        if text["type"] and kind is None:
            self.problem("import_err_type", value=text["type"][:20])
        authors = self.checked(lambda: _authors(text["authors"])) if text["authors"] else None
        lead = text.get("lead", "")
        if authors and lead:
            if fold(lead) not in [fold(a.full_name) for a in authors]:
                self.problem("import_err_lead", name=lead[:60])
            authors = [replace(a, is_lead=fold(a.full_name) == fold(lead)) for a in authors]
        decision_date = self.date("decision_date")
        if decision_date is not None:
            self.checked(lambda: rules.check_recognition_date(decision_date, campaign.eligible_from, today))
        first_applied = self.date("first_applied")
        recognised_by = "acceptance" if kind is not None and kind.research else "council"
        if text.get("recognised_by"):
            recognised_by = RECOGNISED_BY.get(fold_header(text["recognised_by"]), "")
            if not recognised_by:
                self.problem("import_err_recognised_by", value=text["recognised_by"][:40])
        if self.problems or authors is None or decision_date is None:
            return None
        return InitiativeRow(self.number, text["code"].upper(), title, type_code, authors, text["decision_no"][:100],
                             decision_date, recognised_by, text.get("field") or None, first_applied,
                             text.get("portal") or None)  # fmt: skip


async def importer_member(session: AsyncSession) -> Member:
    """Whose imported initiatives are (and who imported from the command line): a member without accounts or
    branch, made once. No person sent them: an admin importing in the chat is their `entered_by` only, so his
    own list (/mine) and a unit's senders do not show hundreds of them as his."""
    existing = await session.scalar(
        select(Member).where(Member.full_name == IMPORTER_NAME, Member.branch_id.is_(None)).limit(1)
    )
    if existing is not None:
        return existing
    member = Member(full_name=IMPORTER_NAME, branch_id=None)
    session.add(member)
    await session.flush()
    return member


async def apply(
    session: AsyncSession, rows: list[InitiativeRow], campaign: Campaign, actor: Member, now: dt.datetime
) -> int:
    """Write every row as a recognised initiative (inside the caller's transaction), entered by `actor` for the
    importer (`importer_member`), or — if a branch is unknown or an initiative already recorded — raise
    ImportRejected and write nothing."""
    codes = {row.branch_code for row in rows} | {a.branch_code for row in rows for a in row.authors if a.branch_code}
    branches = {b.code.upper(): b for b in (await session.scalars(select(Branch).where(Branch.code.in_(codes)))).all()}
    problems: list[Problem] = []
    for row in rows:
        for code in sorted({row.branch_code} | {a.branch_code for a in row.authors if a.branch_code}):
            if code not in branches:
                problems.append(Problem(row.row, "import_err_unknown_branch", {"code": code[:32]}))
    keys = {fold(row.title) for row in rows}
    recorded = (
        await session.execute(
            select(Initiative.id, Initiative.branch_id, Initiative.title_key).where(
                Initiative.title_key.in_(keys), Initiative.status != Status.DRAFT
            )
        )
    ).all()
    existing = {(branch_id, key): number for number, branch_id, key in recorded}
    for row in rows:
        branch = branches.get(row.branch_code)
        if branch is not None and (branch.id, fold(row.title)) in existing:
            problems.append(Problem(row.row, "import_err_already_recorded",
                                    {"id": existing[(branch.id, fold(row.title))]}))  # fmt: skip
    if problems:
        raise ImportRejected(sorted(problems, key=lambda p: p.row))
    importer = await importer_member(session)
    for row in rows:
        branch = branches[row.branch_code]
        kind = campaign.type_by_code(row.type_code)
        research = bool(kind and kind.research)
        status = Status.REPORTED if row.portal_reference else Status.RECOGNISED
        initiative = Initiative(
            member_id=importer.id, branch_id=branch.id, entered_by_member_id=actor.id, status=status,
            title=row.title, title_key=fold(row.title), type_code=row.type_code, field=row.field,
            first_applied_on=row.first_applied, recognition_kind=row.recognised_by,
            recognition_decision_no=row.decision_no, recognition_date=row.decision_date,
            declared_novel=True, declared_no_ip=True, declared_lawful=True,
            head_confirmed=True if research else None, submitted_at=now, decided_at=now,
            reported_at=now if row.portal_reference else None, portal_reference=row.portal_reference,
            reported_by_member_id=actor.id if row.portal_reference else None,
        )  # fmt: skip
        initiative.authors = [
            Author(position=position, full_name=a.full_name, share_percent=a.share_percent, is_lead=a.is_lead,
                   branch_id=branches[a.branch_code].id if a.branch_code else branch.id)
            for position, a in enumerate(row.authors)
        ]  # fmt: skip
        credited = initiative.authors[credited_author(row.authors, research=research)]
        initiative.credited_branch_id = credited.branch_id
        initiative.attachments = []
        session.add(initiative)
        await session.flush()
        session.add(AuditEvent(initiative_id=initiative.id, actor_member_id=actor.id, action="imported",
                               to_status=status, reason=f"row {row.row}"))  # fmt: skip
    await session.flush()
    return len(rows)
