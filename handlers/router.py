"""Entry point of every conversation: one event in, replies out, inside one database transaction.

The update id is claimed in the same transaction as the conversation's changes, so a redelivered
update has no second effect, and a crash before commit leaves no half-written answer.
"""

from __future__ import annotations

import re
from dataclasses import replace

from domain.rules import parse_id, small_talk
from domain.text import clean_input
from handlers import (
    branch_admin,
    broadcasts,
    chairs,
    coauthors,
    dossier,
    featured,
    groups,
    linking,
    menus,
    my_initiatives,
    on_behalf,
    paperwork,
    personal_data,
    profile,
    progress,
    recognition,
    registration,
    review,
    unit_initiatives,
    wizard,
)
from handlers.context import MENU, Context, Services, esc
from handlers.events import BEYOND_LIST, NOT_LISTED, WHICH_CARD, WHICH_LIST, Event, EventKind, Reply
from handlers.i18n import LANGUAGES
from handlers.roles import chaired_branch_ids, is_admin
from storage import claims, option_menus, queries
from storage.models import Branch


def cleaned(event: Event) -> Event:
    """The event with every text in it cleaned at the door (domain.text.clean_input)."""
    file = event.file
    if file is not None and file.file_name:
        file = replace(file, file_name=clean_input(file.file_name)[:255])
    return replace(event, text=clean_input(event.text), args=clean_input(event.args),
                   display_name=clean_input(event.display_name), chat_title=clean_input(event.chat_title),
                   payload=clean_input(event.payload), file=file)  # fmt: skip


async def handle_event(services: Services, event: Event) -> list[Reply]:
    """The replies to send for the event; those journalled are settled by the channel (storage/reply_journal)."""
    journalled: list[Reply] = []
    try:
        return await _handle(services, cleaned(event), journalled)
    except BaseException:
        services.journal.forget(journalled)  # no settlement will clear them: the outbox delivers what was committed
        raise


async def _handle(services: Services, event: Event, journalled: list[Reply]) -> list[Reply]:
    async with services.sessions() as session, session.begin():
        if not await claims.claim_update(session, event.platform, event.update_key, services.clock()):
            return []
        await services.campaigns.refresh(session)  # a read a minute at most
        identity = await queries.get_or_create_identity(
            session,
            event.platform,
            event.user_id,
            event.chat_id if event.is_private else None,
            event.display_name,
            services.config.settings.language,
        )
        ctx = Context(services=services, session=session, event=event, identity=identity)
        await route(ctx)
        replies = await services.journal.write(session, event.platform, event.chat_id, await _with_menus(ctx),
                                            services.clock())  # fmt: skip
        journalled.extend(replies)
    if ctx.queued_notifications:
        services.outbox_changed()
    for work in ctx.deferred:
        replies += _origin_kept(ctx, await work())
    return replies


async def _with_menus(ctx: Context) -> list[Reply]:
    """The replies with the person's role menu where a menu was asked for, and the origin kept if asked; the
    last marked `nothing_asked` when it is the menu alone and no conversation goes on."""
    replies = ctx.replies
    if any(reply.menu == MENU for reply in replies):
        labels, role = await menus.labels(ctx), menus.role(ctx)
        replies = [replace(r, menu=labels, commands=role) if r.menu == MENU else r for r in replies]
    if replies and replies[-1].menu and not replies[-1].options and ctx.identity.flow is None:
        replies = [*replies[:-1], replace(replies[-1], nothing_asked=True)]
    return _origin_kept(ctx, replies)


def _origin_kept(ctx: Context, replies: list[Reply]) -> list[Reply]:
    """The replies with the origin kept or cleared if asked, each in the language it was worded in (the person's
    unless a handler built it otherwise)."""
    replies = [reply if reply.language else replace(reply, language=ctx.t.language) for reply in replies]
    if ctx.keeps_origin or ctx.clears_origin:
        return [replace(reply, keeps_origin=ctx.keeps_origin, clears_origin=ctx.clears_origin) for reply in replies]
    return replies


def _menu_command(ctx: Context) -> str | None:
    """A main-menu label tapped (Telegram's keyboard) or typed (where there are no buttons)."""
    if ctx.event.kind is not EventKind.TEXT:
        return None
    return menus.command_for(ctx.t, ctx.event.text)


