"""The bot-wide sending pace: no second ever holds more sends than the limit, even after a stall."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.channels.limits import PacedSlots

pytestmark = pytest.mark.asyncio


async def test_callers_held_up_by_a_busy_event_loop_do_not_burst_past_the_limit() -> None:
    """Twelve sends at 5 a second; the event loop blocks for 0.7 s in the middle (a long synchronous piece
    of work). The callers whose instants passed during the block wake together — they must still go out no
    more than five in any second (a paced grid alone would let them all out at once)."""
    slots = PacedSlots(5)
    sent: list[float] = []

    async def send() -> None:
        await slots.acquire()
        sent.append(time.monotonic())

    async def block_the_loop() -> None:
        await asyncio.sleep(0.5)
        time.sleep(0.7)  # noqa: ASYNC251 — the point: a loop blocked by synchronous work

    await asyncio.wait_for(asyncio.gather(block_the_loop(), *(send() for _ in range(12))), timeout=30)
    for first in sent:
        in_that_second = [t for t in sent if first <= t < first + 1.0]
        assert len(in_that_second) <= 5, f"{len(in_that_second)} sends within a second of {first}: {sent}"
