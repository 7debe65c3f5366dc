"""The local sandbox: Telegram and Zalo emulators on loopback, the real bot connected to both, a web chat
page where a person picks a channel, a sample person and a chat."""

from __future__ import annotations

import logging
import secrets
import socket

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Runtime, seed_sample_branches
from bot.config import Config
from bot.sandbox.sample_activity import sandbox_clock, seed_sample_activity
from bot.sandbox.telegram_emulator import TelegramEmulator
from bot.sandbox.zalo_emulator import ZaloEmulator, zalo_id
from handlers import reminders
from handlers.context import Services
from storage import queries
from storage.engine import open_database, session_factory
from storage.models import ProcessedUpdate, Role

log = logging.getLogger(__name__)

# Not secrets: they only open the emulators running on this machine.
SANDBOX_TOKEN = "1000001:sandbox-not-a-real-token"
SANDBOX_ZALO_TOKEN = "2000002:sandbox-zalo-not-a-real-token"
SANDBOX_DATABASE = "sqlite+aiosqlite:///sandbox-data/sandbox.db"
# Sample people a person can play in the sandbox page (clearly labelled, never real members), with their
# Telegram id and their Zalo id.
PERSONAS = ((1001, zalo_id(0x5A1001), "Nguyễn Văn An"), (1002, zalo_id(0x5A1002), "Trần Thị Bình"))
# The sample chair chairs every sample branch, so one person can play member and chair side by side; she
# uses both channels (one member, two linked accounts).
SAMPLE_CHAIR = (1003, zalo_id(0x5A1003), "Phạm Thu Hà")
# A provincial admin, for /broadcast, /import, /export and the province's progress.
SAMPLE_ADMIN = (1004, zalo_id(0x5A1004), "Quản trị tỉnh")
# A group chat of a sample branch on each channel, linked from the start: each receives the weekly digest.
SAMPLE_GROUP = (-1001, zalo_id(0x5A6001), "Nhóm CĐCS [MẪU] Bệnh viện Đa khoa tỉnh", "MAU002")


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def sandbox_config(config: Config, emulator_url: str, database_url: str | None, host: str) -> Config:
    settings = config.settings.model_copy(update={"database_url": database_url or SANDBOX_DATABASE})
    web_port = _free_port(host)
    return config.model_copy(
        update={
            "telegram_token": SANDBOX_TOKEN,
            "telegram_api_url": emulator_url,
            "zalo_token": SANDBOX_ZALO_TOKEN,
            "zalo_api_url": emulator_url + "/zalo",
            "settings": settings,
            "admins": config.admins | {f"telegram:{SAMPLE_ADMIN[0]}", f"zalo:{SAMPLE_ADMIN[1]}"},
            "public_url": f"http://{host}:{web_port}",
            "web_host": host,
            "web_port": web_port,
            "link_secret": config.link_secret or secrets.token_urlsafe(32),
        }
    )


async def run_sandbox(config: Config, host: str, port: int, database_url: str | None) -> None:
    telegram, zalo = TelegramEmulator(), ZaloEmulator()
    telegram.add_bot(SANDBOX_TOKEN, username="sangkien_sandbox_bot")
    zalo.add_bot(SANDBOX_ZALO_TOKEN)
    for telegram_id, zalo_user, name in PERSONAS:
        telegram.add_user(telegram_id, first_name=name)
        zalo.add_user(name, zalo_user)
    telegram.add_user(SAMPLE_CHAIR[0], first_name=SAMPLE_CHAIR[2], last_name="(chủ tịch)")
    zalo.add_user(f"{SAMPLE_CHAIR[2]} (chủ tịch)", SAMPLE_CHAIR[1])
    telegram.add_user(SAMPLE_ADMIN[0], first_name=SAMPLE_ADMIN[2], last_name="(quản trị)")
    zalo.add_user(f"{SAMPLE_ADMIN[2]} (quản trị)", SAMPLE_ADMIN[1])
    # Zalo lets a bot write only to people who wrote first: the sample people have, long ago.
    zalo.known_chats.update(user for _, user, _ in (*PERSONAS, SAMPLE_CHAIR, SAMPLE_ADMIN))
    telegram.add_group(SAMPLE_GROUP[0], SAMPLE_GROUP[2], bot_member=True)
    zalo.add_group(SAMPLE_GROUP[2], group_id=SAMPLE_GROUP[1])
    url = await telegram.start(host, port, sharing=(zalo,))
    config = sandbox_config(config, url, database_url, host)
    engine = await open_database(config.database_url, config.database_schema)
    async with session_factory(engine)() as session:
        clock = await sandbox_clock(session, config.campaign)
        await continue_numbering(session, telegram, zalo)
    services = Services(config=config, sessions=session_factory(engine, clock), clock=clock)
    await seed_sample_branches(services)
    await seed_sample_activity(services)
    await seed_sample_chair(services)
    await seed_sample_groups(services)
    print(
        f"\n  Sáng kiến Bot — sandbox (không có TELEGRAM_BOT_TOKEN / ZALO_BOT_TOKEN)\n"
        f"  Đồng hồ của sandbox: {clock().astimezone(config.campaign.tz):%d/%m/%Y %H:%M} (trong giai đoạn 1)\n"
        f"  Mở trình duyệt: {url}/\n  Dừng: Ctrl+C\n",
        flush=True,
    )
    try:
        await (await Runtime.create(config, engine, clock)).run()  # with its web app: review pages, files for Zalo
    finally:
        await zalo.stop()
        await telegram.stop()
        await engine.dispose()


