"""Ad-hoc broadcasts by provincial admins: `/broadcast` → the message → the audience → preview → confirm,
then a delivery report (sent, failed, blocked) once the outbox has tried every recipient.

The draft of the broadcast lives in the admin's `identity.flow_data`, so a restart loses nothing; every
step re-checks that the person is still an admin. Messages go out through the outbox (its rate limits,
retries and quiet hours: a broadcast confirmed at night is delivered in the morning).
"""

from __future__ import annotations

import logging
import re
import secrets

from domain import rules
from domain.rules import InputError
from domain.text import reads_as
from handlers import unit_codes
from handlers.context import Context, Services, esc
from handlers.events import EventKind, Option, Reply, two_a_row
from handlers.i18n import catalog
from handlers.progress import REMIND_BEHIND_PAYLOAD, furthest_behind
from handlers.reminders import deliver_at
from handlers.roles import is_admin, refuse
from storage import progress as progress_queries
from storage import queries
from storage.models import Branch, Broadcast, OutboxStatus

log = logging.getLogger(__name__)
FLOW = "broadcast"
AUDIENCES = ("groups", "branches", "chairs", "behind", "members")
MAX_TEXT = 3000
MAX_BRANCHES = 50


def _cancel_row(ctx: Context) -> list[Option]:
    return [Option(ctx.t("btn_bc_cancel"), "bc:x")]


async def start(ctx: Context, audience: str | None = None) -> None:
    """`/broadcast`: admins only. `audience`: chosen already (/progress's button for the units behind)."""
    if not is_admin(ctx):
        refuse(ctx, None, "/broadcast", "admin_only")
        return
    ctx.set_flow(FLOW, step="text", **({"audience": audience} if audience else {}))
    _ask_text(ctx, audience)


def _ask_text(ctx: Context, audience: object) -> None:
    """The notice's text asked for (the recipients said if chosen already); on Zalo a number typed is the
    text's, «✖️ Huỷ thông báo» is answered by its words (typed «1» was to cancel)."""
    key = "broadcast_ask_text_behind" if audience == "behind" else "broadcast_ask_text"
    ctx.say(ctx.t(key, max=MAX_TEXT), [_cancel_row(ctx)], numbers_answer=True)


def _still_admin(ctx: Context) -> bool:
    if is_admin(ctx):
        return True
    ctx.set_flow(None)
    refuse(ctx, None, "broadcast step")
    return False


async def handle_text(ctx: Context) -> None:
    """What the admin types while a broadcast is being prepared."""
    if not _still_admin(ctx):
        return
    data = dict(ctx.identity.flow_data)
    step = data.get("step", "text")
    if ctx.event.kind is not EventKind.TEXT:
        ctx.say(ctx.t("err_text_expected"))
        return
    if any(reads_as(ctx.event.text, word) for word in rules.CANCEL_WORDS):  # «huy» is no one's notice, nor a code
        _cancelled(ctx)
        return
    if step == "text":
        try:
            data["text"] = rules.clean_text(ctx.event.text, min_len=3, max_len=MAX_TEXT)
        except InputError as error:  # too long: a notice has no attachments step to send the rest in
            key = "broadcast_too_long" if error.key == "err_too_long" else error.key
            ctx.say("⚠️ " + ctx.t(key, **error.params), [_cancel_row(ctx)], numbers_answer=True)
            return
        if data.get("audience") == "behind":  # chosen before the text
            ctx.set_flow(FLOW, **{**data, "step": "preview", "branches": []})
            await _preview(ctx)
            return
        if data.get("audience") and (data["audience"] != "branches" or data.get("branches")):  # the text mended
            ctx.set_flow(FLOW, **{**data, "step": "preview"})  # after a preview: its audience is kept
            await _preview(ctx)
            return
        ctx.set_flow(FLOW, **{**data, "step": "audience"})
        _ask_audience(ctx)
    elif step == "branches":
        branches, unknown = await _branches_from_codes(ctx, ctx.event.text)
        if unknown and not branches:  # no code: a unit's name, perhaps — it, or the units it may mean with their codes
            named, problem = await unit_codes.branch_typed(ctx, ctx.event.text, None)
            branches, unknown = ([named], []) if named is not None else ([], unknown)
        else:
            problem = ctx.t("broadcast_unknown_branches", codes=esc(", ".join(unknown))) if unknown else ""
        if unknown or not branches:
            ctx.say("⚠️ " + problem + "\n" + ctx.t("broadcast_ask_branches", max=MAX_BRANCHES), [_cancel_row(ctx)])
            return
        ctx.set_flow(
            FLOW, **{**data, "step": "preview", "audience": "branches", "branches": [b.code for b in branches]}
        )
        await _preview(ctx)
    elif step == "audience":
        ctx.say("⚠️ " + ctx.t("err_use_buttons"))
        _ask_audience(ctx)
    else:
        ctx.say("⚠️ " + ctx.t("err_use_buttons"))
        await _preview(ctx)


