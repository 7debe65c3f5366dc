"""The submission wizard's mechanics over the step table: ask, answer, back, skip, edit, summary, submit.

Every answer is written to the draft row the moment it is accepted; the draft's `current_step` is the
conversation, so a restart (or another channel) resumes exactly there. A new draft exists only once its
first answer is given: starting and leaving leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from domain import rules
from domain.rules import InputError
from domain.text import fold, holds, name_as_printed, own_lines, reads_as
from handlers import answers, cut_texts, notices, paperwork, profile, review
from handlers.context import Context, esc
from handlers.events import EventKind, FileRef, Option, Reply, two_a_row
from handlers.i18n import as_recorded, record_text
from handlers.roles import can_decide, may_enter_for, refuse
from handlers.wizard_steps import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    STEPS,
    STEPS_BY_KEY,
    STORED_VALUE,
    SUMMARY,
    Kind,
    Step,
    applicable_steps,
    counted_steps,
    first_missing_step,
    is_research,
    too_big,
)
from storage import files, queries
from storage.models import ENTERED_FOR_MEMBERS, Attachment, AuditEvent, Author, Branch, Initiative, Member, Status

FLOW = "wizard"
BACK, SKIP, CANCEL, DONE, SOLO, CLEAR_FILES, EXPLAIN, KEEP = "<", ">", "x", "ok", "solo", "clr", "help", "="
EDIT_LIST, SUBMIT = "edit", "go"
NEW = 0  # the draft number of a new draft not saved yet


def payload(draft: Initiative, step_key: str, value: str) -> str:
    return f"w:{draft.id or NEW}:{step_key}:{value}"


# --- entering and leaving --------------------------------------------------------------------------


def _new_draft(ctx: Context, for_branch_id: int | None) -> Initiative:
    """A draft not saved yet (saved with its first answer)."""
    assert ctx.member is not None
    branch_id = for_branch_id or ctx.member.branch_id
    draft = Initiative(member_id=ctx.member.id, branch_id=branch_id, credited_branch_id=branch_id,
                       status=Status.DRAFT, current_step=STEPS[0].key,
                       entered_by_member_id=ctx.member.id if for_branch_id else None)  # fmt: skip
    draft.authors, draft.attachments = [], []
    return draft


async def start_new(ctx: Context, for_branch: Branch | None = None) -> None:
    """`/new` — or, for an officer entering an initiative for members, `for_branch`."""
    ctx.set_flow(FLOW, draft=NEW, branch=for_branch.id if for_branch else None)
    intro = ctx.t("wizard_intro_for", branch=esc(for_branch.name)) if for_branch else ctx.t("wizard_intro")
    await ask(ctx, _new_draft(ctx, for_branch.id if for_branch else None), intro)


async def _save(ctx: Context, draft: Initiative) -> None:
    """Save a new draft with its first answer (and give it its number)."""
    if draft.id is not None:
        return
    assert ctx.member is not None
    ctx.session.add(draft)
    await ctx.session.flush()
    entered_for = ENTERED_FOR_MEMBERS if draft.entered_by_member_id else None
    ctx.session.add(AuditEvent(initiative_id=draft.id, actor_member_id=ctx.member.id, action="created",
                               to_status=Status.DRAFT, reason=entered_for))  # fmt: skip
    ctx.identity.flow_data = {**ctx.identity.flow_data, "draft": draft.id}


async def open_draft(ctx: Context, draft: Initiative, note: str = "") -> None:
    """Make `draft` the person's active conversation and ask its current question."""
    if not may_enter(ctx, draft):
        refuse(ctx, draft, f"resume entry for branch {draft.branch_id}", "on_behalf_not_allowed")
        return
    ctx.set_flow(FLOW, draft=draft.id)
    if draft.current_step is None:
        draft.current_step = STEPS[0].key
    await ask(ctx, draft, note)


async def active_draft(ctx: Context) -> Initiative | None:
    if ctx.identity.flow != FLOW or ctx.member is None:
        return None
    number = rules.parse_id(str(ctx.identity.flow_data.get("draft", "")))
    if number == NEW:
        draft = _new_draft(ctx, ctx.identity.flow_data.get("branch"))
    else:
        found = await queries.member_initiative(ctx.session, ctx.member.id, number or -1)
        if found is None or found.status not in queries.EDITABLE:
            ctx.set_flow(None)
            return None
        draft = found
    if not may_enter(ctx, draft):
        ctx.set_flow(None)
        refuse(ctx, draft if draft.id else None, f"entry for branch {draft.branch_id}", "on_behalf_not_allowed")
        return None
    return draft


def may_enter(ctx: Context, draft: Initiative) -> bool:
    """One's own draft, always; one entered for members, only while the officer still chairs its branch or
    is an admin (checked at every answer and at submission, not only at /nhapho: a chair removed meanwhile
    hands nothing to the branch)."""
    return draft.entered_by_member_id is None or may_enter_for(ctx, draft.branch_id)


