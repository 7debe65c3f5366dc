"""Branch chairs review submissions: approve, request changes, reject (with a reason), details, queue, history.

Every press is re-authorised here against the stored roles and the initiative's current state; the
decision itself is a conditional update (queries.decide), so two chairs pressing at once, a double tap
or a stale button yield exactly one decision and a polite "already decided by X at T" for the others.
Everything sent to other people goes through the outbox.
"""

from __future__ import annotations

import datetime as dt
import logging

from handlers import answers, paperwork, review_links, rules
from handlers.context import Context, esc
from handlers.events import EventKind, Option, OutgoingFile, Reply
from handlers.roles import can_review, can_view, chaired_branch_ids, is_admin, refuse
from handlers.rules import InputError
from handlers.wizard_steps import STEPS, SUMMARY, applicable_steps
from storage import queries
from storage.models import AuditEvent, Initiative, Member, Status

log = logging.getLogger(__name__)
FLOW = "review_reason"
RECOGNITION_FLOW = "review_recognition"
RECOGNITION_KINDS = {"gc": "council", "gh": "head"}
DECISIONS = {"a": Status.APPROVED, "c": Status.CHANGES_REQUESTED, "r": Status.REJECTED}
REASON_KEYS = (
    "reason_outside_window",
    "reason_not_recognised",
    "reason_no_benefit",
    "reason_duplicate",
    "reason_ip_protected",
    "reason_incomplete",
)


# --- the review card -------------------------------------------------------------------------------


def _benefits(ctx: Context, initiative: Initiative) -> str:
    parts = []
    if initiative.economic_benefit:
        amount = f" ({rules.format_amount(initiative.economic_amount_vnd)})" if initiative.economic_amount_vnd else ""
        parts.append(ctx.t("card_economic", text=esc(answers.shorten(initiative.economic_benefit)), amount=amount))
    if initiative.social_benefit:
        parts.append(ctx.t("card_social", text=esc(answers.shorten(initiative.social_benefit))))
    return "\n".join(parts)


def review_link(ctx: Context, initiative: Initiative, member_id: int) -> str:
    """The chair's signed link to the review page, when the bot has a public web address and a secret."""
    config = ctx.config
    if not (config.public_url and config.link_secret):
        return ""
    return review_links.link(config.public_url, config.link_secret, initiative.id, member_id, ctx.now())


def review_card(ctx: Context, initiative: Initiative, changed: list[str] | None = None, link: str = "") -> Reply:
    kind = ctx.campaign.type_by_code(initiative.type_code or "")
    text = ctx.t(
        "review_card",
        id=initiative.id,
        title=esc(initiative.title),
        type=esc(f"{kind.code} {kind.label}" if kind else ""),
        member=esc(initiative.member.full_name),
        branch=esc(initiative.branch.name),
        authors=", ".join(f"{esc(a.full_name)} ({a.share_percent}%)" for a in initiative.authors),
        first_applied=rules.format_date(initiative.first_applied_on),
        benefits=_benefits(ctx, initiative),
        attachments=len(initiative.attachments),
    )
    if changed:
        text += "\n\n" + ctx.t("review_changed", fields=", ".join(changed))
    payload = f"rv:{initiative.id}"
    options = (
        (Option(ctx.t("btn_approve"), f"{payload}:a"), Option(ctx.t("btn_changes"), f"{payload}:c")),
        (Option(ctx.t("btn_reject"), f"{payload}:r"), Option(ctx.t("btn_details"), f"{payload}:d")),
        (Option(ctx.t("btn_forms"), f"{payload}:w"),),
        *(((Option(ctx.t("btn_review_page"), url=link),),) if link else ()),
    )
    return Reply(text=text, options=options, ref=str(initiative.id))


async def notify_chairs(ctx: Context, initiative: Initiative, changed: list[str] | None = None) -> int:
    """Send the review card to every chair of the initiative's branch; returns how many accounts."""
    await queries.retire_review_messages(ctx.session, initiative.id)
    chairs = await queries.branch_chair_identities(ctx.session, initiative.branch_id)
    for identity in chairs:
        assert identity.member_id is not None
        card = review_card(ctx, initiative, changed, review_link(ctx, initiative, identity.member_id))
        ctx.notify(identity.platform, identity.chat_id, card, purpose="review_request", initiative_id=initiative.id)
    return len(chairs)


