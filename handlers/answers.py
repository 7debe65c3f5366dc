"""How stored answers read to people: the summary, the review card, the details. No I/O."""

from __future__ import annotations

from handlers import rules
from handlers.context import Context, esc
from handlers.wizard_steps import STORED_VALUE, Kind, Step
from storage.models import Initiative

SUMMARY_TRUNCATE = 120


def choices(ctx: Context, step: Step) -> list[tuple[str, str]]:
    if step.key == "type":
        return [(kind.code, f"{kind.code} {kind.label}") for kind in ctx.campaign.types]
    return [(value, ctx.t(label_key)) for value, label_key in step.choices]


def shorten(text: str) -> str:
    return text if len(text) <= SUMMARY_TRUNCATE else text[: SUMMARY_TRUNCATE - 1].rstrip() + "…"


def authors_text(ctx: Context, draft: Initiative) -> str:
    lines = [f"{esc(a.full_name)} ({a.share_percent}%)" for a in draft.authors]
    if len(draft.authors) > 1:
        credited = rules.credited_author([rules.AuthorShare(a.full_name, a.share_percent) for a in draft.authors])
        lines.append(ctx.t("credited_author", name=esc(credited.full_name)))
    return "\n".join(lines)


def display_value(ctx: Context, draft: Initiative, step: Step, *, full: bool = False) -> str:
    """How a step's stored answer reads in the summary (escaped; shortened unless `full`)."""
    if step.kind is Kind.AUTHORS:
        return authors_text(ctx, draft)
    if step.kind is Kind.FILES:
        names = [esc(a.file_name or ctx.t(f"file_kind_{a.kind}")) for a in draft.attachments]
        return ", ".join(names) if names else ctx.t("none")
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
        return esc(next((label for v, label in choices(ctx, step) if v == chosen), str(chosen)))
    return esc(str(value) if full else shorten(str(value)))
