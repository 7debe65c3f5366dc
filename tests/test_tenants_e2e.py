"""Two tenants (two provinces, each with its own Telegram bot) served by one process on one database, by
webhooks at /webhook/<tenant>/telegram, on 20/04/2022 (phase 1). Both have a unit coded CD01 and their own
admins; one tenant's people, replies, exports, review links and forged button presses never reach the
other's data — and every message each bot sent, in every chat, is checked for the other's names at the end."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.app import Runtime
from bot.config import Config, load_config, tenant_config
from bot.sandbox.telegram_emulator import StoredMessage, TelegramEmulator
from bot.sandbox.zalo_emulator import ZaloEmulator
from bot.tenants import run_tenants
from storage.engine import create_engine, open_database, session_factory
from storage.models import Branch, Initiative, Member, Status
from tests.harness import (
    LINK_SECRET,
    ROOT,
    ZALO_TOKEN,
    ErrorRecords,
    FakeClock,
    GroupChat,
    Person,
    ZaloPerson,
    eventually,
    free_port,
    invite_chair,
    local,
    register,
    submit_initiative,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class Side:
    code: str
    token: str
    admin_id: int
    organisation: str
    unit_name: str
    member_name: str
    title: str

    @property
    def names(self) -> tuple[str, ...]:
        """What only this tenant's people may ever see."""
        return self.organisation, self.unit_name, self.member_name, self.title

    @property
    def bot_id(self) -> int:
        return int(self.token.split(":")[0])

    @property
    def env(self) -> str:
        return self.code.upper()


HANOI = Side("hanoi", "710001:hanoi-token", 91_001, "LĐLĐ thành phố Hà Nội", "Công đoàn Điện lực Hà Nội",
             "Đặng Thị Hà", "Số hóa sổ theo dõi công tơ ALPHA")  # fmt: skip
HUE = Side("hue", "720002:hue-token", 92_002, "LĐLĐ thành phố Huế", "Công đoàn Bệnh viện Trung ương Huế",
           "Lê Văn Huế", "Phân luồng bệnh nhân BRAVO")  # fmt: skip
SECOND_TITLE = "Tự động đối soát hóa đơn điện ALPHA"  # Hà Nội's #2: a number Huế has no initiative under
TENANTS = """
[[tenants]]
code = "hanoi"
name = "LĐLĐ thành phố Hà Nội"
telegram_token_env = "HANOI_TELEGRAM_TOKEN"
admins_env = "HANOI_ADMINS"
telegram_webhook_secret_env = "HANOI_WEBHOOK_SECRET"

[[tenants]]
code = "hue"
name = "LĐLĐ thành phố Huế"
telegram_token_env = "HUE_TELEGRAM_TOKEN"
zalo_token_env = "HUE_ZALO_TOKEN"
admins_env = "HUE_ADMINS"
telegram_webhook_secret_env = "HUE_WEBHOOK_SECRET"
zalo_webhook_secret_env = "HUE_ZALO_WEBHOOK_SECRET"
"""


@dataclass
class Deployment:
    config: Config
    environ: dict[str, str]
    emulator: TelegramEmulator
    clock: FakeClock
    runtimes: list[Runtime] = field(default_factory=list)

    async def move_clock(self, when: dt.datetime) -> None:
        """Move every tenant's clock and let each scheduler finish this moment's pass."""
        self.clock.set(when)
        for runtime in self.runtimes:
            await runtime.scheduler.tick()

    def tenant(self, side: Side) -> Config:
        return tenant_config(self.config, side.code, self.environ)

    async def count(self, side: Side, model: type) -> int:
        tenant = self.tenant(side)
        engine = await open_database(tenant.database_url, tenant.database_schema)
        try:
            async with session_factory(engine)() as session:
                return await session.scalar(select(func.count()).select_from(model)) or 0
        finally:
            await engine.dispose()

    async def places(self) -> set[str]:
        """Where initiatives are kept: PostgreSQL's schemas holding an `initiative` table (none in the default
        schema), SQLite's files beside the configured one (which is never created)."""
        if "postgresql" not in self.config.database_url:
            configured = Path(make_url(self.config.database_url).database or "")
            return {f"tenant_{path.suffixes[0][1:]}" if len(path.suffixes) == 2 else path.name
                    for path in configured.parent.glob(f"{configured.stem}*.db")}  # fmt: skip
        engine = create_engine(self.config.database_url)
        try:
            async with engine.connect() as connection:
                query = "SELECT table_schema FROM information_schema.tables WHERE table_name = 'initiative'"
                return {row[0] for row in (await connection.exec_driver_sql(query)).all()}
        finally:
            await engine.dispose()

    async def initiatives(self, side: Side) -> list[tuple[int, str, Status]]:
        tenant = self.tenant(side)
        engine = await open_database(tenant.database_url, tenant.database_schema)
        try:
            async with session_factory(engine)() as session:
                rows = await session.execute(select(Initiative.id, Initiative.title, Initiative.status))
                return [tuple(row) for row in rows.all()]  # type: ignore[misc]
        finally:
            await engine.dispose()