async def leave(ctx: Context, draft: Initiative) -> None:
    """Stop for now: the draft is kept, unless it has no title yet (only the conditions answered: a draft
    «(chưa có tên)» in the list helps nobody, and one tap answers them again)."""
    ctx.set_flow(None)
    if draft.id is None:
        ctx.say(ctx.t("wizard_left_unsaved"), menu=True)
        return
    if not draft.title and draft.status == Status.DRAFT and ctx.member is not None:
        await queries.delete_draft(ctx.session, draft, ctx.member)
        ctx.say(ctx.t("wizard_left_untitled"), menu=True)
        return
    ctx.say(ctx.t("wizard_cancelled", id=draft.id, title=esc(draft.title or ctx.t("untitled"))), menu=True)


# --- asking ----------------------------------------------------------------------------------------


def _skippable(draft: Initiative, step: Step) -> bool:
    """Offered as optional: not the social benefit when no economic one was given (one of them is needed)."""
    return step.optional and not (step.key == "social_benefit" and draft.economic_benefit is None)


def _nav_rows(ctx: Context, draft: Initiative, step: Step) -> list[list[Option]]:
    """Keep (alone, first), then Back, Skip and Stop, two a row where both fit (`two_a_row`), so a phone shows
    their words. Skip over a saved answer says that it clears it."""
    rows, moves = [], []
    keepable = _keepable(draft, step)
    if keepable:
        rows.append([Option(ctx.t("btn_keep_answer"), payload(draft, step.key, KEEP))])
    if step is not applicable_steps(draft, ctx.campaign)[0]:
        moves.append(Option(ctx.t("btn_back"), payload(draft, step.key, BACK)))
    if _skippable(draft, step):
        moves.append(Option(ctx.t("btn_clear_answer" if keepable else "btn_skip"), payload(draft, step.key, SKIP)))
    # «(giữ nháp)» once there is a draft to keep: before its title, «Dừng» keeps nothing (leave).
    stop = Option(ctx.t("btn_cancel" if draft.title else "btn_cancel_nothing_kept"), payload(draft, step.key, CANCEL))
    return [*rows, *two_a_row([*moves, stop])]


def _keepable(draft: Initiative, step: Step) -> bool:
    """A typed answer already saved (met again after Back, or from the summary) is kept with one tap, not
    typed again (a solution runs to 3,000 characters); a choice is kept by tapping it again."""
    return step.kind not in (Kind.CHOICE, Kind.LEAD, Kind.FILES) and step.is_answered(draft)


def _prompt(ctx: Context, draft: Initiative, step: Step) -> str:
    key = step.prompt_key
    if step.key == "recognition_kind" and is_research(draft, ctx.campaign):
        key = "step_recognition_kind_research"
    elif step.key in ("authors", "eligibility") and draft.entered_by_member_id:  # the members' work, not his
        key = f"{key}_for"
    elif step.key == "first_applied_on" and len(ctx.campaigns_open()) > 1:  # each open campaign's window
        return ctx.t("step_first_applied_on_many", campaigns=open_campaigns_text(ctx))
    elif step.kind is Kind.FILES and ctx.event.platform == "zalo":  # Zalo carries photos to a bot, not files
        key = "step_attachments_zalo"
    return ctx.t(key, **_prompt_params(ctx, draft, step))


async def ask(ctx: Context, draft: Initiative, note: str = "", *, replace: bool = False, explain: bool = False) -> None:
    """Send the current step's question, with its options and the Back/Skip/Stop row."""
    key = draft.current_step or STEPS[0].key
    if key == SUMMARY:
        await show_summary(ctx, draft, note, replace=replace)
        return
    step = STEPS_BY_KEY[key]
    steps = counted_steps(draft, ctx.campaign, step)
    number = steps.index(step) + 1 if step in steps else len(steps)
    parts = [note] if note else []
    parts.append(ctx.t("step_counter", k=number, n=len(steps)))
    parts.append(_prompt(ctx, draft, step))
    if explain and step.key == "type":
        parts.append("\n".join(f"<b>{t.code}</b> {esc(t.label)}: {esc(t.explanation)}" for t in ctx.campaign.types))
    if _skippable(draft, step):
        parts.append(ctx.t("hint_optional"))
    current = ""
    if step.is_answered(draft) and step.kind is not Kind.FILES:  # in full: it may be copied to change a word
        current = answers.display_value(ctx, draft, step, full=True)
    if current:
        key = "hint_current_keep" if _keepable(draft, step) else "hint_current"  # else a choice: tapped again
        parts.append(ctx.t(key, value=own_lines(current)))
    rows: list[list[Option]] = []
    if step.kind in (Kind.CHOICE, Kind.LEAD):
        chosen = answers.choices(ctx, draft, step, buttons=True)
        rows = [[Option(label, payload(draft, step.key, value))] for value, label in chosen]
        if step.key == "type" and not explain:
            rows.append([Option(ctx.t("btn_explain_types"), payload(draft, step.key, EXPLAIN))])
    elif step.kind is Kind.TEXT and step.suggestions:
        rows = two_a_row(
            [Option(ctx.t(key), payload(draft, step.key, f"s{i}")) for i, key in enumerate(step.suggestions)]
        )
    elif step.kind is Kind.AUTHORS and not draft.entered_by_member_id:
        rows = [[Option(ctx.t("btn_solo_author"), payload(draft, step.key, SOLO))]]
    elif step.kind is Kind.FILES:
        rows = _files_rows(ctx, draft, step)
    rows.extend(_nav_rows(ctx, draft, step))
    # Where the answer is typed (a date, an amount, a text with nothing to pick), Zalo shows the options by
    # their words, not numbered: "Trả lời bằng số" under "Thực trạng" misled people.
    typed = step.kind in (Kind.DATE, Kind.AMOUNT, Kind.DECISION) or (step.kind is Kind.TEXT and not step.suggestions)
    ctx.say("\n\n".join(parts), rows, numbers_answer=typed, replace_origin=replace)