def snapshot(ctx: Context, initiative: Initiative) -> dict[str, str]:
    """The answers as displayed, to tell chairs what changed when a member resubmits."""
    snap = {step.key: answers.display_value(ctx, initiative, step, full=True) for step in STEPS}
    return {key: value for key, value in snap.items() if value != ctx.t("none")}


def changed_fields(
    ctx: Context, initiative: Initiative, before: dict[str, str] | None, after: dict[str, str]
) -> list[str]:
    if not before:
        return []
    steps = applicable_steps(initiative, ctx.campaign)
    return [ctx.t(step.label_key) for step in steps if before.get(step.key) != after.get(step.key)]


# --- button presses and commands -------------------------------------------------------------------


def local_time(ctx: Context, value: dt.datetime) -> str:
    """A stored time in the campaign's timezone (SQLite hands back naive UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(ctx.campaign.tz).strftime("%H:%M %d/%m/%Y")


async def _load(ctx: Context, raw_id: str) -> Initiative | None:
    number = rules.parse_id(raw_id)
    return await queries.initiative_by_id(ctx.session, number) if number is not None else None


async def handle_option(ctx: Context) -> None:
    """rv:<id>:<a|c|r|d|n> (card buttons, n = cancel the reason) and rr:<id>:<c|r>:<reason index>."""
    parts = ctx.event.payload.split(":")
    initiative = await _load(ctx, parts[1]) if len(parts) >= 3 else None
    if initiative is None or not can_review(ctx, initiative):
        # An initiative that does not exist and one the person may not review look the same.
        refuse(ctx, initiative, ctx.event.payload)
        return
    action = parts[2]
    if parts[0] == "rr" and action in ("c", "r") and len(parts) == 4 and rules.parse_id(parts[3]) is not None:
        index = rules.parse_id(parts[3]) or 0
        if index < len(REASON_KEYS):
            ctx.set_flow(None)
            await decide(ctx, initiative, action, ctx.t(REASON_KEYS[index]))
            return
    elif parts[0] == "rv" and action == "a":
        await decide(ctx, initiative, action, None)
        return
    elif parts[0] == "rv" and action in ("c", "r"):
        await _ask_reason(ctx, initiative, action)
        return
    elif parts[0] == "rv" and action == "d":
        _details(ctx, initiative)
        return
    elif parts[0] == "rv" and action == "w":
        ctx.replies.extend(await paperwork.form_replies(ctx, initiative))
        return
    elif parts[0] == "rv" and action == "g":
        _ask_recognition_kind(ctx, initiative)
        return
    elif parts[0] == "rv" and action in RECOGNITION_KINDS and initiative.status == Status.APPROVED:
        ctx.set_flow(RECOGNITION_FLOW, initiative=initiative.id, kind=RECOGNITION_KINDS[action])
        ctx.say(ctx.t("recognition_ask_decision", id=initiative.id))
        return
    elif parts[0] == "rv" and action == "n":
        ctx.set_flow(None)
        ctx.say(ctx.t("review_reason_cancelled", id=initiative.id))
        return
    refuse(ctx, initiative, ctx.event.payload)


async def _ask_reason(ctx: Context, initiative: Initiative, action: str) -> None:
    if initiative.status != Status.SUBMITTED:
        already_decided(ctx, initiative)
        return
    ctx.set_flow(FLOW, initiative=initiative.id, action=action)
    rows = [[Option(ctx.t(key), f"rr:{initiative.id}:{action}:{i}")] for i, key in enumerate(REASON_KEYS)]
    rows.append([Option(ctx.t("btn_reason_cancel"), f"rv:{initiative.id}:n")])
    prompt = "review_ask_reason_changes" if action == "c" else "review_ask_reason_reject"
    ctx.say(ctx.t(prompt, id=initiative.id, title=esc(initiative.title)), rows)


async def handle_reason_text(ctx: Context) -> None:
    """Free text while a chair is asked for a reason."""
    data = ctx.identity.flow_data
    initiative = await queries.initiative_by_id(ctx.session, int(data.get("initiative", 0)))
    if initiative is None or not can_review(ctx, initiative):
        ctx.set_flow(None)
        refuse(ctx, None, "reason text")
        return
    if ctx.event.kind is not EventKind.TEXT:
        ctx.say(ctx.t("err_text_expected"))
        return
    try:
        reason = rules.clean_text(ctx.event.text, min_len=3, max_len=1000)
    except InputError as error:
        ctx.say("⚠️ " + ctx.t(error.key, **error.params))
        return
    ctx.set_flow(None)
    await decide(ctx, initiative, data.get("action", "r"), reason)


def already_decided(ctx: Context, initiative: Initiative) -> None:
    """Say who decided the initiative and when (or that it is not waiting for a decision)."""
    if initiative.decided_at is not None and initiative.status != Status.SUBMITTED:
        who = initiative.decided_by.full_name if initiative.decided_by else "?"
        ctx.say(
            ctx.t(
                "review_already_decided",
                id=initiative.id,
                status=ctx.t(f"status_{initiative.status.value}"),
                who=esc(who),
                when=local_time(ctx, initiative.decided_at),
            )
        )
    else:
        ctx.say(ctx.t("review_not_waiting", id=initiative.id, status=ctx.t(f"status_{initiative.status.value}")))


async def decide(ctx: Context, initiative: Initiative, action: str, reason: str | None) -> None:
    assert ctx.member is not None
    new_status = DECISIONS[action]
    reopen_at = SUMMARY if new_status == Status.CHANGES_REQUESTED else None
    now = ctx.now()
    if not await queries.decide(ctx.session, initiative.id, new_status, ctx.member, reason, now, reopen_at):
        await ctx.session.refresh(initiative)
        if initiative.decided_by_member_id is not None:
            initiative.decided_by = await ctx.session.get(Member, initiative.decided_by_member_id)
        already_decided(ctx, initiative)
        return
    when = local_time(ctx, now)
    chair = esc(ctx.member.full_name)
    title = esc(initiative.title)
    outcome = ctx.t(f"review_outcome_{new_status.value}", who=chair, when=when)
    for message in await queries.review_messages(ctx.session, initiative.id):
        original = Reply.from_json(message.payload)
        ctx.notify(
            message.platform,
            message.chat_id,
            Reply(text=f"{original.text}\n\n{outcome}", ref=str(initiative.id)),
            purpose="review_edit",
            initiative_id=initiative.id,
            edit_of_id=message.id,
        )
    await queries.retire_review_messages(ctx.session, initiative.id)
    notice = _member_notice(ctx, initiative, new_status, chair, when, reason)
    for identity in await queries.member_identities(ctx.session, initiative.member_id):
        ctx.notify(identity.platform, identity.chat_id, notice, purpose="decision", initiative_id=initiative.id)
    offer = []
    if new_status == Status.APPROVED and initiative.recognition_kind is None:
        offer = [[Option(ctx.t("btn_add_recognition"), f"rv:{initiative.id}:g")]]
    ctx.say(ctx.t(f"review_done_{new_status.value}", id=initiative.id, title=title), offer)


def _ask_recognition_kind(ctx: Context, initiative: Initiative) -> None:
    if initiative.status != Status.APPROVED:
        ctx.say(ctx.t("review_not_waiting", id=initiative.id, status=ctx.t(f"status_{initiative.status.value}")))
        return
    rows = [
        [Option(ctx.t("choice_recognised_council"), f"rv:{initiative.id}:gc")],
        [Option(ctx.t("choice_recognised_head"), f"rv:{initiative.id}:gh")],
    ]
    ctx.say(ctx.t("recognition_ask_kind", id=initiative.id), rows)


async def handle_recognition_text(ctx: Context) -> None:
    """The decision number and date a chair adds to an approved initiative ("45/QĐ-CĐCS 15/03/2022")."""
    data = ctx.identity.flow_data
    initiative = await queries.initiative_by_id(ctx.session, int(data.get("initiative", 0)))
    if initiative is None or not can_review(ctx, initiative) or initiative.status != Status.APPROVED:
        ctx.set_flow(None)
        refuse(ctx, None, "recognition text")
        return
    number, _, date_text = " ".join(ctx.event.text.split()).rpartition(" ")
    try:
        if not number:
            raise InputError("recognition_format")
        date = rules.parse_date(date_text)
        rules.check_recognition_date(date, ctx.campaign.eligible_from, ctx.today())
        number = rules.clean_text(number, min_len=1, max_len=100)
    except InputError as error:
        params = {"start": rules.format_date(ctx.campaign.eligible_from), "date": date_text, **error.params}
        ctx.say("⚠️ " + ctx.t(error.key, **params) + "\n" + ctx.t("recognition_ask_decision", id=initiative.id))
        return
    initiative.recognition_kind = data.get("kind", "council")
    initiative.recognition_decision_no = number
    initiative.recognition_date = date
    assert ctx.member is not None
    ctx.session.add(
        AuditEvent(initiative_id=initiative.id, actor_member_id=ctx.member.id, action="recognition_added",
                   reason=f"{number} {rules.format_date(date)}")
    )  # fmt: skip
    ctx.set_flow(None)
    ctx.say(ctx.t("recognition_saved", id=initiative.id, number=esc(number), date=rules.format_date(date)))


def _member_notice(
    ctx: Context, initiative: Initiative, status: Status, chair: str, when: str, reason: str | None
) -> Reply:
    params = {
        "id": initiative.id,
        "title": esc(initiative.title),
        "who": chair,
        "when": when,
        "reason": esc(reason or ""),
    }
    if status == Status.APPROVED:
        return Reply(
            text=ctx.t("notify_approved", portal=esc(ctx.campaign.portal_url), **params),
            options=((paperwork.portal_button(ctx, initiative.id),),),
            ref=str(initiative.id),
        )
    if status == Status.CHANGES_REQUESTED:
        return Reply(
            text=ctx.t("notify_changes", **params),
            options=((Option(ctx.t("btn_fix_and_resubmit"), f"d:r:{initiative.id}"),),),
            ref=str(initiative.id),
        )
    return Reply(text=ctx.t("notify_rejected", **params))


def _details(ctx: Context, initiative: Initiative) -> None:
    lines = [ctx.t("details_title", id=initiative.id, status=ctx.t(f"status_{initiative.status.value}"))]
    for number, step in enumerate(applicable_steps(initiative, ctx.campaign), start=1):
        value = answers.display_value(ctx, initiative, step, full=True)
        lines.append(f"{number}. <b>{ctx.t(step.label_key)}</b>: {value}")
    ctx.say("\n".join(lines))
    for attachment in initiative.attachments:
        if attachment.platform == ctx.identity.platform:
            caption = esc(attachment.file_name or ctx.t(f"file_kind_{attachment.kind}"))
            ctx.replies.append(Reply(text=caption, file=OutgoingFile(attachment.file_id, attachment.kind)))


async def pending(ctx: Context) -> None:
    """`/pending`: the queue of the branches this person chairs (every branch for an admin)."""
    branch_ids = None if is_admin(ctx) else chaired_branch_ids(ctx)
    if branch_ids is not None and not branch_ids:
        refuse(ctx, None, "/pending")
        return
    items = await queries.pending_reviews(ctx.session, branch_ids)
    if not items:
        ctx.say(ctx.t("pending_empty"))
        return
    # The title goes through the outbox too, so that it arrives before the cards.
    ctx.notify(ctx.identity.platform, ctx.identity.chat_id, Reply(text=ctx.t("pending_title", count=len(items))))
    assert ctx.member is not None
    for initiative in items:
        ctx.notify(
            ctx.identity.platform,
            ctx.identity.chat_id,
            review_card(ctx, initiative, link=review_link(ctx, initiative, ctx.member.id)),
            purpose="review_request",
            initiative_id=initiative.id,
        )


async def history(ctx: Context) -> None:
    """`/history <id>`: the audit trail, for the author, the branch's chairs and admins."""
    raw = ctx.event.args.strip().lstrip("#")
    number = rules.parse_id(raw)
    if number is None:
        ctx.say(ctx.t("history_usage"))
        return
    initiative = await _load(ctx, raw)
    if initiative is None or not can_view(ctx, initiative):
        refuse(ctx, initiative, f"/history {number}")
        return
    lines = [ctx.t("history_title", id=initiative.id, title=esc(initiative.title or ctx.t("untitled")))]
    for event, actor in await queries.audit_trail(ctx.session, initiative.id):
        change = ""
        if event.to_status:
            before = ctx.t(f"status_{event.from_status}") if event.from_status else "∅"
            change = f": {before} → {ctx.t(f'status_{event.to_status}')}"
        reason = f" — «{esc(event.reason)}»" if event.reason and event.action != "refused" else ""
        lines.append(
            ctx.t("history_line", when=local_time(ctx, event.created_at), who=esc(actor or "?"),
                  action=ctx.t(f"action_{event.action}"), change=change, reason=reason)
        )  # fmt: skip
    ctx.say("\n".join(lines))