async def route(ctx: Context) -> None:
    event = ctx.event
    if not event.is_private:
        await groups.handle(ctx)
        return
    command = event.command if event.kind is EventKind.COMMAND else _menu_command(ctx)
    code = linking.typed_code(event.text) if event.kind in (EventKind.TEXT, EventKind.COMMAND) else None
    if ctx.member is None and code is None and is_admin(ctx):
        await _adopt_admin(ctx)  # admins need no branch: their first message makes them known
    if command is not None and ctx.identity.flow in ONE_QUESTION_FLOWS and await _left_question(ctx, command):
        return
    if code is not None:
        await linking.accept(ctx, code)
    elif command == "start":
        await _start(ctx)
    elif command == "help":
        ctx.say(menus.help_text(ctx), menu=ctx.member is not None)
    elif command == "lang":
        await _language(ctx)
    elif ctx.member is None:
        await _unregistered(ctx)
    elif command == "cancel" and ctx.identity.flow == broadcasts.FLOW:
        ctx.set_flow(None)
        ctx.say(ctx.t("broadcast_cancelled"), menu=True)
    elif command in ("skip", "back") and ctx.identity.flow == profile.FLOW:
        await profile.handle_text(ctx)
    elif command in ("skip", "back") and ctx.identity.flow == dossier.FLOW:
        await dossier.handle_text(ctx)
    elif command == "cancel" and ctx.identity.flow in (profile.FLOW, dossier.FLOW):
        if ctx.identity.flow == profile.FLOW and ctx.member is not None:  # kept, as «Dừng» keeps them
            await profile.onto_author_rows(ctx, ctx.member)
        initiative = parse_id(str(ctx.identity.flow_data.get("initiative", "")))
        if ctx.identity.flow == dossier.FLOW and initiative is not None:  # where to go on, said
            stopped = ctx.t("questions_stopped_dossier", id=initiative)
        else:
            stopped = ctx.t("questions_stopped_profile")
        ctx.set_flow(None)
        ctx.say(stopped, menu=True)
    elif command is not None:
        await _member_command(ctx, command)
    elif event.kind is EventKind.OPTION:
        await _member_option(ctx)
    elif ctx.identity.flow == review.FLOW:
        await review.handle_reason_text(ctx)
    elif ctx.identity.flow == recognition.FLOW:
        await recognition.handle_text(ctx)
    elif ctx.identity.flow == recognition.SCAN_FLOW and event.kind is EventKind.FILE:
        await recognition.attach_scan(ctx)
    elif ctx.identity.flow == broadcasts.FLOW:
        await broadcasts.handle_text(ctx)
    elif ctx.identity.flow == profile.FLOW:
        await profile.handle_text(ctx)
    elif ctx.identity.flow == dossier.FLOW:
        await dossier.handle_text(ctx)
    elif ctx.identity.flow == registration.FLOW:  # /doicdcs: the branch's name typed to find it
        await registration.handle(ctx)
    else:
        if ctx.identity.flow == recognition.SCAN_FLOW:  # anything but the scan: the scan was not wanted
            ctx.set_flow(None)
        draft = await wizard.active_draft(ctx)
        spreadsheet_import = branch_admin.is_spreadsheet(ctx) and is_admin(ctx)
        if draft is not None and not (spreadsheet_import and draft.current_step != "attachments"):
            await wizard.handle(ctx, draft)
        elif spreadsheet_import:
            await branch_admin.import_file(ctx)
        elif ctx.replies:  # an entry for members just refused says why already
            pass
        elif event.kind is EventKind.FILE:  # no draft takes it: where files are taken
            imports = is_admin(ctx) and event.platform != "zalo"  # Zalo carries no spreadsheet to a bot
            ctx.say("⚠️ " + ctx.t("file_not_expected_admin" if imports else "file_not_expected"), menu=True)
        elif event.kind is EventKind.TEXT and menus.wants_to_submit(event.text):
            await my_initiatives.new(ctx)  # «tôi muốn gửi sáng kiến»: what the menu's 📝 does (drafts offered first)
        elif event.kind is EventKind.TEXT and (talk := small_talk(event.text)):
            ctx.say(ctx.t(f"small_talk_{talk}", name=esc(ctx.member.full_name)), menu=True)
        elif event.kind is EventKind.TEXT and _OPTION_NUMBER.fullmatch(event.text):  # «1 99»: no list has it
            ctx.say(ctx.t("number_nothing_asked", typed=esc(" ".join(event.text.split()))), menu=True)
        else:
            ctx.say(ctx.t("not_understood"), menu=True)


# «2», «1 99», «1 #99»: an option's number (and a card's), typed where no list waits for it.
_OPTION_NUMBER = re.compile(r"\s*\d{1,2}(?:\s+#?\d{1,9})?\s*")


# Options of a notice that only open something (a sent-back draft, a recognition's questions): a bare Zalo number
# that an earlier list has too may be taken for them (`_which_list`): «Sửa và gửi lại», «Ghi quyết định công nhận».
OPENING = re.compile(r"(?:d:r|rc):\d+")

# Flows of one question (a decision's reason, a recognition's kind or number, its scan): a command leaves them.
ONE_QUESTION_FLOWS = (review.FLOW, recognition.FLOW, recognition.SCAN_FLOW)


async def _left_question(ctx: Context, command: str) -> bool:
    """A command (/help too) while one question waits: the question is dropped and said so, so that a text typed
    later is never taken for its answer (a chair's next words became a rejection's reason; on Zalo a bare «1»
    after /export rejected from the reason list). True when that was all: /cancel, /skip, /back (at a
    recognition's number, /back asks its kind again); any other command then runs."""
    flow, data = ctx.identity.flow, ctx.identity.flow_data
    initiative = str(data.get("initiative", ""))
    ctx.set_flow(None)
    # Where options are answered by number (Zalo), the question's list no longer takes a bare «1».
    await option_menus.forget_latest(ctx.session, ctx.event.platform, ctx.event.chat_id)
    ending = command in ("cancel", "skip", "back")
    if flow == recognition.FLOW and command == "back" and data.get("kind"):
        await recognition.start(ctx, initiative)
    elif flow == recognition.FLOW:
        await recognition.stop(ctx, initiative, menu=ending)
    elif flow == review.FLOW and ending:
        await review.reason_dropped(ctx, initiative)
    elif flow == review.FLOW:
        ctx.say(ctx.t("review_reason_cancelled", id=esc(initiative)))
    elif ending:
        recognition.scan_skipped(ctx)
    return ending


async def _adopt_admin(ctx: Context) -> None:
    """An admin (SANGKIEN_ADMINS) writing for the first time: known at once, without a branch; told how to
    load the branch list if there is none."""
    name = " ".join(ctx.event.display_name.split())[:120] or ctx.t("page_app_name")
    await queries.register_admin(ctx.session, ctx.identity, name)
    ctx.say(ctx.t("welcome_admin", name=esc(name)), menu=True)
    if await queries.branch_count(ctx.session) == 0:
        ctx.say(ctx.t("admin_no_branches"))


async def _start(ctx: Context) -> None:
    args = ctx.event.args.strip()
    if ctx.member is None:
        await registration.start(ctx, args)
        return
    if args.startswith(chairs.INVITE_PREFIX):
        await chairs.accept_invite(ctx, ctx.member, args.removeprefix(chairs.INVITE_PREFIX))
        return
    if ctx.member.branch is None:  # an admin without a branch; "/start b_CODE" makes them a member of one
        branch = await queries.branch_by_code(ctx.session, args[2:]) if args.lower().startswith("b_") else None
        if branch is not None:
            ctx.member.branch = branch
        else:
            if not ctx.replies:
                ctx.say(ctx.t("welcome_admin", name=esc(ctx.member.full_name)), menu=True)
            return
    ctx.say(ctx.t("welcome_back", name=esc(ctx.member.full_name), branch=esc(ctx.member.branch.name))
            + await _chairing(ctx), menu=True)  # fmt: skip
    draft = await wizard.active_draft(ctx)
    if draft is not None:
        note = ctx.t("resume_note", id=draft.id) if draft.id is not None else ctx.t("resume_note_new")
        await wizard.ask(ctx, draft, note)


async def _chairing(ctx: Context) -> str:
    """For a chair, the units they chair (a chair of many is not greeted as if of their own unit alone)."""
    chaired = chaired_branch_ids(ctx)
    if len(chaired) == 1:
        branch = await ctx.session.get(Branch, next(iter(chaired)))
        return "\n" + ctx.t("welcome_chair_of", branch=esc(branch.name if branch else "?"))
    return "\n" + ctx.t("welcome_chair_of_many", count=len(chaired)) if chaired else ""


async def _language(ctx: Context) -> None:
    choice = ctx.event.args.strip().lower()
    if choice in LANGUAGES:
        ctx.identity.language = choice
        ctx.say(ctx.t("language_set"), menu=ctx.member is not None)
    else:  # «/lang» alone: which language is in use, and how to choose
        ctx.say(ctx.t("language_usage"), menu=ctx.member is not None)


async def _unregistered(ctx: Context) -> None:
    if ctx.identity.flow != registration.FLOW:
        await registration.start(ctx, "")
    elif ctx.event.kind is EventKind.COMMAND:  # a command is never taken for an answer to the question
        ctx.say(ctx.t("reg_finish_first"))
        await registration.ask_again(ctx)
    else:
        await registration.handle(ctx)


