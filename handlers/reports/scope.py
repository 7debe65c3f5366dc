"""What a report covers: filters people type (`/export p1 approved 1/3/2022-31/5/2022`), phase attribution."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.config import Campaign, Phase
from handlers import rules
from handlers.rules import InputError
from storage.models import Initiative, Status

COUNTED = (Status.APPROVED, Status.REPORTED)


@dataclass(frozen=True)
class ReportFilter:
    phase: Phase | None = None
    status: Status | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def describe(self) -> str:
        parts = []
        if self.phase:
            parts.append(self.phase.name)
        if self.status:
            parts.append(self.status.value)
        if self.date_from or self.date_to:
            parts.append(f"{rules.format_date(self.date_from)}–{rules.format_date(self.date_to)}")
        return ", ".join(parts)


def parse_filter(text: str, campaign: Campaign) -> ReportFilter:
    """Words in any order: a phase code (p1), a status (approved), a date range (1/3/2022-31/5/2022)."""
    phase = status = None
    date_from = date_to = None
    statuses = {s.value: s for s in Status if s != Status.DRAFT}
    for word in text.split():
        lowered = word.lower()
        if any(p.code == lowered for p in campaign.phases):
            phase = next(p for p in campaign.phases if p.code == lowered)
        elif lowered in statuses:
            status = statuses[lowered]
        elif "-" in word and word.count("/") >= 2:
            start, _, end = word.partition("-")
            date_from, date_to = rules.parse_date(start), rules.parse_date(end)
        else:
            raise InputError("export_filter_unknown", {"word": word[:40]})
    return ReportFilter(phase, status, date_from, date_to)


def local_date(value: dt.datetime | None, campaign: Campaign) -> dt.date | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(campaign.tz).date()


def approval_phase(initiative: Initiative, campaign: Campaign) -> Phase | None:
    """The phase an approved initiative counts in: the one containing its approval date (plan, section II)."""
    if initiative.status not in COUNTED:
        return None
    approved_on = local_date(initiative.decided_at, campaign)
    return next((p for p in campaign.phases if approved_on and p.start <= approved_on <= p.end), None)


def matches(initiative: Initiative, report_filter: ReportFilter, campaign: Campaign) -> bool:
    if report_filter.status and initiative.status != report_filter.status:
        return False
    if report_filter.phase and approval_phase(initiative, campaign) != report_filter.phase:
        return False
    submitted = local_date(initiative.submitted_at, campaign)
    if report_filter.date_from and (submitted is None or submitted < report_filter.date_from):
        return False
    return not (report_filter.date_to and (submitted is None or submitted > report_filter.date_to))