@pytest_asyncio.fixture(
    scope="module", loop_scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def deployment(
    request: pytest.FixtureRequest,
    emulator: TelegramEmulator,
    zalo_emulator: ZaloEmulator,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Deployment]:
    """Hà Nội on Telegram; Huế on Telegram and Zalo (the emulator's Zalo bot)."""
    folder = tmp_path_factory.mktemp("tenants")
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{folder}/shared.db"
    else:
        database_url = request.getfixturevalue("postgres_server").create_database()
    config_path = folder / "config.toml"
    config_path.write_text((ROOT / "config.toml").read_text(encoding="utf-8") + TENANTS, encoding="utf-8")
    port = free_port()
    environ = {
        "TELEGRAM_API_URL": emulator.url,
        "DATABASE_URL": database_url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WEB_PORT": str(port),
        "SANGKIEN_LINK_SECRET": LINK_SECRET,
        "ZALO_API_URL": zalo_emulator.api_url,
        "HUE_ZALO_TOKEN": ZALO_TOKEN,
        "HUE_ZALO_WEBHOOK_SECRET": "hue-zalo-webhook-secret",
    }
    for side in (HANOI, HUE):
        emulator.add_bot(side.token, username=f"sangkien_{side.code}_bot")
        environ |= {f"{side.env}_TELEGRAM_TOKEN": side.token, f"{side.env}_ADMINS": str(side.admin_id),
                    f"{side.env}_WEBHOOK_SECRET": f"{side.code}-webhook-secret"}  # fmt: skip
    config = load_config(config_path, environ=environ)
    found = Deployment(config, environ, emulator, FakeClock(local(2022, 4, 20)))
    for side in (HANOI, HUE):  # each tenant's own organisation: the same unit code, another unit
        tenant = found.tenant(side)
        engine = await open_database(tenant.database_url, tenant.database_schema)
        async with session_factory(engine)() as session, session.begin():
            session.add(Branch(code="CD01", name=side.unit_name))
        await engine.dispose()
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    task = asyncio.create_task(
        run_tenants(config, webhooks=True, clock=found.clock, environ=environ, started=found.runtimes.extend)
    )

    async def registered() -> bool:
        """each bot's webhook points at its tenant's path of the one web app"""
        zalo = zalo_emulator.bots[ZALO_TOKEN].webhook_url == f"http://127.0.0.1:{port}/webhook/hue/zalo"
        return zalo and all(
            emulator.bots[side.token].webhook_url == f"http://127.0.0.1:{port}/webhook/{side.code}/telegram"
            for side in (HANOI, HUE)
        )

    await eventually(registered, timeout=60)
    yield found
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    logging.getLogger().removeHandler(errors)
    assert not errors.records, f"the bot logged errors: {[r.getMessage() for r in errors.records]}"


def person(deployment: Deployment, side: Side, name: str, user_id: int | None = None) -> Person:
    return Person(deployment.emulator, name, user_id=user_id, token=side.token)


async def admin_of(deployment: Deployment, side: Side) -> Person:
    admin = person(deployment, side, f"Quản trị {side.code}", user_id=side.admin_id)
    await admin.send("/start b_CD01")
    await admin.expect("vai trò quản trị viên")
    await admin.expect("Chào đồng chí")
    return admin


def sent_by(emulator: TelegramEmulator, side: Side) -> list[StoredMessage]:
    """Every message the side's bot sent, in every chat."""
    return [m for chat in emulator.messages.values() for m in chat if m.from_bot and m.sender_id == side.bot_id]


@dataclass
class Cast:
    admins: dict[str, Person]
    chairs: dict[str, Person]
    members: dict[str, Person]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(deployment: Deployment) -> Cast:
    admins, chairs, members = {}, {}, {}
    for side in (HANOI, HUE):
        admins[side.code] = await admin_of(deployment, side)
        chairs[side.code] = await invite_chair(
            admins[side.code], person(deployment, side, f"Chủ tịch {side.code}"), "CD01", f"Chủ Tịch {side.code}"
        )
        members[side.code] = person(deployment, side, side.member_name)
    return Cast(admins, chairs, members)


async def test_each_tenant_registers_its_people_in_its_own_unit(deployment: Deployment, cast: Cast) -> None:
    for side in (HANOI, HUE):
        member = cast.members[side.code]
        await member.send("/start b_CD01")
        await member.expect("Nhập họ và tên")
        await member.send(side.member_name)
        done = await member.expect("Đăng ký xong")
        assert side.unit_name in done.plain_text
        assert f"({side.organisation})" in " ".join(member.bot_texts()), "each tenant introduces its own union"
    for side, other in ((HANOI, HUE), (HUE, HANOI)):
        assert await deployment.count(side, Member) == 3, "the admin, the chair and the member: the tenant's own"
        assert other.unit_name not in " ".join(cast.members[side.code].bot_texts())
    assert await deployment.places() == {"tenant_hanoi", "tenant_hue"}


async def review_url(card: StoredMessage) -> str:
    urls = re.findall(r"https?://[^\"'\s<>]+/r/[^\"'\s<>]+", card.text)
    urls += [button["url"] for button in card.buttons() if "/r/" in button.get("url", "")]
    assert urls, f"no review link on the card: {card.text}"
    return urls[0]


async def test_a_submission_reaches_its_own_chair_and_its_review_link_opens_only_there(
    deployment: Deployment, cast: Cast
) -> None:
    numbers = {}
    for side in (HANOI, HUE):
        numbers[side.code] = await submit_initiative(cast.members[side.code], title=side.title)
    cards = {}
    for side in (HANOI, HUE):
        cards[side.code] = await cast.chairs[side.code].expect(f"Sáng kiến #{numbers[side.code]} chờ xác nhận")
        assert side.title in cards[side.code].plain_text
    assert numbers["hanoi"] == numbers["hue"] == 1, "each tenant numbers its initiatives from 1"
    link = await review_url(cards["hanoi"])
    assert "/t/hanoi/r/" in link
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as page:
            assert page.status == 200 and HANOI.title in await page.text()
        elsewhere = link.replace("/t/hanoi/", "/t/hue/")
        async with http.get(elsewhere) as page:  # the same signed token at the other tenant's address
            body = await page.text()
            assert page.status in (403, 404) and HANOI.title not in body and HUE.title not in body
        async with http.post(elsewhere, data={"action": "verify"}) as page:
            assert page.status in (403, 404)
    assert [status for _, _, status in await deployment.initiatives(HUE)] == [Status.SUBMITTED]


async def test_commands_exports_and_forged_presses_on_one_bot_see_nothing_of_the_other(
    deployment: Deployment, cast: Cast
) -> None:
    emulator = deployment.emulator
    await submit_initiative(cast.members["hanoi"], title=SECOND_TITLE)
    card = await cast.chairs["hanoi"].expect("Sáng kiến #2 chờ xác nhận", SECOND_TITLE)
    presses = [button["callback_data"] for button in card.buttons() if "callback_data" in button]
    assert any(data.startswith("rv:2:") for data in presses), presses
    # Hà Nội's #2 pressed on Huế's bot: by Huế's chair (Huế has no #2) and by Hà Nội's chair (a stranger there).
    for presser in (cast.chairs["hue"], cast.chairs["hanoi"]):
        for data in presses:
            await emulator.user_presses(presser.user_id, card, data, token=HUE.token)
    await answered_everything(cast.chairs["hue"])
    # Hà Nội's chair and member write to Huế's bot: strangers there, asked to register (the chair's presses
    # are handled by then: one person's updates are handled in order).
    for stranger in (cast.chairs["hanoi"], cast.members["hanoi"]):
        await emulator.user_sends(stranger.user_id, "/mine", token=HUE.token)
        asked = await emulator.wait_for(stranger.user_id, lambda m: "Chọn công đoàn cơ sở" in m.plain_text,
                                        after_seq=stranger.cursor, timeout=15)  # fmt: skip
        assert asked.sender_id == HUE.bot_id and HUE.unit_name in str(asked.buttons())
    assert [(number, status) for number, _, status in await deployment.initiatives(HUE)] == [(1, Status.SUBMITTED)]
    assert [status for *_, status in await deployment.initiatives(HANOI)] == [Status.SUBMITTED] * 2

    for side, other in ((HUE, HANOI), (HANOI, HUE)):
        admin = cast.admins[side.code]
        for command in ("/progress", "/progress CD01", "/tieubieu 1", "/tieubieu 2", "/tieubieu", "/mine"):
            await admin.send(command)  # refusals among the answers (#1 not recognised; Huế has no #2)
        await answered_everything(admin)
        await admin.send("/export")
        workbook = load_workbook(io.BytesIO(await admin.expect_file(".xlsx", timeout=60)))
        cells = " ".join(str(v) for sheet in workbook for row in sheet.iter_rows(values_only=True) for v in row if v)
        assert side.title in cells and side.unit_name in cells and side.organisation in cells
        assert not [name for name in other.names if name in cells], f"{side.code}'s export shows {other.code}'s data"
    assert any("không tồn tại" in text for text in cast.admins["hue"].bot_texts()), "Huế has no #2"


async def answered_everything(person: Person) -> None:
    """Wait until the bot has answered all the person sent (it answers /help after everything before it),
    refusals included."""
    await person.send("/help")
    found = await person.emulator.wait_for(person.user_id, lambda m: "Hướng dẫn" in m.plain_text and "/dulieu"
                                           in m.plain_text, after_seq=person.cursor, timeout=30)  # fmt: skip
    person.cursor = found.seq


async def test_each_tenants_weekly_digest_goes_to_its_own_groups_with_its_own_figures(
    deployment: Deployment, cast: Cast
) -> None:
    groups = {}
    for side in (HANOI, HUE):
        group = groups[side.code] = GroupChat(deployment.emulator, f"Nhóm {side.code}", token=side.token)
        deployment.emulator.add_bot_to_group(cast.chairs[side.code].user_id, group.chat_id, token=side.token)
        await group.expect("Chào cả nhóm", "/linkgroup")
        await group.send(cast.chairs[side.code], "/linkgroup")
        await group.expect(f"Đã liên kết nhóm với {side.unit_name}")
    await deployment.move_clock(local(2022, 4, 25, 8, 0, 30))  # Monday 08:00: the weekly digest
    for side, other in ((HANOI, HUE), (HUE, HANOI)):
        digest = await groups[side.code].expect("Bản tin tiến độ hằng tuần", side.unit_name)
        assert other.unit_name not in digest.plain_text
        assert all(m.sender_id == side.bot_id for m in deployment.emulator.chat(groups[side.code].chat_id)
                   if m.from_bot), "only the tenant's own bot writes in its group"  # fmt: skip


async def test_a_zalo_members_files_open_only_at_their_own_tenants_address(
    deployment: Deployment, zalo_emulator: ZaloEmulator
) -> None:
    """Zalo has no file messages: the Word forms go out as links to the tenant's pages (/t/hue/f/…)."""
    vy = ZaloPerson(zalo_emulator, "Hồ Thị Vy")
    await register(vy, "CD01", "Hồ Thị Vy")
    assert any(HUE.unit_name in text for text in vy.bot_texts())
    number = await submit_initiative(vy, title="Sổ tay điều dưỡng điện tử BRAVO")
    await vy.tap("Dừng", await vy.expect("Bước 1/4", "Nơi công tác"))
    forms = await vy.expect(f"mo-ta-sang-kien-{number}.docx")
    [link] = re.findall(r"https?://\S+/t/hue/f/\S+", forms.text)
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as page:
            assert page.status == 200 and (await page.read()).startswith(b"PK"), "a Word file"
        async with http.get(link.replace("/t/hue/", "/t/hanoi/")) as page:
            assert page.status == 404, "Hà Nội's address does not know Huế's file"
    for message in (m for chat in zalo_emulator.messages.values() for m in chat if m.from_bot):
        assert not [name for name in HANOI.names if name in message.text], message.text


async def test_no_message_of_either_bot_reaches_or_names_the_other_tenants_people(
    deployment: Deployment, cast: Cast
) -> None:
    """Every message each bot sent, in every chat: its text, its buttons (labels, data, addresses) and the
    names of its files never name the other tenant's union, unit, people or initiatives; and a bot wrote only
    to its own tenant's people and groups (and to the stranger who wrote to it)."""
    emulator = deployment.emulator
    for side, other in ((HANOI, HUE), (HUE, HANOI)):
        messages = sent_by(emulator, side)
        assert len(messages) > 30
        others = {p.user_id for group in (cast.admins, cast.chairs, cast.members) for code, p in group.items()
                  if code == other.code}  # fmt: skip
        strangers = {cast.members["hanoi"].user_id, cast.chairs["hanoi"].user_id} if side is HUE else set()
        assert not {m.chat_id for m in messages} & (others - strangers), f"{side.code}'s bot wrote to {other.code}'s"
        for message in messages:
            shown = " ".join([message.plain_text, *(str(b) for b in message.buttons()),
                              (message.document or {}).get("file_name", "")])  # fmt: skip
            leaked = [name for name in other.names if name in shown]
            assert not leaked, f"{side.code}'s bot showed {leaked}: {shown[:300]}"