async def _branches_from_codes(ctx: Context, text: str) -> tuple[list[Branch], list[str]]:
    codes = [code for code in re.split(r"[\s,;]+", text.strip()) if code][:MAX_BRANCHES]
    branches: list[Branch] = []
    unknown: list[str] = []
    for code in codes:
        branch = await queries.branch_by_code(ctx.session, code)
        if branch is None:
            unknown.append(code[:32])
        elif branch not in branches:
            branches.append(branch)
    return branches, unknown


def _cancelled(ctx: Context) -> None:
    ctx.set_flow(None)
    ctx.say(ctx.t("broadcast_cancelled"), menu=True)


def _ask_audience(ctx: Context) -> None:
    rows = [[Option(ctx.t(f"btn_bc_{audience}"), f"bc:a:{audience}")] for audience in AUDIENCES]
    ctx.say(ctx.t("broadcast_ask_audience"), [*rows, _cancel_row(ctx)])


async def handle_option(ctx: Context) -> None:
    """bc:a:<audience>, bc:ok:<preview> (send what that preview showed), bc:t (rewrite the text), bc:aud (change
    the audience), bc:x (cancel)."""
    if not is_admin(ctx):
        refuse(ctx, None, ctx.event.payload, "admin_only")
        return
    payload = ctx.event.payload
    data = dict(ctx.identity.flow_data) if ctx.identity.flow == FLOW else {}
    if payload == REMIND_BEHIND_PAYLOAD:
        await start(ctx, "behind")
        return
    if payload == "bc:x" and data:
        _cancelled(ctx)
        return
    if not data.get("text"):
        _stale(ctx)
        return
    if payload == "bc:t":
        ctx.set_flow(FLOW, **{**data, "step": "text"})
        _ask_text(ctx, data.get("audience"))
    elif payload == "bc:aud":
        ctx.set_flow(FLOW, **{**data, "step": "audience"})
        _ask_audience(ctx)
    elif payload.startswith("bc:a:") and payload[5:] in AUDIENCES:
        audience = payload[5:]
        if audience == "branches":
            ctx.set_flow(FLOW, **{**data, "step": "branches"})
            ctx.say(ctx.t("broadcast_ask_branches", max=MAX_BRANCHES), [_cancel_row(ctx)])
            return
        ctx.set_flow(FLOW, **{**data, "step": "preview", "audience": audience, "branches": []})
        await _preview(ctx)
    elif data.get("step") == "preview" and payload == f"bc:ok:{data.get('preview')}":
        await _send(ctx, data)
    else:
        _stale(ctx)


def _stale(ctx: Context) -> None:
    """An old step's button (the notice sent, cancelled or moved on): said so, and its message not marked as
    answered with it (an old «✖️ Huỷ thông báo» said a sent notice was cancelled, and marked it so)."""
    ctx.say(ctx.t("broadcast_stale"))
    ctx.press_not_taken()


def message_for_recipients(services: Services, text: str) -> Reply:
    t = catalog(services.config.settings.language)
    return Reply(text=t("broadcast_message", organisation=esc(services.config.campaign.organisation), text=esc(text)))


async def _audience(ctx: Context, data: dict[str, object]) -> tuple[str, list[tuple[str, str]]]:
    """The audience's description and its recipients, as of now."""
    audience = str(data.get("audience"))
    codes = [str(code) for code in data.get("branches", []) or []]  # type: ignore[union-attr]
    if audience == "behind":
        phase = ctx.campaign.current_phase(ctx.today())
        behind = furthest_behind(await progress_queries.branch_progress(ctx.session, phase))
        description = ctx.t("broadcast_audience_behind", count=len(behind), phase=esc(phase.name))
        return description, await queries.broadcast_recipients(ctx.session, "chairs", {b.branch_id for b in behind})
    if audience != "branches":
        return ctx.t(f"broadcast_audience_{audience}"), await queries.broadcast_recipients(ctx.session, audience)
    branches, _ = await _branches_from_codes(ctx, " ".join(codes))
    description = ctx.t("broadcast_audience_branches", codes=esc(", ".join(b.code for b in branches)))
    groups = await queries.linked_groups(ctx.session, {b.id for b in branches})
    if without := [b.code for b in branches if b.id not in {group.branch_id for group in groups}]:
        description += ctx.t("broadcast_audience_no_group", codes=esc(", ".join(without)))  # reached by no one
    return description, [(group.platform, group.chat_id) for group in groups]


