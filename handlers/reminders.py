"""What each scheduled reminder sends (queued in the outbox; bot/scheduler.py decides when it runs).

digest: each linked group its progress. countdown: linked groups, N days before a phase ends.
idle_drafts: members whose draft has not moved, with a Continue button. pending_reviews: chairs with
initiatives waiting too long. Nothing is sent during quiet hours: it is queued for their end.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config, Phase, Reminder
from domain import rules
from handlers import groups
from handlers.context import esc
from handlers.events import Option, Reply
from handlers.i18n import catalog
from handlers.roles import names_among
from storage import queries
from storage.campaigns import CampaignBook
from storage.models import ChatGroup

ADMIN_NUDGE_UNITS = 8  # units named in an admin's nudge, by code (then «…»)


def deliver_at(now: dt.datetime, config: Config) -> dt.datetime:
    """When a message queued now may go out: at once, or at the end of the quiet hours."""
    settings = config.settings
    return rules.after_quiet_hours(now, config.campaign.tz, settings.quiet_start, settings.quiet_end)


def period_to_send(reminder: Reminder, missed: list[dt.datetime], config: Config, book: CampaignBook) -> dt.datetime:
    """Of the periods missed while the bot was down (oldest first), the one to send: for a countdown the
    latest that fell on a countdown day (its message counts the days left from today); for the others,
    which report the state now, the latest."""
    if reminder.kind == "countdown":
        counting = [due for due in missed if _countdown_phases(config, book, reminder, due)]
        if counting:
            return counting[-1]
    return missed[-1]


def _countdown_phases(config: Config, book: CampaignBook, reminder: Reminder, due: dt.datetime) -> list[Phase]:
    """The phases (of every campaign) that end a countdown number of days after the period's day."""
    due_day = due.astimezone(config.campaign.tz).date()
    phases = [phase for campaign in book.campaigns for phase in campaign.phases]
    return [phase for phase in phases if (phase.end - due_day).days in reminder.days_before_end]


async def run(
    session: AsyncSession, config: Config, book: CampaignBook, reminder: Reminder, due: dt.datetime, now: dt.datetime
) -> int:
    """Queue this period's messages; returns how many."""
    at = deliver_at(now, config)
    if reminder.kind == "digest":
        return await _group_messages(session, config, book, now, at, "digest_title", {}, purpose="digest")
    if reminder.kind == "countdown":
        return await _countdown(session, config, book, reminder, due, now, at)
    if reminder.kind == "idle_drafts":
        return await _idle_drafts(session, config, reminder, now, at)
    return await _pending_reviews(session, config, reminder, now, at)


async def group_reply(
    session: AsyncSession,
    config: Config,
    book: CampaignBook,
    now: dt.datetime,
    group: ChatGroup,
    title_key: str,
    **params: object,
) -> Reply:
    """A titled message with the group's progress in the current campaign (its unit's, or the province's)."""
    t = catalog(config.settings.language)
    today = now.astimezone(config.campaign.tz).date()
    digest = await groups.group_digest(session, t, book.default(today), today, group)
    return Reply(text=t(title_key, **params) + "\n\n" + digest + groups.how_to_ask(t, group.platform))


async def _group_messages(
    session: AsyncSession,
    config: Config,
    book: CampaignBook,
    now: dt.datetime,
    at: dt.datetime,
    title_key: str,
    params: dict[str, object],
    *,
    purpose: str,
) -> int:
    sent = 0
    for group in await queries.linked_groups(session):
        reply = await group_reply(session, config, book, now, group, title_key, **params)
        queries.queue_message(session, group.platform, group.chat_id, reply.to_json(), purpose=purpose, at=at)
        sent += 1
    return sent


async def _countdown(
    session: AsyncSession,
    config: Config,
    book: CampaignBook,
    reminder: Reminder,
    due: dt.datetime,
    now: dt.datetime,
    at: dt.datetime,
) -> int:
    """On the days the reminder names (counted from its due date), tell the groups how many days are left."""
    today = now.astimezone(config.campaign.tz).date()
    sent = 0
    for phase in _countdown_phases(config, book, reminder, due):
        if today <= phase.end:
            params = {"days": (phase.end - today).days, "phase": phase.name, "end": phase.end.strftime("%d/%m/%Y")}
            sent += await _group_messages(session, config, book, now, at, "countdown_title", params,
                                          purpose="countdown")  # fmt: skip
    return sent


