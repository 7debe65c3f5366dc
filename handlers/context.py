"""What a conversation step works with: the event, the person, the database session, the replies."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Campaign, Config
from handlers.events import Event, Option, Reply
from handlers.i18n import Catalog, catalog
from storage.models import Identity, Member


def esc(text: object) -> str:
    """Escape user-provided text for the reply markup (a tiny HTML subset)."""
    return html.escape(str(text), quote=False)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Services:
    """Long-lived things a conversation needs; built once by the runtime (bot/app.py)."""

    config: Config
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], dt.datetime] = utc_now


@dataclass
class Context:
    services: Services
    session: AsyncSession
    event: Event
    identity: Identity
    replies: list[Reply] = field(default_factory=list)

    @property
    def t(self) -> Catalog:
        return catalog(self.identity.language or self.services.config.settings.language)

    @property
    def member(self) -> Member | None:
        return self.identity.member

    @property
    def config(self) -> Config:
        return self.services.config

    @property
    def campaign(self) -> Campaign:
        return self.services.config.campaign

    def now(self) -> dt.datetime:
        return self.services.clock()

    def today(self) -> dt.date:
        return self.now().astimezone(self.campaign.tz).date()

    def say(
        self,
        text: str,
        options: Iterable[Iterable[Option]] = (),
        *,
        menu: bool = False,
        replace_origin: bool = False,
    ) -> None:
        rows = tuple(tuple(row) for row in options if row)
        menu_labels = main_menu_labels(self.t) if menu else ()
        self.replies.append(Reply(text=text, options=rows, menu=menu_labels, replace_origin=replace_origin))

    def set_flow(self, flow: str | None, **data: object) -> None:
        self.identity.flow = flow
        self.identity.flow_data = dict(data)


MENU_KEYS = ("menu_new", "menu_drafts", "menu_mine", "menu_help")


def main_menu_labels(t: Catalog) -> tuple[str, ...]:
    return tuple(t(key) for key in MENU_KEYS)
