"""config.toml and its environment overrides; a bad file names the offending key."""

import datetime as dt
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from tests.harness import ROOT

GOOD = (ROOT / "config.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_campaign_data_from_the_plan() -> None:
    config = load_config(ROOT / "config.toml", environ={})
    campaign = config.campaign
    assert (campaign.eligible_from, campaign.eligible_until) == (dt.date(2021, 9, 1), dt.date(2023, 9, 1))
    assert [(p.start, p.end, p.target) for p in campaign.phases] == [
        (dt.date(2022, 2, 28), dt.date(2022, 5, 31), 200),
        (dt.date(2022, 6, 1), dt.date(2023, 9, 30), 300),
    ]
    assert [t.code for t in campaign.types] == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7"]
    assert campaign.type_by_code("1.7").research and not campaign.type_by_code("1.1").research
    assert campaign.timezone == "Asia/Ho_Chi_Minh"
    assert config.telegram_token is None


def test_environment_overrides(tmp_path: Path) -> None:
    other = write(tmp_path, GOOD)
    config = load_config(
        environ={
            "SANGKIEN_CONFIG": str(other),
            "TELEGRAM_BOT_TOKEN": "123:abc",
            "TELEGRAM_API_URL": "http://127.0.0.1:9000/",
            "DATABASE_URL": "postgresql+asyncpg://u@h/db",
            "SANGKIEN_ADMINS": " 111, 222 ,zalo:6ede9afa66b88fe6d6a9",
            "ZALO_BOT_TOKEN": "1459:zalo-secret",
            "ZALO_API_URL": "http://127.0.0.1:9001/zalo/",
            "PUBLIC_URL": "https://bot.example.vn/",
            "WEB_PORT": "8443",
        }
    )
    assert config.base_dir == tmp_path
    assert config.telegram_token == "123:abc"
    assert config.telegram_api_url == "http://127.0.0.1:9000"
    assert config.database_url == "postgresql+asyncpg://u@h/db"
    assert config.admins == {"telegram:111", "telegram:222", "zalo:6ede9afa66b88fe6d6a9"}
    assert config.is_admin("zalo", "6ede9afa66b88fe6d6a9") and not config.is_admin("zalo", "111")
    assert (config.zalo_token, config.zalo_api_url) == ("1459:zalo-secret", "http://127.0.0.1:9001/zalo")
    assert (config.public_url, config.web_port) == ("https://bot.example.vn", 8443)
    assert "1459:zalo-secret" in config.secrets and "123:abc" in config.secrets


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("end = 2022-05-31", "end = 2022-01-01"), "campaign.phases.0"),
        (("target = 200", "target = -1"), "campaign.phases.0.target"),
        (('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Mars/Base"'), "campaign.timezone"),
        (("eligible_from = 2021-09-01", 'eligible_from = "soon"'), "campaign.eligible_from"),
        (('language = "vi"', 'language = "fr"'), "settings.language"),
        (("branches_per_page = 8", "branches_per_pag = 8"), "settings.branches_per_pag"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_key(tmp_path: Path, change: tuple[str, str], named: str) -> None:
    assert change[0] in GOOD
    path = write(tmp_path, GOOD.replace(change[0], change[1], 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert f"'{named}'" in str(caught.value)


def test_broken_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[campaign\nname="), environ={})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", environ={})


def test_admin_ids_must_be_telegram_or_zalo_ids(tmp_path: Path) -> None:
    for bad in ("123,@boss", "zalo:ab-cd", "viber:123"):
        with pytest.raises(ConfigError, match="SANGKIEN_ADMINS"):
            load_config(ROOT / "config.toml", environ={"SANGKIEN_ADMINS": bad})


def test_cli_prints_one_clear_line_for_a_bad_config(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, GOOD.replace("target = 200", "target = -1", 1))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env={"SANGKIEN_CONFIG": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith("Configuration error:")
    assert "'campaign.phases.0.target'" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_names_the_settings_webhooks_need() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env={"SANGKIEN_CONFIG": str(ROOT / "config.toml"), "PATH": "/usr/bin:/bin", "ZALO_BOT_TOKEN": "1:abc"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PUBLIC_URL" in result.stderr and "ZALO_WEBHOOK_SECRET" in result.stderr
    assert "TELEGRAM_WEBHOOK_SECRET" not in result.stderr and "1:abc" not in result.stderr


@pytest.mark.parametrize(
    "name", ["SANGKIEN_LINK_SECRET", "TELEGRAM_WEBHOOK_SECRET", "ZALO_WEBHOOK_SECRET", "METRICS_TOKEN"]
)
def test_a_short_secret_stops_start_up_without_being_shown(name: str) -> None:
    environ = {"SANGKIEN_CONFIG": str(ROOT / "config.toml")}
    with pytest.raises(ConfigError) as refused:
        load_config(environ={**environ, name: "hunter2-secret"})  # 14 characters: guessable
    assert str(refused.value).startswith(f"{name}: at least 16 characters")
    assert "hunter2" not in str(refused.value)
    config = load_config(environ={**environ, name: "hunter2-secret-16"})
    assert "hunter2-secret-16" in config.secrets