def _files_rows(ctx: Context, draft: Initiative, step: Step) -> list[list[Option]]:
    count = len([a for a in draft.attachments if a.purpose == "evidence"])
    rows = [[Option(ctx.t("btn_files_done", count=count), payload(draft, step.key, DONE))]]
    if count:
        rows.append([Option(ctx.t("btn_files_clear"), payload(draft, step.key, CLEAR_FILES))])
    return rows


def _prompt_params(ctx: Context, draft: Initiative, step: Step) -> dict[str, object]:
    campaign = ctx.campaign
    params: dict[str, object] = {
        "start": rules.format_date(campaign.eligible_from),
        "end": rules.format_date(campaign.eligible_until),
        "max": step.max_len,
        "min": step.min_len,
        "max_files": MAX_ATTACHMENTS,
        "max_mb": MAX_ATTACHMENT_BYTES // (1024 * 1024),
    }
    if step.key == "authors" and ctx.member is not None:
        params["name"] = esc(ctx.member.full_name)
    return params


# --- answering -------------------------------------------------------------------------------------


async def handle(ctx: Context, draft: Initiative) -> None:
    """Route an event of the active wizard to the current step."""
    event = ctx.event
    step_key = draft.current_step or STEPS[0].key
    if event.kind is EventKind.OPTION:
        await _handle_option(ctx, draft, step_key)
        return
    if step_key == SUMMARY:
        await _summary_text(ctx, draft, event.text if event.kind is EventKind.TEXT else "")
        return
    step = STEPS_BY_KEY[step_key]
    if event.kind is EventKind.FILE:
        if step.kind is Kind.FILES:
            await _add_file(ctx, draft, step, event.file)
        else:  # not kept: said where it is taken, to be sent again there
            await ask(ctx, draft, ctx.t("err_text_expected") + " " + ctx.t("hint_files_later"))
        return
    if event.kind is EventKind.UNSUPPORTED:
        expected = "err_file_expected" if step.kind is Kind.FILES else "err_text_expected"
        if step.kind is Kind.FILES and event.platform == "zalo":  # Zalo carries photos to a bot, not files
            expected = "err_file_zalo"
        await ask(ctx, draft, ctx.t(expected))
        return
    try:
        cut_texts.refuse_the_rest(ctx, step.max_len)
        await _accept_text(ctx, draft, step, event.text)
        cut_texts.note(ctx, None)
    except InputError as error:
        cut_texts.note(ctx, error)
        await ask(ctx, draft, "⚠️ " + ctx.t(error.key, **_error_params(ctx, draft, error)))


def check_application(ctx: Context, date: dt.date | None) -> None:
    """Plan IV.2.1 against the open campaigns: put into application inside one's eligibility window (the
    initiative then belongs to it). With one campaign, its own messages; with several, the list of them."""
    if date is None:
        return
    candidates = ctx.campaigns_open() or [ctx.campaign]
    refusals = []
    for campaign in candidates:
        try:
            rules.check_first_application(date, campaign.eligible_from, campaign.eligible_until, ctx.today())
            return
        except InputError as error:
            refusals.append(error)
    if len(candidates) == 1 or refusals[0].key == "err_date_future":
        raise refusals[0]
    raise InputError(
        "err_applied_no_campaign", {"date": rules.format_date(date), "campaigns": open_campaigns_text(ctx)}
    )


def open_campaigns_text(ctx: Context) -> str:
    """The open campaigns with their windows: «Name» (01/01/2024–31/12/2025); …"""
    return "; ".join(
        f"«{esc(c.name)}» ({rules.format_date(c.eligible_from)}–{rules.format_date(c.eligible_until)})"
        for c in ctx.campaigns_open() or [ctx.campaign]
    )


def _error_params(ctx: Context, draft: Initiative, error: InputError) -> dict[str, object]:
    campaign = ctx.campaign
    return {"start": rules.format_date(campaign.eligible_from), "end": rules.format_date(campaign.eligible_until),
            "organisation": esc(campaign.organisation), **error.params}  # fmt: skip


async def _handle_option(ctx: Context, draft: Initiative, step_key: str) -> None:
    parts = ctx.event.payload.split(":", 3)
    if len(parts) != 4 or parts[1] != str(draft.id or NEW):
        ctx.press_not_taken()
        await ask(ctx, draft, ctx.t("err_stale_button"))
        return
    value = parts[3]
    if step_key == SUMMARY and parts[2] in (SUMMARY, EDIT_LIST):
        await _summary_action(ctx, draft, value)
        return
    if parts[2] != step_key:
        ctx.press_not_taken()
        await ask(ctx, draft, ctx.t("err_stale_button"))
        return
    step = STEPS_BY_KEY[step_key]
    if value == CANCEL:
        await leave(ctx, draft)
    elif value == BACK:
        await go_back(ctx, draft, step)
    elif value == SKIP and step.optional:
        await _skip(ctx, draft, step)
    elif value == KEEP and _keepable(draft, step):
        await advance(ctx, draft, step)
    elif value == EXPLAIN and step.key == "type":
        await ask(ctx, draft, replace=True, explain=True)
    else:
        try:
            await _accept_option(ctx, draft, step, value)
        except InputError as error:
            ctx.press_not_taken()
            await ask(ctx, draft, "⚠️ " + ctx.t(error.key, **_error_params(ctx, draft, error)))


async def handle_command(ctx: Context, draft: Initiative, command: str) -> bool:
    """/back, /skip and /cancel typed instead of tapped. Returns False if not a wizard command."""
    step_key = draft.current_step or STEPS[0].key
    step = STEPS_BY_KEY.get(step_key)
    if command == "cancel":
        await leave(ctx, draft)
    elif command == "back" and step is not None:
        await go_back(ctx, draft, step)
    elif command == "back":
        await ask(ctx, draft)
    elif command == "skip" and step is not None and step.optional:
        await _skip(ctx, draft, step)
    elif command == "skip":
        await ask(ctx, draft, ctx.t("err_not_optional"))
    else:
        return False
    return True


async def _accept_option(ctx: Context, draft: Initiative, step: Step, value: str) -> None:
    index = rules.parse_id(value[1:]) if value.startswith("s") else None
    if step.kind in (Kind.CHOICE, Kind.LEAD):
        if value not in {v for v, _ in answers.choices(ctx, draft, step)}:
            raise InputError("err_stale_button")
        await _store_choice(ctx, draft, step, value)
    elif step.kind is Kind.TEXT and index is not None:
        if index >= len(step.suggestions):
            raise InputError("err_stale_button")
        await _accept_text(ctx, draft, step, record_text(step.suggestions[index]))
    elif step.kind is Kind.AUTHORS and value == SOLO and not draft.entered_by_member_id:
        await _solo_author(ctx, draft, step)
    elif step.kind is Kind.FILES and value == DONE:
        await advance(ctx, draft, step)
    elif step.kind is Kind.FILES and value == CLEAR_FILES:
        for attachment in [a for a in draft.attachments if a.purpose == "evidence"]:
            draft.attachments.remove(attachment)
        await ask(ctx, draft, ctx.t("files_cleared"))
    else:
        raise InputError("err_stale_button")


async def _store_choice(ctx: Context, draft: Initiative, step: Step, value: str) -> None:
    if value == step.refused_value:
        raise InputError(f"err_refused_{step.key}")
    if step.kind is Kind.LEAD:
        for index, author in enumerate(draft.authors):
            author.is_lead = str(index) == value
        queries.apply_credit(draft, research=True)
    else:
        stored = STORED_VALUE.get(step.key, {}).get(value, value)
        for attr in (step.attr, *step.also_sets):
            setattr(draft, attr, stored)
        if step.key == "type":
            queries.apply_credit(draft, research=is_research(draft, ctx.campaign))
    await advance(ctx, draft, step)


def _the_one_naming(options: list[tuple[str, str]], text: str) -> str | None:
    """The one option whose label holds the words typed ("quản lý" for "1.2 Giải pháp quản lý"), if one
    (accents optional, never contradicted: domain.text.holds)."""
    if len(text.strip()) < 3:
        return None
    naming = [value for value, label in options if holds(text, label)]
    return naming[0] if len(naming) == 1 else None


