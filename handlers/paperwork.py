"""Paperwork done by the bot: the Excel report (`/export`), the council's Word forms (`/docx`), and
marking an approved initiative as entered on the national portal (`/entered`, or the notice's button)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
from concurrent.futures import ThreadPoolExecutor

from bot import metrics
from domain.rules import InputError, clean_text, parse_id
from domain.text import fold
from handlers import review_links
from handlers.context import Context, esc
from handlers.events import Option, OutgoingFile, Reply
from handlers.reports import excel, forms
from handlers.reports.documents import doc_text
from handlers.reports.scope import parse_filter
from handlers.roles import can_view, chaired_branch_ids, is_admin, refuse
from storage import decisions, org_tree, queries
from storage.models import Initiative, Status

log = logging.getLogger(__name__)
# The forms are built one at a time, off the event loop: built side by side (ten members submitting at once)
# they only share the same interpreter lock, and each holds its documents in memory meanwhile.
SCOPE_NAMED = 3  # units named in a workbook's «Phạm vi», the others counted
_FORM_BUILDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="word-forms")


def may_complete(member_id: int, initiative: Initiative) -> bool:
    """Only its writer completes an initiative's dossier (`handlers/dossier.py`), once it is submitted."""
    return initiative.member_id == member_id and initiative.status != Status.DRAFT


def dossier_link(ctx: Context, initiative: Initiative) -> str:
    """The writer's signed link to the dossier's web form (`bot/dossier_pages.py`), when the bot has a
    public web address and a secret."""
    config = ctx.config
    if not (config.public_url and config.link_secret and ctx.member):
        return ""
    token = review_links.sign(config.link_secret, initiative.id, ctx.member.id, ctx.now(),
                              purpose=review_links.DOSSIER)  # fmt: skip
    return f"{config.public_url}/h/{token}"


def dossier_buttons(ctx: Context, initiative: Initiative) -> tuple[tuple[Option, ...], ...]:
    """Under the forms, for their writer: complete the dossier in the chat, or on the web page."""
    if ctx.member is None or not may_complete(ctx.member.id, initiative):
        return ()
    rows: list[tuple[Option, ...]] = [(Option(ctx.t("btn_dossier_chat"), f"ds:go:{initiative.id}"),)]
    if address := dossier_link(ctx, initiative):
        rows.append((Option(ctx.t("btn_dossier_web"), url=address),))
    return tuple(rows)


async def send_forms(ctx: Context, initiative: Initiative) -> None:
    """The two council documents follow this step's other replies, built once its transaction has committed:
    the ~70 ms of building them then hold neither the database nor anyone else's step (ten members submitting
    at once stalled everyone ~0.4 s while the forms were built inside the transaction). The forms read the
    initiative with its branch, authors and files: loaded here, while the session is open."""
    await initiative.awaitable_attrs.branch
    ctx.after_commit(lambda: _form_replies(ctx, initiative))


async def _form_replies(ctx: Context, initiative: Initiative) -> list[Reply]:
    """The two council documents as files, ready to send to the person asking (built in `_FORM_BUILDER`'s
    thread: the event loop keeps serving everyone else); their writer gets the buttons to complete the dossier.
    If they cannot be built, the person is told how to ask again: what the step saved stands."""
    request_name, description_name = forms.file_names(initiative)
    today = ctx.today()
    campaign = ctx.services.campaigns.of_initiative(initiative.recognition_date, initiative.first_applied_on, today)

    def build() -> tuple[bytes, bytes]:
        return forms.request_form(initiative, campaign, today), forms.description(initiative, campaign, today)

    try:
        with metrics.timed_export("word"):
            in_context = functools.partial(contextvars.copy_context().run, build)  # log lines keep their update
            request, description = await asyncio.get_running_loop().run_in_executor(_FORM_BUILDER, in_context)
    except Exception:
        log.warning("the forms of initiative %s were not built", initiative.id, exc_info=True)
        return [Reply(text=ctx.t("docx_failed", id=initiative.id))]
    offer = dossier_buttons(ctx, initiative)
    return [
        Reply(
            text=ctx.t("docx_request_caption", id=initiative.id),
            file=OutgoingFile.generated(request_name, request),
        ),
        Reply(  # its writer's, with the buttons: what the forms are for and what the buttons do
            text=ctx.t("docx_description_caption", id=initiative.id)
            + ("\n" + ctx.t("docx_forms_explained") if offer else ""),
            file=OutgoingFile.generated(description_name, description),
            options=offer,
        ),
    ]


def file_scope(codes: list[str]) -> str:
    """The units in the workbook's file name: their codes, or how many when the codes would not fit (the
    name was cut in the middle of a code, «…-MAU00-…»)."""
    joined = "-".join(codes)
    return joined if len(joined) <= 40 else f"{len(codes)}-don-vi"


def file_filter(described: str) -> str:
    """The filter in the workbook's file name («-giai-doan-1-cho-xac-nhan-ho-so»), so that two filters' files
    saved side by side do not replace each other; "" without one."""
    words = re.sub(r"[^a-z0-9]+", "-", fold(described)).strip("-")
    return f"-{words[:60].rstrip('-')}" if words else ""


