"""Tenants in the configuration and on the command line: each tenant's secrets from the environment
variables it names, its own place in the database, `--tenant` for every command, and `sangkien run` polling
every tenant's bot from one process."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import create_async_engine

from bot import tenants
from bot.config import ConfigError, load_config, tenant_config, tenant_configs
from bot.sandbox.telegram_emulator import TelegramEmulator
from bot.tenants import run_tenants
from handlers import review_links
from storage.engine import WrongSchema, _confined_to, create_engine, session_factory
from storage.models import Branch
from tests import launcher
from tests.harness import ROOT, free_port
from tests.postgres import PostgresServer
from tests.test_cli import sangkien

TENANTS = """
[[tenants]]
code = "hanoi"
name = "LĐLĐ thành phố Hà Nội"
telegram_token_env = "HANOI_TELEGRAM_TOKEN"
admins_env = "HANOI_ADMINS"

[[tenants]]
code = "hue"
name = "LĐLĐ thành phố Huế"
telegram_token_env = "HUE_TELEGRAM_TOKEN"
zalo_token_env = "HUE_ZALO_TOKEN"
admins_env = "HUE_ADMINS"
"""
HANOI_TOKEN, HUE_TOKEN = "730003:hanoi-cli-token", "740004:hue-cli-token"


def config_file(folder: Path, extra: str = TENANTS) -> Path:
    path = folder / "config.toml"
    path.write_text((ROOT / "config.toml").read_text(encoding="utf-8") + extra, encoding="utf-8")
    return path


def test_each_tenant_takes_its_own_secrets_place_and_addresses(tmp_path: Path) -> None:
    environ = {
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shared.db",
        "PUBLIC_URL": "https://bot.example.vn",
        "SANGKIEN_LINK_SECRET": "one-secret-for-the-deployment",
        "TELEGRAM_BOT_TOKEN": "999:top-level",
        "HANOI_TELEGRAM_TOKEN": HANOI_TOKEN,
        "HANOI_ADMINS": "111,zalo:abc123",
        "HUE_TELEGRAM_TOKEN": HUE_TOKEN,
        "HUE_ADMINS": "222",
    }
    config = load_config(config_file(tmp_path), environ=environ)
    hanoi, hue = tenant_configs(config, environ)
    assert (hanoi.tenant, hanoi.telegram_token, hanoi.zalo_token) == ("hanoi", HANOI_TOKEN, None)
    assert hanoi.admins == {"telegram:111", "zalo:abc123"} and hue.admins == {"telegram:222"}
    assert hanoi.database_url.endswith(f"{tmp_path}/shared.hanoi.db") and hanoi.database_schema is None
    assert hue.database_url.endswith(f"{tmp_path}/shared.hue.db")
    assert hanoi.public_url == "https://bot.example.vn/t/hanoi"
    assert hanoi.webhook_url("telegram") == "https://bot.example.vn/webhook/hanoi/telegram"
    assert config.webhook_url("telegram") == "https://bot.example.vn/webhook/telegram", "single tenant: as before"
    assert len({hanoi.link_secret, hue.link_secret, config.link_secret}) == 3, "each tenant signs its own links"
    assert HANOI_TOKEN in hanoi.secrets and HUE_TOKEN not in hanoi.secrets
    assert (hanoi.campaign.organisation, hue.campaign.organisation) == ("LĐLĐ thành phố Hà Nội", "LĐLĐ thành phố Huế")
    assert config.campaign.organisation == "Công đoàn Viên chức tỉnh Phú Thọ", "the seed's stays the single tenant's"

    on_postgres = load_config(config_file(tmp_path), environ={**environ, "DATABASE_URL": "postgresql+asyncpg://u@h/db"})
    assert tenant_config(on_postgres, "hue", environ).database_schema == "tenant_hue"
    assert tenant_config(on_postgres, "hue", environ).database_url == "postgresql+asyncpg://u@h/db"

    # The deployment that ran before tenants were declared keeps its data and its links' key.
    adopted = load_config(config_file(tmp_path, TENANTS.replace('code = "hanoi"', 'code = "hanoi"\nexisting = true')),
                          environ=environ)  # fmt: skip
    kept = tenant_config(adopted, "hanoi", environ)
    assert kept.database_url == f"sqlite+aiosqlite:///{tmp_path}/shared.db" and kept.link_secret == config.link_secret
    assert tenant_config(adopted, "hue", environ).database_url.endswith("shared.hue.db")


@pytest.mark.parametrize(
    ("extra", "environ", "message"),
    [
        (TENANTS, {}, "unknown tenant 'quangtri' (declared in [[tenants]]: hanoi, hue)"),
        (TENANTS, {"HANOI_TELEGRAM_TOKEN": "1:same", "HUE_TELEGRAM_TOKEN": "1:same"}, "name the same bot token"),
        (TENANTS, {"HUE_ADMINS": "nobody"}, "tenant hue: HUE_ADMINS: 'nobody' is neither"),
        (TENANTS, {"HANOI_TELEGRAM_TOKEN": "1:a", "HUE_TELEGRAM_TOKEN": "2:b", "HANOI_ADMINS": "1"}, "quangtri"),
        (TENANTS.replace('admins_env = "HUE_ADMINS"', 'admins_env = "HUE_ADMINS"\ntelegram_webhook_secret_env = "S"')
         .replace('admins_env = "HANOI_ADMINS"', 'admins_env = "HANOI_ADMINS"\ntelegram_webhook_secret_env = "S"'),
         {"S": "one-shared-webhook-secret"}, "tenants hanoi and hue name the same webhook secret"),
        (TENANTS.replace('name = "', 'existing = true\nname = "'), {}, "only one can be the existing deployment"),
        (TENANTS + TENANTS, {}, "tenants: each code must be unique"),
        ('\n[[tenants]]\ncode = "Hà Nội"\nname = "x"\n', {}, "tenants.0.code"),
    ],
)  # fmt: skip
def test_a_bad_tenant_is_one_clear_error(tmp_path: Path, extra: str, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config = load_config(config_file(tmp_path, extra), environ=environ)
        tenant_configs(config, environ)
        tenant_config(config, "quangtri", environ)
    assert message in str(error.value)


def test_every_command_works_on_the_tenant_it_names(tmp_path: Path) -> None:
    env = {"SANGKIEN_CONFIG": str(config_file(tmp_path)), "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shared.db"}
    branches = tmp_path / "don-vi.csv"
    branches.write_text("Mã,Tên\nCD01,Công đoàn Điện lực Hà Nội\nCD02,Công đoàn Nước sạch Hà Nội\n", encoding="utf-8")

    refused = sangkien("import-branches", str(branches), **env)
    assert refused.returncode == 2
    assert "several tenants are declared (hanoi, hue): name one with --tenant CODE" in refused.stderr

    done = sangkien("--tenant", "hanoi", "import-branches", str(branches), **env)
    assert done.returncode == 0 and "2 created" in done.stdout, done.stderr
    other = sangkien("import-branches", str(branches), **env, SANGKIEN_TENANT="hue")
    assert "2 created" in other.stdout, "Huế's units are its own: nothing of Hà Nội's is there"
    assert sorted(p.name for p in tmp_path.glob("shared*.db")) == ["shared.hanoi.db", "shared.hue.db"]

    upgraded = sangkien("db", "upgrade", **env)
    assert upgraded.returncode == 0 and "database is up to date (hanoi, hue)" in upgraded.stdout, upgraded.stderr
    unknown = sangkien("--tenant", "quangtri", "campaign", "list", **env)
    assert unknown.returncode == 2 and "unknown tenant 'quangtri'" in unknown.stderr


async def run_for_a_while(emulator: TelegramEmulator, folder: Path, *args: str, polled: str, **env: str) -> str:
    """`sangkien [args] run` until the bot with token `polled` was polled; its log."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("TELEGRAM_", "ZALO_"))}
    environment |= {"SANGKIEN_CONFIG": str(config_file(folder)), "TELEGRAM_API_URL": emulator.url,
                    "DATABASE_URL": f"sqlite+aiosqlite:///{folder}/shared.db", **env}  # fmt: skip
    log = folder / f"bot{'-'.join(('', *args))}.log"
    process = await asyncio.to_thread(launcher.start, [*args, "run"], environment, log)
    try:
        await emulator.wait_until_polled(polled, emulator.bots[polled].polls + 1, timeout=60)
        assert process.exitcode is None, log.read_text(errors="replace")
    finally:
        if process.exitcode is None:
            process.terminate()
        await asyncio.to_thread(process.join, 30)
        assert process.exitcode is not None, "the bot stops on SIGTERM"
    text = log.read_text(errors="replace")
    assert HANOI_TOKEN not in text and HUE_TOKEN not in text, "tokens never in the log"
    assert "Traceback" not in text, text
    return text