async def _accept_text(ctx: Context, draft: Initiative, step: Step, text: str) -> None:
    if _keepable(draft, step) and any(reads_as(text, word) for word in rules.KEEP_WORDS):  # the button's words, typed
        await advance(ctx, draft, step)
        return
    if step.optional and rules.plain_words(text) in rules.SKIP_WORDS:  # "bỏ qua", "không có": nothing to give
        await _skip(ctx, draft, step)
        return
    if step.kind in (Kind.CHOICE, Kind.LEAD):
        options = answers.choices(ctx, draft, step)
        folded = fold(text)
        codes = {folded, folded.replace(",", ".")}  # "1,2": a type's code written with a decimal comma
        match = next((v for v, label in options if fold(v) in codes or reads_as(text, label)), None)
        said = next((value for words, value in step.typed_answers if reads_as(text, words)), None)
        match = match or said or rules.yes_or_no(text, {v for v, _ in options}) or _the_one_naming(options, text)
        if match is None:
            raise InputError("err_use_buttons")
        await _store_choice(ctx, draft, step, match)
    elif step.kind is Kind.TEXT and step.key == "economic_benefit" and (amount := _only_an_amount(text)):
        draft.economic_amount_vnd = amount  # kept for the amount step, which offers it to keep
        raise InputError("err_benefit_is_amount", {"amount": rules.format_amount(amount)})
    elif step.kind is Kind.TEXT and step.key == "social_benefit" and (amount := _only_an_amount(text)):
        raise InputError("err_social_is_amount", {"amount": rules.format_amount(amount)})  # money is economic
    elif step.kind is Kind.TEXT:
        text = as_recorded(ctx.t, step.suggestions, text)  # a suggestion typed: stored as the records word it
        answer = rules.clean_text(text, min_len=step.min_len, max_len=step.max_len, words=not step.digits_alone)
        setattr(draft, step.attr, answer)
        if step.key == "title":
            draft.title_key = fold(draft.title or "")
        await advance(ctx, draft, step)
    elif step.kind is Kind.DATE:
        setattr(draft, step.attr, _parse_step_date(ctx, step, text))
        await advance(ctx, draft, step)
    elif step.kind is Kind.AMOUNT:
        draft.economic_amount_vnd = rules.parse_amount(text)
        await advance(ctx, draft, step)
    elif step.kind is Kind.DECISION:
        number, date = rules.parse_decision(text)
        rules.check_recognition_date(date, ctx.earliest_eligible(), ctx.today())
        draft.recognition_decision_no, draft.recognition_date = number, date
        note = ""
        if draft.first_applied_on and date < draft.first_applied_on:
            note = ctx.t("recognition_before_application", date=rules.format_date(date),
                         applied=rules.format_date(draft.first_applied_on))  # fmt: skip
        await advance(ctx, draft, step, note)
    elif step.kind is Kind.AUTHORS and not draft.entered_by_member_id and _says_solo(ctx, text):
        await _solo_author(ctx, draft, step)
    elif step.kind is Kind.AUTHORS:
        rows = await _author_rows(ctx, draft, text)
        queries.replace_authors(draft, rows, research=is_research(draft, ctx.campaign))
        await advance(ctx, draft, step, _authors_recorded(ctx, draft))
    elif step.kind is Kind.FILES and any(reads_as(text, word) for word in DONE_WORDS):  # the ✅ Xong button, typed
        await advance(ctx, draft, step)
    elif step.kind is Kind.FILES:
        raise InputError("err_file_expected")


DONE_WORDS = ("xong", "đã xong", "hết", "done")


def _only_an_amount(text: str) -> int | None:
    """«15 triệu đồng» typed as the economic benefit: its amount (the benefit itself is still to be said)."""
    try:
        return rules.parse_amount(text)
    except InputError:
        return None


# At the authors step, what people type for «👤 Chỉ mình tôi»: no co-author.
SOLO_WORDS = ("chỉ mình tôi", "chỉ tôi", "mình tôi", "một mình", "tôi", "không", "không có", "không có ai",
              "only me", "just me", "me", "no", "none")  # fmt: skip


def _says_solo(ctx: Context, text: str) -> bool:
    words = re.sub(r"\(.*?\)", " ", text)  # the button's own words, «(100%)» included
    return any(reads_as(words, said) for said in (*SOLO_WORDS, re.sub(r"\(.*?\)", " ", ctx.t("btn_solo_author"))))


async def _solo_author(ctx: Context, draft: Initiative, step: Step) -> None:
    assert ctx.member is not None
    queries.replace_authors(draft, [_own_author_row(ctx.member, 100)], research=is_research(draft, ctx.campaign))
    await advance(ctx, draft, step, ctx.t("authors_recorded", authors=answers.authors_text(ctx, draft)))


def _own_author_row(member: Member, share: int) -> Author:
    return Author(full_name=member.full_name, share_percent=share, member_id=member.id, branch_id=member.branch_id,
                  confirmed=True)  # fmt: skip


def _authors_recorded(ctx: Context, draft: Initiative) -> str:
    """The authors as recorded; what the ✔ of a registered co-author means; a typed name with no accent at all,
    printed so on the forms, pointed out (a registered member's name is his own)."""
    lines = [ctx.t("authors_recorded", authors=answers.authors_text(ctx, draft))]
    others = [author for author in draft.authors if author.member_id != draft.member_id]
    if any(author.member_id is not None for author in others):
        lines.append(ctx.t("authors_registered_mark"))
    if unaccented := [author.full_name for author in others if author.member_id is None and author.full_name.isascii()]:
        lines.append(ctx.t("authors_unaccented", names=esc(", ".join(unaccented))))
    return "\n".join(lines)


async def _author_rows(ctx: Context, draft: Initiative, text: str) -> list[Author]:
    """The authors typed ("Name share [branch code]"): the submitter keeps the remainder unless entering for
    others; each co-author is a registered member when exactly one member of their branch has that name
    (they are asked to confirm), otherwise a name with a branch."""
    assert ctx.member is not None
    on_behalf = draft.entered_by_member_id is not None
    typed = rules.parse_coauthors(text, total=100 if on_behalf else None)
    rows = [] if on_behalf else [_own_author_row(ctx.member, 100 - sum(a.share_percent for a in typed))]
    for number, author in enumerate(typed, start=1):
        branch = None  # another branch, named by its code: set as the row's, so what is said at once names it
        if author.branch_code:
            branch = await queries.branch_by_code(ctx.session, author.branch_code)
            if branch is None:
                raise InputError("err_author_branch", {"line": number, "code": esc(author.branch_code)})
        branch_id = branch.id if branch is not None else draft.branch_id
        member = await _registered_namesake(ctx, author.full_name, branch_id)
        name = name_as_printed(member.full_name, author.full_name) if member else author.full_name
        row = Author(full_name=name, share_percent=author.share_percent,
                     member_id=member.id if member else None, branch_id=branch_id, confirmed=None)  # fmt: skip
        if branch is not None:  # (a relationship set to None would clear the branch at the flush)
            row.branch = branch
        rows.append(row)
    return rows


