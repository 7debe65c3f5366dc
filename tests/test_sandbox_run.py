"""The sandbox's start (bot/sandbox/run.py) over a database kept from an earlier run."""

from __future__ import annotations

import datetime as dt

from bot.sandbox.run import continue_numbering
from bot.sandbox.telegram_emulator import TelegramEmulator
from bot.sandbox.zalo_emulator import ZaloEmulator, zalo_id
from storage import claims
from storage.engine import open_database, session_factory
from tests.harness import TOKEN, ZALO_TOKEN

NOW = dt.datetime(2022, 4, 20, 3, tzinfo=dt.UTC)


async def test_after_a_restart_the_sandbox_numbers_updates_past_those_its_database_handled(tmp_path) -> None:
    """The emulators number updates afresh at each start; the database remembers the updates it handled, and a
    number used before is taken for a redelivery and answered with nothing: the first messages after a restart
    of the sandbox went unanswered."""
    engine = await open_database(f"sqlite+aiosqlite:///{tmp_path}/sandbox.db")
    sessions = session_factory(engine)
    handled_zalo = f"message.text.received:{zalo_id(0xA11CE0042)}"
    async with sessions() as session, session.begin():
        for key in ("1000", "1001", "1007"):
            await claims.claim_update(session, "telegram", key, NOW)
        await claims.claim_update(session, "zalo", handled_zalo, NOW)
    telegram, zalo = TelegramEmulator(limits=None), ZaloEmulator()
    telegram.add_bot(TOKEN)
    zalo.add_bot(ZALO_TOKEN)
    telegram.add_user(501, first_name="Hoa")
    zalo.add_user("Hoa", "0000000000000000a501")
    async with sessions() as session:
        await continue_numbering(session, telegram, zalo)
    await telegram.user_sends(501, "/help")
    sent = await zalo.user_sends("0000000000000000a501", "/help")
    assert telegram.bots[TOKEN].pending[-1]["update_id"] == 1008
    assert sent.message_id == zalo_id(0xA11CE0043)
    async with sessions() as session, session.begin():
        assert await claims.claim_update(session, "telegram", "1008", NOW)
        assert await claims.claim_update(session, "zalo", f"message.text.received:{sent.message_id}", NOW)
    await engine.dispose()
