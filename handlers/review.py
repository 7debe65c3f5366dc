"""Branch chairs verify submissions ("Xác nhận hồ sơ"), send them back for changes or reject them (with a
reason); the card, its details, the queue and the history.

A chair verifies the dossier; recognition ("công nhận") is a council's or a unit head's decision, recorded
with it (handlers/recognition.py): verifying an initiative that already has its decision makes it
recognised, one without waits for it ("chờ công nhận").

Every press is re-authorised here against the stored roles and the initiative's current state, and nobody
decides on their own work; the decision itself is a conditional update (storage/decisions.py), so two chairs
pressing at once, a double tap or a stale button yield exactly one decision and a polite "already decided
by X at T" for the others. Everything sent to other people goes through the outbox, one notice per person.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

from bot.config import Campaign
from domain import rules
from domain.rules import InputError
from domain.text import shorten
from handlers import answers, notices, paperwork, recognition, review_links
from handlers.context import Context, esc
from handlers.events import WITHOUT_EDITS, EventKind, Option, OutgoingFile, Reply
from handlers.i18n import Catalog, records
from handlers.roles import (
    can_decide,
    can_review,
    can_view,
    chaired_branch_ids,
    is_admin,
    is_author,
    names,
    names_among,
    refuse,
)
from handlers.wizard_steps import STEPS, STEPS_BY_KEY, SUMMARY, applicable_steps
from storage import decisions, queries
from storage.models import COUNTED, ENTERED_FOR_MEMBERS, Initiative, Member, Status

log = logging.getLogger(__name__)
PENDING_SHOWN = 20  # review cards /pending sends at once, oldest first
DUPLICATES_NAMED = 5  # earlier initiatives a card names as possible duplicates; the rest are counted
FLOW = "review_reason"
VERIFY, CHANGES, REJECT = "a", "c", "r"
REASON_KEYS = (
    "reason_outside_window",
    "reason_not_recognised",
    "reason_no_benefit",
    "reason_duplicate",
    "reason_ip_protected",
    "reason_incomplete",
)
# What each decision offers (indexes into REASON_KEYS): changes the author can make, reasons to refuse.
# A date typed wrong or a decision not yet attached can be mended; a duplicate or a protected work cannot.
# Not being recognised yet is no reason to refuse: a verified initiative waits for its decision (recognition.py).
REASONS_FOR = {CHANGES: (1, 2, 5, 0), REJECT: (0, 3, 4, 2)}


# --- the review card -------------------------------------------------------------------------------


def _benefits(ctx: Context, initiative: Initiative) -> str:
    parts = []
    limit = answers.SUMMARY_TRUNCATE
    if initiative.economic_benefit:
        amount = f" ({rules.format_amount(initiative.economic_amount_vnd)})" if initiative.economic_amount_vnd else ""
        parts.append(ctx.t("card_economic", text=esc(shorten(initiative.economic_benefit, limit)), amount=amount))
    if initiative.social_benefit:
        parts.append(ctx.t("card_social", text=esc(shorten(initiative.social_benefit, limit))))
    return "\n".join(parts)


def review_link(ctx: Context, initiative: Initiative, member_id: int) -> str:
    """The chair's signed link to the review page, when the bot has a public web address and a secret."""
    config = ctx.config
    if not (config.public_url and config.link_secret):
        return ""
    return review_links.link(config.public_url, config.link_secret, initiative.id, member_id, ctx.now())


def decision_buttons(ctx: Context, initiative: Initiative) -> list[list[Option]]:
    payload = f"rv:{initiative.id}"
    return [
        [Option(ctx.t("btn_verify"), f"{payload}:{VERIFY}")],
        [Option(ctx.t("btn_changes"), f"{payload}:{CHANGES}"), Option(ctx.t("btn_reject"), f"{payload}:{REJECT}")],
    ]


