"""Whom an initiative is credited to (plan IV.2.5): "công nhận cho chủ nhiệm đề tài hoặc tác giả, thành
viên đề tài có tỷ lệ đóng góp cao nhất". It counts for that author's branch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class AuthorShare:
    full_name: str
    share_percent: int
    branch_code: str = ""
    is_lead: bool = False
    is_submitter: bool = False


def credited_author(authors: Sequence[AuthorShare], *, research: bool = False) -> int:
    """The credited author's position: the project leader of a research topic; otherwise the highest share
    — on a tie the submitter, else the first listed."""
    if research:
        lead = next((index for index, a in enumerate(authors) if a.is_lead), None)
        if lead is not None:
            return lead
    top = max(a.share_percent for a in authors)
    tied = [index for index, a in enumerate(authors) if a.share_percent == top]
    return next((index for index in tied if authors[index].is_submitter), tied[0])
