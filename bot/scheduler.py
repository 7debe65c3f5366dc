"""The reminder scheduler: runs each `[[reminders]]` entry of config.toml when its cron time comes.

State lives in the database (`reminder_run`): each period of each reminder is claimed by inserting a
row under a unique constraint, in the same transaction that queues its messages. So a restart neither
misses a period that fell due while the bot was down (the latest one is sent on start) nor sends one
twice, and of several bot processes exactly one sends each period.
"""

from __future__ import annotations

import datetime as dt
import logging

from croniter import croniter

from bot.background import BackgroundLoop
from bot.config import Reminder
from handlers import reminders
from handlers.context import Services
from storage import files, queries

log = logging.getLogger(__name__)


def latest_due(reminder: Reminder, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The most recent time at or before `now` that the reminder's cron expression names."""
    local = now.astimezone(tz) + dt.timedelta(seconds=1)
    return croniter(reminder.cron, local).get_prev(dt.datetime).astimezone(dt.UTC)


class Scheduler:
    def __init__(self, services: Services, poll_seconds: float = 20.0) -> None:
        self.services = services
        self.loop = BackgroundLoop("scheduler", self._pass, poll_seconds)

    def wake(self) -> None:
        """Check now (the tests call this after moving their clock)."""
        self.loop.wake()

    async def _pass(self) -> bool:
        await self.tick()
        return False

    async def tick(self) -> int:
        """Run every reminder whose latest period is unclaimed; returns how many messages were queued."""
        config = self.services.config
        queued = 0
        for reminder in config.reminders:
            if self.loop.stopping:
                break
            now = self.services.clock()
            due = latest_due(reminder, now, config.campaign.tz)
            async with self.services.sessions() as session, session.begin():
                claimed = await queries.claim_reminder_period(session, reminder.name, due, now)
                if claimed is None or claimed.skipped:
                    continue
                claimed.recipients = await reminders.run(session, config, reminder, due, now)
                queued += claimed.recipients
            log.info("reminder %s for %s: %d messages queued", reminder.name, due.isoformat(), claimed.recipients)
        async with self.services.sessions() as session, session.begin():
            await files.delete_expired(session, self.services.clock())
        if queued:
            self.services.outbox_changed()
        return queued