def _when(ctx: Context) -> str:
    deliver = deliver_at(ctx.now(), ctx.config)
    if deliver <= ctx.now():
        return ctx.t("broadcast_when_now")
    return ctx.t("broadcast_when_later", time=deliver.astimezone(ctx.campaign.tz).strftime("%H:%M %d/%m/%Y"))


async def _preview(ctx: Context) -> None:
    """What the notice will look like and who gets it; its send button sends this preview's notice only (an
    older preview's, pressed while a newer one waited, sent the newer)."""
    data = {**ctx.identity.flow_data, "preview": secrets.token_hex(4)}
    ctx.set_flow(FLOW, **data)
    description, recipients = await _audience(ctx, data)
    message = message_for_recipients(ctx.services, str(data["text"]))
    ctx.say(
        ctx.t("broadcast_preview", message=message.text, audience=description, count=len(recipients),
              when=_when(ctx)),
        [
            [Option(ctx.t("btn_bc_send", count=len(recipients)), f"bc:ok:{data['preview']}")] if recipients else [],
            *two_a_row([Option(ctx.t("btn_bc_edit_text"), "bc:t"), Option(ctx.t("btn_bc_change_audience"), "bc:aud")]),
            _cancel_row(ctx),
        ],
    )  # fmt: skip
    if not recipients:
        ctx.say(ctx.t("broadcast_no_recipients"))


async def _send(ctx: Context, data: dict[str, object]) -> None:
    assert ctx.member is not None
    description, recipients = await _audience(ctx, data)
    if not recipients:
        ctx.say(ctx.t("broadcast_no_recipients"))
        return
    text = str(data["text"])
    audience = str(data["audience"])
    if audience == "branches":
        audience += ":" + ",".join(str(code) for code in data.get("branches", []) or [])  # type: ignore[union-attr]
    broadcast = Broadcast(
        created_by_member_id=ctx.member.id,
        report_platform=ctx.identity.platform,
        report_chat_id=ctx.identity.chat_id,
        text=text,
        audience=audience[:200],
        recipients=len(recipients),
    )
    ctx.session.add(broadcast)
    await ctx.session.flush()
    await queries.queue_many(ctx.session, recipients, message_for_recipients(ctx.services, text).to_json(),
                             purpose="broadcast", at=deliver_at(ctx.now(), ctx.config), now=ctx.now(),
                             broadcast_id=broadcast.id)  # fmt: skip
    ctx.queued_notifications += len(recipients)
    ctx.set_flow(None)
    ctx.say(ctx.t("broadcast_queued", id=broadcast.id, count=len(recipients), audience=description,
                  when=_when(ctx)), menu=True)  # fmt: skip


async def report_finished(services: Services) -> None:
    """After an outbox pass: tell each admin whose broadcast has been fully tried how it went (once)."""
    t = catalog(services.config.settings.language)
    queued = 0
    async with services.sessions() as session, session.begin():
        for broadcast, counts in await queries.finished_broadcasts(session):
            if not await queries.claim_broadcast_report(session, broadcast.id, services.clock()):
                continue
            text = t("broadcast_report", id=broadcast.id, total=broadcast.recipients,
                     sent=counts.get(OutboxStatus.SENT, 0), failed=counts.get(OutboxStatus.FAILED, 0),
                     blocked=counts.get(OutboxStatus.BLOCKED, 0))  # fmt: skip
            report = Reply(text=text).to_json()
            queries.queue_message(session, broadcast.report_platform, broadcast.report_chat_id, report,
                                  purpose="broadcast_report", at=services.clock())  # fmt: skip
            queued += 1
            log.info("broadcast %s finished: %s", broadcast.id, {k.value: v for k, v in counts.items()})
    if queued:
        services.outbox_changed()
