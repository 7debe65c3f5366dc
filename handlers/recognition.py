"""Recording recognition ("công nhận"): the decision of an initiative council, the head of the unit, or
for a research topic (1.7) the acceptance council — its number, its date, and optionally its scan.

Only recognised initiatives count (plan IV.3), in the phase that holds the decision's date. The decision
can be given in the wizard (already recognised when submitted) or recorded later — `/congnhan <id>` or
the 🏅 button — by the author, a chair of the initiative's branch (or of the branch it is credited to),
or an admin, each re-authorised on the server and audited. A verified initiative becomes recognised the
moment its decision is recorded; a submitted one keeps it until a chair verifies it.
"""

from __future__ import annotations

from sqlalchemy import update

from domain import rules
from domain.rules import InputError
from domain.text import begins, reads_as, shorten
from handlers import answers, notices
from handlers.context import Context, esc
from handlers.events import ROW_CHARS, EventKind, Option, Reply
from handlers.roles import can_review, chaired_branch_ids, is_admin, refuse
from handlers.wizard_steps import MAX_ATTACHMENT_BYTES, too_big
from storage import files, queries, unit_directory
from storage.models import Attachment, AuditEvent, Initiative, Status

FLOW = "recognition"
SCAN_FLOW = "recognition_scan"
OPEN = (Status.SUBMITTED, Status.VERIFIED, Status.RECOGNISED)
KINDS = ("council", "head")
CHOICES_SHOWN = 20  # initiatives offered by /congnhan; any other by its number (/congnhan 123)
RESEARCH_KIND = "acceptance"
STOP = "stop"  # rc:<id>:stop — nothing recorded after all


def is_recorded(initiative: Initiative) -> bool:
    return initiative.recognition_kind is not None and initiative.recognition_date is not None


def button(ctx: Context, initiative_id: int) -> Option:
    return Option(ctx.t("btn_record_recognition"), f"rc:{initiative_id}")


def may_record(ctx: Context, initiative: Initiative) -> bool:
    member = ctx.member
    if member is None or initiative.status not in OPEN:
        return False
    author = initiative.member_id == member.id or any(a.member_id == member.id for a in initiative.authors)
    return author or _officer(ctx, initiative)


def _officer(ctx: Context, initiative: Initiative) -> bool:
    """A chair of its branch (or of the branch it is credited to), or an admin."""
    return can_review(ctx, initiative) or initiative.credited_branch_id in chaired_branch_ids(ctx) or is_admin(ctx)


def _kept_from_author(ctx: Context, initiative: Initiative) -> bool:
    """A recorded decision is recorded again by an officer only: an author could otherwise replace what a chair
    recorded, or move the phase his initiative counts in (the decision's date decides it). Says so; True then."""
    if not is_recorded(initiative) or _officer(ctx, initiative):
        return False
    ctx.set_flow(None)
    ctx.say(ctx.t("recognition_already_recorded", id=initiative.id,
                  recognition=answers.recognition_line(ctx, initiative)), menu=True)  # fmt: skip
    return True


async def command(ctx: Context) -> None:
    """`/congnhan [id]`: record the decision of one initiative, or choose among those waiting for it."""
    typed = ctx.event.args.strip().lstrip("#")
    if typed and rules.parse_id(typed) is not None:
        await start(ctx, typed)
        return
    if typed:  # «/congnhan abc»: not a number; the initiatives waiting are offered below
        ctx.say(ctx.t("recognition_not_a_number", typed=esc(typed[:30])))
    assert ctx.member is not None
    waiting = [i for i in await queries.member_submissions(ctx.session, ctx.member.id)
               if i.status in (Status.SUBMITTED, Status.VERIFIED) and not is_recorded(i)]  # fmt: skip
    officer_of = None if is_admin(ctx) else chaired_branch_ids(ctx)
    if officer_of is None or officer_of:  # and what the units he chairs (every unit: an admin) verified
        verified = await queries.awaiting_recognition(ctx.session, officer_of, CHOICES_SHOWN)
        own = {initiative.id for initiative in waiting}
        waiting += [initiative for initiative in verified if initiative.id not in own]
    waiting = waiting[:CHOICES_SHOWN]
    if not waiting:
        ctx.say(ctx.t("recognition_nothing_waiting"))
        return
    rows = [[Option(_choice_label(i), f"rc:{i.id}")] for i in waiting]
    ctx.say("\n".join([ctx.t("recognition_choose"), *await _choice_lines(ctx, waiting)]), rows)


