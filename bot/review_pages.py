"""The chairs' review page: `/r/<signed link>` shows one initiative on a phone — details, attachments, and
big Approve / Request changes / Reject buttons with a reason box.

The link proves nothing by itself beyond "this server sent it to this chair for this initiative, less
than 7 days ago": every view and every decision re-checks, from the database, that the member still
chairs the initiative's branch (or is an admin) and that the initiative still waits for a decision. The
decision runs the same code as a Telegram button (handlers.review.decide) and claims the link's nonce in
the same transaction, so a link decides once. Server-rendered HTML, no script: it works on any phone.

Nothing a member sent can act on the page: attachments are served from URLs of their own (a token that
opens that file and nothing else), as downloads unless they are images, with `nosniff` and a sandboxing
Content-Security-Policy; every page forbids scripts; and a decision must post the form's own token, so
knowing the page's address is not enough to decide.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.text import clean_input
from handlers import answers, review, review_links
from handlers.context import Context, Services
from handlers.events import Event, EventKind, FileRef
from handlers.i18n import Catalog, catalog, records
from handlers.roles import can_decide, can_review
from handlers.wizard_steps import applicable_steps
from storage import claims as storage_claims
from storage import queries
from storage.models import Attachment, Identity, Initiative, ProcessedUpdate, Status

log = logging.getLogger(__name__)
ACTIONS = {"a": "btn_verify", "c": "btn_changes", "r": "btn_reject"}
STYLE = """
body{font-family:system-ui,Roboto,"Noto Sans",sans-serif,"Noto Color Emoji";margin:0;background:#f2f5f7;
color:#1d2630;font-size:17px}
main{max-width:640px;margin:0 auto;padding:14px}
h1{font-size:20px;margin:4px 0 12px}
.card{background:#fff;border-radius:10px;padding:12px 14px;margin-bottom:12px;box-shadow:0 1px 2px #0002}
dl{margin:0}dt{font-weight:600;margin-top:10px}dd{margin:2px 0 0;white-space:pre-wrap}
.notice{padding:12px 14px;border-radius:10px;margin-bottom:12px;background:#fff4d6}
.ok{background:#dff5e3}
button{display:block;width:100%;font-size:19px;padding:15px;margin:8px 0;border:0;border-radius:10px;color:#fff}
.a{background:#1e8e3e}.c{background:#b06000}.r{background:#c5221f}
textarea,button{font-family:inherit}
textarea{width:100%;box-sizing:border-box;font-size:17px;line-height:1.4;padding:10px;min-height:90px;
border-radius:8px;border:1px solid #b9c3cc}
label.reason{display:block;padding:6px 0}
img.photo{display:block;max-width:100%;border-radius:8px;margin:6px 0}
label.field{display:block;font-weight:600;margin:16px 0 4px}
.hint{display:block;font-weight:400;color:#5b6770;font-size:15px}
input.text{width:100%;box-sizing:border-box;font:inherit;padding:10px;border-radius:8px;border:1px solid #b9c3cc}
.error{color:#c5221f;margin:4px 0}
.save{background:#1a73e8}
"""
# Scripts are forbidden everywhere; the one inline style is allowed by its hash.
PAGE_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()}'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


# Images a phone shows inline; anything else is a download, never rendered by the browser (typed as
# itself only when no browser would run it, so the phone picks the right app).
INLINE_IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp"}
OFFICE_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def add_routes(app: web.Application, services: Services) -> None:
    app.router.add_get("/r/{token}", signed_page(services, _show, review_links.REVIEW))
    app.router.add_post("/r/{token}", signed_page(services, _decide, review_links.REVIEW))
    app.router.add_get("/a/{token}", signed_page(services, _attachment, review_links.ATTACHMENT))


Page = Callable[[Services, web.Request, review_links.LinkClaims], Awaitable[web.StreamResponse]]


def signed_page(
    services: Services, page: Page, purpose: bytes, refused_title: str = "page_refused_title"
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A page behind a signed link of `purpose`: a bad, expired or misused link gets one polite page."""

    async def handle(request: web.Request) -> web.StreamResponse:
        t = catalog(services.config.settings.language)
        secret = services.config.link_secret
        if not secret:
            return render_page(t, t(refused_title), notice(t("page_link_invalid")), status=404)
        try:
            claims = review_links.verify(secret, request.match_info["token"], services.clock(), purpose=purpose)
        except review_links.BadLink as error:
            log.warning("signed link refused: %s", error)
            return render_page(t, t(refused_title), notice(t("page_link_invalid")), status=403)
        return await page(services, request, claims)

    return handle


def render_page(t: Catalog, title: str, body: str, status: int = 200) -> web.Response:
    document = (
        f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} — {html.escape(t('page_app_name'))}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": PAGE_CSP}
    return web.Response(text=document, content_type="text/html", status=status, headers=headers)


def notice(text: str, *, ok: bool = False, status: bool = True) -> str:
    """A notice; `text` is the reply markup of the conversations (already escaped). `status`: the page's answer
    to what was done (one per page, read out by screen readers); a standing warning is not."""
    role = ' role="status"' if status else ""
    return f'<div class="notice{" ok" if ok else ""}"{role}>{text.replace(chr(10), "<br>")}</div>'


async def member_context(services: Services, session: AsyncSession, claims: review_links.LinkClaims) -> Context | None:
    """The conversation context of the link's member (a chair, an author), acting through the web as their
    first account."""
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


async def load_for_link(
    services: Services,
    session: AsyncSession,
    claims: review_links.LinkClaims,
    allowed: Callable[[Context, Initiative], bool],
) -> tuple[Context, Initiative] | None:
    """The link's member (as a conversation context) and its initiative, if `allowed` still holds for them
    now, by the stored roles and state; None otherwise."""
    ctx = await member_context(services, session, claims)
    initiative = await queries.initiative_by_id(session, claims.initiative_id)
    if ctx is None or initiative is None or not allowed(ctx, initiative):
        return None
    return ctx, initiative


async def _load(
    services: Services, session: AsyncSession, claims: review_links.LinkClaims
) -> tuple[Context, Initiative] | None:
    return await load_for_link(services, session, claims, can_review)


async def _show(services: Services, request: web.Request, claims: review_links.LinkClaims) -> web.Response:
    t = catalog(services.config.settings.language)
    async with services.sessions() as session:
        loaded = await _load(services, session, claims)
        if loaded is None:
            return render_page(t, t("page_refused_title"), notice(t("review_not_allowed")), status=403)
        ctx, initiative = loaded
        used = await session.get(ProcessedUpdate, ("review_link", claims.nonce)) is not None
        body = _details(ctx, initiative, claims)
        if initiative.status != Status.SUBMITTED:
            body = _decided_notice(ctx, initiative) + body
        elif used:
            body = notice(t("page_link_used")) + body
        elif not can_decide(ctx, initiative):
            body = notice(t("review_own_work")) + body
        else:
            duplicates = await queries.possible_duplicates(session, initiative)  # as the chat's card warns
            warning = notice(review.duplicate_warning(ctx, duplicates), status=False) if duplicates else ""
            body = warning + body + _form(ctx, claims)
    return render_page(t, t("page_title", id=initiative.id), body)


def _decided_notice(ctx: Context, initiative: Initiative) -> str:
    review.already_decided(ctx, initiative)
    return notice(ctx.replies.pop().text)


def _details(ctx: Context, initiative: Initiative, claims: review_links.LinkClaims) -> str:
    t = ctx.t
    rows = [f"<dt>{html.escape(t('page_branch'))}</dt><dd>{html.escape(initiative.branch.name)}</dd>",
            f"<dt>{html.escape(t('page_member'))}</dt><dd>{html.escape(initiative.member.full_name)}</dd>"]  # fmt: skip
    for step in applicable_steps(initiative, ctx.campaign):
        if step.key == "attachments":
            continue
        value = answers.display_value(ctx, initiative, step, full=True)  # escaped reply markup
        rows.append(f"<dt>{html.escape(t(step.label_key))}</dt><dd>{value}</dd>")
    secret, now = ctx.config.link_secret or "", ctx.now()
    items = []
    for a, shown_name in zip(initiative.attachments, answers.attachment_names(ctx, initiative), strict=True):
        address = f"/a/{review_links.attachment_token(secret, claims, a.id, now)}"
        name = html.escape(shown_name)  # as the chat names it («Ảnh 1»)
        picture = f'<img src="{address}" alt="{name}" class="photo">' if a.kind == "photo" else ""
        items.append(f'<li>{picture}<a href="{address}" rel="noreferrer">{name}</a></li>')
    files = "".join(items)
    attachments = f"<h2>{html.escape(t('page_attachments'))}</h2><ul>{files}</ul>" if files else ""
    return f'<div class="card"><dl>{"".join(rows)}</dl>{attachments}</div>'


def _form(ctx: Context, claims: review_links.LinkClaims) -> str:
    t = ctx.t
    form_token = review_links.form_token(ctx.config.link_secret or "", claims, ctx.now())
    presets = (html.escape(review.reason_text(t, ctx.campaign, i)) for i in range(len(review.REASON_KEYS)))
    reasons = "".join(
        f'<label class="reason"><input type="radio" name="preset" value="{i}"> {text}</label>'
        for i, text in enumerate(presets)
    )
    buttons = "".join(
        f'<button class="{action}" type="submit" name="action" value="{action}">{html.escape(t(key))}</button>'
        for action, key in ACTIONS.items()
    )
    return (
        f'<form method="post" class="card"><input type="hidden" name="form" value="{form_token}">'
        f"<p>{html.escape(t('page_reason_hint'))}</p>{reasons}"
        f'<textarea name="reason" aria-label="{html.escape(t("page_reason_label"))}"'
        f' placeholder="{html.escape(t("page_reason_label"))}"></textarea>{buttons}</form>'
    )


async def _decide(services: Services, request: web.Request, claims: review_links.LinkClaims) -> web.Response:
    t = catalog(services.config.settings.language)
    form = await request.post()
    action = str(form.get("action", ""))
    typed = " ".join(clean_input(str(form.get("reason", ""))).split())  # cleaned as a chat message is
    preset = str(form.get("preset", ""))
    if preset.isdecimal() and preset.isascii() and int(preset) < len(review.REASON_KEYS):
        chosen = review.reason_text(records(), services.config.campaign, int(preset))
        typed = "\n".join(filter(None, [chosen, typed]))  # the preset and the words
    if action not in ACTIONS:
        return render_page(t, t("page_refused_title"), notice(t("page_bad_request")), status=400)
    if not review_links.form_matches(services.config.link_secret or "", str(form.get("form", "")), claims,
                                     services.clock()):  # fmt: skip
        log.warning("review decision without the page's form token (initiative %s)", claims.initiative_id)
        return render_page(t, t("page_refused_title"), notice(t("page_bad_request")), status=403)
    async with services.sessions() as session, session.begin():
        loaded = await _load(services, session, claims)
        if loaded is None:
            return render_page(t, t("page_refused_title"), notice(t("review_not_allowed")), status=403)
        ctx, initiative = loaded
        if initiative.status != Status.SUBMITTED:
            return render_page(t, t("page_title", id=initiative.id), _decided_notice(ctx, initiative))
        if action in ("c", "r") and len(typed) < 3:
            body = notice(t("page_reason_needed")) + _details(ctx, initiative, claims)
            return render_page(t, t("page_title", id=initiative.id), body + _form(ctx, claims), status=400)
        if not await storage_claims.claim_update(session, "review_link", claims.nonce, services.clock()):
            return render_page(t, t("page_title", id=initiative.id), notice(t("page_link_used")), status=409)
        await review.decide(ctx, initiative, action, typed[:1000] if action != "a" else None)
        outcome = ctx.replies[0].text if ctx.replies else ""
        queued = ctx.queued_notifications
    if queued:
        services.outbox_changed()
    return render_page(t, t("page_title", id=claims.initiative_id), notice(outcome, ok=True))


async def _attachment(services: Services, request: web.Request, claims: review_links.LinkClaims) -> web.Response:
    """One attachment of the initiative, for a chair who may still review it. Served so that nothing in it
    can run: images inline as images, everything else as a download (see the module's docstring)."""
    t = catalog(services.config.settings.language)
    async with services.sessions() as session:
        loaded = await _load(services, session, claims)
        attachment = await session.get(Attachment, claims.extra)
        if loaded is None or attachment is None or attachment.initiative_id != claims.initiative_id:
            return render_page(t, t("page_refused_title"), notice(t("review_not_allowed")), status=403)
    download = services.downloads.get(attachment.platform)
    if download is None:
        return render_page(t, t("page_refused_title"), notice(t("page_file_unavailable")), status=404)
    try:
        content = await download(FileRef(attachment.file_id, attachment.kind, attachment.file_name))
    except Exception as error:
        log.warning("attachment %s could not be fetched: %s", attachment.id, type(error).__name__)
        return render_page(t, t("page_refused_title"), notice(t("page_file_unavailable")), status=502)
    name = attachment.file_name or t(f"file_kind_{attachment.kind}")
    # A photo has no declared type: Telegram sends photos as JPEG, Zalo's are fetched as images.
    mime_type = attachment.mime_type or ("image/jpeg" if attachment.kind == "photo" else "")
    return file_response(content, mime_type, name)


def file_response(content: bytes, mime_type: str, file_name: str) -> web.Response:
    """A file someone sent, served so that a browser never runs it: an image inline (as that image type
    only), anything else as a download; `nosniff` and a sandboxing CSP come from the app's middleware."""
    headers = {"Cache-Control": "private, no-store"}
    if mime_type in INLINE_IMAGES:
        return web.Response(body=content, content_type=mime_type, headers={**headers, "Content-Disposition": "inline"})
    content_type = mime_type if mime_type in OFFICE_TYPES else "application/octet-stream"
    return web.Response(body=content, content_type=content_type,
                        headers={**headers, "Content-Disposition": download_disposition(file_name)})  # fmt: skip


def download_disposition(file_name: str) -> str:
    """`Content-Disposition` for a download, with an ASCII fallback name and the real one (RFC 6266)."""
    fallback = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in ".-_" else "_" for ch in file_name) or "tep"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name)}"
