"""The one entry the channels hand an event to: the conversations (`handlers.router.handle_event`),
counted and timed for the operator's metrics (`bot/metrics.py`), with the update named in JSON log lines."""

from __future__ import annotations

import time

from sqlalchemy.exc import SQLAlchemyError

from bot import metrics
from bot.logging_setup import CURRENT_UPDATE
from handlers.context import Services
from handlers.events import Event, Reply
from handlers.router import handle_event


async def handle_counted(services: Services, event: Event) -> list[Reply]:
    metrics.UPDATES.labels(event.platform, event.kind.value).inc()
    CURRENT_UPDATE.set((f"{event.platform}:{event.update_key}", f"{event.platform}:{event.user_id}"))
    started = time.perf_counter()
    try:
        return await handle_event(services, event)
    except SQLAlchemyError:
        metrics.DATABASE_ERRORS.inc()
        raise
    finally:
        metrics.STEP_SECONDS.labels(event.platform).observe(time.perf_counter() - started)
