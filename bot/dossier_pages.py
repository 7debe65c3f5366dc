"""The author's dossier page: `/h/<signed link>` shows every dossier question of one initiative on one
phone page (long answers are easier to write there than in a chat) and saves them all at once.

The page reads and writes through `handlers.dossier.DOSSIER`, the questionnaire the chat asks: an answer
is parsed, checked and stored the same way wherever it was typed. Like the review page, the link proves
only "this server sent it to this member for this initiative"; each view and save re-checks that the
member still writes the initiative, and a save must post the page's own form token. A field left empty
clears that answer; a wrong one is shown with what to fix, with everything typed kept and nothing saved.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.review_pages import load_for_link, notice, render_page, signed_page
from domain.rules import InputError
from domain.text import clean_input
from handlers import paperwork, review_links
from handlers.context import Context, Services
from handlers.dossier import DOSSIER, tell_saved_on_web
from handlers.i18n import catalog
from handlers.questions import Question
from storage.models import AuditEvent, Initiative

REFUSED = "dossier_page_refused"
LONG = 255  # answers allowed longer than this get a text area


def add_routes(app: web.Application, services: Services) -> None:
    app.router.add_get("/h/{token}", signed_page(services, _show, review_links.DOSSIER, REFUSED))
    app.router.add_post("/h/{token}", signed_page(services, _save, review_links.DOSSIER, REFUSED))


async def _load(
    services: Services, session: AsyncSession, claims: review_links.LinkClaims
) -> tuple[Context, Initiative] | None:
    def writes_it(ctx: Context, initiative: Initiative) -> bool:
        return ctx.member is not None and paperwork.may_complete(ctx.member.id, initiative)

    return await load_for_link(services, session, claims, writes_it)


async def _show(services: Services, request: web.Request, claims: review_links.LinkClaims) -> web.Response:
    t = catalog(services.config.settings.language)
    async with services.sessions() as session:
        loaded = await _load(services, session, claims)
        if loaded is None:
            return render_page(t, t(REFUSED), notice(t("dossier_page_not_allowed")), status=403)
        ctx, initiative = loaded
        return render_page(t, t("dossier_page_title", id=initiative.id), _form(ctx, initiative, claims))


async def _save(services: Services, request: web.Request, claims: review_links.LinkClaims) -> web.Response:
    t = catalog(services.config.settings.language)
    form = await request.post()
    token = str(form.get("form", ""))
    if not review_links.form_matches(services.config.link_secret or "", token, claims, services.clock(),
                                     purpose=review_links.DOSSIER_FORM):  # fmt: skip
        return render_page(t, t(REFUSED), notice(t("page_bad_request")), status=403)
    async with services.sessions() as session, session.begin():
        loaded = await _load(services, session, claims)
        if loaded is None:
            return render_page(t, t(REFUSED), notice(t("dossier_page_not_allowed")), status=403)
        ctx, initiative = loaded
        title = t("dossier_page_title", id=initiative.id)
        typed = {q.key: str(form.get(q.key, ""))[:4000] for q in DOSSIER.questions(ctx, initiative)}
        values, errors = _parse(ctx, initiative, typed)
        if errors:
            body = notice("⚠️ " + t("dossier_page_fix")) + _form(ctx, initiative, claims, typed, errors)
            return render_page(t, title, body, status=400)
        before = [DOSSIER.get(initiative, question) for question, _ in values]
        for question, value in values:
            DOSSIER.set(ctx, initiative, question, value)
        session.add(AuditEvent(initiative_id=initiative.id, actor_member_id=claims.member_id, action="dossier_saved",
                               reason="web"))  # fmt: skip
        changed = before != [DOSSIER.get(initiative, question) for question, _ in values]
        told = changed and await tell_saved_on_web(ctx, initiative)  # the same page saved again: nothing new
        saved = notice(t("dossier_page_saved_told" if told else "dossier_page_saved", id=initiative.id), ok=True)
        page = render_page(t, title, saved + _form(ctx, initiative, claims))
    services.outbox_changed()
    return page


def _parse(
    ctx: Context, initiative: Initiative, typed: Mapping[str, str]
) -> tuple[list[tuple[Question, object]], dict[str, str]]:
    """Every field's stored value (None when left empty), or what to fix in each wrong one."""
    values: list[tuple[Question, object]] = []
    errors: dict[str, str] = {}
    for question in DOSSIER.questions(ctx, initiative):
        text = clean_input(typed.get(question.key, ""))  # as the router cleans what is typed in a chat
        if not text.strip():
            values.append((question, None))
            continue
        if (suggested := DOSSIER.suggestion_typed(ctx, initiative, question, text)) is not None:
            values.append((question, suggested))  # picked from the list, in any language: as the records word it
            continue
        try:
            values.append((question, DOSSIER.parse(ctx, question, text)))
        except InputError as error:
            errors[question.key] = ctx.t(error.key, **{"min": question.min_len, "max": question.max_len,
                                                       **error.params})  # fmt: skip
    return values, errors


def _form(
    ctx: Context,
    initiative: Initiative,
    claims: review_links.LinkClaims,
    typed: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> str:
    t = ctx.t
    token = review_links.form_token(ctx.config.link_secret or "", claims, ctx.now(), purpose=review_links.DOSSIER_FORM)
    fields = []
    for number, question in enumerate(DOSSIER.questions(ctx, initiative)):
        name = html.escape(question.key)
        value = typed.get(question.key, "") if typed is not None else str(DOSSIER.get(initiative, question) or "")
        page_key = question.prompt_key.removeprefix("step_")
        label = html.escape(t("dossier_label_" + page_key, **question.prompt_params))
        # The page's own help: the chat's question repeats the label and points at buttons the page has not.
        hint = t("dossier_help_" + page_key, **question.prompt_params)  # reply markup: already escaped
        suggestions = DOSSIER.suggestions(ctx, initiative, question)
        typed_in_a_line = question.max_len <= LONG and question.kind != "person"
        if suggestions:  # a datalist shows only once the box is tapped (and a text area has none): named here
            key = "dossier_suggested_pick" if typed_in_a_line else "dossier_suggested"
            hint += " " + html.escape(t(key, values=" · ".join(f"«{s}»" for s in suggestions)))
        error = (errors or {}).get(question.key)
        fields.append(f'<label class="field" for="f{number}">{label}<span class="hint">{hint}</span></label>')
        if error:
            fields.append(f'<p class="error" role="alert">⚠️ {error}</p>')
        if typed_in_a_line:
            options = "".join(f'<option value="{html.escape(s)}">' for s in suggestions)
            datalist = f'<datalist id="l{number}">{options}</datalist>' if options else ""
            fields.append(f'<input class="text" type="text" id="f{number}" name="{name}" list="l{number}"'
                          f' maxlength="{question.max_len}" value="{html.escape(value)}">{datalist}')  # fmt: skip
        else:
            fields.append(f'<textarea id="f{number}" name="{name}" maxlength="{question.max_len}">'
                          f"{html.escape(value)}</textarea>")  # fmt: skip
    intro = html.escape(t("dossier_page_intro", title=initiative.title or ""))
    return (
        f'<form method="post" class="card"><input type="hidden" name="form" value="{token}">'
        f"<p>{intro}</p>{''.join(fields)}"
        f'<button class="save" type="submit">{html.escape(t("btn_dossier_save"))}</button></form>'
    )
