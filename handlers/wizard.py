"""The submission wizard's mechanics over the step table: ask, answer, back, skip, edit, summary, submit.

Every answer is written to the draft row the moment it is accepted; the draft's `current_step` is the
conversation, so a restart (or another channel) resumes exactly there.
"""

from __future__ import annotations

from handlers import answers, paperwork, review, rules
from handlers.context import Context, esc
from handlers.events import EventKind, FileRef, Option
from handlers.rules import InputError
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
)
from storage import files, queries
from storage.models import Attachment, Initiative, Status

FLOW = "wizard"
BACK, SKIP, CANCEL, DONE, SOLO, CLEAR_FILES = "<", ">", "x", "ok", "solo", "clr"


def payload(draft: Initiative, step_key: str, value: str) -> str:
    return f"w:{draft.id}:{step_key}:{value}"


# --- entering and leaving --------------------------------------------------------------------------


async def start_new(ctx: Context) -> None:
    assert ctx.member is not None
    draft = await queries.create_draft(ctx.session, ctx.member, STEPS[0].key)
    ctx.say(ctx.t("wizard_intro", id=draft.id))
    await open_draft(ctx, draft)


async def open_draft(ctx: Context, draft: Initiative) -> None:
    """Make `draft` the person's active conversation and ask its current question."""
    ctx.set_flow(FLOW, draft=draft.id)
    if draft.current_step is None:
        draft.current_step = STEPS[0].key
    await ask(ctx, draft)


async def active_draft(ctx: Context) -> Initiative | None:
    if ctx.identity.flow != FLOW or ctx.member is None:
        return None
    draft = await queries.member_initiative(ctx.session, ctx.member.id, int(ctx.identity.flow_data.get("draft", 0)))
    if draft is None or draft.status not in queries.EDITABLE:
        ctx.set_flow(None)
        return None
    return draft


def leave(ctx: Context, draft: Initiative) -> None:
    ctx.set_flow(None)
    ctx.say(ctx.t("wizard_cancelled", id=draft.id, title=esc(draft.title or ctx.t("untitled"))), menu=True)


# --- asking ----------------------------------------------------------------------------------------


def _nav_row(ctx: Context, draft: Initiative, step: Step) -> list[Option]:
    row = [Option(ctx.t("btn_back"), payload(draft, step.key, BACK))]
    if step.optional:
        row.append(Option(ctx.t("btn_skip"), payload(draft, step.key, SKIP)))
    row.append(Option(ctx.t("btn_cancel"), payload(draft, step.key, CANCEL)))
    return row


async def ask(ctx: Context, draft: Initiative, note: str = "") -> None:
    """Send the current step's question, with its options and the Back/Skip/Cancel row."""
    key = draft.current_step or STEPS[0].key
    if key == SUMMARY:
        show_summary(ctx, draft, note)
        return
    step = STEPS_BY_KEY[key]
    steps = counted_steps(draft, ctx.campaign, step)
    number = steps.index(step) + 1
    parts = [note] if note else []
    parts.append(ctx.t("step_counter", k=number, n=len(steps)))
    parts.append(ctx.t(step.prompt_key, **_prompt_params(ctx, draft, step)))
    if step.optional:
        parts.append(ctx.t("hint_optional"))
    current = answers.display_value(ctx, draft, step) if step.is_answered(draft) and step.kind is not Kind.FILES else ""
    if current:
        parts.append(ctx.t("hint_current", value=current))
    rows: list[list[Option]] = []
    if step.kind is Kind.CHOICE:
        rows = [[Option(label, payload(draft, step.key, value))] for value, label in answers.choices(ctx, step)]
    elif step.kind is Kind.TEXT and step.suggestions:
        labels = [ctx.t(key) for key in step.suggestions]
        rows = [
            [Option(label, payload(draft, step.key, f"s{i}")) for i, label in enumerate(labels[j : j + 2], start=j)]
            for j in range(0, len(labels), 2)
        ]
    elif step.kind is Kind.AUTHORS:
        rows = [[Option(ctx.t("btn_solo_author"), payload(draft, step.key, SOLO))]]
    elif step.kind is Kind.FILES:
        rows = _files_rows(ctx, draft, step)
    rows.append(_nav_row(ctx, draft, step))
    ctx.say("\n\n".join(parts), rows, numbers_answer=step.kind in (Kind.DATE, Kind.AMOUNT))


