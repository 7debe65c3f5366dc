"""Files the bot serves at unguessable URLs (`/f/<token>/<name>` on its web app)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import StoredFile


async def store(
    session: AsyncSession,
    content: bytes,
    file_name: str,
    mime_type: str,
    now: dt.datetime,
    keep_for: dt.timedelta | None = None,
) -> StoredFile:
    row = StoredFile(token=secrets.token_urlsafe(24), file_name=file_name[:255] or "tep", mime_type=mime_type,
                     content=content, expires_at=now + keep_for if keep_for else None)  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def attach(session: AsyncSession, token: str, attachment_id: int) -> None:
    """A file someone sent becomes an initiative's attachment: it is kept as long as that attachment (the
    database deletes it with the attachment, its initiative or its draft). Tokens of files the bot does
    not keep (Telegram's file ids) match nothing."""
    await session.execute(
        update(StoredFile)
        .where(StoredFile.token == token, StoredFile.attachment_id.is_(None))
        .values(attachment_id=attachment_id, expires_at=None)
    )


async def by_token(session: AsyncSession, token: str, now: dt.datetime) -> StoredFile | None:
    row = await session.scalar(select(StoredFile).where(StoredFile.token == token))
    if row is None or (row.expires_at is not None and row.expires_at < now):
        return None
    return row
