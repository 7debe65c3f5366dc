"""Hoàn thiện hồ sơ: after submitting, the author may complete what the council's forms ask beyond the
wizard — Kính gửi, each typed co-author's details, chủ đầu tư, mục đích, khả năng áp dụng, điều kiện áp
dụng, thông tin bảo mật, the appliers' opinion and list. All optional, one question at a time in the chat
(`ds:` buttons) or all on one phone page (`bot/dossier_pages.py`, a signed link): both read and write
through `DOSSIER`, so an answer is parsed, checked and stored the same way wherever it was typed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from domain import rules
from domain.rules import InputError
from domain.text import clean_input
from handlers import paperwork
from handlers.context import Context, esc
from handlers.events import Option, Reply
from handlers.i18n import as_recorded
from handlers.profile import QUALIFICATIONS
from handlers.questions import Question, Questionnaire
from handlers.reports import forms
from handlers.roles import refuse
from storage import queries
from storage.models import Author, Initiative

COAUTHOR = "coauthor"
FORMS_PAYLOAD = "ds:docx:"  # the new forms, after a save on the web page
ADDRESSEE = Question("addressee", min_len=3, max_len=255)
AFTER_COAUTHORS = (
    Question("investor", max_len=255, suggestions=("suggest_investor_author",)),
    Question("purpose", min_len=10, max_len=2000),
    Question("applicability", min_len=10, max_len=2000),
    Question("conditions", min_len=3, max_len=2000, suggestions=("suggest_conditions_none",)),
    Question("confidential", max_len=2000, suggestions=("suggest_confidential_none",)),
    Question("appliers_opinion", min_len=10, max_len=2000),
    Question("appliers", kind="people", min_len=4, max_len=3000),
)
MAX_APPLIERS = 30


def typed_coauthors(initiative: Initiative) -> list[Author]:
    """Co-authors who are not members: nobody's profile fills their row, so the author may."""
    return [a for a in initiative.authors if a.member_id is None]


def coauthor_question(author: Author) -> Question:
    return Question(f"{COAUTHOR}:{author.position}", kind="person", max_len=400,
                    prompt_params={"name": author.full_name})  # fmt: skip


def parse_person(text: str, today: Any) -> tuple[str | None, Any, str | None, str | None]:
    """ "nơi công tác; ngày sinh; chức danh; trình độ" — any part may be left empty."""
    parts = _person_parts(clean_input(text))
    if len(parts) > 4 or not any(parts):
        raise InputError("err_person_details")
    parts += [""] * (4 - len(parts))
    workplace, birth, title, qualification = parts
    birth_date = None
    if birth:
        birth_date = rules.parse_birth_date(birth, today)
    for part, limit in ((workplace, 255), (title, 120), (qualification, 120)):
        if len(part) > limit:
            raise InputError("err_too_long", {"length": len(part), "max": limit})
    return workplace or None, birth_date, title or None, qualification or None


def _person_parts(text: str) -> list[str]:
    """The parts split by ";" — or, with no ";", by the commas a phone's keyboard offers first, when a date of
    birth among them places the others: «Khoa Nội, Bệnh viện A, 3/4/1988, Bác sĩ, Thạc sĩ» (a workplace may hold
    commas itself, so they stay in it). Without a date, a text with commas is one workplace, as typed."""
    if ";" in text or "," not in text:
        return [" ".join(part.split()) for part in text.split(";")]
    pieces = [" ".join(piece.split()) for piece in text.split(",")]
    born = next((i for i, piece in enumerate(pieces) if _reads_as_date(piece)), None)
    if born is None or len(pieces) - born > 3:
        return [" ".join(text.split())]
    return [", ".join(pieces[:born]), *pieces[born:]]


def _reads_as_date(text: str) -> bool:
    try:
        rules.parse_date(text)
    except InputError:
        return False
    return True


# «Nguyễn Thị Lan - nhập dữ liệu», «Trần Bảo: kiểm kê»: a name and what they did, the way people write it.
_NAME_THEN_PART = re.compile(r"\s+[-–]\s+|\s*:\s+")


def parse_people(text: str) -> str:
    """One person a line, parts split by ";" (the form's columns); each line must start with a name. A line
    without ";" may give the name and the work with a dash or a colon."""
    lines = [line if ";" in line else _NAME_THEN_PART.sub(";", line, count=1) for line in text.splitlines()]
    lines = [" ; ".join(" ".join(p.split()) for p in line.split(";")).strip(" ;") for line in lines]
    lines = [line for line in lines if line]
    if not lines:
        raise InputError("err_people")
    if len(lines) > MAX_APPLIERS:
        raise InputError("err_people_too_many", {"max": MAX_APPLIERS})
    for number, line in enumerate(lines, start=1):
        name = line.split(";")[0].strip()
        if len(name) < 4 or not any(ch.isalpha() for ch in name):
            raise InputError("err_people_line", {"line": number})
    return "\n".join(line.replace(" ; ", "; ") for line in lines)