async def _idle_drafts(
    session: AsyncSession, config: Config, reminder: Reminder, now: dt.datetime, at: dt.datetime
) -> int:
    drafts = await queries.idle_drafts(session, now - dt.timedelta(days=reminder.after_days))
    identities = await queries.reachable_identities(session, {d.member_id for d in drafts})
    sent = 0
    for draft in drafts:
        for identity in (i for i in identities if i.member_id == draft.member_id):
            t = catalog(identity.language)
            reply = Reply(
                text=t("nudge_draft", id=draft.id, title=esc(draft.title or t("untitled")), days=reminder.after_days),
                options=((Option(t("btn_continue"), f"d:r:{draft.id}"),),),
                ref=str(draft.id),
            )
            queries.queue_message(session, identity.platform, identity.chat_id, reply.to_json(),
                                  purpose="draft_nudge", at=at, initiative_id=draft.id)  # fmt: skip
            sent += 1
    return sent


async def _pending_reviews(
    session: AsyncSession, config: Config, reminder: Reminder, now: dt.datetime, at: dt.datetime
) -> int:
    """Each chair: how many wait for him. Each admin: those no chair may decide (a unit without a chair on the
    bot, or whose chairs it names), which only an admin can verify, with their units' codes."""
    waiting = await queries.pending_authorship(session, None, now - dt.timedelta(days=reminder.after_days))
    if not waiting:
        return 0
    by_branch: dict[int, list[queries.PendingAuthorship]] = {}
    for initiative in waiting:
        by_branch.setdefault(initiative.branch_id, []).append(initiative)
    chairs = await queries.chairs_of(session, set(by_branch))
    counts = {}  # what /pending lists for each chair: nothing that names him (handlers/roles.names)
    decidable: set[int] = set()
    for chair in await queries.members_by_id(session, set(chairs)):
        mine = [w for branch_id in chairs[chair.id] for w in by_branch[branch_id]]
        theirs = [w.initiative_id for w in mine if not names_among(chair, w.submitter_id, w.entered_by_id, w.authors)]
        counts[chair.id] = len(theirs)
        decidable.update(theirs)
    messages = []  # one account each: the one used last (one person, one notice)
    nudged_chairs = await queries.preferred_identities(session, {member for member, n in counts.items() if n})
    for member_id, identity in nudged_chairs.items():
        t = catalog(identity.language)
        messages.append((identity, t("nudge_reviews", count=counts[member_id], days=reminder.after_days)))
    unattended = [w for w in waiting if w.initiative_id not in decidable]
    codes = {b.id: b.code for b in await queries.branches_by_id(session, {w.branch_id for w in unattended})}
    admins = await queries.members_by_id(session, await queries.admin_member_ids(session, config.admins))
    accounts = await queries.preferred_identities(session, {admin.id for admin in admins} if unattended else set())
    for admin in admins:
        theirs = [w for w in unattended if not names_among(admin, w.submitter_id, w.entered_by_id, w.authors)]
        if not theirs or admin.id not in accounts:
            continue
        per_unit = Counter(codes[w.branch_id] for w in theirs)
        units = ", ".join(f"{code} ({count})" for code, count in sorted(per_unit.items())[:ADMIN_NUDGE_UNITS])
        units += ", …" if len(per_unit) > ADMIN_NUDGE_UNITS else ""
        t = catalog(accounts[admin.id].language)
        text = t("nudge_reviews_admin", count=len(theirs), days=reminder.after_days, units=units)
        messages.append((accounts[admin.id], text))
    for identity, text in messages:
        queries.queue_message(session, identity.platform, identity.chat_id, Reply(text=text).to_json(),
                              purpose="review_nudge", at=at)  # fmt: skip
    return len(messages)