async def continue_numbering(session: AsyncSession, telegram: TelegramEmulator, zalo: ZaloEmulator) -> None:
    """The emulators number updates afresh at each start, while the sandbox's database keeps the updates it has
    handled (their claims, storage/claims.py): a number used before was taken for a redelivery and got no answer
    (the first messages after a restart went unanswered). Numbering goes on from the largest claimed."""
    rows = (await session.execute(select(ProcessedUpdate.platform, ProcessedUpdate.update_key))).all()
    telegram_ids = [int(key) for platform, key in rows if platform == "telegram" and key.isdigit()]
    zalo_ids = [int(key.rsplit(":", 1)[1], 16) for platform, key in rows if platform == "zalo" and _zalo_number(key)]
    telegram.number_updates_from(max(telegram_ids, default=0) + 1)
    zalo.number_messages_from(max(zalo_ids, default=0) + 1)


def _zalo_number(update_key: str) -> bool:
    """A Zalo update key the emulator made: `event:message id`, the id 20 hexadecimal digits."""
    number = update_key.rsplit(":", 1)[-1]
    return len(number) == 20 and all(digit in "0123456789abcdef" for digit in number)


async def seed_sample_chair(services: Services) -> None:
    """Register the sample chair (once) as chair of every sample branch, on Zalo and on Telegram — in that
    order, so that her notices go to Telegram (the account used last) until she writes on Zalo."""
    telegram_id, zalo_user, name = SAMPLE_CHAIR
    async with services.sessions() as session, session.begin():
        on_zalo = await queries.get_or_create_identity(session, "zalo", zalo_user, zalo_user, name, "vi")
        if on_zalo.member is not None:
            return
        branches = [b for b in await queries.all_branches(session) if b.is_sample]
        member = await queries.register_member(session, on_zalo, name, branches[0])
        for branch in branches:
            await queries.add_role(session, member, Role.CHAIR, branch.id)
        await session.flush()
        on_telegram = await queries.get_or_create_identity(
            session, "telegram", str(telegram_id), str(telegram_id), name, "vi"
        )
        on_telegram.member_id = member.id


async def seed_sample_groups(services: Services) -> None:
    """Record the sample groups (once), linked to a sample branch, each with a digest waiting for it."""
    telegram_chat, zalo_chat, title, branch_code = SAMPLE_GROUP
    async with services.sessions() as session, session.begin():
        branch = await queries.branch_by_code(session, branch_code)
        if branch is None:  # the sample data was replaced by a real branch list
            return
        for platform, chat_id in (("telegram", str(telegram_chat)), ("zalo", zalo_chat)):
            if await queries.group_by_chat(session, platform, chat_id) is not None:
                continue
            group = await queries.record_group(session, platform, chat_id, title, active=True)
            group.branch = branch
            await session.flush()
            now = services.clock()
            digest = await reminders.group_reply(session, services.config, services.campaigns, now, group,
                                                 "digest_title")  # fmt: skip
            queries.queue_message(session, platform, chat_id, digest.to_json(), purpose="digest", at=now)
