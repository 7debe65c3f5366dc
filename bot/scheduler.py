"""The reminder scheduler: runs each `[[reminders]]` entry of config.toml when its cron time comes.

State lives in the database (`reminder_run`): each period of each reminder is claimed by inserting a
row under a unique constraint, in the same transaction that queues its messages, so of several bot
processes exactly one sends each period, a restart never sends one twice, and a period whose messages
could not be queued is claimed by nobody and tried again.

After an outage the scheduler looks at every period it missed (`handlers.reminders.period_to_send`): a
countdown sends the latest missed day that was a countdown day, with today's number of days left; a
digest or a nudge, which report the state now, is sent once, for the latest period. Nothing due before
the bot first ran is sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from croniter import croniter

from bot import metrics
from bot.background import BackgroundLoop
from bot.config import Reminder
from handlers import reminders
from handlers.context import Services
from storage import claims, housekeeping, queries

log = logging.getLogger(__name__)
# How far back missed periods are looked at (and at most how many): older ones are not worth sending.
CATCH_UP = dt.timedelta(days=14)
MAX_PERIODS = 2000


def latest_due(reminder: Reminder, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """The most recent time at or before `now` that the reminder's cron expression names."""
    local = now.astimezone(tz) + dt.timedelta(seconds=1)
    return croniter(reminder.cron, local).get_prev(dt.datetime).astimezone(dt.UTC)


def periods_since(reminder: Reminder, last: dt.datetime, now: dt.datetime, tz: dt.tzinfo) -> list[dt.datetime]:
    """The reminder's due times after `last` up to `now` (within CATCH_UP, at most MAX_PERIODS, latest kept)."""

    def due_times() -> Iterator[dt.datetime]:
        times = croniter(reminder.cron, max(last, now - CATCH_UP).astimezone(tz))
        while (due := times.get_next(dt.datetime).astimezone(dt.UTC)) <= now:
            yield due

    found: list[dt.datetime] = []
    for due in due_times():
        found.append(due)
        if len(found) > MAX_PERIODS:
            del found[0]
    return found


class Scheduler:
    def __init__(self, services: Services, poll_seconds: float = 20.0) -> None:
        self.services = services
        self.loop = BackgroundLoop("scheduler", self._pass, poll_seconds)  # pragma: no mutate

    def wake(self) -> None:
        """Check now (the tests call this after moving their clock)."""
        self.loop.wake()

    async def _pass(self) -> bool:
        await self.tick()
        return False

    async def tick(self) -> int:
        """Run every reminder with an unclaimed period; returns how many messages were queued."""
        config = self.services.config
        queued = 0
        for reminder in config.reminders:
            if self.loop.stopping:
                break
            queued += await self._run_reminder(reminder)
        pruned = await housekeeping.prune(self.services.sessions, self.services.clock())
        if pruned:
            log.info("pruned %s", pruned)  # pragma: no mutate
        if queued:
            self.services.outbox_changed()
        return queued

    async def _run_reminder(self, reminder: Reminder) -> int:
        config, now = self.services.config, self.services.clock()
        tz = config.campaign.tz
        latest = latest_due(reminder, now, tz)
        async with self.services.sessions() as session, session.begin():
            last = await queries.last_reminder_period(session, reminder.name)
            if last is None:  # first start: a baseline, nothing before it is sent
                await claims.claim_reminder_period(session, reminder.name, latest, now, skipped=True)
                return 0
            missed = periods_since(reminder, last, now, tz)
            if not missed:
                return 0
            await self.services.campaigns.refresh(session)
            chosen = reminders.period_to_send(reminder, missed, config, self.services.campaigns)
            if chosen != missed[-1] and not await claims.claim_reminder_period(
                session, reminder.name, missed[-1], now, skipped=True
            ):
                return 0  # another process is on it
            if not await claims.claim_reminder_period(session, reminder.name, chosen, now):
                return 0
            count = await reminders.run(session, config, self.services.campaigns, reminder, chosen, now)
            await queries.record_reminder_recipients(session, reminder.name, chosen, count)
        metrics.PERIODS.labels(reminder.kind).inc()
        log.info("reminder %s for %s: %d queued", reminder.name, chosen.isoformat(), count)  # pragma: no mutate
        return count
