"""What a report covers: the filters people type (`/export p1 đã công nhận 1/3/2022-31/5/2022`)."""

from __future__ import annotations

import re

from bot.config import Campaign
from domain import rules
from domain.rules import InputError
from domain.text import fold
from storage.models import Status
from storage.reports import ReportFilter

# Status words as people type them (accents optional), and the internal names.
STATUS_WORDS = {
    "cho xac nhan": Status.SUBMITTED, "submitted": Status.SUBMITTED,
    "can bo sung": Status.CHANGES_REQUESTED, "changes requested": Status.CHANGES_REQUESTED,
    "tu choi": Status.REJECTED, "bi tu choi": Status.REJECTED, "rejected": Status.REJECTED,
    "cho cong nhan": Status.VERIFIED, "da xac nhan": Status.VERIFIED, "verified": Status.VERIFIED,
    "da cong nhan": Status.RECOGNISED, "cong nhan": Status.RECOGNISED, "recognised": Status.RECOGNISED,
    "da nhap cong": Status.REPORTED, "nhap cong": Status.REPORTED, "reported": Status.REPORTED,
}  # fmt: skip
_RANGE = re.compile(r"(\S+/\S+/\S+)\s*[-–]\s*(\S+/\S+/\S+)")


def parse_filter(text: str, campaign: Campaign) -> ReportFilter:
    """Words in any order: a phase code (p1), a status in words ("đã công nhận", "chờ xác nhận"…), a period
    (1/3/2022-31/5/2022)."""
    phase = status = None
    date_from = date_to = None
    period = _RANGE.search(text)
    if period:
        date_from, date_to = rules.parse_date(period.group(1)), rules.parse_date(period.group(2))
        if date_from > date_to:  # an empty report that looks signable: said, with the order that works
            raise InputError("export_period_reversed", {"start": rules.format_date(date_from),
                                                        "end": rules.format_date(date_to)})  # fmt: skip
        text = text[: period.start()] + " " + text[period.end() :]
    rest = fold(text)
    for words in sorted(STATUS_WORDS, key=len, reverse=True):
        if re.search(rf"(?<!\w){re.escape(words)}(?!\w)", rest):
            status = STATUS_WORDS[words]
            rest = re.sub(rf"(?<!\w){re.escape(words)}(?!\w)", " ", rest)
            break
    for word in rest.split():
        found = next((p for p in campaign.phases if fold(p.code) == word), None)
        if found is None:  # said as typed («chưa», not its folded «chua»)
            typed = next((w for w in text.split() if fold(w) == word), word)
            raise InputError("export_filter_unknown", {"word": typed[:40]})
        phase = found
    return ReportFilter(phase, status, date_from, date_to)
