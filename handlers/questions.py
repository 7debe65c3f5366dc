"""A short questionnaire in the chat: one question at a time, each skippable, resumable (the position lives in
the account's flow, in the database), answered by typing or by a suggestion. The author's profile
(`profile.py`) and the dossier's completion (`dossier.py`) are questionnaires; what differs is the record
they fill, who may fill it, and what happens at the end.

A question's prompt is catalog key `step_<key>`; its value is read and written through the questionnaire,
so the chat and the web form (`bot/dossier_pages.py`) parse and store an answer the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from domain import rules
from domain.rules import InputError
from domain.text import own_lines, reads_as, shorten
from handlers import cut_texts
from handlers.context import Context, esc
from handlers.events import EventKind, Option
from handlers.i18n import record_text

STOP_WORDS = ("dừng", "dừng lại", "thôi")  # the ✖️ Dừng button's meaning, typed: keep what was answered, stop here
# A bare «không» typed; a suggestion beginning with one of its words is the «no» answer («Không có»).
NO_WORDS = frozenset({"khong", "khong co", "no", "none"})


@dataclass(frozen=True)
class Question:
    key: str
    kind: str = "text"  # text | date (a date of birth) | choice (suggestions only, or typed)
    min_len: int = 2
    max_len: int = 120
    suggestions: tuple[str, ...] = ()  # catalog keys; a tap fills the answer with the suggestion's text
    prompt_params: dict[str, str] = field(default_factory=dict)

    @property
    def prompt_key(self) -> str:
        return f"step_{self.key.split(':', 1)[0]}"


class Questionnaire:
    """Subclasses say what is asked (`questions`), of what (`load`), and how answers are stored."""

    flow: str = ""
    prefix: str = ""  # of its buttons' payloads: "<prefix>:skip", "<prefix>:stop", "<prefix>:s:<n>"

    async def load(self, ctx: Context, data: dict[str, Any]) -> Any | None:
        """The record being filled, re-read and re-authorised at every answer; None if not allowed."""
        raise NotImplementedError

    def questions(self, ctx: Context, record: Any) -> Sequence[Question]:
        raise NotImplementedError

    def get(self, record: Any, question: Question) -> object:
        raise NotImplementedError

    def set(self, ctx: Context, record: Any, question: Question, value: object) -> None:
        raise NotImplementedError

    async def finished(self, ctx: Context, record: Any, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def refused(self, ctx: Context) -> None:
        ctx.set_flow(None)
        ctx.say(ctx.t("err_old_button"), menu=True)

    # --- the conversation ---------------------------------------------------------------------------

    async def start(self, ctx: Context, record: Any, intro: str = "", **data: object) -> None:
        ctx.set_flow(self.flow, index=0, **data)
        self.ask(ctx, record, 0, intro)

    def ask(self, ctx: Context, record: Any, index: int, prefix: str = "") -> None:
        questions = self.questions(ctx, record)
        question = questions[index]
        text = prefix + ctx.t("step_counter", k=index + 1, n=len(questions)) + "\n\n"
        text += ctx.t(question.prompt_key, **question.prompt_params)
        current = self.get(record, question)
        saved = current not in (None, "")
        if saved:  # kept with one tap, as in the wizard (moving on keeps it)
            text += "\n\n" + ctx.t("hint_current_keep", value=own_lines(self.shown(ctx, current)))
        labels = self.suggestions(ctx, record, question)
        rows = [[Option(shorten(label, 60), f"{self.prefix}:s:{i}")] for i, label in enumerate(labels)]
        rows.append([Option(ctx.t("btn_keep_answer" if saved else "btn_skip"), f"{self.prefix}:skip"),
                     Option(ctx.t("btn_profile_stop"), f"{self.prefix}:stop")])  # fmt: skip
        ctx.say(text, rows, numbers_answer=not labels)  # as the wizard: where the answer is typed, «2» is it

    def suggestions(self, ctx: Context, record: Any, question: Question) -> list[str]:
        """The answers offered as buttons, in the person's language."""
        return [ctx.t(key) for key in question.suggestions]

    def suggested_values(self, ctx: Context, record: Any, question: Question) -> list[str]:
        """What each suggestion stores (`i18n.record_text`), in the order of `suggestions`."""
        return [record_text(key) for key in question.suggestions]

    def suggestion_typed(self, ctx: Context, record: Any, question: Question, text: str) -> str | None:
        """What to store when the text is a suggestion's words (in the person's language, accents and case
        aside: "khong co" where «Không có» is offered), or a bare «không» where one suggestion is the «no»
        answer («Không cần điều kiện đặc biệt»: it is what they mean, not a question left blank); None for any
        other text. In the chat and on the page."""
        offered = self.suggestions(ctx, record, question)
        typed = next((i for i, label in enumerate(offered) if reads_as(text, label)), None)
        if typed is None and rules.plain_words(text) in NO_WORDS:
            saying_no = [i for i, label in enumerate(offered) if rules.plain_words(label).partition(" ")[0] in NO_WORDS]
            typed = saying_no[0] if len(saying_no) == 1 else None
        return None if typed is None else self.suggested_values(ctx, record, question)[typed]

    def read_back(self, ctx: Context, record: Any, question: Question) -> str:
        """What was stored of a typed answer, said before the next question where the bot reads it in parts
        (a person's details); "" where the answer is stored as typed."""
        return ""

    @staticmethod
    def shown(ctx: Context, value: object) -> str:
        if value in (None, ""):
            return ctx.t("profile_empty")
        if isinstance(value, dt.date):
            return rules.format_date(value)
        return esc(str(value))

    def parse(self, ctx: Context, question: Question, text: str) -> object:
        """The stored value of a typed answer (raises InputError with what to fix)."""
        if question.kind == "date":
            return rules.parse_birth_date(text, ctx.today())
        return rules.clean_text(text, min_len=question.min_len, max_len=question.max_len)

    async def _current(self, ctx: Context) -> tuple[Any, int, Question] | None:
        """The record and the question the person is on, re-read and re-authorised; None (and told so)
        when the questionnaire is gone or no longer theirs."""
        data = ctx.identity.flow_data
        index = data.get("index")
        if ctx.identity.flow == self.flow and isinstance(index, int):
            record = await self.load(ctx, data)
            questions = self.questions(ctx, record) if record is not None else ()
            if 0 <= index < len(questions):
                return record, index, questions[index]
        self.refused(ctx)
        return None

    async def handle_text(self, ctx: Context) -> None:
        if (current := await self._current(ctx)) is None:
            return
        record, index, question = current
        if ctx.event.command == "skip":  # /skip, as in the submission wizard
            await self._next(ctx, record, index)
            return
        if ctx.event.command == "back":  # /back, as in the submission wizard: the question before, its answer kept
            if index == 0:
                ctx.say(ctx.t("questions_first"))
            ctx.set_flow(self.flow, **{**ctx.identity.flow_data, "index": max(index - 1, 0)})
            self.ask(ctx, record, max(index - 1, 0))
            return
        if ctx.event.kind is not EventKind.TEXT:
            ctx.say(ctx.t("err_text_expected"))
            self.ask(ctx, record, index)
            return
        if (suggested := self.suggestion_typed(ctx, record, question, ctx.event.text)) is not None:
            self._store(ctx, record, question, suggested)
            await self._next(ctx, record, index)
            return
        saved = self.get(record, question) not in (None, "")
        if rules.plain_words(ctx.event.text) in rules.SKIP_WORDS or (  # "bỏ qua", "không": the button's meaning
            saved and any(reads_as(ctx.event.text, word) for word in rules.KEEP_WORDS)  # "giữ nguyên"
        ):
            await self._next(ctx, record, index)
            return
        if any(reads_as(ctx.event.text, word) for word in STOP_WORDS):
            await self._finish(ctx, record)
            return
        try:
            cut_texts.refuse_the_rest(ctx, question.max_len)
            value = self.parse(ctx, question, ctx.event.text)
        except InputError as error:
            cut_texts.note(ctx, error)
            params = {"min": question.min_len, "max": question.max_len, **error.params}
            ctx.say("⚠️ " + ctx.t(error.key, **params))
            self.ask(ctx, record, index)
            return
        cut_texts.note(ctx, None)
        self._store(ctx, record, question, value)
        await self._next(ctx, record, index, self.read_back(ctx, record, question))

    async def handle_option(self, ctx: Context) -> None:
        if (current := await self._current(ctx)) is None:
            return
        record, index, question = current
        payload = ctx.event.payload.removeprefix(self.prefix + ":")
        choice = rules.parse_id(payload.removeprefix("s:")) if payload.startswith("s:") else None
        if payload == "skip":
            await self._next(ctx, record, index)
        elif payload == "stop":
            await self._finish(ctx, record)
        elif choice is not None and choice < len(offered := self.suggested_values(ctx, record, question)):
            self._store(ctx, record, question, offered[choice])
            await self._next(ctx, record, index)
        else:
            ctx.say(ctx.t("err_stale_button"))
            self.ask(ctx, record, index)

    def _store(self, ctx: Context, record: Any, question: Question, value: object) -> None:
        """Store an answer, and remember in the flow whether this round changed anything (`finished` reads it)."""
        before = self.get(record, question)
        self.set(ctx, record, question, value)
        if self.get(record, question) != before:
            ctx.set_flow(self.flow, **{**ctx.identity.flow_data, "changed": True})

    async def _next(self, ctx: Context, record: Any, index: int, prefix: str = "") -> None:
        if index + 1 < len(self.questions(ctx, record)):
            ctx.set_flow(self.flow, **{**ctx.identity.flow_data, "index": index + 1})
            self.ask(ctx, record, index + 1, prefix)
        else:
            await self._finish(ctx, record)

    async def _finish(self, ctx: Context, record: Any) -> None:
        data = dict(ctx.identity.flow_data)
        ctx.set_flow(None)
        await self.finished(ctx, record, data)