def review_card(
    ctx: Context,
    initiative: Initiative,
    link: str = "",
    *,
    outcome: str = "",
    duplicates: list[int] | None = None,
) -> Reply:
    """The card a chair decides from. With `outcome` it is the card after the decision: the outcome in its
    header, no buttons."""
    kind = ctx.campaign.type_by_code(initiative.type_code or "")
    header = outcome or ctx.t("review_header_waiting", id=initiative.id)
    changed = initiative.resubmission_changes
    if changed is not None and not outcome:  # a resubmission says so at once, under its title: it is not new
        fields = ", ".join(ctx.t(STEPS_BY_KEY[key].label_key) for key in changed if key in STEPS_BY_KEY)
        header += "\n" + (ctx.t("review_changed", fields=fields) if fields else ctx.t("review_unchanged"))
    lines = [
        ctx.t(
            "review_card",
            header=header,
            title=esc(initiative.title),
            type=esc(f"{kind.code} {kind.label}" if kind else ""),
            member=esc(initiative.member.full_name),
            branch=esc(initiative.branch.name),
            authors=answers.authors_line(ctx, initiative),
            first_applied=rules.format_date(initiative.first_applied_on),
            benefits=_benefits(ctx, initiative),
            recognition=answers.recognition_line(ctx, initiative),
            attachments=len(initiative.attachments),
        )
    ]
    if initiative.entered_by is not None:
        lines.append(ctx.t("review_entered_by", name=esc(initiative.entered_by.full_name)))
    if duplicates:
        lines.append(duplicate_warning(ctx, duplicates))
    text = "\n\n".join(lines)
    if outcome:
        return Reply(text=text, ref=str(initiative.id))
    payload = f"rv:{initiative.id}"
    options = [
        *decision_buttons(ctx, initiative),
        [Option(ctx.t("btn_details"), f"{payload}:d"), Option(ctx.t("btn_forms"), f"{payload}:w")],
    ]
    if link:
        options.append([Option(ctx.t("btn_review_page"), url=link)])
    return Reply(text=text, options=tuple(tuple(row) for row in options), ref=str(initiative.id))


def duplicate_warning(ctx: Context, duplicates: list[int], key: str = "review_duplicate") -> str:
    """«⚠️ Có thể trùng với sáng kiến #…», on the chair's card and on the review page (and, worded for its
    author by `key`, on the summary before sending)."""
    ids = ", ".join(f"#{number}" for number in duplicates[:DUPLICATES_NAMED])
    if len(duplicates) > DUPLICATES_NAMED:  # the earliest, the one most likely copied; a card stays a card
        ids = ctx.t("review_duplicate_more", ids=ids, count=len(duplicates) - DUPLICATES_NAMED)
    return ctx.t(key, ids=ids)


async def reviewer_ids(ctx: Context, initiative: Initiative) -> set[int]:
    """The chairs of the initiative's branch who may verify it: not its authors (nor the officer who entered
    it: they know it), nor a chair it names (roles.names: his card's buttons would all refuse him)."""
    authors = {initiative.member_id, *(a.member_id for a in initiative.authors if a.member_id)}
    chair_ids = await queries.branch_chair_ids(ctx.session, initiative.branch_id) - authors
    return {m.id for m in await queries.members_by_id(ctx.session, chair_ids) if not names(initiative, m)}


async def notify_chairs(ctx: Context, initiative: Initiative) -> int:
    """Send the review card to each chair of the initiative's branch who is not one of its authors (one
    account each); returns how many."""
    await queries.retire_review_messages(ctx.session, initiative.id)
    duplicates = await queries.possible_duplicates(ctx.session, initiative)
    identities = await queries.preferred_identities(ctx.session, await reviewer_ids(ctx, initiative))
    for member_id, identity in identities.items():
        there = ctx.elsewhere(identity)  # the card in the chair's language
        card = review_card(there, initiative, review_link(ctx, initiative, member_id), duplicates=duplicates)
        ctx.notify(identity.platform, identity.chat_id, card, purpose="review_request", initiative_id=initiative.id,
                   language=there.t.language)  # fmt: skip
    return len(identities)


def snapshot(ctx: Context, initiative: Initiative) -> dict[str, str]:
    """The answers as displayed, to tell chairs what changed when a member resubmits: worded as the records
    are, whichever language the member used at each submission."""
    worded = ctx.in_records_language()
    snap = {step.key: answers.display_value(worded, initiative, step, full=True) for step in STEPS}
    return {key: value for key, value in snap.items() if value != worded.t("none")}


def changed_steps(
    ctx: Context, initiative: Initiative, before: dict[str, str] | None, after: dict[str, str]
) -> list[str] | None:
    """The keys of the steps whose answers changed since the last submission (each card names them in its
    reader's language); None when the last submission's answers are unknown."""
    if not before:
        return None
    steps = applicable_steps(initiative, ctx.campaign)
    return [step.key for step in steps if before.get(step.key) != after.get(step.key)]