async def _member_command(ctx: Context, command: str) -> None:
    if command == "new":
        await my_initiatives.new(ctx)
    elif command == "drafts":
        await my_initiatives.list_drafts(ctx)
    elif command == "mine":
        await my_initiatives.list_submissions(ctx)
    elif command == "progress":
        await progress.show(ctx)
    elif command == "pending":
        await review.pending(ctx)
    elif command == "history":
        await review.history(ctx)
    elif command == "export":
        await paperwork.export(ctx)
    elif command == "docx":
        await paperwork.docx(ctx)
    elif command == "entered":
        await paperwork.entered(ctx)
    elif command == "import":
        await branch_admin.usage(ctx)
    elif command == "broadcast":
        await broadcasts.start(ctx)
    elif command == "link":
        await linking.create_code(ctx)
    elif command == "invite_chair":
        await chairs.invite_chair(ctx)
    elif command == "chairs":
        await chairs.list_chairs(ctx)
    elif command == "congnhan":
        await recognition.command(ctx)
    elif command == "tieubieu":
        await featured.command(ctx)
    elif command == "nhapho":
        await on_behalf.start(ctx, ctx.event.args)
    elif command == "hoso":
        await profile.show(ctx)
    elif command == "doicdcs":
        await registration.start_move(ctx)
    elif command == "dulieu":
        await personal_data.show(ctx)
    elif command == "xoadulieu":
        await personal_data.ask_erase(ctx)
    elif command == "sangkien":
        await unit_initiatives.show(ctx)
    elif command in ("linkgroup", "unlinkgroup"):  # in the help: typed here, where it means nothing
        zalo = ctx.event.platform == "zalo"
        how = "\n" + ctx.t("group_how_to_add_bot") if command == "linkgroup" else ""  # a group without the bot yet
        ctx.say(ctx.t("group_command_in_private", command=command) + how
                + ("\n" + ctx.t("help_zalo_groups") if zalo else ""))  # fmt: skip
    elif command in ("back", "skip", "cancel"):
        draft = await wizard.active_draft(ctx)
        if draft is None and ctx.replies:  # an entry for members refused: said already
            return
        if draft is None or not await wizard.handle_command(ctx, draft, command):
            ctx.say(ctx.t("nothing_to_cancel"), menu=True)
    else:
        ctx.say(ctx.t("unknown_command", command=esc(ctx.event.command[:32])), menu=True)


async def _member_option(ctx: Context) -> None:
    payload = ctx.event.payload
    if payload.startswith("reg:") and ctx.identity.flow == registration.FLOW:  # /doicdcs: choosing the right one
        await registration.handle(ctx)
    elif payload.startswith("reg:"):
        branch = ctx.member.branch.name if ctx.member and ctx.member.branch else ""
        ctx.say(ctx.t("already_registered", branch=esc(branch)), menu=True)
    elif payload.startswith("d:"):
        await my_initiatives.handle_option(ctx)
    elif payload.startswith("w:"):
        await _wizard_option(ctx, payload)
    elif payload.startswith(("rv:", "rr:")):
        await review.handle_option(ctx)
    elif payload.startswith("pt:"):
        await paperwork.handle_option(ctx)
    elif payload.startswith("ch:"):
        await chairs.handle_option(ctx)
    elif payload.startswith("bc:"):
        await broadcasts.handle_option(ctx)
    elif payload.startswith("rc:"):
        await recognition.handle_option(ctx)
    elif payload.startswith("ca:"):
        await coauthors.handle_option(ctx)
    elif payload.startswith("ob:"):
        await on_behalf.handle_option(ctx)
    elif payload.startswith("pd:"):
        await personal_data.handle_option(ctx)
    elif payload.startswith("pf:"):
        await profile.handle_option(ctx)
    elif payload.startswith("ds:"):
        await dossier.handle_option(ctx)
    elif payload.startswith(featured.PAYLOAD):
        await featured.handle_option(ctx)
    elif payload.startswith("pg:"):
        await progress.handle_option(ctx)
    elif payload.startswith(linking.PAYLOAD):
        await linking.handle_option(ctx)
    elif payload.startswith(review.HISTORY_PAYLOAD):
        await review.history(ctx)
    elif payload.startswith(WHICH_LIST):
        await _which_list(ctx, payload.removeprefix(WHICH_LIST).split(":"))
    elif payload.startswith(WHICH_CARD):
        _which_card(ctx, payload.removeprefix(WHICH_CARD))
    elif payload.startswith(NOT_LISTED):
        await _which_list(ctx, payload.removeprefix(NOT_LISTED).split(":"), "zalo_not_listed")
    elif payload.startswith(BEYOND_LIST):
        _beyond_list(ctx, payload.removeprefix(BEYOND_LIST).split(":"))
    else:
        ctx.press_not_taken()
        ctx.say(ctx.t("err_old_button"), menu=True)


