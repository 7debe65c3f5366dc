"""The one entry the channels hand an event to: the conversations (`handlers.router.handle_event`),
counted and timed for the operator's metrics (`bot/metrics.py`), with the update named in JSON log lines.

While the database is unreachable (a PostgreSQL restart, a failover), or after it rolled the event's
transaction back to break a deadlock, the event is tried again for up to a minute rather than answered with
an error: its transaction left nothing behind, and the person's answer, which the platform will not deliver
again, would otherwise be lost."""

from __future__ import annotations

import logging
import time

from sqlalchemy.exc import SQLAlchemyError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_delay, wait_exponential

from bot import metrics
from bot.logging_setup import CURRENT_UPDATE
from handlers.context import Services
from handlers.events import Event, Reply
from handlers.router import handle_event
from storage.engine import database_unreachable, transaction_rolled_back

log = logging.getLogger(__name__)
UNREACHABLE_PATIENCE_SECONDS = 60
_backoff = wait_exponential(multiplier=0.5, max=5)


def _log_retry_state(state: RetryCallState) -> None:
    _log_retry(state.outcome.exception() if state.outcome else None)


def _worth_again(error: BaseException) -> bool:
    return database_unreachable(error) or transaction_rolled_back(error)


def _log_retry(error: BaseException | None) -> None:
    metrics.DATABASE_ERRORS.inc()
    why = "transaction rolled back" if error is not None and transaction_rolled_back(error) else "database unreachable"
    log.warning("%s (%s); trying the update again", why, type(error).__name__)


async def handle_counted(services: Services, event: Event) -> list[Reply]:
    metrics.UPDATES.labels(event.platform, event.kind.value).inc()
    CURRENT_UPDATE.set((f"{event.platform}:{event.update_key}", f"{event.platform}:{event.user_id}"))
    started = time.perf_counter()
    try:
        try:  # the first attempt bare: building the retry state for every update would cost CPU for nothing
            return await handle_event(services, event)
        except (SQLAlchemyError, OSError) as error:
            if not _worth_again(error):
                raise
            _log_retry(error)
        async for attempt in AsyncRetrying(retry=retry_if_exception(_worth_again), wait=_backoff,
                                           stop=stop_after_delay(UNREACHABLE_PATIENCE_SECONDS), reraise=True,
                                           before_sleep=_log_retry_state):  # fmt: skip
            with attempt:
                return await handle_event(services, event)
        raise AssertionError("unreachable")  # pragma: no cover
    except SQLAlchemyError:
        metrics.DATABASE_ERRORS.inc()
        raise
    finally:
        metrics.STEP_SECONDS.labels(event.platform).observe(time.perf_counter() - started)
