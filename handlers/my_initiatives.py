"""A member's own initiatives: start a new one, list drafts (resume / delete), list submissions."""

from __future__ import annotations

from domain.rules import parse_id
from domain.text import shorten
from handlers import paperwork, review, wizard
from handlers.context import Context, esc
from handlers.events import ROW_CHARS, Option, two_a_row
from handlers.notices import author_ids
from storage import queries
from storage.models import Initiative, Status


def _title(ctx: Context, title: str | None) -> str:
    return title or ctx.t("untitled")


async def new(ctx: Context) -> None:
    """`/new`: with drafts in progress, offer to continue one first (a new draft is one tap away)."""
    assert ctx.member is not None
    if ctx.member.branch_id is None:
        ctx.say(ctx.t("admin_needs_branch"))
        return
    drafts = list(await queries.member_drafts(ctx.session, ctx.member.id))
    if not drafts:
        await wizard.start_new(ctx)
        return
    shown = drafts[:3]  # whole in the text; on a button, what a phone's row shows whole (a cut one was cut again)
    lines = [ctx.t("new_has_drafts", count=len(drafts))]
    lines += [ctx.t("new_draft_line", id=d.id, title=esc(_title(ctx, d.title))) for d in shown]
    rows = [[Option(_resume_label(ctx, d), f"d:r:{d.id}")] for d in shown]
    rows.append([Option(ctx.t("btn_new_anyway"), "d:new")])
    ctx.say("\n".join(lines), rows)


def _resume_label(ctx: Context, draft: Initiative) -> str:
    """«▶️ Tiếp tục #17 Sổ tay điện…»: its title cut to what a phone's row shows whole."""
    bare = ctx.t("btn_resume", id=draft.id, title="")
    return bare + shorten(_title(ctx, draft.title), max(ROW_CHARS - len(bare), 8))


async def list_drafts(ctx: Context) -> None:
    assert ctx.member is not None
    drafts = await queries.member_drafts(ctx.session, ctx.member.id)
    if not drafts:
        ctx.say(ctx.t("drafts_empty"), [[Option(ctx.t("btn_new_anyway"), "d:new")]])
        return
    lines = [ctx.t("drafts_title", count=len(drafts))]
    rows: list[list[Option]] = []
    for draft in drafts[:20]:
        updated = draft.updated_at.astimezone(ctx.campaign.tz) if draft.updated_at.tzinfo else draft.updated_at
        lines.append(
            ctx.t(
                "drafts_line",
                id=draft.id,
                title=esc(_title(ctx, draft.title)),
                updated=updated.strftime("%d/%m %H:%M"),
            )
        )
        if draft.status == Status.CHANGES_REQUESTED:  # sent, and sent back: mended and sent again, never deleted
            lines.append(_asked_for(ctx, draft))
            rows.append([_fix_button(ctx, draft)])
            continue
        rows.append(
            [
                Option(ctx.t("btn_resume", id=draft.id, title="").strip(), f"d:r:{draft.id}"),
                Option(ctx.t("btn_delete", id=draft.id), f"d:del:{draft.id}"),
            ]
        )
    ctx.say("\n".join(lines), rows)


def _asked_for(ctx: Context, initiative: Initiative, key: str = "drafts_changes_asked") -> str:
    """ "✏️ Cần bổ sung: «reason»", under an initiative sent back for changes (in /mine, whose line above
    already says «✏️ Cần bổ sung», `mine_changes_reason`: «Lý do: …»)."""
    reason = review.shown_reason(ctx.t, ctx.campaign, initiative.decision_reason or "")
    return ctx.t(key, reason=esc(shorten(reason, 120)))


def _fix_button(ctx: Context, initiative: Initiative) -> Option:
    return Option(ctx.t("btn_fix_and_resubmit_id", id=initiative.id), f"d:r:{initiative.id}")


RECENT_WITH_BUTTONS = 3


