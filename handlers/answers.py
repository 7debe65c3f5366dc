"""How stored answers read to people: the summary, the review card, the details. No I/O."""

from __future__ import annotations

from domain import rules
from domain.text import own_lines, shorten
from handlers.context import Context, esc
from handlers.wizard_steps import RESEARCH_RECOGNITION, STORED_VALUE, Kind, Step
from handlers.wizard_steps import is_research as steps_is_research
from storage import queries
from storage.models import Author, Initiative

SUMMARY_TRUNCATE = 120


def choices(ctx: Context, initiative: Initiative, step: Step, *, buttons: bool = False) -> list[tuple[str, str]]:
    """A CHOICE or LEAD step's (value, label) pairs for this initiative (for its `buttons`: a type's short name)."""
    if step.key == "type":
        return [(kind.code, f"{kind.code} {kind.button if buttons and kind.button else kind.label}")
                for kind in ctx.campaign.types]  # fmt: skip
    if step.key == "recognition_kind" and is_research(ctx, initiative):
        return [(value, ctx.t(key)) for value, key in RESEARCH_RECOGNITION]
    if step.kind is Kind.LEAD:
        return [(str(index), a.full_name) for index, a in enumerate(initiative.authors)]
    return [(value, ctx.t(label_key)) for value, label_key in step.choices]


def is_research(ctx: Context, initiative: Initiative) -> bool:
    return steps_is_research(initiative, ctx.campaign)


def _author(ctx: Context, author: Author, initiative: Initiative) -> str:
    """ "Trần Văn Bình (30%, CĐCS X)", the branch when it is not the initiative's, ✔ a registered member."""
    parts = [f"{author.share_percent}%"]
    if author.is_lead:
        parts.append(ctx.t("author_lead"))
    if author.branch is not None and author.branch_id != initiative.branch_id:
        parts.append(esc(author.branch.name))
    if author.confirmed is False:  # named, and said it is not theirs: the chair reads it before deciding
        parts.append(ctx.t("author_declined"))
    # A registered co-author (not the submitter: his own name needs no mark) who has not said it is not his.
    mark = " ✔" if author.member_id not in (None, initiative.member_id) and author.confirmed is not False else ""
    return f"{esc(author.full_name)}{mark} ({', '.join(parts)})"


def authors_text(ctx: Context, initiative: Initiative) -> str:
    """One author a line, and who is credited (plan IV.2.5) when there are several."""
    lines = [_author(ctx, a, initiative) for a in initiative.authors]
    credited = queries.credited(initiative, research=is_research(ctx, initiative))
    if credited is not None and len(initiative.authors) > 1:
        key = "credited_lead" if credited.is_lead and is_research(ctx, initiative) else "credited_author"
        lines.append(ctx.t(key, name=esc(credited.full_name)))
    return "\n".join(lines)


def authors_line(ctx: Context, initiative: Initiative) -> str:
    """The authors on one line, the credited one starred (the review card)."""
    credited = queries.credited(initiative, research=is_research(ctx, initiative))
    return ", ".join(("⭐ " if a is credited and len(initiative.authors) > 1 else "") + _author(ctx, a, initiative)
                     for a in initiative.authors)  # fmt: skip


def recognition_line(ctx: Context, initiative: Initiative) -> str:
    """ "Hội đồng sáng kiến, QĐ 45/QĐ-CĐCS ngày 15/03/2022", or that it is not recognised yet."""
    if initiative.recognition_kind is None or initiative.recognition_date is None:
        return ctx.t("recognition_none")
    return ctx.t("recognition_line", body=ctx.t(f"choice_recognised_{initiative.recognition_kind}"),
                 number=esc(initiative.recognition_decision_no or "—"),
                 date=rules.format_date(initiative.recognition_date))  # fmt: skip


def attachment_names(ctx: Context, initiative: Initiative) -> list[str]:
    """ "bao-cao.pdf", "Ảnh 2" — a file without a name by its kind and number."""
    names, counts = [], {}
    for attachment in initiative.attachments:
        counts[attachment.kind] = counts.get(attachment.kind, 0) + 1
        kind_name = ctx.t(f"file_kind_{attachment.kind}").capitalize()
        names.append(attachment.file_name or f"{kind_name} {counts[attachment.kind]}")
    return names


def field_line(label: str, value: str) -> str:
    """«<b>Tên sáng kiến</b>: …» in a chat's list of answers."""
    return f"<b>{label}</b>: {own_lines(value)}"


def display_value(ctx: Context, draft: Initiative, step: Step, *, full: bool = False) -> str:
    """How a step's stored answer reads in the summary (escaped; shortened unless `full`)."""
    if step.kind is Kind.AUTHORS:
        return authors_text(ctx, draft)
    if step.kind is Kind.LEAD:
        lead = next((a for a in draft.authors if a.is_lead), None)
        return esc(lead.full_name) if lead else ctx.t("none")
    if step.kind is Kind.FILES:
        names = [esc(name) for name in attachment_names(ctx, draft)]
        return ", ".join(names) if names else ctx.t("none")
    if step.kind is Kind.DECISION:
        if draft.recognition_decision_no is None:
            return ctx.t("none")
        return f"{esc(draft.recognition_decision_no)} — {rules.format_date(draft.recognition_date)}"
    value = getattr(draft, step.attr)
    if value is None:
        return ctx.t("none")
    if step.kind is Kind.DATE:
        return rules.format_date(value)
    if step.kind is Kind.AMOUNT:
        return rules.format_amount(value)
    if step.kind is Kind.CHOICE:
        stored_to_value = {v: k for k, v in STORED_VALUE.get(step.key, {}).items()}
        chosen = stored_to_value.get(value, value)
        return esc(next((label for v, label in choices(ctx, draft, step) if v == chosen), str(chosen)))
    return esc(str(value) if full else shorten(str(value), SUMMARY_TRUNCATE))
