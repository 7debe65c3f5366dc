"""The chairs' review page: `/r/<signed link>` shows one initiative on a phone — details, attachments, and
big Approve / Request changes / Reject buttons with a reason box.

The link proves nothing by itself beyond "this server sent it to this chair for this initiative, less
than 7 days ago": every view and every decision re-checks, from the database, that the member still
chairs the initiative's branch (or is an admin) and that the initiative still waits for a decision. The
decision runs the same code as a Telegram button (handlers.review.decide) and claims the link's nonce in
the same transaction, so a link decides once. Server-rendered HTML, no script: it works on any phone.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import answers, review, review_links
from handlers.context import Context, Services
from handlers.events import Event, EventKind, FileRef
from handlers.i18n import Catalog, catalog
from handlers.roles import can_review
from handlers.wizard_steps import applicable_steps
from storage import claims as storage_claims
from storage import queries
from storage.models import Attachment, Identity, Initiative, ProcessedUpdate, Status

log = logging.getLogger(__name__)
ACTIONS = {"a": "btn_approve", "c": "btn_changes", "r": "btn_reject"}
STYLE = """
body{font-family:system-ui,Roboto,sans-serif;margin:0;background:#f2f5f7;color:#1d2630;font-size:17px}
main{max-width:640px;margin:0 auto;padding:14px}
h1{font-size:20px;margin:4px 0 12px}
.card{background:#fff;border-radius:10px;padding:12px 14px;margin-bottom:12px;box-shadow:0 1px 2px #0002}
dl{margin:0}dt{font-weight:600;margin-top:10px}dd{margin:2px 0 0;white-space:pre-wrap}
.notice{padding:12px 14px;border-radius:10px;margin-bottom:12px;background:#fff4d6}
.ok{background:#dff5e3}
button{display:block;width:100%;font-size:19px;padding:15px;margin:8px 0;border:0;border-radius:10px;color:#fff}
.a{background:#1e8e3e}.c{background:#b06000}.r{background:#c5221f}
textarea{width:100%;box-sizing:border-box;font-size:17px;padding:10px;min-height:90px;border-radius:8px;
border:1px solid #b9c3cc}
label.reason{display:block;padding:6px 0}
"""


def add_routes(app: web.Application, services: Services) -> None:
    app.router.add_get("/r/{token}", _handler(services, _show))
    app.router.add_post("/r/{token}", _handler(services, _decide))
    app.router.add_get("/r/{token}/a/{attachment_id}", _handler(services, _attachment))


Page = Callable[[Services, web.Request, review_links.LinkClaims], Awaitable[web.StreamResponse]]


def _handler(services: Services, page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        t = catalog(services.config.settings.language)
        secret = services.config.link_secret
        if not secret:
            return _page(t, t("page_refused_title"), _notice(t("page_link_invalid")), status=404)
        try:
            claims = review_links.verify(secret, request.match_info["token"], services.clock())
        except review_links.BadLink as error:
            log.warning("review link refused: %s", error)
            return _page(t, t("page_refused_title"), _notice(t("page_link_invalid")), status=403)
        return await page(services, request, claims)

    return handle


def _page(t: Catalog, title: str, body: str, status: int = 200) -> web.Response:
    document = (
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} — {html.escape(t('page_app_name'))}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return web.Response(text=document, content_type="text/html", status=status, headers={"Cache-Control": "no-store"})


def _notice(text: str, *, ok: bool = False) -> str:
    """A notice; `text` is the reply markup of the conversations (already escaped)."""
    return f'<div class="notice{" ok" if ok else ""}" role="status">{text.replace(chr(10), "<br>")}</div>'


async def _chair_context(services: Services, session: AsyncSession, claims: review_links.LinkClaims) -> Context | None:
    """The conversation context of the link's chair, acting through the web (their first account)."""
    identity = await session.scalar(
        select(Identity).where(Identity.member_id == claims.member_id).order_by(Identity.id).limit(1)
    )
    if identity is None:
        return None
    identity = await queries.get_or_create_identity(
        session, identity.platform, identity.platform_user_id, None, "", services.config.settings.language
    )
    event = Event(platform="web", update_key=f"link:{claims.nonce}", user_id=identity.platform_user_id,
                  chat_id=identity.chat_id, kind=EventKind.OPTION)  # fmt: skip
    return Context(services=services, session=session, event=event, identity=identity)


async def _load(
    services: Services, session: AsyncSession, claims: review_links.LinkClaims
) -> tuple[Context, Initiative] | None:
    ctx = await _chair_context(services, session, claims)
    initiative = await queries.initiative_by_id(session, claims.initiative_id)
    if ctx is None or initiative is None or not can_review(ctx, initiative):
        return None
    return ctx, initiative


async def _show(services: Services, request: web.Request, claims: review_links.LinkClaims) -> web.Response:
    t = catalog(services.config.settings.language)
    async with services.sessions() as session:
        loaded = await _load(services, session, claims)
        if loaded is None:
            return _page(t, t("page_refused_title"), _notice(t("review_not_allowed")), status=403)
        ctx, initiative = loaded
        used = await session.get(ProcessedUpdate, ("review_link", claims.nonce)) is not None
        body = _details(ctx, initiative, request.match_info["token"])
        if initiative.status != Status.SUBMITTED:
            body = _decided_notice(ctx, initiative) + body
        elif used:
            body = _notice(t("page_link_used")) + body
        else:
            body += _form(t)
    return _page(t, t("page_title", id=initiative.id), body)


def _decided_notice(ctx: Context, initiative: Initiative) -> str:
    review.already_decided(ctx, initiative)
    return _notice(ctx.replies.pop().text)


def _details(ctx: Context, initiative: Initiative, token: str) -> str:
    t = ctx.t
    rows = [f"<dt>{html.escape(t('page_branch'))}</dt><dd>{html.escape(initiative.branch.name)}</dd>",
            f"<dt>{html.escape(t('page_member'))}</dt><dd>{html.escape(initiative.member.full_name)}</dd>"]  # fmt: skip
    for step in applicable_steps(initiative, ctx.campaign):
        if step.key == "attachments":
            continue
        value = answers.display_value(ctx, initiative, step, full=True)  # escaped reply markup
        rows.append(f"<dt>{html.escape(t(step.label_key))}</dt><dd>{value}</dd>")
    files = "".join(
        f'<li><a href="/r/{token}/a/{a.id}">{html.escape(a.file_name or t(f"file_kind_{a.kind}"))}</a></li>'
        for a in initiative.attachments
    )
    attachments = f"<h2>{html.escape(t('page_attachments'))}</h2><ul>{files}</ul>" if files else ""
    return f'<div class="card"><dl>{"".join(rows)}</dl>{attachments}</div>'


def _form(t: Catalog) -> str:
    reasons = "".join(
        f'<label class="reason"><input type="radio" name="preset" value="{i}"> {html.escape(t(key))}</label>'
        for i, key in enumerate(review.REASON_KEYS)
    )
    buttons = "".join(
        f'<button class="{action}" type="submit" name="action" value="{action}">{html.escape(t(key))}</button>'
        for action, key in ACTIONS.items()
    )
    return (
        f'<form method="post" class="card"><p>{html.escape(t("page_reason_hint"))}</p>{reasons}'
        f'<textarea name="reason" aria-label="{html.escape(t("page_reason_label"))}"'
        f' placeholder="{html.escape(t("page_reason_label"))}"></textarea>{buttons}</form>'
    )


async def _decide(services: Services, request: web.Request, claims: review_links.LinkClaims) -> web.Response:
    t = catalog(services.config.settings.language)
    form = await request.post()
    action = str(form.get("action", ""))
    typed = " ".join(str(form.get("reason", "")).split())
    preset = str(form.get("preset", ""))
    if not typed and preset.isdigit() and int(preset) < len(review.REASON_KEYS):
        typed = t(review.REASON_KEYS[int(preset)])
    if action not in ACTIONS:
        return _page(t, t("page_refused_title"), _notice(t("page_bad_request")), status=400)
    async with services.sessions() as session, session.begin():
        loaded = await _load(services, session, claims)
        if loaded is None:
            return _page(t, t("page_refused_title"), _notice(t("review_not_allowed")), status=403)
        ctx, initiative = loaded
        if initiative.status != Status.SUBMITTED:
            return _page(t, t("page_title", id=initiative.id), _decided_notice(ctx, initiative))
        if action in ("c", "r") and len(typed) < 3:
            body = _notice(t("page_reason_needed")) + _details(ctx, initiative, request.match_info["token"])
            return _page(t, t("page_title", id=initiative.id), body + _form(t), status=400)
        if not await storage_claims.claim_update(session, "review_link", claims.nonce, services.clock()):
            return _page(t, t("page_title", id=initiative.id), _notice(t("page_link_used")), status=409)
        await review.decide(ctx, initiative, action, typed[:1000] if action != "a" else None)
        outcome = ctx.replies[0].text if ctx.replies else ""
        queued = ctx.queued_notifications
    if queued:
        services.outbox_changed()
    return _page(t, t("page_title", id=claims.initiative_id), _notice(outcome, ok=True))


async def _attachment(services: Services, request: web.Request, claims: review_links.LinkClaims) -> web.Response:
    t = catalog(services.config.settings.language)
    raw_id = request.match_info["attachment_id"]
    async with services.sessions() as session:
        loaded = await _load(services, session, claims)
        attachment = await session.get(Attachment, int(raw_id)) if raw_id.isdigit() else None
        if loaded is None or attachment is None or attachment.initiative_id != claims.initiative_id:
            return _page(t, t("page_refused_title"), _notice(t("review_not_allowed")), status=403)
    download = services.downloads.get(attachment.platform)
    if download is None:
        return _page(t, t("page_refused_title"), _notice(t("page_file_unavailable")), status=404)
    try:
        content = await download(FileRef(attachment.file_id, attachment.kind, attachment.file_name))
    except Exception as error:
        log.warning("attachment %s could not be fetched: %s", attachment.id, type(error).__name__)
        return _page(t, t("page_refused_title"), _notice(t("page_file_unavailable")), status=502)
    return web.Response(
        body=content,
        content_type=attachment.mime_type or "application/octet-stream",
        headers={"Content-Disposition": "inline", "Cache-Control": "private, no-store"},
    )