# --- button presses and commands -------------------------------------------------------------------


def local_time(ctx: Context, value: dt.datetime) -> str:
    """A stored time in the campaign's timezone (SQLite hands back naive UTC)."""
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(ctx.campaign.tz).strftime("%H:%M %d/%m/%Y")


async def load(ctx: Context, raw_id: str) -> Initiative | None:
    number = rules.parse_id(raw_id)
    return await queries.initiative_by_id(ctx.session, number) if number is not None else None


async def handle_option(ctx: Context) -> None:
    """rv:<id>:<a|c|r|d|w|n> (card buttons; n = no decision after all) and rr:<id>:<c|r>:<reason index>."""
    parts = ctx.event.payload.split(":")
    initiative = await load(ctx, parts[1]) if len(parts) >= 3 else None
    if initiative is None or not can_review(ctx, initiative):
        # An initiative that does not exist and one the person may not review look the same.
        refuse(ctx, initiative, ctx.event.payload)
        return
    action = parts[2]
    index = rules.parse_id(parts[3]) if len(parts) == 4 else None
    # Any preset is taken (a button sent before the offer per decision changed still works).
    if parts[0] == "rr" and action in (CHANGES, REJECT) and index is not None and index < len(REASON_KEYS):
        ctx.set_flow(None)
        await decide(ctx, initiative, action, reason_text(records(), ctx.campaign, index))
    elif parts[0] == "rv" and action == VERIFY:
        await decide(ctx, initiative, action, None)
    elif parts[0] == "rv" and action in (CHANGES, REJECT):
        await _ask_reason(ctx, initiative, action)
    elif parts[0] == "rv" and action == "d":
        details(ctx, initiative)
    elif parts[0] == "rv" and action == "w":
        await paperwork.send_forms(ctx, initiative)
        ctx.keep_origin()
    elif parts[0] == "rv" and action == "n":
        undecided(ctx, initiative)
    else:
        refuse(ctx, initiative, ctx.event.payload)


async def reason_dropped(ctx: Context, raw_id: str) -> None:
    """The reason's question left (/cancel): no decision after all, as its «↩️ Chưa quyết định» button says."""
    initiative = await load(ctx, raw_id)
    if initiative is not None and can_review(ctx, initiative) and initiative.status == Status.SUBMITTED:
        undecided(ctx, initiative)
    else:
        ctx.say(ctx.t("review_reason_cancelled", id=esc(raw_id)), menu=True)


def undecided(ctx: Context, initiative: Initiative) -> None:
    """No decision after all: said, with the decision buttons again (the card's were marked as pressed)."""
    ctx.set_flow(None)
    ctx.say(ctx.t("review_reason_cancelled", id=initiative.id), decision_buttons(ctx, initiative))


def reason_text(t: Catalog, campaign: Campaign, index: int) -> str:
    """A preset reason, in the catalog's language (the chat's buttons and the review page share them)."""
    return t(REASON_KEYS[index], start=rules.format_date(campaign.eligible_from),
             end=rules.format_date(campaign.eligible_until))  # fmt: skip


def shown_reason(t: Catalog, campaign: Campaign, reason: str) -> str:
    """A decision's reason in the reader's language: a preset is stored as the records word it
    (`i18n.records`); a typed reason is shown as typed."""
    for index in range(len(REASON_KEYS)):
        if reason == reason_text(records(), campaign, index):
            return reason_text(t, campaign, index)
    return reason


async def _ask_reason(ctx: Context, initiative: Initiative, action: str) -> None:
    if initiative.status != Status.SUBMITTED:
        already_decided(ctx, initiative)
        return
    if not can_decide(ctx, initiative):
        refuse(ctx, initiative, ctx.event.payload, "review_own_work")
        return
    ctx.set_flow(FLOW, initiative=initiative.id, action=action)
    # The buttons carry a short name (a phone cuts a long label); the author receives the whole reason.
    rows = [[Option(ctx.t(REASON_KEYS[i].replace("reason_", "reason_button_", 1)), f"rr:{initiative.id}:{action}:{i}")]
            for i in REASONS_FOR[action]]  # fmt: skip
    rows.append([Option(ctx.t("btn_reason_cancel"), f"rv:{initiative.id}:n")])
    prompt = "review_ask_reason_changes" if action == CHANGES else "review_ask_reason_reject"
    ctx.say(ctx.t(prompt, id=initiative.id, title=esc(initiative.title)), rows)