@pytest.mark.asyncio(loop_scope="module")
async def test_sangkien_run_polls_every_tenant_from_one_process_and_goes_on_without_a_broken_one(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    emulator.add_bot(HANOI_TOKEN)
    # Huế's token is refused by Telegram: Hà Nội is served all the same.
    text = await run_for_a_while(emulator, tmp_path, polled=HANOI_TOKEN, HANOI_TELEGRAM_TOKEN=HANOI_TOKEN,
                                 HUE_TELEGRAM_TOKEN="749999:revoked")  # fmt: skip
    assert "tenant hanoi: ready (telegram)" in text, text
    assert "ERROR [hue] bot.tenants: tenant hue: not started: TelegramUnauthorizedError" in text, text
    assert "INFO [hanoi] bot.app: telegram: long polling" in text, "each line names the tenant it is about"

    # --tenant: that one only, with both tokens set (run in this process: the command passes `only` on).
    emulator.add_bot(HUE_TOKEN)
    hanoi_polls = emulator.bots[HANOI_TOKEN].polls
    environ = {"TELEGRAM_API_URL": emulator.url, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shared.db",
               "HANOI_TELEGRAM_TOKEN": HANOI_TOKEN, "HUE_TELEGRAM_TOKEN": HUE_TOKEN}  # fmt: skip
    config = load_config(config_file(tmp_path), environ=environ)
    runtimes: list = []
    task = asyncio.create_task(run_tenants(config, environ=environ, only="hue", started=runtimes.extend))
    try:
        await emulator.wait_until_polled(HUE_TOKEN, emulator.bots[HUE_TOKEN].polls + 1, timeout=60)
        assert [r.services.config.tenant for r in runtimes] == ["hue"]
        assert emulator.bots[HANOI_TOKEN].polls == hanoi_polls
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _branch_names(url: str, schema: str) -> list[str] | None:
    """The unit names in a schema (None: it holds no units' table)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            query = f"SELECT 1 FROM information_schema.tables WHERE table_schema = '{schema}' AND table_name = 'branch'"
            if (await connection.exec_driver_sql(query)).first() is None:
                return None
            rows = await connection.exec_driver_sql(f'SELECT name FROM "{schema}".branch ORDER BY code')
            return [row[0] for row in rows.all()]
    finally:
        await engine.dispose()


async def _add_units(url: str, schema: str, names: list[str]) -> None:
    engine = create_engine(url, schema)
    try:
        async with session_factory(engine)() as session, session.begin():
            session.add_all(Branch(code=f"CD{number:02d}", name=name) for number, name in enumerate(names, 1))
    finally:
        await engine.dispose()


async def _connects_confined(url: str, schema: str, search_path: str) -> None:
    engine = create_async_engine(url, connect_args={"server_settings": {"search_path": search_path}})
    event.listen(engine.sync_engine, "connect", functools.partial(_confined_to, schema))
    try:
        async with engine.connect():
            pass
    finally:
        await engine.dispose()


@pytest.mark.postgres
def test_on_postgresql_each_tenant_is_a_schema_of_its_own_backed_up_and_restored_alone(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database()
    env = {"SANGKIEN_CONFIG": str(config_file(tmp_path)), "DATABASE_URL": url}
    upgraded = sangkien("db", "upgrade", **env)
    assert "database is up to date (hanoi, hue)" in upgraded.stdout, upgraded.stderr
    asyncio.run(_add_units(url, "tenant_hanoi", ["Công đoàn Điện lực Hà Nội", "Công đoàn Nước sạch Hà Nội"]))
    asyncio.run(_add_units(url, "tenant_hue", ["Công đoàn Bệnh viện Trung ương Huế"]))
    assert asyncio.run(_branch_names(url, "public")) is None, "nothing in the default schema"
    assert asyncio.run(_branch_names(url, "tenant_hue")) == ["Công đoàn Bệnh viện Trung ương Huế"]

    dump = tmp_path / "hanoi.dump"
    backup = sangkien("--tenant", "hanoi", "backup", str(dump), **env)
    assert backup.returncode == 0, backup.stderr
    fresh = postgres_server.create_database()
    restored = sangkien("--tenant", "hanoi", "restore", str(dump), **{**env, "DATABASE_URL": fresh})
    assert restored.returncode == 0 and "restored tenant_hanoi" in restored.stdout, restored.stderr
    names = asyncio.run(_branch_names(fresh, "tenant_hanoi"))
    assert names == ["Công đoàn Điện lực Hà Nội", "Công đoàn Nước sạch Hà Nội"]
    assert asyncio.run(_branch_names(fresh, "tenant_hue")) is None, "only the tenant backed up"
    wrong = sangkien("--tenant", "hue", "restore", str(dump), **env)
    assert wrong.returncode == 1 and "holds nothing of tenant_hue" in wrong.stderr, wrong.stderr
    assert asyncio.run(_branch_names(url, "tenant_hue")) == ["Công đoàn Bệnh viện Trung ương Huế"], "left alone"

    # A connection that would see another schema (a pooler dropping search_path) is refused.
    asyncio.run(_connects_confined(url, "tenant_hue", "tenant_hue"))
    with pytest.raises(WrongSchema):
        asyncio.run(_connects_confined(url, "tenant_hue", "public"))


@pytest.mark.asyncio(loop_scope="module")
async def test_an_existing_deployment_declared_as_a_tenant_keeps_its_data_and_its_old_links(
    emulator: TelegramEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = {"hanoi": "760006:hanoi-existing", "hue": "770007:hue-new"}
    for token in tokens.values():
        emulator.add_bot(token)
    port = free_port()
    environ = {"TELEGRAM_API_URL": emulator.url, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/sangkien.db",
               "PUBLIC_URL": f"http://127.0.0.1:{port}", "WEB_PORT": str(port),
               "SANGKIEN_LINK_SECRET": "old-deployment-key",
               "HANOI_TELEGRAM_TOKEN": tokens["hanoi"], "HUE_TELEGRAM_TOKEN": tokens["hue"]}  # fmt: skip
    existing = TENANTS.replace('code = "hanoi"', 'code = "hanoi"\nexisting = true')
    config = load_config(config_file(tmp_path, existing), environ=environ)
    runtimes: list = []
    joined_when_served: list[list[bool]] = []
    shared_app = tenants.build_tenants_app

    def app_of(runtimes: list) -> object:
        joined_when_served.append([runtime.sharing.joined for runtime in runtimes])
        return shared_app(runtimes)

    monkeypatch.setattr(tenants, "build_tenants_app", app_of)
    task = asyncio.create_task(run_tenants(config, environ=environ, started=runtimes.extend))
    try:
        for token in tokens.values():
            await emulator.wait_until_polled(token, emulator.bots[token].polls + 1, timeout=60)
        # Each tenant was counted among the processes sharing its bot's sending limit before the shared web
        # app could answer a webhook for it (bot/limit_sharing.py).
        assert joined_when_served == [[True, True]]
        places = {r.services.config.tenant: r.services.config.database_url for r in runtimes}
        assert places == {"hanoi": environ["DATABASE_URL"], "hue": f"sqlite+aiosqlite:///{tmp_path}/sangkien.hue.db"}
        now = dt.datetime.now(dt.UTC)
        old = review_links.link(environ["PUBLIC_URL"], "old-deployment-key", 1, 1, now)  # a card sent before tenants
        hue_key = next(r.services.config.link_secret for r in runtimes if r.services.config.tenant == "hue")
        async with aiohttp.ClientSession() as http:
            # A link's key is checked first ("không hợp lệ" = the key did not sign it); one that passes reaches
            # the page, which finds no such initiative in this empty tenant (the key was right).
            for address, signed_here in ((old, True), (old.replace("/r/", "/t/hanoi/r/"), True),
                                         (old.replace("/r/", "/t/hue/r/"), False),
                                         (review_links.link(environ["PUBLIC_URL"], hue_key or "", 1, 1, now), False),
                                         (review_links.link(f"{environ['PUBLIC_URL']}/t/hue", hue_key or "", 1, 1,
                                                            now), True)):  # fmt: skip
                async with http.get(address) as page:
                    body = await page.text()
                    assert page.status == 403 and ("không hợp lệ" not in body) is signed_here, (address, body)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
