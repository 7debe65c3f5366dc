"""The Excel report (openpyxl): every initiative in scope, the per-branch summary, and the portal sheet.

Headers are Vietnamese (documents catalog); dates are real Excel dates, money is a number, no formulas;
each sheet has a frozen header row, a filter and column widths that fit.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.config import Campaign
from handlers import rules
from handlers.reports.documents import doc_text
from handlers.reports.scope import COUNTED, ReportFilter, approval_phase, local_date, matches
from storage.models import Branch, Initiative, Status

DATE_FORMAT = "DD/MM/YYYY"
MONEY_FORMAT = "#,##0"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


@dataclass(frozen=True)
class Column:
    header_key: str
    width: int
    value: Callable[[Initiative], Any]
    number_format: str | None = None


def _authors(initiative: Initiative) -> str:
    return "; ".join(f"{a.full_name} ({a.share_percent}%)" for a in initiative.authors)


def _credited(initiative: Initiative) -> str:
    if not initiative.authors:
        return ""
    shares = [rules.AuthorShare(a.full_name, a.share_percent) for a in initiative.authors]
    return rules.credited_author(shares).full_name


def _type(campaign: Campaign) -> Callable[[Initiative], str]:
    def label(initiative: Initiative) -> str:
        kind = campaign.type_by_code(initiative.type_code or "")
        return f"{kind.code} {kind.label}" if kind else ""

    return label


def _recognition_body(initiative: Initiative) -> str:
    return doc_text(f"recognition_{initiative.recognition_kind}") if initiative.recognition_kind else ""


def _benefits(initiative: Initiative) -> str:
    return "\n".join(filter(None, [initiative.economic_benefit, initiative.social_benefit]))


def _portal(initiative: Initiative) -> str:
    if initiative.status != Status.REPORTED:
        return doc_text("portal_not_entered")
    return doc_text("portal_entered") + (f" ({initiative.portal_reference})" if initiative.portal_reference else "")


def initiative_columns(campaign: Campaign) -> list[Column]:
    def on(attr: str) -> Callable[[Initiative], Any]:
        return lambda i: local_date(getattr(i, attr), campaign)

    return [
        Column("col_code", 8, lambda i: i.id),
        Column("col_title", 40, lambda i: i.title),
        Column("col_type", 28, _type(campaign)),
        Column("col_field", 20, lambda i: i.field),
        Column("col_branch", 30, lambda i: i.branch.name),
        Column("col_authors", 36, _authors),
        Column("col_credited", 22, _credited),
        Column("col_first_applied", 14, lambda i: i.first_applied_on, DATE_FORMAT),
        Column(
            "col_application", 14, lambda i: doc_text(f"application_{i.application_kind}") if i.application_kind else ""
        ),
        Column("col_place", 28, lambda i: i.application_place),
        Column("col_economic", 36, lambda i: i.economic_benefit),
        Column("col_amount", 16, lambda i: i.economic_amount_vnd, MONEY_FORMAT),
        Column("col_social", 36, lambda i: i.social_benefit),
        Column("col_recognised_by", 24, _recognition_body),
        Column("col_decision_no", 16, lambda i: i.recognition_decision_no),
        Column("col_decision_date", 14, lambda i: i.recognition_date, DATE_FORMAT),
        Column("col_status", 16, lambda i: doc_text(f"status_{i.status.value}")),
        Column("col_submitted", 14, on("submitted_at"), DATE_FORMAT),
        Column("col_decided", 14, on("decided_at"), DATE_FORMAT),
        Column("col_decided_by", 22, lambda i: i.decided_by.full_name if i.decided_by else None),
        Column("col_reason", 30, lambda i: i.decision_reason),
        Column("col_attachments", 10, lambda i: len(i.attachments)),
        Column("col_portal", 18, _portal),
    ]


def portal_columns(campaign: Campaign) -> list[Column]:
    """The order of the national portal's entry form, so an officer can copy row by row."""

    def recognised(initiative: Initiative) -> str:
        parts = [_recognition_body(initiative), initiative.recognition_decision_no or ""]
        if initiative.recognition_date:
            parts.append(rules.format_date(initiative.recognition_date))
        return ", ".join(p for p in parts if p)

    return [
        Column("col_title", 40, lambda i: i.title),
        Column("col_type_field", 34, lambda i: f"{_type(campaign)(i)} / {i.field or ''}"),
        Column("col_summary", 60, lambda i: i.solution),
        Column("col_effect", 50, _benefits),
        Column("col_amount", 16, lambda i: i.economic_amount_vnd, MONEY_FORMAT),
        Column("col_first_applied", 14, lambda i: i.first_applied_on, DATE_FORMAT),
        Column("col_recognition", 36, recognised),
        Column("col_authors", 36, _authors),
    ]