def _files_rows(ctx: Context, draft: Initiative, step: Step) -> list[list[Option]]:
    count = len(draft.attachments)
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
    if step.key == "type":
        params["types"] = "\n".join(f"<b>{t.code}</b> {esc(t.label)}: {esc(t.explanation)}" for t in campaign.types)
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
        show_summary(ctx, draft, ctx.t("err_use_buttons"))
        return
    step = STEPS_BY_KEY[step_key]
    if event.kind is EventKind.FILE:
        if step.kind is Kind.FILES:
            await _add_file(ctx, draft, step, event.file)
        else:
            await ask(ctx, draft, ctx.t("err_text_expected"))
        return
    if event.kind is EventKind.UNSUPPORTED:
        expected = "err_file_expected" if step.kind is Kind.FILES else "err_text_expected"
        await ask(ctx, draft, ctx.t(expected))
        return
    try:
        await _accept_text(ctx, draft, step, event.text)
    except InputError as error:
        await ask(ctx, draft, "⚠️ " + ctx.t(error.key, **error.params))


async def _handle_option(ctx: Context, draft: Initiative, step_key: str) -> None:
    parts = ctx.event.payload.split(":", 3)
    if len(parts) != 4 or parts[1] != str(draft.id) or parts[2] != step_key:
        await ask(ctx, draft, ctx.t("err_stale_button"))
        return
    value = parts[3]
    if step_key == SUMMARY:
        await _summary_action(ctx, draft, value)
        return
    step = STEPS_BY_KEY[step_key]
    if value == CANCEL:
        leave(ctx, draft)
    elif value == BACK:
        await go_back(ctx, draft, step)
    elif value == SKIP and step.optional:
        await _skip(ctx, draft, step)
    else:
        try:
            await _accept_option(ctx, draft, step, value)
        except InputError as error:
            await ask(ctx, draft, "⚠️ " + ctx.t(error.key, **error.params))


async def handle_command(ctx: Context, draft: Initiative, command: str) -> bool:
    """/back, /skip and /cancel typed instead of tapped. Returns False if not a wizard command."""
    step_key = draft.current_step or STEPS[0].key
    step = STEPS_BY_KEY.get(step_key)
    if command == "cancel":
        leave(ctx, draft)
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
    if step.kind is Kind.CHOICE:
        valid = {v for v, _ in answers.choices(ctx, step)}
        if value not in valid:
            raise InputError("err_stale_button")
        await _store_choice(ctx, draft, step, value)
    elif step.kind is Kind.TEXT and value.startswith("s") and rules.parse_id(value[1:]) is not None:
        index = rules.parse_id(value[1:]) or 0
        if index >= len(step.suggestions):
            raise InputError("err_stale_button")
        await _accept_text(ctx, draft, step, ctx.t(step.suggestions[index]))
    elif step.kind is Kind.AUTHORS and value == SOLO:
        assert ctx.member is not None
        queries.replace_authors(draft, [(ctx.member.full_name, 100, ctx.member.id)])
        await advance(ctx, draft, step)
    elif step.kind is Kind.FILES and value == DONE:
        await advance(ctx, draft, step)
    elif step.kind is Kind.FILES and value == CLEAR_FILES:
        draft.attachments.clear()
        await ask(ctx, draft, ctx.t("files_cleared"))
    else:
        raise InputError("err_stale_button")


async def _store_choice(ctx: Context, draft: Initiative, step: Step, value: str) -> None:
    if value == step.refused_value:
        raise InputError(f"err_refused_{step.key}")
    stored = STORED_VALUE.get(step.key, {}).get(value, value)
    setattr(draft, step.attr, stored)
    await advance(ctx, draft, step)