async def _choice_lines(ctx: Context, waiting: list[Initiative]) -> list[str]:
    """Each initiative offered, whole (a button shows a phone's width of its title), with its unit's code, as
    /sangkien lists them: a chair of several units, an admin, tells them apart."""
    codes = {unit.id: unit.code for unit in await unit_directory.units(ctx.session)}
    return [f"• #{i.id} {esc(shorten(i.title or '', 80))} · {esc(codes.get(i.branch_id, ''))}" for i in waiting]


def _choice_label(initiative: Initiative) -> str:
    """«#14 Số hoá quy trình…»: cut to what a phone shows whole (cut at 40, the phone cut it again: «… …»)."""
    number = f"#{initiative.id} "
    return number + shorten(initiative.title or "", ROW_CHARS - len(number))


async def start(ctx: Context, raw_id: str) -> None:
    number = rules.parse_id(raw_id)
    initiative = await queries.initiative_by_id(ctx.session, number) if number is not None else None
    if initiative is None or not may_record(ctx, initiative):
        refuse(ctx, initiative, f"record recognition {raw_id[:20]}", "recognition_not_allowed")
        return
    if _kept_from_author(ctx, initiative):
        return
    kind = ctx.campaign.type_by_code(initiative.type_code or "")
    if kind is not None and kind.research:
        _ask_decision(ctx, initiative, RESEARCH_KIND)
        return
    _ask_kind(ctx, initiative)


def _ask_kind(ctx: Context, initiative: Initiative, note: str = "") -> None:
    """Who recognised it: a button, or its words typed («hội đồng», «thủ trưởng»)."""
    ctx.set_flow(FLOW, initiative=initiative.id, kind="")
    text = note + ctx.t("recognition_ask_kind", id=initiative.id, title=esc(initiative.title))
    if is_recorded(initiative):
        text += "\n" + ctx.t("recognition_replacing", recognition=answers.recognition_line(ctx, initiative))
    rows = [[Option(ctx.t(f"choice_recognised_{k}"), f"rc:{initiative.id}:{k}")] for k in KINDS]
    ctx.say(text, [*rows, [_stop_button(ctx, initiative)]])


def _stop_button(ctx: Context, initiative: Initiative) -> Option:
    return Option(ctx.t("btn_profile_stop"), f"rc:{initiative.id}:{STOP}")


async def stop(ctx: Context, initiative_id: str, *, menu: bool = True) -> None:
    """Nothing recorded after all (the stop button, its words typed, /cancel, another command): said, with how to
    come back; or, when a decision was recorded before, that it stays."""
    ctx.set_flow(None)
    number = rules.parse_id(initiative_id)
    initiative = await queries.initiative_by_id(ctx.session, number) if number is not None else None
    if initiative is not None and is_recorded(initiative):
        ctx.say(ctx.t("recognition_stopped_kept", id=initiative.id,
                      recognition=answers.recognition_line(ctx, initiative)), menu=menu)  # fmt: skip
        return
    ctx.say(ctx.t("recognition_stopped", id=esc(initiative_id)), menu=menu)


def scan_skipped(ctx: Context) -> None:
    ctx.set_flow(None)
    ctx.say(ctx.t("recognition_scan_skipped"), menu=True)


def _asking(ctx: Context, initiative: Initiative) -> bool:
    """This initiative's kind or decision number is what the person is asked now (an old «✖️ Dừng» is not)."""
    data = ctx.identity.flow_data
    return ctx.identity.flow == FLOW and str(data.get("initiative")) == str(initiative.id)