async def handle_reason_text(ctx: Context) -> None:
    """Free text while a chair is asked for a reason."""
    data = ctx.identity.flow_data
    initiative = await queries.initiative_by_id(ctx.session, rules.parse_id(str(data.get("initiative", ""))) or 0)
    if initiative is None or not can_review(ctx, initiative):
        ctx.set_flow(None)
        refuse(ctx, initiative, "reason text")
        return
    if ctx.event.kind is not EventKind.TEXT:
        ctx.say(ctx.t("err_text_expected"))
        return
    if rules.declines(ctx.event.text):  # "không", "thôi": the chair changed his mind, not the author's reason
        undecided(ctx, initiative)
        return
    try:
        reason = rules.clean_text(ctx.event.text, min_len=3, max_len=1000)
    except InputError as error:
        ctx.say("⚠️ " + ctx.t(error.key, **error.params))
        return
    ctx.set_flow(None)
    await decide(ctx, initiative, data.get("action", REJECT), reason)


def already_decided(ctx: Context, initiative: Initiative) -> None:
    """Say who decided the initiative and when (or that it is not waiting for a decision). A button pressed
    for it did nothing: its message is not marked as answered with it (an old reason's button read as sent)."""
    ctx.press_not_taken()
    if initiative.decided_at is not None and initiative.status != Status.SUBMITTED:
        who = initiative.decided_by.full_name if initiative.decided_by else "?"
        # recognised: by its council's decision; the chair only verified the file («✅ Đã công nhận bởi Hà» misled)
        key = "review_already_recognised" if initiative.status in COUNTED else "review_already_decided"
        ctx.say(
            ctx.t(
                key,
                id=initiative.id,
                status=ctx.t(f"status_{initiative.status.value}"),
                who=esc(who),
                when=local_time(ctx, initiative.decided_at),
                recognition=answers.recognition_line(ctx, initiative),
            )
        )
    else:
        ctx.say(ctx.t("review_not_waiting", id=initiative.id, status=ctx.t(f"status_{initiative.status.value}")))


def outcome_status(initiative: Initiative, action: str) -> Status:
    if action == VERIFY:
        return Status.RECOGNISED if recognition.is_recorded(initiative) else Status.VERIFIED
    return Status.CHANGES_REQUESTED if action == CHANGES else Status.REJECTED


async def decide(ctx: Context, initiative: Initiative, action: str, reason: str | None) -> None:
    assert ctx.member is not None
    if ctx.identity.flow == FLOW:  # another card decided while a reason was asked: that question is left
        ctx.set_flow(None)
    if initiative.status == Status.SUBMITTED and not can_decide(ctx, initiative):
        refuse(ctx, initiative, f"decision on own work #{initiative.id}", "review_own_work")
        return
    new_status = outcome_status(initiative, action)
    reopen_at = SUMMARY if new_status == Status.CHANGES_REQUESTED else None
    now = ctx.now()
    if not await decisions.decide(ctx.session, initiative.id, new_status, ctx.member, reason, now, reopen_at):
        await ctx.session.refresh(initiative)
        if initiative.decided_by_member_id is not None:
            initiative.decided_by = await ctx.session.get(Member, initiative.decided_by_member_id)
        already_decided(ctx, initiative)
        return
    when = local_time(ctx, now)
    chair = esc(ctx.member.full_name)
    # Every chair holding the card sees why, as the author does, and the chair who decided what was sent.
    why = "\n" + ctx.t("review_outcome_reason", reason=esc(shown_reason(ctx.t, ctx.campaign, reason))) if reason else ""
    outcome = ctx.t(f"review_outcome_{new_status.value}", id=initiative.id, who=chair, when=when) + why
    decided_card = review_card(ctx, initiative, outcome=outcome)
    told: set[tuple[str, str]] = set()  # a chat without edits is told once (a card shown twice posted it twice)
    for message in await queries.review_messages(ctx.session, initiative.id):
        chat = (message.platform, message.chat_id)
        if message.platform in WITHOUT_EDITS and chat in told:
            continue
        told.add(chat)
        ctx.notify(message.platform, message.chat_id, decided_card, purpose="review_edit",
                   initiative_id=initiative.id, edit_of_id=message.id)  # fmt: skip
    await queries.retire_review_messages(ctx.session, initiative.id)
    notice = functools.partial(_member_notice, initiative=initiative, status=new_status, chair=chair, when=when,
                               reason=reason)  # fmt: skip
    await notices.notify_authors(ctx, initiative, notice, purpose="decision")
    offer = []
    done = f"review_done_{new_status.value}"
    if new_status == Status.VERIFIED:
        offer = [[recognition.button(ctx, initiative.id)]]
    elif new_status == Status.CHANGES_REQUESTED and initiative.entered_by_member_id is not None:
        # entered for members: whoever typed it mends it (the authors may not use the bot), the decider too
        if initiative.member_id == ctx.member.id:
            done = "review_done_changes_own_entry"
            offer = [[Option(ctx.t("btn_fix_and_resubmit"), f"d:r:{initiative.id}")]]
        else:
            done = "review_done_changes_entry"
    # Without a button to offer, the menu comes along, its waiting count one fewer (a message has one keyboard);
    # with one, the menu's count is left as it was, so a chair is told here what still waits.
    ctx.say(ctx.t(done, id=initiative.id, title=esc(initiative.title), writer=esc(initiative.member.full_name))
            + why + await _still_waiting(ctx), offer, menu=not offer)  # fmt: skip


