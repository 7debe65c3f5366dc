"""The processes serving one bot share its sending limits.

Telegram allows a bot about 30 messages a second, however many processes send them; two `serve` processes
behind one address that each kept to 30 met 429s (1,585 in one `make bench-scale-out` run) and each 429
holds its send back a second. So every process says every two seconds that it is alive (storage/processes.py)
and keeps to its part of each limit: with two processes, 15 a second each. A process that starts serves
only once the others have counted it (`join`: at most one beat, about two seconds), so together they never
go over. When one stops, the others take its part back at their next beat; one that crashed, once its
lease has passed.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import BackgroundLoop
from storage import processes

log = logging.getLogger(__name__)
_DB_ERRORS = (SQLAlchemyError, OSError)  # asyncpg refuses a connection with a bare OSError
JOIN_PATIENCE = processes.BEAT.total_seconds() + 0.5
JOIN_POLL = 0.1


class Shared(Protocol):
    def share(self, processes: int) -> None: ...


class LimitSharing:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], limits: Sequence[Shared]) -> None:
        self.sessions, self.limits = sessions, limits
        self.token = secrets.token_hex(16)
        self.processes = 1
        self.joined = False
        self.loop = BackgroundLoop("limit sharing", self._beat, processes.BEAT.total_seconds())

    async def _beat(self) -> bool:
        try:
            alive = await processes.beat(self.sessions, self.token)
        except _DB_ERRORS as error:  # the database away: keep to the last count until it is back
            log.warning("could not count the processes serving this bot (%s)", type(error).__name__)
            return False
        if alive != self.processes:
            log.info("%d processes serve this bot: each keeps to 1/%d of its sending limits", alive, alive)
            self.processes = alive
            for limit in self.limits:
                limit.share(alive)
        return False

    async def join(self) -> None:
        """Count this process in before it serves: a beat, then a wait until each other process alive has
        beaten since (so keeps to its smaller part). One that has not within a beat and a little is gone.
        Once joined, a second call returns at once (a tenants deployment joins its runtimes before its web app
        listens; each runtime's `run` then finds itself joined)."""
        if self.joined:
            return
        try:
            await self._wait_until_counted()
        finally:
            self.joined = True

    async def _wait_until_counted(self) -> None:
        await self._beat()
        if self.processes == 1:
            return
        deadline = time.monotonic() + JOIN_PATIENCE
        try:
            since = await processes.database_time(self.sessions)
            while not await processes.counted_by_all(self.sessions, self.token, since):
                if time.monotonic() > deadline:
                    log.info("another process serving this bot did not beat within %.1f s (gone, or slow): "
                             "serving without waiting longer", JOIN_PATIENCE)  # fmt: skip
                    return
                await asyncio.sleep(JOIN_POLL)
        except _DB_ERRORS as error:
            log.warning("could not see the other processes count this one (%s)", type(error).__name__)

    async def leave(self) -> None:
        """Once stopped: the others count without this process at their next beat."""
        try:
            await processes.leave(self.sessions, self.token)
        except _DB_ERRORS as error:  # its row drops out of the count once its lease passes
            log.warning("could not say this process stopped (%s)", type(error).__name__)
