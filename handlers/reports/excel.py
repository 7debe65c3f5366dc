"""The Excel report an officer can sign (XlsxWriter in constant-memory mode, the long sheets' rows by sheet_rows).

Sheets: *Tổng hợp theo CĐCS* — a title block (unit, period, date made), the phase targets and the
campaign's total against what was recognised, every branch ranked by the same rule as /progress with its
quota, recognised, waiting for recognition, on the portal, waiting for verification and in progress, a
totals row, and the signatures; *Sáng kiến* — every initiative in scope; *Nhập Cổng* — recognised ones not
yet on the portal, in the portal's field order. One filter narrows every sheet. Headers are Vietnamese
(documents catalog); dates are real Excel dates, money is a number; text is always text (a member's
"=HYPERLINK(…)" is not a formula; control characters are escaped as Excel does); it is built in a
worker thread, batch by batch, never on the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from xlsxwriter import Workbook
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from bot.config import Campaign, Phase
from domain import rules
from domain.credit import AuthorShare, credited_author
from handlers.reports import sheet_rows
from handlers.reports.documents import doc_text
from storage import org_tree, reports
from storage.models import COUNTED, Status
from storage.reports import BranchFigures, InitiativeRow, ReportFilter

DATE_FORMAT = "DD/MM/YYYY"
MONEY_FORMAT = "#,##0"
PERCENT_FORMAT = '0.0"%"'  # the figures are percentages already (66.7)


class Percent(float):
    """A share in percent, written with PERCENT_FORMAT."""


SUMMARY_TAIL = ("col_outside", "col_recognised_total", "col_quota_total", "col_percent", "col_waiting", "col_reported",
                "col_pending", "col_in_progress")  # fmt: skip


@dataclass(frozen=True)
class Column:
    header_key: str
    width: int
    value: Callable[[InitiativeRow], Any]
    number_format: str | None = None


def _authors(row: InitiativeRow) -> str:
    return "; ".join(f"{name} ({share}%)" for name, share, _, _ in row.authors)


def _credited(campaign: Campaign, row: InitiativeRow) -> str:
    if not row.authors:
        return ""
    shares = [AuthorShare(name, share, is_lead=lead, is_submitter=submitter and not row.values["entered_by"])
              for name, share, lead, submitter in row.authors]  # fmt: skip
    return row.authors[credited_author(shares, research=_is_research(campaign, row))][0]


def _is_research(campaign: Campaign, row: InitiativeRow) -> bool:
    kind = campaign.type_by_code(row.values["type_code"] or "")
    return bool(kind and kind.research)


def _type(campaign: Campaign, row: InitiativeRow) -> str:
    kind = campaign.type_by_code(row.values["type_code"] or "")
    return f"{kind.code} {kind.label}" if kind else ""


def _application(row: InitiativeRow) -> str:
    kind = row.values["application_kind"]
    return doc_text(f"application_{kind}") if kind else ""


def _recognition_body(row: InitiativeRow) -> str:
    kind = row.values["recognition_kind"]
    return doc_text(f"recognition_{kind}") if kind else ""


def _benefits(row: InitiativeRow) -> str:
    return "\n".join(filter(None, [row.values["economic_benefit"], row.values["social_benefit"]]))


def _portal(row: InitiativeRow) -> str:
    if row.values["status"] != Status.REPORTED:
        return doc_text("portal_not_entered")
    reference = row.values["portal_reference"]
    return doc_text("portal_entered") + (f" ({reference})" if reference else "")


def _local_date(value: dt.datetime | None, campaign: Campaign) -> dt.date | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(campaign.tz).date()


def initiative_columns(campaign: Campaign) -> list[Column]:
    def value(name: str) -> Callable[[InitiativeRow], Any]:
        return lambda row: row.values[name]

    def local(name: str) -> Callable[[InitiativeRow], Any]:
        return lambda row: _local_date(row.values[name], campaign)

    def decision(name: str) -> Callable[[InitiativeRow], Any]:
        """A decision's column, blank while the initiative waits for one (sent back and resubmitted, it
        keeps the earlier decision's row values, which no longer hold)."""
        return lambda row: None if row.values["status"] == Status.SUBMITTED else row.values[name]

    def counts_in(row: InitiativeRow) -> str:
        if row.values["status"] not in (Status.RECOGNISED, Status.REPORTED):
            return ""
        phase = campaign.phase_counting(row.values["recognition_date"])
        return phase.name if phase else doc_text("outside_phases")

    return [
        Column("col_code", 8, lambda row: row.id),
        Column("col_title", 40, value("title")),
        Column("col_type", 28, lambda row: _type(campaign, row)),
        Column("col_field", 20, value("field")),
        Column("col_branch", 30, value("branch")),
        Column("col_authors", 36, _authors),
        Column("col_credited", 22, lambda row: _credited(campaign, row)),
        Column("col_credited_branch", 30, value("credited_branch")),
        Column("col_first_applied", 14, value("first_applied_on"), DATE_FORMAT),
        Column("col_application", 14, _application),
        Column("col_place", 28, value("application_place")),
        Column("col_economic", 36, value("economic_benefit")),
        Column("col_amount", 16, value("economic_amount_vnd"), MONEY_FORMAT),
        Column("col_social", 36, value("social_benefit")),
        Column("col_recognised_by", 24, _recognition_body),
        Column("col_decision_no", 16, value("recognition_decision_no")),
        Column("col_decision_date", 14, value("recognition_date"), DATE_FORMAT),
        Column("col_counts_in", 16, counts_in),
        Column("col_status", 16, lambda row: doc_text(f"status_{row.values['status'].value}")),
        Column("col_submitted", 14, local("submitted_at"), DATE_FORMAT),
        Column("col_decided", 14, lambda row: _local_date(decision("decided_at")(row), campaign), DATE_FORMAT),
        Column("col_decided_by", 22, decision("decided_by")),
        Column("col_reason", 30, decision("decision_reason")),
        Column("col_entered_by", 22, lambda row: row.values["submitter"] if row.values["entered_by"] else None),
        Column("col_attachments", 10, lambda row: row.attachments),
        Column("col_portal", 18, _portal),
    ]


def portal_columns(campaign: Campaign) -> list[Column]:
    """The order of the national portal's entry form, so an officer can copy row by row."""

    def recognised(row: InitiativeRow) -> str:
        parts = [_recognition_body(row), row.values["recognition_decision_no"] or ""]
        if row.values["recognition_date"]:
            parts.append(rules.format_date(row.values["recognition_date"]))
        return ", ".join(p for p in parts if p)

    return [
        Column("col_title", 40, lambda row: row.values["title"]),
        Column("col_type_field", 34, lambda row: f"{_type(campaign, row)} / {row.values['field'] or ''}"),
        Column("col_summary", 60, lambda row: row.values["solution"]),
        Column("col_effect", 50, _benefits),
        Column("col_amount", 16, lambda row: row.values["economic_amount_vnd"], MONEY_FORMAT),
        Column("col_first_applied", 14, lambda row: row.values["first_applied_on"], DATE_FORMAT),
        Column("col_recognition", 36, recognised),
        Column("col_authors", 36, _authors),
    ]


class ReportWriter:
    """Writes the workbook row by row, each sheet in order (constant memory). Each method runs in a worker thread.

    Every value goes through `_write` (the summary) or `SheetRows` (the long sheets): text is always written
    as text (a member's "=HYPERLINK(…)" stays words); dates and amounts are numbers with their formats."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign = campaign
        self.folder = tempfile.TemporaryDirectory(prefix="sangkien-export-")
        self.path = Path(self.folder.name) / "report.xlsx"
        self.book = Workbook(str(self.path), {"constant_memory": True, "tmpdir": self.folder.name})
        self.formats: dict[tuple[str | None, str | None], Format] = {}
        self.header = self.book.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "text_wrap": True, "valign": "vcenter"}
        )
        # A long sheet, its number of columns and its part in the package (XlsxWriter numbers them in order).
        self.sheets: dict[str, tuple[Worksheet, int, str]] = {}
        self.rows_of: dict[str, sheet_rows.SheetRows] = {}

    def _format(self, number_format: str | None, style: str | None) -> Format | None:
        """`style`: "bold", "title" (bold, 13 pt) or None; one Format object per combination."""
        if number_format is None and style is None:
            return None
        key = (number_format, style)
        if key not in self.formats:
            properties: dict[str, Any] = {"num_format": number_format} if number_format else {}
            if style:
                properties |= {"bold": True} | ({"font_size": 13} if style == "title" else {})
            self.formats[key] = self.book.add_format(properties)
        return self.formats[key]

    def _write(self, sheet: Worksheet, row: int, col: int, value: Any, number_format: str | None = None,
               style: str | None = None) -> None:  # fmt: skip
        """An empty value leaves the cell out (nothing to see, less to write); dates get DD/MM/YYYY."""
        if value is None or value == "":
            return
        cell_format = self._format(number_format, style)
        if isinstance(value, str):
            sheet.write_string(row, col, value, cell_format)
        elif isinstance(value, dt.date):
            sheet.write_datetime(row, col, value, cell_format or self._format(DATE_FORMAT, None))
        elif isinstance(value, Percent):
            sheet.write_number(row, col, value, self._format(number_format or PERCENT_FORMAT, style))
        else:
            sheet.write_number(row, col, value, cell_format)

    def _line(self, sheet: Worksheet, row: int, values: list[Any], style: str | None = None) -> None:
        for col, value in enumerate(values):
            self._write(sheet, row, col, value, style=style)

    def summary(self, title_lines: list[str], targets: list[str], figures: list[BranchFigures],
                whole: list[BranchFigures], ranking_phase: Phase | None, signature: list[str]) -> None:  # fmt: skip
        """The ranking of `figures` (a unit's children, or the units side by side) and the total of `whole`
        (what sums to the scope: each initiative once, the units' own included)."""
        campaign = self.campaign
        sheet = self.book.add_worksheet(doc_text("sheet_summary"))
        headers = [doc_text("col_rank"), doc_text("col_branch_code"), doc_text("col_branch")]
        for phase in campaign.phases:
            headers += [
                doc_text("col_quota", phase=phase.name),
                doc_text("col_recognised", phase=phase.name),
                doc_text("col_phase_percent", phase=phase.name),
            ]  # what the ranking goes by
        headers += [doc_text(key) for key in SUMMARY_TAIL]
        for index, width in enumerate([9, 12, 36, *([13] * (len(headers) - 3))]):
            sheet.set_column(index, index, width)
        row = 0
        for number, line in enumerate(title_lines):
            self._write(sheet, row, 0, line, style="title" if number < 2 else None)
            row += 1
        row += 1
        for line in targets:
            self._write(sheet, row, 0, line)
            row += 1
        row += 1
        for col, title in enumerate(headers):
            sheet.write_string(row, col, title, self.header)
        # On a screen the header and the units' names stay in sight; on paper it fits the width, landscape,
        # with the header on every page.
        sheet.freeze_panes(row + 1, 3)
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(row)
        row += 1
        ranked = sorted(figures, key=lambda f: (-f.percent(ranking_phase), -f.recognised_total, f.code))
        for rank, branch in enumerate(ranked, start=1):
            self._line(sheet, row, [rank, branch.code, branch.name, *self._figures(branch)])
            row += 1
        totals = BranchFigures(code="", name=doc_text("total_row"))
        for branch in whole:
            for phase in campaign.phases:
                code = phase.code
                totals.quotas[code] = totals.quotas.get(code, 0) + branch.quotas.get(code, 0)
                totals.recognised[code] = totals.recognised.get(code, 0) + branch.recognised.get(code, 0)
            for name in ("outside", "waiting", "reported", "pending", "in_progress"):
                setattr(totals, name, getattr(totals, name) + getattr(branch, name))
        self._line(sheet, row, ["", "", totals.name, *self._figures(totals)], style="bold")
        self._write(sheet, row + 1, 2, doc_text("total_row_note"))
        row += 3
        for line in signature:
            self._write(sheet, row, 2, line, style="bold" if line.isupper() else None)
            row += 1

    def _figures(self, row: BranchFigures) -> list[Any]:
        values: list[Any] = []
        for phase in self.campaign.phases:
            values += [row.quotas.get(phase.code, 0), row.recognised.get(phase.code, 0), Percent(row.percent(phase))]
        return [*values, row.outside, row.recognised_total, row.quota_total, Percent(row.percent(None)), row.waiting,
                row.reported, row.pending, row.in_progress]  # fmt: skip

    def table(self, name: str, columns: list[Column]) -> None:
        """A long sheet: its header row here, its rows through `SheetRows` (see sheet_rows.py for why)."""
        sheet = self.book.add_worksheet(doc_text(name))
        for index, column in enumerate(columns):
            sheet.set_column(index, index, column.width)
        sheet.freeze_panes(1, 0)
        for col, column in enumerate(columns):
            sheet.write_string(0, col, doc_text(column.header_key), self.header)
        self.sheets[name] = (sheet, len(columns), f"xl/worksheets/sheet{len(self.book.worksheets())}.xml")
        cells = [(column.value, self._style(column.number_format)) for column in columns]
        self.rows_of[name] = sheet_rows.SheetRows(self.folder.name, cells)

    def _style(self, number_format: str | None) -> int | None:
        """The style index XlsxWriter gives the number format (it numbers a format when first used)."""
        cell_format = self._format(number_format, None)
        return cell_format._get_xf_index() if cell_format else None

    def rows(self, batch: list[InitiativeRow]) -> None:
        """A batch on the initiatives sheet, and those still to enter on the portal sheet (one read, both)."""
        self.rows_of["sheet_initiatives"].append(batch)
        self.rows_of["sheet_portal"].append(initiative for initiative in batch if reports.to_enter(initiative))

    def finish(self) -> bytes:
        for name, (sheet, width, _) in self.sheets.items():
            rows = self.rows_of[name]
            sheet.autofilter(0, 0, rows.count, width - 1)
            if rows.left_out:
                rows.note(doc_text("rows_left_out", count=rules.group_thousands(rows.left_out),
                                   limit=rules.group_thousands(sheet_rows.MAX_ROWS)))  # fmt: skip
        self.book.close()
        spliced = self.path.with_name("spliced.xlsx")
        sheet_rows.splice(self.path, {part: self.rows_of[name] for name, (_, _, part) in self.sheets.items()}, spliced)
        return spliced.read_bytes()

    def close(self) -> None:
        """The temporary files, whether or not the workbook was finished."""
        for rows in self.rows_of.values():
            rows.close()
        self.folder.cleanup()


@dataclass(frozen=True)
class ReportRequest:
    """What one workbook holds: picklable, so that it can be built in another process (bot/report_process)."""

    campaign: Campaign
    branch_ids: frozenset[int] | None  # None: the whole organisation
    report_filter: ReportFilter
    scope_name: str
    today: dt.date
    place: str


async def build(session: AsyncSession, request: ReportRequest) -> bytes:
    """The whole workbook: figures by SQL aggregates, initiatives streamed in batches, written off the loop."""
    campaign, report_filter, today = request.campaign, request.report_filter, request.today
    branch_ids = set(request.branch_ids) if request.branch_ids is not None else None
    figures = {f.branch_id: f for f in await reports.branch_figures(session, campaign, branch_ids, report_filter)}
    layout = org_tree.layout(figures, {unit: f.parent_id for unit, f in figures.items()})
    shown, whole = [figures[u] for u in layout.shown], [figures[u] for u in layout.whole]  # in code order
    ranking_phase = report_filter.phase or campaign.current_phase(today)
    writer = await asyncio.to_thread(ReportWriter, campaign)
    try:
        await asyncio.to_thread(writer.summary, _title_lines(campaign, report_filter, request.scope_name, today),
                                _target_lines(campaign, whole, report_filter), shown, whole, ranking_phase,
                                _signature(request.place, today))  # fmt: skip
        await asyncio.to_thread(writer.table, "sheet_initiatives", initiative_columns(campaign))
        await asyncio.to_thread(writer.table, "sheet_portal", portal_columns(campaign))
        async for batch in reports.initiative_rows(session, campaign, branch_ids, report_filter):
            await asyncio.to_thread(writer.rows, batch)
        return await asyncio.to_thread(writer.finish)
    finally:
        await asyncio.to_thread(writer.close)


def describe(report_filter: ReportFilter) -> str:
    parts = []
    if report_filter.phase:
        parts.append(report_filter.phase.name)
    if report_filter.status:
        parts.append(doc_text(f"status_{report_filter.status.value}"))
    if report_filter.date_from or report_filter.date_to:
        parts.append(f"{rules.format_date(report_filter.date_from)}–{rules.format_date(report_filter.date_to)}")
    return ", ".join(parts)


def _title_lines(campaign: Campaign, report_filter: ReportFilter, scope_name: str, today: dt.date) -> list[str]:
    period = describe(report_filter) or doc_text("report_whole")
    return [
        campaign.organisation.upper(),
        doc_text("report_title", campaign=campaign.name),
        doc_text("report_scope", scope=scope_name, period=period, made=rules.format_date(today)),
        doc_text("report_rule"),
    ]


def _target_lines(campaign: Campaign, figures: list[BranchFigures], report_filter: ReportFilter) -> list[str]:
    """Each phase's and the campaign's recognised against their targets; none where the filter keeps only
    initiatives not counted (a report of those waiting read «0/200 sáng kiến được công nhận»)."""
    if report_filter.status is not None and report_filter.status not in COUNTED:
        return [doc_text("report_status_only", status=doc_text(f"status_{report_filter.status.value}"))]
    lines = []
    total = 0
    for phase in campaign.phases:
        done = sum(f.recognised.get(phase.code, 0) for f in figures)
        total += done
        percent = round(100 * done / phase.target) if phase.target else 0
        start, end = rules.format_date(phase.counting_from), rules.format_date(phase.end)
        lines.append(doc_text("report_phase_line", phase=phase.name, start=start, end=end, done=done,
                              target=phase.target, percent=percent))  # fmt: skip
    outside = sum(f.outside for f in figures)
    if outside:
        lines.append(doc_text("report_outside_line", count=outside))
    total += outside
    percent = round(100 * total / campaign.total_target) if campaign.total_target else 0
    lines.append(doc_text("report_total_line", done=total, target=campaign.total_target, percent=percent))
    return lines


def _signature(place: str, today: dt.date) -> list[str]:
    dated = doc_text("report_place_date", place=place, day=today.day, month=today.month, year=today.year)
    return [dated, doc_text("report_signer_title"), doc_text("report_signer_hint"), "", "", doc_text("report_maker")]