async def _still_waiting(ctx: Context) -> str:
    """«📥 Còn 2 sáng kiến chờ đồng chí xác nhận.» for a chair (the count his menu shows); nothing for an admin."""
    chaired = chaired_branch_ids(ctx)
    if is_admin(ctx) or not chaired:
        return ""
    count = len(await waiting_for(ctx, chaired))
    return "\n" + (ctx.t("review_still_waiting", count=count) if count else ctx.t("review_none_waiting"))


def _member_notice(
    ctx: Context, initiative: Initiative, status: Status, chair: str, when: str, reason: str | None
) -> Reply:
    params = {"id": initiative.id, "title": esc(initiative.title), "who": chair, "when": when,
              "reason": esc(shown_reason(ctx.t, ctx.campaign, reason or ""))}  # fmt: skip
    ref = str(initiative.id)
    if status == Status.RECOGNISED:
        return Reply(text=ctx.t("notify_recognised", portal=esc(ctx.campaign.portal_url),
                                recognition=answers.recognition_line(ctx, initiative), **params),
                     options=((paperwork.portal_button(ctx, initiative.id),),), ref=ref)  # fmt: skip
    if status == Status.VERIFIED:
        return Reply(text=ctx.t("notify_verified", **params), options=((recognition.button(ctx, initiative.id),),),
                     ref=ref)  # fmt: skip
    if status == Status.CHANGES_REQUESTED and ctx.identity.member_id != initiative.member_id:
        # a co-author: the one who sent it mends it (its draft is not his: a button to mend it would refuse him)
        return Reply(text=ctx.t("notify_changes_coauthor", sender=esc(initiative.member.full_name), **params), ref=ref)
    if status == Status.CHANGES_REQUESTED:
        return Reply(
            text=ctx.t("notify_changes", **params),
            options=((Option(ctx.t("btn_fix_and_resubmit"), f"d:r:{initiative.id}"),),),
            ref=ref,
        )
    return Reply(text=ctx.t("notify_rejected", **params))


def details(ctx: Context, initiative: Initiative) -> None:
    """Every answer, the decision buttons again (the card keeps its own), and the attachments."""
    lines = [ctx.t("details_title", id=initiative.id, status=ctx.t(f"status_{initiative.status.value}"))]
    for step in applicable_steps(initiative, ctx.campaign):  # not numbered: on Zalo, numbers answer the options
        value = answers.display_value(ctx, initiative, step, full=True)
        lines.append(answers.field_line(ctx.t(step.label_key), value))
    files = list(zip(initiative.attachments, answers.attachment_names(ctx, initiative), strict=True))
    here = ctx.identity.platform
    if elsewhere := [name for attachment, name in files if attachment.platform != here]:
        # a file id is the platform's own: a photo sent on Telegram cannot be sent on Zalo
        note = ctx.t("details_files_elsewhere", names=esc(", ".join(elsewhere)), here=here.capitalize())
        if ctx.member is not None and review_link(ctx, initiative, ctx.member.id) and not is_author(ctx, initiative):
            note += " " + ctx.t("details_files_on_page")
        lines.append(note)
    buttons = decision_buttons(ctx, initiative) if initiative.status == Status.SUBMITTED else []
    if initiative.status == Status.SUBMITTED and is_author(ctx, initiative):
        buttons = []
    ctx.say("\n".join(lines), buttons)
    ctx.keep_origin()
    for attachment, name in files:
        if attachment.platform == here:
            ctx.replies.append(Reply(text=esc(name), file=OutgoingFile(attachment.file_id, attachment.kind)))