def _typed_kind(ctx: Context, text: str) -> str | None:
    said = [k for k in KINDS if reads_as(text, ctx.t(f"choice_recognised_{k}"))
            or begins(text, ctx.t(f"choice_recognised_{k}"))]  # fmt: skip
    return said[0] if len(said) == 1 else None


def _ask_decision(ctx: Context, initiative: Initiative, kind: str, note: str = "") -> None:
    ctx.set_flow(FLOW, initiative=initiative.id, kind=kind)
    ctx.say(note + ctx.t("recognition_ask_decision", id=initiative.id, body=ctx.t(f"choice_recognised_{kind}")),
            [[_stop_button(ctx, initiative)]], numbers_answer=True)  # fmt: skip


async def handle_option(ctx: Context) -> None:
    """rc:<id> (record), rc:<id>:<kind> (its kind chosen), rc:<id>:stop (nothing recorded), rc:<id>:done (no
    scan)."""
    parts = ctx.event.payload.split(":")
    if len(parts) == 2:
        await start(ctx, parts[1])
        return
    number = rules.parse_id(parts[1]) if len(parts) == 3 else None
    initiative = await queries.initiative_by_id(ctx.session, number) if number is not None else None
    if initiative is None or not may_record(ctx, initiative):
        refuse(ctx, initiative, ctx.event.payload, "recognition_not_allowed")
    elif parts[2] in KINDS:
        if not _kept_from_author(ctx, initiative):
            _ask_decision(ctx, initiative, parts[2])
    elif parts[2] == STOP and _asking(ctx, initiative):
        await stop(ctx, str(initiative.id))
    elif parts[2] == STOP:  # an old question's: what is asked now goes on
        ctx.press_not_taken()
        ctx.say(ctx.t("err_old_button"))
    elif parts[2] == "done":
        scan_skipped(ctx)
    else:
        refuse(ctx, initiative, ctx.event.payload, "recognition_not_allowed")


async def handle_text(ctx: Context) -> None:
    """The decision's number and date ("45/QĐ-CĐCS 15/03/2022")."""
    data = ctx.identity.flow_data
    initiative = await queries.initiative_by_id(ctx.session, rules.parse_id(str(data.get("initiative", ""))) or 0)
    if initiative is None or not may_record(ctx, initiative):
        ctx.set_flow(None)
        refuse(ctx, initiative, "recognition text", "recognition_not_allowed")
        return
    if _kept_from_author(ctx, initiative):  # a chair recorded it meanwhile
        return
    if ctx.event.kind is EventKind.TEXT and rules.declines(ctx.event.text):  # «bỏ qua», «huỷ», «chưa có»
        await stop(ctx, str(initiative.id))
        return
    if not data.get("kind"):  # the kind's question, answered by typing
        kind = _typed_kind(ctx, ctx.event.text) if ctx.event.kind is EventKind.TEXT else None
        if kind is None:
            _ask_kind(ctx, initiative, "⚠️ " + ctx.t("err_use_buttons") + "\n")
        else:
            _ask_decision(ctx, initiative, kind)
        return
    kind = str(data.get("kind"))
    if ctx.event.kind is not EventKind.TEXT:
        _ask_decision(ctx, initiative, kind, ctx.t("err_text_expected") + "\n")
        return
    try:
        decision_no, date = rules.parse_decision(ctx.event.text)
        rules.check_recognition_date(date, ctx.earliest_eligible(), ctx.today())
    except InputError as error:
        params = {"start": rules.format_date(ctx.earliest_eligible()), **error.params}
        _ask_decision(ctx, initiative, kind, "⚠️ " + ctx.t(error.key, **params) + "\n")
        return
    await record(ctx, initiative, str(data.get("kind", "council")), decision_no, date)


