"""Files the bot serves at unguessable URLs (`/f/<token>/<name>` on its web app)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import delete, select
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


async def by_token(session: AsyncSession, token: str, now: dt.datetime) -> StoredFile | None:
    row = await session.scalar(select(StoredFile).where(StoredFile.token == token))
    if row is None or (row.expires_at is not None and row.expires_at < now):
        return None
    return row


async def delete_expired(session: AsyncSession, now: dt.datetime) -> int:
    """Forget generated files past their time (they hold personal data)."""
    result = await session.execute(delete(StoredFile).where(StoredFile.expires_at < now))
    return result.rowcount or 0
