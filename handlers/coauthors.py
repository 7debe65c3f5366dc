"""A registered member named as co-author answers "is this yours?" (ca:<author row>:y|n). A confirmed
co-author sees the initiative in /mine and is told of its decisions; one who says no stays listed by name,
marked as saying it is not theirs, and the person who submitted it is told, and while it waits, its chairs."""

from __future__ import annotations

from domain import rules
from handlers import notices, review
from handlers.context import Context, esc
from handlers.events import Reply
from handlers.roles import refuse
from storage import queries
from storage.models import COUNTED, AuditEvent, Author, Initiative, Status


async def handle_option(ctx: Context) -> None:
    parts = ctx.event.payload.split(":")
    author_id = rules.parse_id(parts[1]) if len(parts) == 3 else None
    author = await ctx.session.get(Author, author_id) if author_id is not None else None
    if author is None or ctx.member is None or author.member_id != ctx.member.id or parts[2] not in ("y", "n"):
        refuse(ctx, None, ctx.event.payload)
        return
    initiative = await queries.initiative_by_id(ctx.session, author.initiative_id)  # its authors, for its reviewers
    assert initiative is not None
    if author.confirmed is not None:
        ctx.say(ctx.t("coauthor_already", id=initiative.id))
        return
    yes = parts[2] == "y"
    author.confirmed = yes
    if yes and initiative.status not in COUNTED:
        queries.copy_profile(author, ctx.member)  # their details, for the council's form
    if not yes:
        author.member_id = None
    ctx.session.add(AuditEvent(initiative_id=initiative.id, actor_member_id=ctx.member.id,
                               action="coauthor_confirmed" if yes else "coauthor_declined"))  # fmt: skip
    ctx.say(ctx.t("coauthor_confirmed" if yes else "coauthor_declined", id=initiative.id, title=esc(initiative.title)))
    if not yes:
        await _tell_of_denial(ctx, initiative, author)


async def _tell_of_denial(ctx: Context, initiative: Initiative, author: Author) -> None:
    """The sender, and while the dossier waits for verification its chairs: the list may need correcting, and
    only a send-back («✏️ Cần bổ sung») reopens a sent initiative to its sender."""
    name, title = esc(ctx.member.full_name if ctx.member else ""), esc(initiative.title)
    waiting = initiative.status == Status.SUBMITTED
    chair_ids = await review.reviewer_ids(ctx, initiative) if waiting else set()
    after = ""
    if waiting:  # told to its chairs; where none uses the bot, whoever verifies reads it on the card
        after = "coauthor_declined_next_waiting" if chair_ids else "coauthor_declined_next_unseen"
    elif initiative.status in queries.EDITABLE:
        after = "coauthor_declined_next_editable"

    def notice(there: Context) -> Reply:
        text = there.t("coauthor_declined_notice", id=initiative.id, title=title, name=name,
                       next=there.t(after) if after else "")  # fmt: skip
        return Reply(text=text, ref=str(initiative.id))

    await notices.notify_members(ctx, {initiative.member_id}, notice, purpose="notice", initiative_id=initiative.id)
    if chair_ids:

        def to_chair(there: Context) -> Reply:
            text = there.t("coauthor_declined_chair", id=initiative.id, title=title, name=name,
                           share=author.share_percent)  # fmt: skip
            return Reply(text=text, ref=str(initiative.id))

        await notices.notify_members(ctx, chair_ids, to_chair, purpose="notice", initiative_id=initiative.id)
