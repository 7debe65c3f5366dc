"""A person's updates one at a time (bot/channels/ordering.py), and the stop: the work in hand finishes,
and what would outlive the stop's deadline is cancelled (its update stays in the inbox for the next start)."""

from __future__ import annotations

import asyncio

import pytest

from bot.channels.ordering import KeyedSequencer

pytestmark = pytest.mark.asyncio


async def test_a_stop_lets_the_work_in_hand_finish_and_cancels_what_outlives_its_deadline() -> None:
    sequencer = KeyedSequencer()
    done: list[str] = []

    def step(name: str, *, hangs: bool = False):
        async def work() -> None:
            await asyncio.sleep(0)
            if hangs:
                await asyncio.Event().wait()  # a step that never ends: a send stuck on a dead connection
            done.append(name)

        return work

    sequencer.submit("An", step("An 1"))
    sequencer.submit("An", step("An 2"))
    hung = sequencer.submit("Bình", step("Bình 1", hangs=True))
    behind = sequencer.submit("Bình", step("Bình 2"))
    await asyncio.wait_for(sequencer.drain(timeout=0.2), timeout=10)
    assert done == ["An 1", "An 2"], "each person's steps in order; the hung one and the one behind it never ran"
    assert hung.cancelled() and behind.cancelled(), "nothing of the stopped process runs on"