async def _registered_namesake(ctx: Context, name: str, branch_id: int) -> Member | None:
    """The one registered member of the branch with this name (accents and case aside), if exactly one."""
    assert ctx.member is not None
    wanted = fold(name)
    names = await ctx.session.execute(select(Member.id, Member.full_name).where(Member.branch_id == branch_id))
    found = [member_id for member_id, full_name in names if fold(full_name) == wanted and member_id != ctx.member.id]
    return await ctx.session.get(Member, found[0]) if len(found) == 1 else None


# «chưa», «chưa áp dụng» typed for the first application's date: the initiative is not in use yet.
NOT_YET_WORDS = frozenset({"chua", "chua ap dung", "chua co", "chua dua vao ap dung", "not yet", "not applied"})


def _parse_step_date(ctx: Context, step: Step, text: str) -> object:
    if step.date_rule == "applied" and rules.plain_words(text) in NOT_YET_WORDS:
        campaigns = ctx.campaigns_open() or [ctx.campaign]
        if len(campaigns) > 1:
            raise InputError("err_not_applied_yet_many", {"campaigns": open_campaigns_text(ctx)})
        window = {"start": rules.format_date(campaigns[0].eligible_from),
                  "end": rules.format_date(campaigns[0].eligible_until)}  # fmt: skip
        raise InputError("err_not_applied_yet", window)
    pending = ctx.identity.flow_data.get("pending_month")
    day = rules.parse_id(text.strip())
    if pending and day is not None and 1 <= day <= 31:
        date = rules.parse_date(f"{day}/{pending[0]}/{pending[1]}")
    else:
        try:
            date = rules.parse_date(text)
        except InputError as error:
            if error.key == "err_date_need_day":
                ctx.identity.flow_data = {
                    **ctx.identity.flow_data,
                    "pending_month": [error.params["month"], error.params["year"]],
                }
            raise
    today = ctx.today()
    if step.date_rule == "applied":
        check_application(ctx, date)
    else:
        rules.check_not_future(date, today)
    return date