def _write(
    sheet: Worksheet, headers: list[str], widths: list[int], rows: list[list[Any]], formats: list[str | None]
) -> None:
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in rows:
        sheet.append([_text_safe(value) for value in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text is text: "=HYPERLINK(…)" typed by a member is not a formula
    for index, (width, number_format) in enumerate(zip(widths, formats, strict=True), start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(1, len(rows) + 1)}"


def _text_safe(value: Any) -> Any:
    """Strings without the characters a workbook cannot hold (control characters from old data)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _table(sheet: Worksheet, columns: list[Column], items: Sequence[Initiative]) -> None:
    _write(
        sheet,
        [doc_text(c.header_key) for c in columns],
        [c.width for c in columns],
        [[c.value(item) for c in columns] for item in items],
        [c.number_format for c in columns],
    )


def summary_rows(campaign: Campaign, branches: Sequence[Branch], initiatives: Sequence[Initiative]) -> list[list[Any]]:
    """Per branch: quota and approved per phase, % of the total quota, pending, drafts, rank by %."""
    rows = []
    for branch in branches:
        own = [i for i in initiatives if i.branch_id == branch.id]
        quotas = {q.phase_code: q.quota for q in branch.quotas}
        per_phase = []
        for phase in campaign.phases:
            approved = sum(1 for i in own if approval_phase(i, campaign) == phase)
            per_phase += [quotas.get(phase.code, 0), approved]
        quota_total = sum(quotas.get(p.code, 0) for p in campaign.phases)
        approved_total = sum(1 for i in own if i.status in COUNTED)
        percent = round(100 * approved_total / quota_total, 1) if quota_total else 0.0
        pending = sum(1 for i in own if i.status == Status.SUBMITTED)
        drafts = sum(1 for i in own if i.status in (Status.DRAFT, Status.CHANGES_REQUESTED))
        rows.append([branch.code, branch.name, *per_phase, approved_total, quota_total, percent, pending, drafts])
    ranked = sorted(range(len(rows)), key=lambda r: (-rows[r][-3], -rows[r][-5], rows[r][0]))
    for rank, index in enumerate(ranked, start=1):
        rows[index].append(rank)
    return rows


def build_workbook(
    campaign: Campaign,
    branches: Sequence[Branch],
    initiatives: Sequence[Initiative],
    report_filter: ReportFilter,
) -> bytes:
    """`initiatives` are all of the scope's initiatives (every status); the filter narrows the lists."""
    listed = [i for i in initiatives if i.status != Status.DRAFT and matches(i, report_filter, campaign)]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = doc_text("sheet_initiatives")
    _table(sheet, initiative_columns(campaign), listed)

    summary = workbook.create_sheet(doc_text("sheet_summary"))
    headers = [doc_text("col_branch_code"), doc_text("col_branch")]
    for phase in campaign.phases:
        headers += [doc_text("col_quota", phase=phase.name), doc_text("col_approved", phase=phase.name)]
    headers += [doc_text(key) for key in ("col_approved_total", "col_quota_total", "col_percent", "col_pending",
                                          "col_drafts", "col_rank")]  # fmt: skip
    widths = [12, 36, *([14] * (len(headers) - 2))]
    _write(summary, headers, widths, summary_rows(campaign, branches, initiatives), [None] * len(headers))

    portal = workbook.create_sheet(doc_text("sheet_portal"))
    to_enter = [i for i in listed if i.status == Status.APPROVED]
    _table(portal, portal_columns(campaign), to_enter)

    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
