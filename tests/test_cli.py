"""The command line as an operator meets it when something is wrong: one line saying what, never a traceback,
and never a secret (the database password, the token) in what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import launcher
from tests.harness import ROOT

TOKEN = "123456:ABCsecretTOKENvalue"
PASSWORD = "S3cretPassw0rd"


def environment(**env: str) -> dict[str, str]:
    unset = ("TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL")
    found = {key: value for key, value in os.environ.items() if key not in unset}
    return found | {"SANGKIEN_CONFIG": str(ROOT / "config.toml"), **env}


def sangkien(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A command forked from the tests' pre-imported bot (tests/launcher.py)."""
    return launcher.sangkien(list(args), environment(**env))


def started_afresh(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot …` in a new interpreter, exactly as an operator starts it: what it prints on the way out
    (an unclosed session's warning, a traceback) is only seen this way."""
    return subprocess.run([sys.executable, "-m", "bot", *args], env=environment(**env), cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nonsense://", "Configuration error: "),
        ("postgresql://sk@localhost/db", "uses 'postgresql'; use one of sqlite+aiosqlite, postgresql+asyncpg"),
        (f"postgresql+asyncpg://sk:{PASSWORD}@127.0.0.1:1/db", "Cannot connect (postgresql+asyncpg://sk:***@127.0.0.1:1/db)"),
    ],
)  # fmt: skip
def test_a_bad_or_unreachable_database_is_one_line_without_its_password(url: str, expected: str) -> None:
    for command in (("db", "upgrade"), ("export", "--out", "/tmp/never.xlsx")):
        line = one_line(started_afresh(*command, DATABASE_URL=url))
        assert expected in line and PASSWORD not in line


def test_a_sqlite_file_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = one_line(started_afresh("db", "upgrade", DATABASE_URL=f"sqlite+aiosqlite:///{blocker}/x.db"))
    assert line.startswith("Cannot connect (sqlite+aiosqlite:///")


def test_an_unreachable_telegram_api_is_one_line_without_the_token(tmp_path: Path) -> None:
    result = started_afresh("run", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/bot.db", TELEGRAM_BOT_TOKEN=TOKEN,
                      TELEGRAM_API_URL="http://127.0.0.1:1")  # fmt: skip
    line = one_line(result)
    assert line.startswith("Cannot reach the Telegram Bot API at http://127.0.0.1:1")
    assert TOKEN.split(":")[1] not in result.stderr + result.stdout
    assert "Unclosed client session" not in result.stderr