async def _add_file(ctx: Context, draft: Initiative, step: Step, file: FileRef | None) -> None:
    assert file is not None
    evidence = [a for a in draft.attachments if a.purpose == "evidence"]
    if len(evidence) >= MAX_ATTACHMENTS:
        await ask(ctx, draft, ctx.t("err_too_many_files", max=MAX_ATTACHMENTS))
        return
    if too_big(file):
        await ask(ctx, draft, ctx.t("err_file_too_big", max_mb=MAX_ATTACHMENT_BYTES // (1024 * 1024)))
        return
    attachment = Attachment(platform=ctx.event.platform, file_id=file.file_id, kind=file.kind,
                            file_name=file.file_name, size_bytes=file.size_bytes, mime_type=file.mime_type)  # fmt: skip
    draft.attachments.append(attachment)
    await ctx.session.flush()
    await files.attach(ctx.session, file.file_id, attachment.id)
    name = file.file_name or ctx.t(f"file_kind_{file.kind}")
    ctx.say(
        ctx.t("file_received", name=esc(name), count=len(evidence) + 1, max=MAX_ATTACHMENTS),
        [*_files_rows(ctx, draft, step), *_nav_rows(ctx, draft, step)],
    )


# --- moving between steps --------------------------------------------------------------------------


async def advance(ctx: Context, draft: Initiative, step: Step, note: str = "") -> None:
    """After an accepted answer: the next step, or back to the summary when editing from it."""
    await _save(ctx, draft)
    ctx.identity.flow_data = {"draft": draft.id}
    applicable = applicable_steps(draft, ctx.campaign)
    if draft.editing_from_summary:
        # What this answer opened (an amount once there is an economic benefit) is asked before the summary.
        opened = next((s for s in applicable if s.decided_by == step.key and not s.is_answered(draft)), None)
        missing = opened or first_missing_step(draft, ctx.campaign)
        draft.current_step = missing.key if missing else SUMMARY
        draft.editing_from_summary = missing is not None
    else:
        later = STEPS[STEPS.index(step) + 1 :]
        draft.current_step = next((s.key for s in later if s in applicable), SUMMARY)
    await ask(ctx, draft, note)


async def _skip(ctx: Context, draft: Initiative, step: Step) -> None:
    if step.key == "social_benefit" and draft.economic_benefit is None:
        await ask(ctx, draft, "⚠️ " + ctx.t("err_benefit_needed"))
        return
    for attr in (step.attr, *step.also_sets):
        if attr:
            setattr(draft, attr, None)
    if step.key == "economic_benefit":
        draft.economic_amount_vnd = None
    if step.key == "recognition_kind":
        draft.recognition_decision_no = None
        draft.recognition_date = None
    await advance(ctx, draft, step)


async def go_back(ctx: Context, draft: Initiative, step: Step) -> None:
    ctx.identity.flow_data = {**ctx.identity.flow_data, "pending_month": None}
    if draft.editing_from_summary:
        draft.current_step = SUMMARY
        draft.editing_from_summary = False
        await ask(ctx, draft)
        return
    earlier = [s for s in applicable_steps(draft, ctx.campaign) if STEPS.index(s) < STEPS.index(step)]
    if not earlier:
        await ask(ctx, draft, ctx.t("err_first_step"))
        return
    draft.current_step = earlier[-1].key
    await ask(ctx, draft)


# --- summary and submission ------------------------------------------------------------------------


async def show_summary(ctx: Context, draft: Initiative, note: str = "", *, replace: bool = False) -> None:
    """The answers folded to a line each, 📨 Send first; one ✏️ opens the list of fields to change."""
    lines = [note] if note else []
    sent_back = draft.status == Status.CHANGES_REQUESTED
    lines.append(ctx.t("summary_title_resubmit" if sent_back else "summary_title", id=draft.id))
    if sent_back and draft.decision_reason:  # what the chair asked for stays in sight while it is mended
        lines.append(
            ctx.t("summary_changes_reason", reason=esc(review.shown_reason(ctx.t, ctx.campaign, draft.decision_reason)))
        )
    for step in applicable_steps(draft, ctx.campaign):
        if step.kind is Kind.CHOICE and step.key == "eligibility":
            continue
        lines.append(answers.field_line(ctx.t(step.label_key), answers.display_value(ctx, draft, step)))
    if duplicates := await queries.possible_duplicates(ctx.session, draft):  # sent twice, or by two of its authors
        lines.append("\n" + review.duplicate_warning(ctx, duplicates, "warn_sent_before"))
    if draft.recognition_kind is None:
        lines.append("\n" + ctx.t("warn_not_recognised"))
    unchanged = _unmended(ctx, draft)
    if unchanged:
        lines.append("\n" + ctx.t("warn_nothing_changed"))
    ctx.say("\n".join(lines), _summary_rows(ctx, draft, unchanged=unchanged), replace_origin=replace)


def _summary_rows(ctx: Context, draft: Initiative, *, unchanged: bool) -> list[list[Option]]:
    """📨 Send first; sent back with nothing mended yet (`unchanged`), mending first (Zalo's habitual «1»)."""
    edit, cancel = (Option(ctx.t("btn_edit_one"), payload(draft, SUMMARY, EDIT_LIST)),
                    Option(ctx.t("btn_cancel"), payload(draft, SUMMARY, CANCEL)))  # fmt: skip
    if unchanged:
        return [[edit], *two_a_row([Option(ctx.t("btn_resubmit_unchanged"), payload(draft, SUMMARY, SUBMIT)), cancel])]
    send = "btn_resubmit" if draft.status == Status.CHANGES_REQUESTED else "btn_submit"
    return [[Option(ctx.t(send), payload(draft, SUMMARY, SUBMIT))], *two_a_row([edit, cancel])]


def _unmended(ctx: Context, draft: Initiative) -> bool:
    """Sent back for changes, and none of its answers changed since it was sent."""
    if draft.status != Status.CHANGES_REQUESTED:
        return False
    return review.changed_steps(ctx, draft, draft.submitted_snapshot, review.snapshot(ctx, draft)) == []


def _edit_list(ctx: Context, draft: Initiative) -> None:
    steps = [s for s in applicable_steps(draft, ctx.campaign) if s.key != "eligibility"]
    buttons = [Option("✏️ " + ctx.t(s.label_key), payload(draft, EDIT_LIST, f"e{STEPS.index(s)}")) for s in steps]
    rows = two_a_row(buttons)
    rows.append([Option(ctx.t("btn_back_to_summary"), payload(draft, EDIT_LIST, SUMMARY))])
    ctx.say(ctx.t("summary_edit_title", id=draft.id), rows, replace_origin=True)


async def _summary_action(ctx: Context, draft: Initiative, value: str) -> None:
    edit = rules.parse_id(value[1:]) if value.startswith("e") else None
    if value == CANCEL:
        await leave(ctx, draft)
    elif value == SUBMIT:
        await submit(ctx, draft)
    elif value == EDIT_LIST:
        _edit_list(ctx, draft)
    elif value == SUMMARY:
        await show_summary(ctx, draft, replace=True)
    elif edit is not None and edit < len(STEPS) and STEPS[edit] in applicable_steps(draft, ctx.campaign):
        draft.current_step = STEPS[edit].key
        draft.editing_from_summary = True
        await ask(ctx, draft, replace=True)
    else:
        ctx.press_not_taken()
        await ask(ctx, draft, ctx.t("err_stale_button"))


async def _summary_text(ctx: Context, draft: Initiative, text: str) -> None:
    """Words typed at the summary (where there are no buttons): "gửi", "sửa" — else the summary again."""
    typed = rules.plain_words(text)
    if typed in rules.plain_words(ctx.t("words_submit")).split("|"):
        await submit(ctx, draft)
    elif typed in rules.plain_words(ctx.t("words_edit")).split("|"):
        _edit_list(ctx, draft)
    else:  # the choices again, not the whole summary (two phone screens on Zalo): it is just above
        rows = _summary_rows(ctx, draft, unchanged=_unmended(ctx, draft))
        ctx.say("⚠️ " + ctx.t("err_use_summary_buttons", id=draft.id), rows)


def _clear_inapplicable(ctx: Context, draft: Initiative) -> None:
    applicable = applicable_steps(draft, ctx.campaign)
    for step in STEPS:
        if step not in applicable and step.attr:
            setattr(draft, step.attr, None)
    if not is_research(draft, ctx.campaign):
        for author in draft.authors:
            author.is_lead = False


def _problem(ctx: Context, draft: Initiative) -> tuple[str, Step] | None:
    """What still stops the submission: a missing answer, no benefit, a date outside the window."""
    missing = first_missing_step(draft, ctx.campaign)
    if missing is not None:
        return "err_missing_step", missing
    if draft.economic_benefit is None and draft.social_benefit is None:
        return "err_benefit_needed", STEPS_BY_KEY["economic_benefit"]
    try:
        check_application(ctx, draft.first_applied_on)
    except InputError as error:
        return error.key, STEPS_BY_KEY["first_applied_on"]
    return None


async def submit(ctx: Context, draft: Initiative) -> None:
    """Final check of every rule, then hand the initiative to the branch."""
    assert ctx.member is not None
    if not may_enter(ctx, draft):
        refuse(ctx, draft, f"submit entry for branch {draft.branch_id}", "on_behalf_not_allowed")
        return
    problem = _problem(ctx, draft)
    if problem is not None:
        key, step = problem
        draft.current_step = step.key
        draft.editing_from_summary = True
        date_params = {
            "date": rules.format_date(draft.first_applied_on),
            "start": rules.format_date(ctx.campaign.eligible_from),
            "end": rules.format_date(ctx.campaign.eligible_until),
            "campaigns": open_campaigns_text(ctx),
        }
        await ask(ctx, draft, "⚠️ " + ctx.t(key, field=ctx.t(step.label_key), **date_params))
        return
    _clear_inapplicable(ctx, draft)
    queries.apply_credit(draft, research=is_research(draft, ctx.campaign))
    await _copy_profiles(ctx, draft)
    after = review.snapshot(ctx, draft)
    resubmission = draft.status != Status.DRAFT
    changed = review.changed_steps(ctx, draft, draft.submitted_snapshot, after) if resubmission else None
    queries.submit(ctx.session, draft, ctx.member, ctx.now(), after, changed)
    ctx.set_flow(None)
    chairs = await review.notify_chairs(ctx, draft)
    await _ask_coauthors_to_confirm(ctx, draft)
    key = ("resubmitted_unchanged" if changed == [] else "resubmitted") if resubmission else "submitted"
    ctx.say(ctx.t(key, id=draft.id, title=esc(draft.title), branch=esc(draft.branch.name)), menu=True)
    if not chairs:  # the officer who entered it for members may verify it himself (he is not its author)
        entered_to_verify = draft.entered_by_member_id is not None and can_decide(ctx, draft)
        ctx.say(ctx.t("submitted_entered_to_verify" if entered_to_verify else "submitted_no_chair"))
    if ctx.member.profile_asked_at is None and draft.entered_by_member_id is None:
        await profile.start(ctx, after_initiative=draft.id)  # once: the forms follow the profile
    else:
        await paperwork.send_forms(ctx, draft)


async def _copy_profiles(ctx: Context, draft: Initiative) -> None:
    """Every registered author's profile onto their row (the submitter's, and co-authors' who confirmed); a
    typed co-author's details as this member last wrote them for another initiative."""
    assert ctx.member is not None
    others = {a.member_id for a in draft.authors if a.member_id and a.member_id != ctx.member.id and a.confirmed}
    members = {ctx.member.id: ctx.member, **{m.id: m for m in await queries.members_by_id(ctx.session, others)}}
    for author in draft.authors:
        if author.member_id in members:
            queries.copy_profile(author, members[author.member_id])
    typed = [a for a in draft.authors if a.member_id is None
             and not any((a.workplace, a.birth_date, a.job_title, a.qualification))]  # fmt: skip
    if typed:  # named again: their details as last written for this member's other initiatives
        known = await queries.typed_coauthor_details(ctx.session, draft.member_id, draft.id)
        for author in typed:
            if details := known.get(fold(author.full_name)):
                author.workplace, author.birth_date, author.job_title, author.qualification = details


async def _ask_coauthors_to_confirm(ctx: Context, draft: Initiative) -> None:
    """A registered co-author is asked, once, whether the initiative is theirs (they see it in /mine)."""
    assert ctx.member is not None
    for author in draft.authors:
        if author.member_id and author.confirmed is None and author.member_id != ctx.member.id:
            question = _coauthor_question(draft, author, esc(ctx.member.full_name))
            await notices.notify_members(ctx, {author.member_id}, question, purpose="notice", initiative_id=draft.id)


def _coauthor_question(draft: Initiative, author: Author, who: str) -> notices.Notice:
    def question(there: Context) -> Reply:
        return Reply(
            text=there.t("coauthor_ask", id=draft.id, title=esc(draft.title), who=who, share=author.share_percent),
            options=tuple(tuple(row) for row in two_a_row([Option(there.t("btn_coauthor_yes"), f"ca:{author.id}:y"),
                                                           Option(there.t("btn_coauthor_no"), f"ca:{author.id}:n")])),
            ref=str(draft.id),
        )  # fmt: skip

    return question
