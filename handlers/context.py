"""What a conversation step works with: the event, the person, the database session, the replies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Campaign, Config
from handlers.events import Event, FileRef, Option, Reply
from handlers.i18n import Catalog, catalog, records
from handlers.reports import excel
from handlers.reports.excel import ReportRequest
from storage import queries
from storage.campaigns import CampaignBook
from storage.models import Identity, Member, OutboxMessage
from storage.reply_journal import ReplyJournal

# Placeholder for "the person's main menu" in a Reply, filled in by the router with their role's menu.
MENU = ("\x00menu",)


def esc(text: object) -> str:
    """Escape user-provided text for the reply markup (a tiny HTML subset)."""
    return html.escape(str(text), quote=False)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def typed_start_command(payload: str) -> str:
    """How a payload is opened where there are no deep links (Zalo): the start command, typed or pasted."""
    return f"/start {payload}"


def _nothing() -> None:
    return None


async def _no_download(file: FileRef) -> bytes:
    raise RuntimeError("this runtime cannot download files")


@dataclass(frozen=True)
class Services:
    """Long-lived things a conversation needs; built once by the runtime (bot/app.py)."""

    config: Config
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], dt.datetime] = utc_now
    # Per platform: how a person opens the bot with a start payload (Telegram: a t.me deep link;
    # elsewhere the command to type).
    deep_links: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    # Called after a transaction that queued outbox messages commits (wakes the outbox worker).
    outbox_changed: Callable[[], None] = _nothing
    # Per platform: fetches the bytes of a file a person sent (we keep only its id).
    downloads: Mapping[str, Callable[[FileRef], Awaitable[bytes]]] = field(default_factory=dict)
    # Builds a workbook elsewhere (the runtime's worker process: bot/report_process.py); in this process
    # when None (tests that build Services themselves).
    report_builder: Callable[[ReportRequest], Awaitable[bytes]] | None = None
    # The campaigns (storage/campaigns.py); the config's alone until the database is read.
    campaigns: CampaignBook = None  # type: ignore[assignment]  # set in __post_init__
    # This runtime's replies journalled while they are sent (storage/reply_journal.py).
    journal: ReplyJournal = field(default_factory=ReplyJournal)

    def __post_init__(self) -> None:
        if self.campaigns is None:
            object.__setattr__(self, "campaigns", CampaignBook(self.config.campaign))

    async def build_report(self, request: ReportRequest) -> bytes:
        if self.report_builder is not None:
            return await self.report_builder(request)
        async with self.sessions() as session:
            return await excel.build(session, request)


@dataclass
class Context:
    services: Services
    session: AsyncSession
    event: Event
    identity: Identity
    replies: list[Reply] = field(default_factory=list)
    queued_notifications: int = 0
    keeps_origin: bool = False
    clears_origin: bool = False
    deferred: list[Callable[[], Awaitable[list[Reply]]]] = field(default_factory=list)
    language: str | None = None  # words in another language than the person's (`in_records_language`)

    def in_records_language(self) -> Context:
        """A view of this context worded as the records are (`i18n.records`), to compare or store words
        that must not depend on who read them in which language; it says nothing to anyone."""
        return Context(services=self.services, session=self.session, event=self.event, identity=self.identity,
                       language=records().language)  # fmt: skip

    def elsewhere(self, identity: Identity) -> Context:
        """A context for another account's private chat in this same transaction: what is said there (its
        language, its menu) is that person's; its replies are queued to them with `notify`."""
        event = dataclasses.replace(self.event, platform=identity.platform, user_id=identity.platform_user_id,
                                    chat_id=identity.chat_id, payload="", text="")  # fmt: skip
        return Context(services=self.services, session=self.session, event=event, identity=identity)

    @property
    def t(self) -> Catalog:
        return catalog(self.language or self.identity.language or self.services.config.settings.language)

    @property
    def member(self) -> Member | None:
        return self.identity.member

    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def campaign(self) -> Campaign:
        """The campaign a step works in: the open one (see CampaignBook.default)."""
        return self.services.campaigns.default(self.today())

    def campaigns_open(self) -> list[Campaign]:
        return self.services.campaigns.open_on(self.today())

    def earliest_eligible(self) -> dt.date:
        """The first day any campaign takes (a decision for an older campaign's initiative is not refused)."""
        return min(campaign.eligible_from for campaign in self.services.campaigns.campaigns)

    def now(self) -> dt.datetime:
        return self.services.clock()

    def deep_link(self, payload: str) -> str:
        """How this person opens the bot with `payload` on their platform."""
        return self.services.deep_links.get(self.event.platform, typed_start_command)(payload)

    async def download(self, file: FileRef) -> bytes:
        return await self.services.downloads.get(self.event.platform, _no_download)(file)

    def today(self) -> dt.date:
        return self.now().astimezone(self.config.campaign.tz).date()  # the deployment's time zone

    def say(
        self,
        text: str,
        options: Iterable[Iterable[Option]] = (),
        *,
        menu: bool = False,
        replace_origin: bool = False,
        numbers_answer: bool = False,
    ) -> None:
        rows = tuple(tuple(row) for row in options if row)
        self.replies.append(Reply(text=text, options=rows, menu=MENU if menu else (), replace_origin=replace_origin,
                                  numbers_answer=numbers_answer, language=self.t.language))  # fmt: skip

    def notify(
        self,
        platform: str,
        chat_id: str,
        reply: Reply,
        *,
        purpose: str = "notice",
        initiative_id: int | None = None,
        edit_of_id: int | None = None,
        language: str = "",
    ) -> OutboxMessage:
        """Queue a message to someone else through the outbox (delivered after this transaction commits).
        `language`: the one its text was worded in, when not this person's (a notice worded for its reader)."""
        self.queued_notifications += 1
        reply = dataclasses.replace(reply, language=language or reply.language or self.t.language)
        return queries.queue_message(self.session, platform, chat_id, reply.to_json(), purpose=purpose,
                                     at=self.now(), initiative_id=initiative_id, edit_of_id=edit_of_id)  # fmt: skip

    def after_commit(self, work: Callable[[], Awaitable[list[Reply]]]) -> None:
        """Run `work` once this update's transaction has committed and send its replies after the others:
        long work (an export) then holds no lock and keeps no one else waiting."""
        self.deferred.append(work)

    def keep_origin(self) -> None:
        """Leave the message the pressed option belongs to as it is (see Reply.keeps_origin)."""
        self.keeps_origin = True

    def press_not_taken(self) -> None:
        """The pressed option did nothing (an old question's, a refused one): its message is not marked as
        answered with it (see Reply.clears_origin)."""
        self.clears_origin = True

    def set_flow(self, flow: str | None, **data: object) -> None:
        self.identity.flow = flow
        self.identity.flow_data = dict(data)
