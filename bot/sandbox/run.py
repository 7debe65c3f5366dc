"""The local sandbox: the Bot API emulator on loopback, the real bot connected to it, a web chat page."""

from __future__ import annotations

import logging

from bot.app import open_database, run_telegram, seed_sample_branches
from bot.config import Config
from bot.sandbox.telegram_emulator import TelegramEmulator
from handlers import reminders
from handlers.context import Services
from storage import queries
from storage.engine import session_factory
from storage.models import Role

log = logging.getLogger(__name__)

# Not a secret: it only opens the emulator running on this machine.
SANDBOX_TOKEN = "1000001:sandbox-not-a-real-token"
SANDBOX_DATABASE = "sqlite+aiosqlite:///sandbox-data/sandbox.db"
# Sample people a person can play in the sandbox page (clearly labelled, never real members).
PERSONAS = ((1001, "Nguyễn Văn An"), (1002, "Trần Thị Bình"))
# The sample chair chairs every sample branch, so one person can play member and chair side by side.
SAMPLE_CHAIR = (1003, "Phạm Thu Hà")
# A provincial admin, for /broadcast, /import, /export and the province's progress.
SAMPLE_ADMIN = (1004, "Quản trị tỉnh")
# A group chat of the first sample branch, linked from the start: it receives the weekly digest.
SAMPLE_GROUP = (-1001, "Nhóm CĐCS [MẪU] Bệnh viện Đa khoa tỉnh", "MAU002")


def sandbox_config(config: Config, api_url: str, database_url: str | None) -> Config:
    settings = config.settings.model_copy(update={"database_url": database_url or SANDBOX_DATABASE})
    return config.model_copy(
        update={
            "telegram_token": SANDBOX_TOKEN,
            "telegram_api_url": api_url,
            "settings": settings,
            "admin_telegram_ids": config.admin_telegram_ids | {str(SAMPLE_ADMIN[0])},
        }
    )


async def run_sandbox(config: Config, host: str, port: int, database_url: str | None) -> None:
    emulator = TelegramEmulator()
    emulator.add_bot(SANDBOX_TOKEN, username="sangkien_sandbox_bot")
    for user_id, name in PERSONAS:
        emulator.add_user(user_id, first_name=name)
    emulator.add_user(SAMPLE_CHAIR[0], first_name=SAMPLE_CHAIR[1], last_name="(chủ tịch)")
    emulator.add_user(SAMPLE_ADMIN[0], first_name=SAMPLE_ADMIN[1], last_name="(quản trị)")
    emulator.add_group(SAMPLE_GROUP[0], SAMPLE_GROUP[1], bot_member=True)
    url = await emulator.start(host, port)
    config = sandbox_config(config, url, database_url)
    engine = await open_database(config)
    services = Services(config=config, sessions=session_factory(engine))
    await seed_sample_branches(services)
    await seed_sample_chair(services)
    await seed_sample_group(services)
    print(
        f"\n  Sáng kiến Bot — sandbox (không có TELEGRAM_BOT_TOKEN)\n  Mở trình duyệt: {url}/\n  Dừng: Ctrl+C\n",
        flush=True,
    )
    try:
        await run_telegram(config, engine)
    finally:
        await emulator.stop()
        await engine.dispose()


async def seed_sample_chair(services: Services) -> None:
    """Register the sample chair (once) as chair of every sample branch."""
    user_id, name = SAMPLE_CHAIR
    async with services.sessions() as session, session.begin():
        identity = await queries.get_or_create_identity(session, "telegram", str(user_id), str(user_id), name, "vi")
        if identity.member is not None:
            return
        branches = [b for b in await queries.all_branches(session) if b.is_sample]
        member = await queries.register_member(session, identity, name, branches[0])
        for branch in branches:
            await queries.add_role(session, member, Role.CHAIR, branch.id)


async def seed_sample_group(services: Services) -> None:
    """Record the sample group (once), linked to the first sample branch, with a digest waiting for it."""
    chat_id, title, branch_code = str(SAMPLE_GROUP[0]), SAMPLE_GROUP[1], SAMPLE_GROUP[2]
    async with services.sessions() as session, session.begin():
        if await queries.group_by_chat(session, "telegram", chat_id) is not None:
            return
        group = await queries.record_group(session, "telegram", chat_id, title, active=True)
        group.branch = await queries.branch_by_code(session, branch_code)
        if group.branch is None:  # the sample data was replaced by a real branch list
            return
        await session.flush()
        now = services.clock()
        digest = await reminders.group_reply(session, services.config, now, group, "digest_title")
        queries.queue_message(session, "telegram", chat_id, digest.to_json(), purpose="digest", at=now)