def scope_names(names: list[str]) -> str:
    """The units of a chair's workbook, the first three named (a chair of 160 units had them all on one line)."""
    if len(names) <= SCOPE_NAMED:
        return ", ".join(names)
    return doc_text("report_scope_more", names=", ".join(names[:SCOPE_NAMED]), more=len(names) - SCOPE_NAMED)


def portal_button(ctx: Context, initiative_id: int) -> Option:
    return Option(ctx.t("btn_mark_entered"), f"pt:{initiative_id}")


async def export(ctx: Context) -> None:
    """`/export [campaign code] [p1|p2] [status words] [d/m/yyyy-d/m/yyyy]`: admins get the whole organisation,
    officers the units they chair with every unit under them; the open campaign unless one is named."""
    chaired = None if is_admin(ctx) else chaired_branch_ids(ctx)
    if chaired is not None and not chaired:
        refuse(ctx, None, "/export", "officer_only")
        return
    branch_ids = None if chaired is None else await org_tree.subtree_ids(ctx.session, chaired)
    book = ctx.services.campaigns
    await book.refresh(ctx.session, force=True)
    words = ctx.event.args.split()
    named = [c for c in book.campaigns if c.code.lower() in (w.lower() for w in words)][:1]
    campaign = named[0] if named else ctx.campaign
    rest = " ".join(w for w in words if not named or w.lower() != campaign.code.lower())
    try:
        report_filter = parse_filter(rest, campaign)
    except InputError as error:
        ctx.say("⚠️ " + ctx.t(error.key if ctx.t.has(error.key) else "err_date", **error.params))
        return
    branches = [] if chaired is None else await queries.branches_by_id(ctx.session, chaired)  # named: those chaired
    scope_name = campaign.organisation if branch_ids is None else scope_names([b.name for b in branches])
    stamp = ctx.now().astimezone(campaign.tz).strftime("%Y%m%d-%H%M")
    scope = "toan-don-vi" if branch_ids is None else file_scope(sorted(b.code for b in branches))
    scope += file_filter(excel.describe(report_filter))
    ready = ctx.t("export_ready", branches=len(branch_ids) if branch_ids else ctx.t("all_branches"),
                  filter=esc(excel.describe(report_filter) or ctx.t("export_no_filter")))  # fmt: skip
    request = excel.ReportRequest(campaign, frozenset(branch_ids) if branch_ids is not None else None,
                                  report_filter, scope_name, ctx.today(), campaign.place)  # fmt: skip
    services = ctx.services

    async def build() -> list[Reply]:
        with metrics.timed_export("excel"):
            content = await services.build_report(request)
        return [Reply(text=ready, file=OutgoingFile.generated(f"sang-kien-{scope}-{stamp}.xlsx", content))]

    ctx.after_commit(build)


async def _viewable(ctx: Context, raw: str, what: str) -> Initiative | None:
    number = parse_id(raw)
    initiative = await queries.initiative_by_id(ctx.session, number) if number is not None else None
    if initiative is None or not can_view(ctx, initiative) or initiative.status == Status.DRAFT:
        refuse(ctx, initiative, f"{what} {raw.strip()[:20]}")
        return None
    return initiative


async def docx(ctx: Context, raw_id: str | None = None) -> None:
    """`/docx <id>`: the author, the branch's chairs and admins get the two forms."""
    raw = ctx.event.args if raw_id is None else raw_id
    if not raw.strip():
        ctx.say(ctx.t("docx_usage"))
        return
    initiative = await _viewable(ctx, raw, "/docx")
    if initiative is not None:
        await send_forms(ctx, initiative)


async def entered(ctx: Context, raw_id: str | None = None, reference_text: str = "") -> None:
    """`/entered <id> [portal reference]`, or the button on the approval notice."""
    raw, _, reference = ctx.event.args.strip().partition(" ") if raw_id is None else (raw_id, "", reference_text)
    if not raw:
        ctx.say(ctx.t("entered_usage"))
        return
    initiative = await _viewable(ctx, raw, "/entered")
    if initiative is None:
        return
    assert ctx.member is not None
    try:
        reference_value = clean_text(reference, min_len=1, max_len=100) if reference.strip() else None
    except InputError as error:
        ctx.say("⚠️ " + ctx.t(error.key, **error.params))
        return
    if await decisions.mark_reported(ctx.session, initiative.id, ctx.member, reference_value, ctx.now()):
        ctx.say(ctx.t("entered_done", id=initiative.id, title=esc(initiative.title)))
    else:
        ctx.say(ctx.t("entered_not_recognised", id=initiative.id, status=ctx.t(f"status_{initiative.status.value}")))


async def handle_option(ctx: Context) -> None:
    """pt:<id> — "entered on the portal" from the approval notice."""
    await entered(ctx, ctx.event.payload.split(":", 1)[1])