async def waiting_for(ctx: Context, branch_ids: set[int] | None) -> list[int]:
    """The initiatives of these branches (all: None) waiting for verification that this officer may decide
    (none that names him), oldest first: what /pending lists and the chair's menu counts."""
    assert ctx.member is not None
    member = ctx.member
    waiting = await queries.pending_authorship(ctx.session, branch_ids)
    return [w.initiative_id for w in waiting if not names_among(member, w.submitter_id, w.entered_by_id, w.authors)]


async def pending(ctx: Context) -> None:
    """`/pending`: the queue of the branches this person chairs (every branch for an admin)."""
    branch_ids = None if is_admin(ctx) else chaired_branch_ids(ctx)
    if branch_ids is not None and not branch_ids:
        refuse(ctx, None, "/pending", "officer_only")
        return
    assert ctx.member is not None
    decidable = await waiting_for(ctx, branch_ids)
    if not decidable:
        ctx.say(ctx.t("pending_empty"), menu=True)  # the menu's count said otherwise: it is told again
        return
    items = await queries.initiatives_for_review(ctx.session, decidable[:PENDING_SHOWN])
    shown = ctx.t("pending_shown", shown=len(items)) if len(decidable) > len(items) else ""
    # The title goes through the outbox too, so that it arrives before the cards.
    # With the menu, whose count then says what the title says.
    from handlers import menus  # here, not at the top: the menu counts with waiting_for, below

    title = Reply(text=ctx.t("pending_title", count=len(decidable), shown=shown), menu=await menus.labels(ctx),
                  commands=menus.role(ctx))  # fmt: skip
    ctx.notify(ctx.identity.platform, ctx.identity.chat_id, title)
    for initiative in items:
        ctx.notify(
            ctx.identity.platform,
            ctx.identity.chat_id,
            review_card(ctx, initiative, link=review_link(ctx, initiative, ctx.member.id)),
            purpose="review_request",
            initiative_id=initiative.id,
        )


HISTORY_PAYLOAD = "hi:"  # hi:<id>: the history button of a member's list of submissions


async def history(ctx: Context) -> None:
    """`/history <id>`, or its button: the audit trail, for the author, the branch's chairs and admins."""
    typed = ctx.event.args if ctx.event.kind is EventKind.COMMAND else ctx.event.payload.removeprefix(HISTORY_PAYLOAD)
    if ctx.event.kind is EventKind.OPTION:  # a list's button: the list keeps its other buttons
        ctx.keep_origin()
    raw = typed.strip().lstrip("#")
    number = rules.parse_id(raw)
    if number is None:
        ctx.say(ctx.t("history_usage"))
        return
    initiative = await load(ctx, raw)
    if initiative is None or not can_view(ctx, initiative):
        refuse(ctx, initiative, f"/history {number}")
        return
    lines = [ctx.t("history_title", id=initiative.id, title=esc(initiative.title or ctx.t("untitled")))]
    officer = can_review(ctx, initiative)
    for event, actor in await queries.audit_trail(ctx.session, initiative.id):
        if event.action == "refused" and not officer:  # someone's refused press: the officers' concern, and an
            continue  # author read «… bị từ chối» as their initiative refused
        change = ""
        if event.to_status:
            before = f"{ctx.t(f'status_{event.from_status}')} → " if event.from_status else ""
            change = f": {before}{ctx.t(f'status_{event.to_status}')}"
        shown = shown_reason(ctx.t, ctx.campaign, event.reason or "")
        if event.reason == ENTERED_FOR_MEMBERS or shown.startswith("entered for the members of branch"):
            shown = ctx.t("history_entered_for_members")
        reason = f" — «{esc(shown)}»" if event.reason and event.action != "refused" else ""
        lines.append(
            ctx.t("history_line", when=local_time(ctx, event.created_at), who=esc(actor or "?"),
                  action=ctx.t(f"action_{event.action}"), change=change, reason=reason)
        )  # fmt: skip
    ctx.say("\n".join(lines))