def _beyond_list(ctx: Context, parts: list[str]) -> None:
    """[number, count]: a bare number the latest list (still waiting) does not have: which numbers it has."""
    number, count = (parse_id(parts[0]), parse_id(parts[1])) if len(parts) == 2 else (None, None)
    if number is None or count is None:
        ctx.press_not_taken()
        ctx.say(ctx.t("err_old_button"), menu=True)
        return
    ctx.say(ctx.t("zalo_beyond_list", number=number, numbers="1" if count == 1 else f"1–{count}"))


async def _which_list(ctx: Context, parts: list[str], key: str = "zalo_which_list") -> None:
    """[ref, number]: which list a bare number was for (asked), or the earlier one it may be for (`NOT_LISTED`).
    The reference is said as it was shown (a link question's «048291» is not a number to read)."""
    ref, number = (parts[0], parse_id(parts[1])) if len(parts) == 2 else ("", None)
    if not (ref.isascii() and ref.isdigit() and len(ref) <= 12) or number is None:
        ctx.press_not_taken()
        ctx.say(ctx.t("err_old_button"), menu=True)
        return
    if key == "zalo_which_list" and ctx.identity.flow is None and ctx.member is not None:
        # No question waits for the earlier list's answer (it offered, as the forms do): the bare number is for
        # the message just come, as the person reads it — where its option only opens something (a «Cần bổ
        # sung» notice's «Sửa và gửi lại»). A decision (a card's «Xác nhận hồ sơ», a co-author's «Đúng, tôi»)
        # is never taken from a number that may have been meant for the other list.
        options = await option_menus.find(ctx.session, ctx.event.platform, ctx.event.chat_id, ref) or []
        if 1 <= number <= len(options) and OPENING.fullmatch(options[number - 1][1]):
            ctx.event = replace(ctx.event, payload=options[number - 1][1])
            await _member_option(ctx)
            return
    label = await _latest_label(ctx, number) if key == "zalo_which_list" else ""
    ctx.say(ctx.t(key, ref=ref, number=number, label=esc(label)))


async def _latest_label(ctx: Context, number: int) -> str:
    """The label of option `number` of the list a bare number answers (what «1» again would choose: once
    «trả lời câu hỏi trước» was an old /progress's «Xem xếp hạng đầy đủ»)."""
    options = await option_menus.find(ctx.session, ctx.event.platform, ctx.event.chat_id) or []
    return options[number - 1][0] if 1 <= number <= len(options) else "?"


def _which_card(ctx: Context, typed: str) -> None:
    """nc:<number>:<ref>,<ref>…:<q if the question being answered has that number too>."""
    number, _, rest = typed.partition(":")
    listed, _, question = rest.partition(":")
    refs = [ref for ref in map(parse_id, listed.split(",")[:50]) if ref is not None]
    if parse_id(number) is None or len(refs) < 2:
        ctx.press_not_taken()
        ctx.say(ctx.t("err_old_button"), menu=True)
        return
    shown = ", ".join(f"#{ref}" for ref in refs)
    text = ctx.t("zalo_which_card", number=parse_id(number), shown=shown, first=refs[0], last=refs[-1])
    ctx.say(text + (" " + ctx.t("zalo_which_card_question", number=parse_id(number)) if question == "q" else ""))


async def _wizard_option(ctx: Context, payload: str) -> None:
    """A wizard button. One from another draft's old message reopens that draft at its current step."""
    assert ctx.member is not None
    draft = await wizard.active_draft(ctx)
    if draft is not None:
        await wizard.handle(ctx, draft)
        return
    if ctx.replies:  # an entry for members refused: not reopened from the button's draft number
        return
    draft_id = payload.split(":")[1]
    draft = await queries.member_initiative(ctx.session, ctx.member.id, parse_id(draft_id) or 0)
    if draft is None or draft.status not in queries.EDITABLE:
        ctx.press_not_taken()
        ctx.say(ctx.t("err_draft_gone"), menu=True)
        return
    await wizard.open_draft(ctx, draft, ctx.t("err_stale_button"))
