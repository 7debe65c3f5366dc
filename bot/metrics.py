"""What an operator watches (Prometheus, `prometheus-client`): served at `/metrics` on the bot's web app
when METRICS_TOKEN is set, to a scraper that sends it as a bearer token (404 otherwise, so the page is not
found by guessing). Counters live in one registry per process; the outbox figures are read from the
database at each scrape, so every process reports the same queue.

Names carry no person, chat or text: labels are the channel, the update kind, the delivery result, the
reminder's kind and the export's kind — a handful of values each.
"""

from __future__ import annotations

import datetime as dt
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from storage.models import OutboxMessage, OutboxStatus

if TYPE_CHECKING:
    from handlers.context import Services

REGISTRY = CollectorRegistry()
UPDATES = Counter("sangkien_updates", "Updates handled, by channel and kind", ["channel", "kind"], registry=REGISTRY)
STEP_SECONDS = Histogram(
    "sangkien_update_seconds",
    "Time to handle one update (a wizard step, a press, a command), by channel",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
DATABASE_ERRORS = Counter("sangkien_database_errors", "Updates that failed on a database error", registry=REGISTRY)
DELIVERIES = Counter(
    "sangkien_deliveries",
    "Outbox deliveries by result: sent, blocked, failed, rate_limited (429, retried), retry (other, retried)",
    ["channel", "result"],
    registry=REGISTRY,
)
PERIODS = Counter("sangkien_scheduler_periods", "Reminder periods run, by reminder kind", ["kind"], registry=REGISTRY)
EXPORTS = Counter("sangkien_exports", "Files built: excel, word", ["kind"], registry=REGISTRY)
EXPORT_SECONDS = Histogram(
    "sangkien_export_seconds", "Time to build a file, by kind", ["kind"], buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60),
    registry=REGISTRY,
)  # fmt: skip
OUTBOX_DEPTH = Gauge("sangkien_outbox_pending", "Messages waiting in the outbox", registry=REGISTRY)
OUTBOX_OLDEST = Gauge("sangkien_outbox_oldest_seconds", "Age of the oldest waiting message (0: none)",
                      registry=REGISTRY)  # fmt: skip


class timed_export:
    """Counts a built file and how long it took."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *_exc: object) -> None:
        EXPORTS.labels(self.kind).inc()
        EXPORT_SECONDS.labels(self.kind).observe(time.perf_counter() - self.started)


async def _outbox_figures(services: Services) -> tuple[int, float]:
    """How many messages wait in this runtime's outbox, and the oldest one's age in seconds (0: none)."""
    async with services.sessions() as session:
        pending, oldest = (
            await session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.status == OutboxStatus.PENDING
                )
            )
        ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=dt.UTC)
    return pending, max((services.clock() - oldest).total_seconds(), 0) if oldest is not None else 0.0


def route(every: list[Services]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The process's metrics (several tenants in one process: the outbox figures are summed over them, the
    oldest message is the oldest anywhere; the counters are the process's)."""
    token = every[0].config.metrics_token

    async def metrics(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token or not hmac.compare_digest(given.encode(), token.encode()):
            return web.Response(status=404, text="not found")
        figures = [await _outbox_figures(services) for services in every]
        OUTBOX_DEPTH.set(sum(pending for pending, _ in figures))
        OUTBOX_OLDEST.set(max(oldest for _, oldest in figures))
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics
