"""Pruning: tables that grow with every message are cut back by the scheduler, so they stay the size of
their retention, not of the campaign's history.

What goes, and after how long:
- handled update ids (`processed_update`) after 8 days: Telegram keeps an undelivered update 24 hours and
  Zalo less, so no redelivery can come after that; a review link's nonce, claimed there too, must outlive
  the link (7 days, `handlers.review_links.LIFETIME`), or the link could decide twice;
- numbered menus (`option_menu`) after 60 days: "2" typed to a menu two months old is answered as to no menu;
- one-time link codes (`link_code`) a day after they expired, and `LIENKET` attempts after 7 days (the
  lock counts failures over one hour);
- chair invitations a month after they expired unused (used ones are history: who became chair by which);
- generated files (`stored_file`) when they expire;
- inbox rows (`inbox_update`) of handled updates, and any a day old: an update not handled in a day (one
  no handler takes, such as a group message for another bot) never will be.
(The processes' heartbeats, `bot_process`, are pruned by the processes themselves: storage/processes.py.)

Each table is cut in batches, one short transaction each, so a first prune of a million rows never holds
SQLite's write lock for long: the bot answers between batches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import ColumnElement, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import inbox
from storage.models import ChairInvite, InboxUpdate, LinkAttempt, LinkCode, OptionMenu, ProcessedUpdate, StoredFile

BATCH = 5_000
UPDATE_IDS_KEPT = dt.timedelta(days=8)
MENUS_KEPT = dt.timedelta(days=60)
LINK_CODES_KEPT = dt.timedelta(days=1)
LINK_ATTEMPTS_KEPT = dt.timedelta(days=7)
INVITES_KEPT = dt.timedelta(days=30)
INBOX_KEPT = dt.timedelta(days=1)


def _rules() -> list[tuple[str, type, Callable[[dt.datetime], ColumnElement[bool]]]]:
    return [
        ("processed_update", ProcessedUpdate, lambda now: ProcessedUpdate.processed_at < now - UPDATE_IDS_KEPT),
        ("option_menu", OptionMenu, lambda now: OptionMenu.created_at < now - MENUS_KEPT),
        ("link_code", LinkCode, lambda now: LinkCode.expires_at < now - LINK_CODES_KEPT),
        ("link_attempt", LinkAttempt, lambda now: LinkAttempt.created_at < now - LINK_ATTEMPTS_KEPT),
        ("chair_invite", ChairInvite,
         lambda now: (ChairInvite.expires_at < now - INVITES_KEPT) & ChairInvite.used_at.is_(None)),
        ("stored_file", StoredFile, lambda now: StoredFile.expires_at < now),
        ("inbox_update", InboxUpdate, lambda now: inbox.handled() | (InboxUpdate.received_at < now - INBOX_KEPT)),
    ]  # fmt: skip


async def prune(sessions: async_sessionmaker[AsyncSession], now: dt.datetime, batch: int = BATCH) -> dict[str, int]:
    """Delete what is past its retention; returns the rows deleted per table (tables with none left out)."""
    deleted: dict[str, int] = {}
    for name, model, expired in _rules():
        key = tuple_(*model.__table__.primary_key.columns)
        while True:
            oldest = select(*model.__table__.primary_key.columns).where(expired(now)).limit(batch)
            async with sessions() as session, session.begin():
                result = await session.execute(
                    delete(model).where(key.in_(oldest)).execution_options(synchronize_session=False)
                )
            count = result.rowcount or 0
            if count:
                deleted[name] = deleted.get(name, 0) + count
            if count < batch:
                break
    return deleted