class Dossier(Questionnaire):
    flow, prefix = "dossier", "ds"

    async def load(self, ctx: Context, data: dict[str, Any]) -> Initiative | None:
        initiative_id = data.get("initiative")
        if not isinstance(initiative_id, int) or ctx.member is None:
            return None
        initiative = await queries.initiative_by_id(ctx.session, initiative_id)
        return initiative if initiative is not None and paperwork.may_complete(ctx.member.id, initiative) else None

    def questions(self, ctx: Context, record: Initiative) -> Sequence[Question]:
        return (ADDRESSEE, *(coauthor_question(a) for a in typed_coauthors(record)), *AFTER_COAUTHORS)

    def suggestions(self, ctx: Context, record: Initiative, question: Question) -> list[str]:
        if question.key == ADDRESSEE.key:
            return forms.addressee_choices(record)
        return super().suggestions(ctx, record, question)

    def suggested_values(self, ctx: Context, record: Initiative, question: Question) -> list[str]:
        if question.key == ADDRESSEE.key:
            return forms.addressee_choices(record)
        return super().suggested_values(ctx, record, question)

    def get(self, record: Initiative, question: Question) -> object:
        if question.kind == "person":
            author = self._author(record, question)
            return format_person(author) if author is not None else None
        return getattr(record, question.key)

    def set(self, ctx: Context, record: Initiative, question: Question, value: object) -> None:
        if question.kind == "person":
            author = self._author(record, question)
            if author is not None:
                details = value if isinstance(value, tuple) else (None, None, None, None)
                author.workplace, author.birth_date, author.job_title, author.qualification = details
            return
        setattr(record, question.key, value)
        record.updated_at = ctx.now()

    def parse(self, ctx: Context, question: Question, text: str) -> object:
        if question.kind == "person":
            workplace, birth_date, job_title, qualification = parse_person(text, ctx.today())
            return workplace, birth_date, job_title, qualification and as_recorded(ctx.t, QUALIFICATIONS, qualification)
        if question.kind == "people":
            return parse_people(text)
        return super().parse(ctx, question, text)

    def read_back(self, ctx: Context, record: Initiative, question: Question) -> str:
        author = self._author(record, question) if question.kind == "person" else None
        if author is None:
            return ""
        return ctx.t("person_read", name=esc(author.full_name), workplace=self.shown(ctx, author.workplace),
                     birth_date=self.shown(ctx, author.birth_date), job_title=self.shown(ctx, author.job_title),
                     qualification=self.shown(ctx, author.qualification)) + "\n\n"  # fmt: skip

    @staticmethod
    def _author(record: Initiative, question: Question) -> Author | None:
        position = rules.parse_id(question.key.split(":", 1)[1])
        return next((a for a in typed_coauthors(record) if a.position == position), None)

    async def finished(self, ctx: Context, record: Initiative, data: dict[str, Any]) -> None:
        if not data.get("changed"):  # the forms already sent are these: not sent again
            ctx.say(ctx.t("dossier_unchanged", id=record.id), menu=True)
            return
        ctx.say(ctx.t("dossier_done", id=record.id), menu=True)
        await paperwork.send_forms(ctx, record)


DOSSIER = Dossier()
FLOW = DOSSIER.flow


async def tell_saved_on_web(ctx: Context, initiative: Initiative) -> bool:
    """After a save on the web page, the writer's chat says so, with one button for the new forms (files are
    sent in answer to a press: the outbox carries no generated file). False when no chat of theirs takes it."""
    assert ctx.member is not None
    questions = DOSSIER.questions(ctx, initiative)
    filled = sum(DOSSIER.get(initiative, question) not in (None, "") for question in questions)
    identities = await queries.preferred_identities(ctx.session, {ctx.member.id})
    for identity in identities.values():
        there = ctx.elsewhere(identity)
        text = there.t("dossier_saved_on_web", id=initiative.id, filled=filled, total=len(questions))
        button = Option(there.t("btn_get_forms"), f"{FORMS_PAYLOAD}{initiative.id}")
        notice = Reply(text, options=((button,),), ref=str(initiative.id))  # Zalo: answered «1 <id>»
        ctx.notify(identity.platform, identity.chat_id, notice, purpose="notice", initiative_id=initiative.id,
                   language=there.t.language)  # fmt: skip
    return bool(identities)


def format_person(author: Author) -> str | None:
    parts = [author.workplace or "", rules.format_date(author.birth_date), author.job_title or "",
             author.qualification or ""]  # fmt: skip
    return "; ".join(parts).rstrip("; ") or None


async def handle_text(ctx: Context) -> None:
    await DOSSIER.handle_text(ctx)


async def handle_option(ctx: Context) -> None:
    payload = ctx.event.payload
    if payload.startswith("ds:go:"):
        number = rules.parse_id(payload.removeprefix("ds:go:"))
        initiative = await queries.initiative_by_id(ctx.session, number) if number is not None else None
        if initiative is None or ctx.member is None or not paperwork.may_complete(ctx.member.id, initiative):
            refuse(ctx, initiative, payload)
            return
        intro = ctx.t("dossier_intro", id=initiative.id) + "\n\n"
        await DOSSIER.start(ctx, initiative, intro, initiative=initiative.id)
    elif payload.startswith(FORMS_PAYLOAD):  # the chat's notice of a save on the web page
        await paperwork.docx(ctx, payload.removeprefix(FORMS_PAYLOAD))
    else:
        await DOSSIER.handle_option(ctx)