async def _accept_text(ctx: Context, draft: Initiative, step: Step, text: str) -> None:
    if step.kind is Kind.CHOICE:
        folded = rules.fold(text)
        match = next(
            (v for v, label in answers.choices(ctx, step) if folded in (rules.fold(label), rules.fold(v))), None
        )
        if match is None:
            raise InputError("err_use_buttons")
        await _store_choice(ctx, draft, step, match)
    elif step.kind is Kind.TEXT:
        setattr(draft, step.attr, rules.clean_text(text, min_len=step.min_len, max_len=step.max_len))
        await advance(ctx, draft, step)
    elif step.kind is Kind.DATE:
        setattr(draft, step.attr, _parse_step_date(ctx, step, text))
        await advance(ctx, draft, step)
    elif step.kind is Kind.AMOUNT:
        draft.economic_amount_vnd = rules.parse_amount(text)
        await advance(ctx, draft, step)
    elif step.kind is Kind.AUTHORS:
        assert ctx.member is not None
        coauthors = rules.parse_coauthors(text)
        own_share = 100 - sum(a.share_percent for a in coauthors)
        rows = [(ctx.member.full_name, own_share, ctx.member.id)]
        rows += [(a.full_name, a.share_percent, None) for a in coauthors]
        queries.replace_authors(draft, rows)
        await advance(ctx, draft, step, ctx.t("authors_recorded", authors=answers.authors_text(ctx, draft)))
    elif step.kind is Kind.FILES:
        raise InputError("err_file_expected")


def _parse_step_date(ctx: Context, step: Step, text: str) -> object:
    pending = ctx.identity.flow_data.get("pending_month")
    stripped = text.strip()
    day = rules.parse_id(stripped)
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
        rules.check_first_application(date, ctx.campaign.eligible_from, ctx.campaign.eligible_until, today)
    elif step.date_rule == "recognised":
        rules.check_recognition_date(date, ctx.campaign.eligible_from, today)
    elif step.date_rule == "birth":
        rules.check_birth_date(date, today)
    else:
        rules.check_not_future(date, today)
    return date


async def _add_file(ctx: Context, draft: Initiative, step: Step, file: FileRef | None) -> None:
    assert file is not None
    if len(draft.attachments) >= MAX_ATTACHMENTS:
        await ask(ctx, draft, ctx.t("err_too_many_files", max=MAX_ATTACHMENTS))
        return
    if file.size_bytes and file.size_bytes > MAX_ATTACHMENT_BYTES:
        await ask(ctx, draft, ctx.t("err_file_too_big", max_mb=MAX_ATTACHMENT_BYTES // (1024 * 1024)))
        return
    attachment = Attachment(
        platform=ctx.event.platform,
        file_id=file.file_id,
        kind=file.kind,
        file_name=file.file_name,
        size_bytes=file.size_bytes,
        mime_type=file.mime_type,
    )
    draft.attachments.append(attachment)
    await ctx.session.flush()
    await files.attach(ctx.session, file.file_id, attachment.id)
    name = file.file_name or ctx.t(f"file_kind_{file.kind}")
    ctx.say(
        ctx.t("file_received", name=esc(name), count=len(draft.attachments), max=MAX_ATTACHMENTS),
        [*_files_rows(ctx, draft, step), _nav_row(ctx, draft, step)],
    )


# --- moving between steps --------------------------------------------------------------------------


async def advance(ctx: Context, draft: Initiative, step: Step, note: str = "") -> None:
    """After an accepted answer: the next step, or back to the summary when editing from it."""
    ctx.identity.flow_data = {"draft": draft.id}
    applicable = applicable_steps(draft, ctx.campaign)
    if draft.editing_from_summary:
        missing = first_missing_step(draft, ctx.campaign)
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
    if step.attr:
        setattr(draft, step.attr, None)
    if step.key == "economic_benefit":
        draft.economic_amount_vnd = None
    if step.key == "recognition_kind":
        draft.recognition_decision_no = None
        draft.recognition_date = None
    await advance(ctx, draft, step)


async def go_back(ctx: Context, draft: Initiative, step: Step) -> None:
    ctx.identity.flow_data = {"draft": draft.id}
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


def show_summary(ctx: Context, draft: Initiative, note: str = "") -> None:
    lines = [note] if note else []
    lines.append(ctx.t("summary_title", id=draft.id))
    steps = applicable_steps(draft, ctx.campaign)
    for number, step in enumerate(steps, start=1):
        lines.append(f"{number}. <b>{ctx.t(step.label_key)}</b>: {answers.display_value(ctx, draft, step)}")
    if draft.recognition_kind is None:
        lines.append("\n" + ctx.t("warn_not_recognised"))
    edit_buttons = [
        Option("✏️ " + ctx.t(step.label_key), payload(draft, SUMMARY, f"e{STEPS.index(step)}")) for step in steps
    ]
    rows: list[list[Option]] = [edit_buttons[i : i + 2] for i in range(0, len(edit_buttons), 2)]
    rows.append([Option(ctx.t("btn_submit"), payload(draft, SUMMARY, "go"))])
    rows.append([Option(ctx.t("btn_cancel"), payload(draft, SUMMARY, CANCEL))])
    ctx.say("\n".join(lines), rows)


async def _summary_action(ctx: Context, draft: Initiative, value: str) -> None:
    edit = rules.parse_id(value[1:]) if value.startswith("e") else None
    if value == CANCEL:
        leave(ctx, draft)
    elif value == "go":
        await submit(ctx, draft)
    elif edit is not None and edit < len(STEPS):
        step = STEPS[edit]
        if step not in applicable_steps(draft, ctx.campaign):
            await ask(ctx, draft, ctx.t("err_stale_button"))
            return
        draft.current_step = step.key
        draft.editing_from_summary = True
        await ask(ctx, draft)
    else:
        await ask(ctx, draft, ctx.t("err_stale_button"))


def _clear_inapplicable(ctx: Context, draft: Initiative) -> None:
    applicable = applicable_steps(draft, ctx.campaign)
    for step in STEPS:
        if step not in applicable and step.attr:
            setattr(draft, step.attr, None)


async def submit(ctx: Context, draft: Initiative) -> None:
    """Final check of every rule, then hand the initiative to the branch."""
    assert ctx.member is not None
    missing = first_missing_step(draft, ctx.campaign)
    problem = None
    if missing is not None:
        problem = ("err_missing_step", missing)
    elif draft.economic_benefit is None and draft.social_benefit is None:
        problem = ("err_benefit_needed", STEPS_BY_KEY["economic_benefit"])
    else:
        try:
            rules.check_first_application(
                draft.first_applied_on, ctx.campaign.eligible_from, ctx.campaign.eligible_until, ctx.today()
            )
        except InputError as error:
            problem = (error.key, STEPS_BY_KEY["first_applied_on"])
    if problem is not None:
        key, step = problem
        draft.current_step = step.key
        draft.editing_from_summary = True
        date_params = {
            "date": rules.format_date(draft.first_applied_on),
            "start": rules.format_date(ctx.campaign.eligible_from),
            "end": rules.format_date(ctx.campaign.eligible_until),
        }
        await ask(ctx, draft, "⚠️ " + ctx.t(key, field=ctx.t(step.label_key), **date_params))
        return
    _clear_inapplicable(ctx, draft)
    after = review.snapshot(ctx, draft)
    resubmission = draft.status != Status.DRAFT
    changed = review.changed_fields(ctx, draft, draft.submitted_snapshot, after) if resubmission else None
    queries.submit(ctx.session, draft, ctx.member, ctx.now(), after)
    ctx.set_flow(None)
    chairs = await review.notify_chairs(ctx, draft, changed)
    key = "resubmitted" if changed is not None else "submitted"
    ctx.say(ctx.t(key, id=draft.id, title=esc(draft.title), branch=esc(ctx.member.branch.name)), menu=True)
    if not chairs:
        ctx.say(ctx.t("submitted_no_chair"))
    ctx.replies.extend(await paperwork.form_replies(ctx, draft))
