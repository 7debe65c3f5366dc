"""Tenants in the configuration and on the command line: each tenant's secrets from the environment
variables it names, its own place in the database, `--tenant` for every command, and `sangkien run` polling
every tenant's bot from one process."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, tenant_config, tenant_configs
from bot.sandbox.telegram_emulator import TelegramEmulator
from tests.harness import ROOT
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

    on_postgres = load_config(config_file(tmp_path), environ={**environ, "DATABASE_URL": "postgresql+asyncpg://u@h/db"})
    assert tenant_config(on_postgres, "hue", environ).database_schema == "tenant_hue"
    assert tenant_config(on_postgres, "hue", environ).database_url == "postgresql+asyncpg://u@h/db"


@pytest.mark.parametrize(
    ("extra", "environ", "message"),
    [
        (TENANTS, {}, "unknown tenant 'quangtri' (declared in [[tenants]]: hanoi, hue)"),
        (TENANTS, {"HANOI_TELEGRAM_TOKEN": "1:same", "HUE_TELEGRAM_TOKEN": "1:same"}, "name the same bot token"),
        (TENANTS, {"HUE_ADMINS": "nobody"}, "tenant hue: HUE_ADMINS: 'nobody' is neither"),
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
    again = sangkien("import-branches", str(branches), **env, SANGKIEN_TENANT="hanoi")
    assert "2 unchanged" in again.stdout, again.stderr
    other = sangkien("--tenant", "hue", "import-branches", str(branches), **env)
    assert "2 created" in other.stdout, "Huế's units are its own: nothing of Hà Nội's is there"
    assert sorted(p.name for p in tmp_path.glob("shared*.db")) == ["shared.hanoi.db", "shared.hue.db"]

    upgraded = sangkien("db", "upgrade", **env)
    assert upgraded.returncode == 0 and "database is up to date (hanoi, hue)" in upgraded.stdout, upgraded.stderr
    listed = sangkien("--tenant", "hue", "campaign", "list", **env)
    assert listed.returncode == 0 and "2021-2023" in listed.stdout, listed.stderr
    unknown = sangkien("--tenant", "quangtri", "campaign", "list", **env)
    assert unknown.returncode == 2 and "unknown tenant 'quangtri'" in unknown.stderr


@pytest.mark.asyncio(loop_scope="module")
async def test_sangkien_run_polls_every_tenant_with_a_token_from_one_process(
    emulator: TelegramEmulator, tmp_path: Path
) -> None:
    for token in (HANOI_TOKEN, HUE_TOKEN):
        emulator.add_bot(token)
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("TELEGRAM_", "ZALO_"))}
    environment |= {
        "SANGKIEN_CONFIG": str(config_file(tmp_path)),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/shared.db",
        "TELEGRAM_API_URL": emulator.url,
        "HANOI_TELEGRAM_TOKEN": HANOI_TOKEN,
        "HUE_TELEGRAM_TOKEN": HUE_TOKEN,
    }
    log = tmp_path / "bot.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", env=environment,
                                                       stdout=output, stderr=output, cwd=ROOT)  # fmt: skip
    try:
        for token in (HANOI_TOKEN, HUE_TOKEN):
            await emulator.wait_until_polled(token, 1, timeout=60)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
    text = log.read_text(errors="replace")
    assert "tenant hanoi: ready (telegram)" in text and "tenant hue: ready (telegram)" in text, text
    assert "INFO [hanoi] bot.app: telegram: long polling" in text, "each line names the tenant it is about"
    assert "INFO [hue] bot.app: telegram: long polling" in text, text
    assert HANOI_TOKEN not in text and HUE_TOKEN not in text, "tokens never in the log"
    assert "Traceback" not in text, text