async def record(ctx: Context, initiative: Initiative, kind: str, decision_no: str, date: object) -> None:
    assert ctx.member is not None
    replaced = answers.recognition_line(ctx, initiative) if is_recorded(initiative) else ""
    initiative.recognition_kind, initiative.recognition_decision_no = kind, decision_no
    initiative.recognition_date = date  # type: ignore[assignment]
    recognised = False
    if initiative.status == Status.VERIFIED:
        result = await ctx.session.execute(
            update(Initiative)
            .where(Initiative.id == initiative.id, Initiative.status == Status.VERIFIED)
            .values(status=Status.RECOGNISED)
            .execution_options(synchronize_session=False)
        )
        recognised = result.rowcount == 1
    ctx.session.add(AuditEvent(
        initiative_id=initiative.id, actor_member_id=ctx.member.id, action="recognition_recorded",
        from_status=Status.VERIFIED if recognised else None, to_status=Status.RECOGNISED if recognised else None,
        reason=(f"{ctx.t(f'choice_recognised_{kind}')} {decision_no} {rules.format_date(initiative.recognition_date)}"
                + (f" (thay {replaced})" if replaced else ""))[:500],
    ))  # fmt: skip
    if recognised:
        initiative.status = Status.RECOGNISED
    note = ""
    if initiative.first_applied_on and initiative.recognition_date < initiative.first_applied_on:
        note = "\n" + ctx.t("recognition_before_application", date=rules.format_date(initiative.recognition_date),
                            applied=rules.format_date(initiative.first_applied_on))  # fmt: skip
    key = "recognition_saved_counted" if initiative.status == Status.RECOGNISED else "recognition_saved"
    ctx.set_flow(SCAN_FLOW, initiative=initiative.id)
    rows = [[Option(ctx.t("btn_recognition_done"), f"rc:{initiative.id}:done")]]
    if _officer(ctx, initiative):  # a number or a date typed wrong, mended at once (an author asks a chair)
        rows.append([Option(ctx.t("btn_recognition_edit"), f"rc:{initiative.id}")])
    ctx.say(
        ctx.t(key, id=initiative.id, recognition=answers.recognition_line(ctx, initiative)) + note + "\n\n"
        + ctx.t("recognition_ask_scan"),
        rows,
    )  # fmt: skip
    await _tell_the_others(ctx, initiative)


async def _tell_the_others(ctx: Context, initiative: Initiative) -> None:
    """The chairs when an author recorded it, the authors when a chair or an admin did (one notice each)."""
    assert ctx.member is not None
    who = esc(ctx.member.full_name)

    def notice(there: Context) -> Reply:
        text = there.t("recognition_notice", id=initiative.id, title=esc(initiative.title), who=who,
                       recognition=answers.recognition_line(there, initiative),
                       status=there.t(f"status_{initiative.status.value}"))  # fmt: skip
        return Reply(text=text, ref=str(initiative.id))

    if ctx.member.id in notices.author_ids(initiative):
        await notices.notify_chairs_of(ctx, initiative.branch_id, notice, purpose="notice", initiative_id=initiative.id)
    else:
        await notices.notify_authors(ctx, initiative, notice, purpose="notice")


async def attach_scan(ctx: Context) -> None:
    """A photo or file sent right after the decision was recorded: the decision's scan."""
    initiative = await queries.initiative_by_id(ctx.session, int(ctx.identity.flow_data.get("initiative", 0)))
    ctx.set_flow(None)
    file = ctx.event.file
    if initiative is None or file is None or not may_record(ctx, initiative):
        refuse(ctx, initiative, "recognition scan", "recognition_not_allowed")
        return
    if too_big(file):
        ctx.say(ctx.t("err_file_too_big", max_mb=MAX_ATTACHMENT_BYTES // (1024 * 1024)), menu=True)
        return
    scan = Attachment(platform=ctx.event.platform, file_id=file.file_id, kind=file.kind, file_name=file.file_name,
                      size_bytes=file.size_bytes, mime_type=file.mime_type, purpose="decision")  # fmt: skip
    initiative.attachments.append(scan)
    await ctx.session.flush()
    await files.attach(ctx.session, file.file_id, scan.id)
    ctx.say(ctx.t("recognition_scan_saved", id=initiative.id), menu=True)
