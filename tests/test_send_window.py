"""Telegram's overall sending rule, kept by `SendWindow`: never more than the count in any second as the
platform sees the sends arrive, however the network delays each request and answer. (The whole bot against
the emulator's 429s: test_broadcast_e2e.py; the time a broadcast takes: `make bench-broadcast`.)"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import pytest

from bot.channels.limits import SendWindow, SteadyRate

pytestmark = pytest.mark.asyncio

COUNT, PERIOD = 10, 0.2


async def arrivals_of(
    window: SendWindow, sends: int, request: tuple[float, float], answer: tuple[float, float]
) -> list[float]:
    """When each send reaches the platform, each request and each answer delayed at random in the ranges."""
    rng = random.Random(2022)
    arrived: list[float] = []

    async def send() -> None:
        async with window.slot():
            await asyncio.sleep(rng.uniform(*request))
            arrived.append(time.monotonic())
            await asyncio.sleep(rng.uniform(*answer))

    await asyncio.wait_for(asyncio.gather(*(send() for _ in range(sends))), timeout=60)
    return sorted(arrived)


def fullest_period(arrived: list[float]) -> int:
    """The most arrivals in any half-open window of PERIOD seconds, as the emulator counts them."""
    return max(sum(1 for later in arrived if start <= later < start + PERIOD) for start in arrived)


async def test_a_fast_link_never_puts_more_than_the_count_in_a_period() -> None:
    arrived = await arrivals_of(SendWindow(COUNT, PERIOD), 60, (0.0, 0.03), (0.0, 0.03))
    assert len(arrived) == 60
    assert fullest_period(arrived) == COUNT, "full windows, never one send over"


async def test_a_slow_and_uneven_link_still_keeps_the_count() -> None:
    """Requests held up to a quarter of the period on the way (a stalled loop, a slow network): each send's
    answer, not its start, dates it."""
    arrived = await arrivals_of(SendWindow(COUNT, PERIOD), 60, (0.0, PERIOD / 4), (0.0, 0.01))
    assert fullest_period(arrived) <= COUNT


async def test_a_wait_that_ends_early_lets_no_send_in_early_and_never_spins() -> None:
    """uvloop's timers count whole milliseconds, so a sleep may end up to one before its time (the scale-out
    bench met 429s): the window reads its clock again after waiting, and waits the rest, a millisecond at
    least (a shorter timer ends at once on uvloop: the loop would spin until the moment came)."""
    waits: list[float] = []

    async def early(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds - min(0.001, seconds / 2))

    arrived = await arrivals_of(SendWindow(COUNT, PERIOD, sleep=early), 40, (0.0, 0.0), (0.0, 0.0))
    assert fullest_period(arrived) == COUNT
    assert min(waits) >= 0.001 and len(waits) <= 3 * (40 - COUNT), "a wait or two more for each early end"


async def test_a_send_cancelled_while_waiting_frees_no_place() -> None:
    window = SendWindow(2, PERIOD)
    answered = []
    for _ in range(2):
        async with window.slot():
            pass
        answered.append(time.monotonic())

    async def third() -> float:
        async with window.slot():
            return time.monotonic()

    cancelled = asyncio.create_task(third())
    await asyncio.sleep(PERIOD / 4)
    cancelled.cancel()
    started = await asyncio.wait_for(third(), timeout=5)
    assert started >= answered[0] + PERIOD, "the cancelled wait took nobody's place"


class FakeTime:
    """The window's clock and sleep, moved by its own waits only: the schedule is exact, not timed."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_instant_answers_go_out_in_full_windows_one_period_apart() -> None:
    """Never slower than the rule needs: 60 sends answered at once take five periods, ten at a time."""
    time_ = FakeTime()
    window = SendWindow(COUNT, PERIOD, clock=time_.clock, sleep=time_.sleep)
    started: list[float] = []

    async def send() -> None:
        async with window.slot():
            started.append(round(time_.now, 6))

    await asyncio.wait_for(asyncio.gather(*(send() for _ in range(60))), timeout=10)
    assert started == [round(PERIOD * (n // COUNT), 6) for n in range(60)]


async def test_a_failed_request_and_a_hung_one_hold_nobody_back_for_good() -> None:
    """A request that raised is dated by its failure; one that never answers, `patience` after its start."""
    window = SendWindow(2, PERIOD, patience=2 * PERIOD)
    with contextlib.suppress(ConnectionError):
        async with window.slot():
            raise ConnectionError("the network went away")
    hung = asyncio.Event()

    async def hang() -> None:
        async with window.slot():
            hung.set()
            await asyncio.Event().wait()

    hanging = asyncio.create_task(hang())
    await hung.wait()

    async def send() -> None:
        async with window.slot():
            pass

    await asyncio.wait_for(asyncio.gather(*(send() for _ in range(4))), timeout=10)
    hanging.cancel()


async def test_a_window_shared_by_two_processes_keeps_to_half_its_count_until_alone_again() -> None:
    """Two processes send for one bot (storage/processes.py): each keeps to half the platform's count, so
    together they keep to it; alone again, a process has the whole count back."""
    time_ = FakeTime()
    window = SendWindow(COUNT, PERIOD, clock=time_.clock, sleep=time_.sleep)
    started: list[float] = []

    async def sends(count: int) -> None:
        async def send() -> None:
            async with window.slot():
                started.append(round(time_.now / PERIOD, 6))

        await asyncio.wait_for(asyncio.gather(*(send() for _ in range(count))), timeout=10)

    await sends(COUNT)
    window.share(2)
    await sends(COUNT)
    window.share(1)
    await sends(2 * COUNT)
    half = COUNT // 2
    assert started[:COUNT] == [0] * COUNT, "alone: a full window at once"
    assert started[COUNT : 2 * COUNT] == [1] * half + [2] * half, "shared: half a window a period"
    assert started[2 * COUNT :] == [2] * half + [3] * COUNT + [4] * half, "alone again: the whole count"


async def test_a_steady_rate_shared_by_two_processes_sends_at_half_of_it() -> None:
    """Zalo's overall limit (a steady rate). Only a lower bound is asserted: a limiter is never faster than
    its rate, however loaded the machine."""
    rate = SteadyRate(per_second=100)
    rate.share(2)
    started = time.monotonic()
    for _ in range(6):
        async with rate.slot():
            pass
    # five waits of 1/50 s (10 % off for the clocks' rounding); at the whole rate they take 1/100 s each
    assert time.monotonic() - started >= 0.9 * 5 / 50, "half the rate"