async def list_submissions(ctx: Context) -> None:
    """`/mine`: what the member submitted (or entered for others), and what they are co-author of."""
    assert ctx.member is not None
    items = list(await queries.member_submissions(ctx.session, ctx.member.id))
    coauthored = await queries.member_coauthored(ctx.session, ctx.member.id)
    if not items and not coauthored:
        ctx.say(ctx.t("mine_empty"), menu=True)
        return
    lines = [ctx.t("mine_title", count=len(items))] if items else []
    for item in items[:30]:
        submitted = item.submitted_at.strftime("%d/%m/%Y") if item.submitted_at else ""
        lines.append(ctx.t("mine_line", id=item.id, title=esc(_title(ctx, item.title)),
                           status=ctx.t(f"status_{item.status.value}"), submitted=submitted))  # fmt: skip
        if item.status == Status.CHANGES_REQUESTED:
            lines.append(_asked_for(ctx, item, "mine_changes_reason"))
    rows: list[list[Option]] = []
    for item in items[:RECENT_WITH_BUTTONS]:  # the latest: their history, and their dossier to complete
        row = [Option(ctx.t("btn_history_of", id=item.id), f"{review.HISTORY_PAYLOAD}{item.id}")]
        if item.status == Status.CHANGES_REQUESTED:
            row.insert(0, _fix_button(ctx, item))
        elif paperwork.may_complete(ctx.member.id, item):
            row.append(Option(ctx.t("btn_dossier_of", id=item.id), f"ds:go:{item.id}"))
        rows += two_a_row(row)
    if len(items) > RECENT_WITH_BUTTONS:
        lines.append(ctx.t("mine_history_hint"))
    if coauthored:
        lines += ["", ctx.t("mine_coauthored_title", count=len(coauthored))]
        for initiative, author in coauthored[:30]:
            status = ctx.t(f"status_{initiative.status.value}")
            lines.append(ctx.t("mine_coauthored_line", id=initiative.id, title=esc(_title(ctx, initiative.title)),
                               share=author.share_percent, status=status))  # fmt: skip
            if author.confirmed is None:
                rows += two_a_row(
                    [
                        Option(ctx.t("btn_coauthor_yes_id", id=initiative.id), f"ca:{author.id}:y"),
                        Option(ctx.t("btn_coauthor_no_id", id=initiative.id), f"ca:{author.id}:n"),
                    ]
                )
    waiting = [i for i in items if i.status == Status.VERIFIED]
    if waiting:
        lines += ["", ctx.t("mine_waiting_recognition", count=len(waiting))]
    ctx.say("\n".join(lines), rows)


async def _not_editable(ctx: Context, initiative_id: int) -> None:
    """Gone, sent, or another member's: a co-author who pressed «Sửa và gửi lại» (an older notice gave him one)
    is told who mends it."""
    assert ctx.member is not None
    initiative = await queries.initiative_by_id(ctx.session, initiative_id) if initiative_id else None
    if initiative is not None and initiative.member_id != ctx.member.id and ctx.member.id in author_ids(initiative):
        ctx.say(ctx.t("err_mended_by_sender", id=initiative.id, sender=esc(initiative.member.full_name)), menu=True)
    else:
        ctx.say(ctx.t("err_draft_gone"), menu=True)


async def handle_option(ctx: Context) -> None:
    """Buttons of the lists above: d:new, d:r:<id> (resume), d:del:<id>, d:delok:<id>."""
    assert ctx.member is not None
    parts = ctx.event.payload.split(":")
    action = parts[1] if len(parts) > 1 else ""
    if action == "new":
        await new(ctx) if ctx.member.branch_id is None else await wizard.start_new(ctx)
        return
    if action == "keep":
        ctx.say(ctx.t("draft_kept"), menu=True)
        return
    draft_id = (parse_id(parts[2]) if len(parts) > 2 else None) or 0
    draft = await queries.member_initiative(ctx.session, ctx.member.id, draft_id)
    if draft is None or draft.status not in queries.EDITABLE:
        await _not_editable(ctx, draft_id)
        return
    if action == "r":
        await wizard.open_draft(ctx, draft)
    elif draft.status != Status.DRAFT:  # sent back for changes: it was sent, it stays (the audit, the chair)
        ctx.press_not_taken()
        ctx.say(ctx.t("err_sent_back_kept", id=draft.id), [[_fix_button(ctx, draft)]])
    elif action == "del":
        ctx.say(
            ctx.t("draft_delete_confirm", id=draft.id, title=esc(_title(ctx, draft.title))),
            [
                [  # the safe choice first: on Zalo «1», typed from habit, keeps it
                    Option(ctx.t("btn_delete_no"), "d:keep"),
                    Option(ctx.t("btn_delete_yes"), f"d:delok:{draft.id}"),
                ]
            ],
        )
    elif action == "delok":
        if ctx.identity.flow == wizard.FLOW and ctx.identity.flow_data.get("draft") == draft.id:
            ctx.set_flow(None)
        await queries.delete_draft(ctx.session, draft, ctx.member)
        ctx.say(ctx.t("draft_deleted", id=draft.id), menu=True)
