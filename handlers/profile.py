"""The author's profile (`/hoso`): workplace, date of birth, job title, qualification — asked once, after
the member's first submission, editable any time, and printed on every council form they author (their
author rows take it when they submit, and again whenever they change it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain import rules
from handlers import paperwork
from handlers.context import Context, esc
from handlers.events import Option
from handlers.questions import Question, Questionnaire
from storage import queries
from storage.models import AuditEvent, Member

QUALIFICATIONS = ("suggest_qual_college", "suggest_qual_bachelor", "suggest_qual_master", "suggest_qual_doctor")
QUESTIONS = (
    Question("workplace", min_len=3, max_len=255),
    Question("birth_date", kind="date"),
    Question("job_title"),
    Question("qualification", suggestions=QUALIFICATIONS),
)
# Asked when the member edits the profile (/hoso), not after a first submission: a name registered with a slip
# («Le Thi Binh», a typo) is mended here, where it is printed from.
NAME = Question("full_name", min_len=4, max_len=80)


class Profile(Questionnaire):
    flow, prefix = "profile", "pf"

    async def load(self, ctx: Context, data: dict[str, Any]) -> Member | None:
        return ctx.member

    def questions(self, ctx: Context, record: Any) -> Sequence[Question]:
        return (NAME, *QUESTIONS) if ctx.identity.flow_data.get("edit") else QUESTIONS

    def get(self, record: Member, question: Question) -> object:
        return getattr(record, question.key)

    def set(self, ctx: Context, record: Member, question: Question, value: object) -> None:
        setattr(record, question.key, value)

    def parse(self, ctx: Context, question: Question, text: str) -> object:
        if question is NAME:
            return _new_name(ctx, rules.parse_person_name(text))
        return super().parse(ctx, question, text)

    async def finished(self, ctx: Context, record: Member, data: dict[str, Any]) -> None:
        """Save onto every author row of theirs not yet counted, then send the waiting forms (if any)."""
        await onto_author_rows(ctx, record)
        empty = all(getattr(record, question.key) in (None, "") for question in QUESTIONS) and not data.get("edit")
        ctx.say(ctx.t("profile_left_empty") if empty else ctx.t("profile_done") + "\n\n" + summary(ctx), menu=True)
        initiative_id = data.get("initiative")
        if isinstance(initiative_id, int):
            initiative = await queries.initiative_by_id(ctx.session, initiative_id)
            if initiative is not None and initiative.member_id == record.id:
                await paperwork.send_forms(ctx, initiative)


def _new_name(ctx: Context, name: str) -> str:
    """A new name with no accent at all («le thi binh») is refused once, as at registration: the council's forms
    print it. The same typed again is kept («Mai Lan Anh» is a real name)."""
    assert ctx.member is not None
    data = ctx.identity.flow_data
    if name != ctx.member.full_name and rules.asked_about_accents(name, data.get("unaccented")):
        ctx.set_flow(FLOW, **{**data, "unaccented": name})
        raise rules.InputError("err_name_unaccented", {"name": esc(name)})
    return name


PROFILE = Profile()
FLOW = PROFILE.flow


async def onto_author_rows(ctx: Context, member: Member) -> None:
    """The profile onto every author row of the member's not yet counted (what the forms print); a name changed
    there is on each initiative's history, for its chair to see."""
    for author in await queries.open_authorships(ctx.session, member.id):
        before = author.full_name
        queries.copy_profile(author, member)
        if author.full_name != before:
            ctx.session.add(AuditEvent(initiative_id=author.initiative_id, actor_member_id=member.id,
                                       action="name_changed"))  # fmt: skip


def summary(ctx: Context) -> str:
    member = ctx.member
    assert member is not None
    return ctx.t("profile_summary", **{q.key: PROFILE.shown(ctx, getattr(member, q.key)) for q in (NAME, *QUESTIONS)})


async def show(ctx: Context) -> None:
    """`/hoso`: what the forms will print, and a button to change it."""
    ctx.say(summary(ctx), [[Option(ctx.t("btn_profile_edit"), "pf:edit")]])


async def start(ctx: Context, *, after_initiative: int | None = None) -> None:
    """Ask the fields one at a time. `after_initiative`: asked after a first submission — that
    initiative's forms are sent once the profile is done; else the member edits it, his name first."""
    assert ctx.member is not None
    ctx.member.profile_asked_at = ctx.now()
    intro = ctx.t("profile_asked_after_submit") if after_initiative else ctx.t("profile_intro")
    editing = {} if after_initiative else {"edit": True}
    await PROFILE.start(ctx, ctx.member, intro + "\n\n", initiative=after_initiative, **editing)


async def handle_text(ctx: Context) -> None:
    await PROFILE.handle_text(ctx)


async def handle_option(ctx: Context) -> None:
    if ctx.event.payload == "pf:edit":
        await start(ctx)
    else:
        await PROFILE.handle_option(ctx)
