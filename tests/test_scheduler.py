"""The scheduler's periods on a real database: a baseline on the first start, catching up after an
outage, and a period whose messages could not be queued is tried again, never lost."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.config import Config
from bot.scheduler import Scheduler
from handlers import reminders
from handlers.context import Services
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import ReminderRun
from tests.harness import FakeClock, local

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def scheduler(database_url: str, config: Config):
    engine = create_engine(database_url)
    await upgrade_database(engine)
    clock = FakeClock(local(2022, 5, 10, 10))
    countdown = next(r for r in config.reminders if r.kind == "countdown")
    services = Services(config=config.model_copy(update={"reminders": (countdown,)}),
                        sessions=session_factory(engine, clock), clock=clock)  # fmt: skip
    yield Scheduler(services), clock
    await engine.dispose()


async def runs(scheduler: Scheduler) -> list[tuple[dt.datetime, bool]]:
    async with scheduler.services.sessions() as session:
        rows = (await session.scalars(select(ReminderRun).order_by(ReminderRun.due_at))).all()
    return [(row.due_at, row.skipped) for row in rows]


async def test_missed_countdown_days_are_caught_up_once(scheduler) -> None:
    scheduler, clock = scheduler
    await scheduler.tick()
    assert await runs(scheduler) == [(local(2022, 5, 10, 8), True)], "first start: a baseline, nothing sent"
    clock.set(local(2022, 5, 19, 9))  # down from 11/05 to 19/05: the 14-day countdown (17/05) was missed
    await scheduler.tick()
    assert await runs(scheduler) == [
        (local(2022, 5, 10, 8), True),
        (local(2022, 5, 17, 8), False),  # sent (today: 12 days left)
        (local(2022, 5, 19, 8), True),  # the latest period, recorded so it is not looked at again
    ]
    await scheduler.tick()
    assert len(await runs(scheduler)) == 3


async def test_a_period_that_failed_is_tried_again(scheduler, monkeypatch: pytest.MonkeyPatch) -> None:
    scheduler, clock = scheduler
    await scheduler.tick()  # baseline
    real_run = reminders.run
    failures = []

    async def failing_once(*args, **kwargs) -> int:
        if not failures:
            failures.append(1)
            raise ConnectionError("the database went away mid-period")
        return await real_run(*args, **kwargs)

    monkeypatch.setattr(reminders, "run", failing_once)
    clock.set(local(2022, 5, 17, 8, 1))
    with pytest.raises(ConnectionError):
        await scheduler.tick()
    assert await runs(scheduler) == [(local(2022, 5, 10, 8), True)], "nothing claimed by the failed pass"
    await scheduler.tick()
    assert await runs(scheduler) == [(local(2022, 5, 10, 8), True), (local(2022, 5, 17, 8), False)]


async def test_period_arithmetic_at_its_edges() -> None:
    """Due exactly now counts as due; a period at `last` is not repeated; the outage window is bounded."""
    from zoneinfo import ZoneInfo

    from bot import scheduler as periods
    from bot.config import Reminder

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    daily = Reminder(name="daily", kind="digest", cron="0 8 * * *")
    eight = dt.datetime(2022, 5, 10, 8, tzinfo=tz)
    assert periods.latest_due(daily, eight, tz) == eight and periods.latest_due(daily, eight, tz).tzinfo == dt.UTC
    assert periods.latest_due(daily, eight - dt.timedelta(seconds=1), tz) == eight - dt.timedelta(days=1)
    assert periods.latest_due(daily, eight + dt.timedelta(seconds=1), tz) == eight
    since = periods.periods_since(daily, eight - dt.timedelta(days=2), eight, tz)
    assert since == [eight - dt.timedelta(days=1), eight] and all(due.tzinfo == dt.UTC for due in since)
    assert periods.periods_since(daily, eight, eight, tz) == []
    assert periods.periods_since(daily, eight, eight - dt.timedelta(seconds=1), tz) == []
    assert len(periods.periods_since(daily, eight - dt.timedelta(days=60), eight, tz)) == 14, "14 days back at most"
    every_minute = Reminder(name="often", kind="digest", cron="* * * * *")
    many = periods.periods_since(every_minute, eight - dt.timedelta(days=2), eight, tz)
    assert len(many) == periods.MAX_PERIODS and many[-1] == eight, "the latest kept"
    assert many[0] == eight - dt.timedelta(minutes=periods.MAX_PERIODS - 1)
