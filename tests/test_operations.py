"""What an operator runs: `sangkien backup` while answers are being written, `sangkien restore` (and what
it refuses), and `sangkien check` against a good setup and broken ones — through the real command line."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from bot.config import load_config
from bot.sandbox.telegram_emulator import TelegramEmulator
from storage import queries
from storage.engine import alembic_config, create_engine, session_factory, upgrade_database
from storage.models import AuditEvent, Branch
from tests import launcher
from tests.harness import ROOT, SAMPLE_BRANCHES, TOKEN

LATEST = ScriptDirectory.from_config(alembic_config()).get_current_head()

pytestmark = pytest.mark.asyncio


async def sangkien(*args: str, **env: str) -> tuple[int, str, str]:
    """The command line in its own process (the test's event loop keeps serving the emulator meanwhile)."""
    unset = ("TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "PUBLIC_URL")
    environment = {key: value for key, value in os.environ.items() if key not in unset}
    environment |= {"SANGKIEN_CONFIG": str(ROOT / "config.toml"), **env}
    result = await asyncio.to_thread(launcher.sangkien, list(args), environment)
    return result.returncode, result.stdout, result.stderr


async def test_a_backup_taken_mid_load_restores_every_committed_answer(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/live.db"
    engine = create_engine(url)
    await upgrade_database(engine)
    sessions = session_factory(engine)
    config = load_config(ROOT / "config.toml", environ={})
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
    committed: list[int] = []
    stop, enough = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        """Answers committed one by one, as conversations do, while the backup runs."""
        number = 0
        while not stop.is_set():
            number += 1
            async with sessions() as session, session.begin():
                session.add(AuditEvent(action="answer", reason=f"answer {number}"))
            committed.append(number)
            if number == 200:
                enough.set()
            await asyncio.sleep(0)

    writing = asyncio.create_task(writer())
    await asyncio.wait_for(enough.wait(), timeout=60)
    before_backup = len(committed)
    code, out, err = await sangkien("backup", str(tmp_path / "copy.db"), DATABASE_URL=url)
    stop.set()
    await writing
    await engine.dispose()
    assert code == 0 and out.startswith(f"backup written: {tmp_path}/copy.db"), err
    assert f"schema {LATEST}" in out

    restored_url = f"sqlite+aiosqlite:///{tmp_path}/restored/bot.db"
    code, out, err = await sangkien("restore", str(tmp_path / "copy.db"), DATABASE_URL=restored_url)
    assert code == 0, err
    restored = create_engine(restored_url)
    async with session_factory(restored)() as session:
        reasons = set(await session.scalars(select(AuditEvent.reason).where(AuditEvent.action == "answer")))
        branches = await session.scalar(select(func.count()).select_from(Branch))
    await restored.dispose()
    assert {f"answer {n}" for n in range(1, before_backup + 1)} <= reasons, "every answer committed before it"
    assert len(reasons) <= len(committed) and branches == 160
    numbers = sorted(int(reason.split()[1]) for reason in reasons)
    assert numbers == list(range(1, len(numbers) + 1)), "a consistent copy: no gaps in what was committed"


async def test_restore_refuses_what_is_not_a_backup_and_leaves_the_database_alone(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    code, _, err = await sangkien("db", "upgrade", DATABASE_URL=url)
    assert code == 0, err
    before = (tmp_path / "bot.db").read_bytes()
    (tmp_path / "notes.txt").write_text("không phải cơ sở dữ liệu")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE t (x)")
    for path, reason in ((tmp_path / "notes.txt", "is not a usable backup"),
                         (foreign, "is not a database of this bot")):  # fmt: skip
        code, out, err = await sangkien("restore", str(path), DATABASE_URL=url)
        assert code == 1 and err.startswith("Restore refused: ") and reason in err, (out, err)
        assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "bot.db").read_bytes() == before
    code, _, err = await sangkien(
        "backup", str(tmp_path / "x.db"), DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/no.db"
    )
    assert code == 1 and err.startswith("Backup failed: no database at"), err


async def test_check_reports_a_good_setup_line_by_line(tmp_path: Path) -> None:
    emulator = TelegramEmulator()
    emulator.add_bot(TOKEN)
    await emulator.start()
    try:
        url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
        assert (await sangkien("db", "upgrade", DATABASE_URL=url))[0] == 0
        code, out, err = await sangkien("check", DATABASE_URL=url, TELEGRAM_BOT_TOKEN=TOKEN,
                                        TELEGRAM_API_URL=emulator.url)  # fmt: skip
        lines = out.strip().splitlines()
        assert code == 0, out + err
        assert [line.split(":")[0] for line in lines] == [
            "ok   config",
            "ok   database",
            "ok   telegram",
            "ok   telegram webhook",
            "ok   clock",
        ]
        assert f"schema {LATEST} (latest)" in lines[1] and "none (long polling)" in lines[3]
        assert "s from the platform's" in lines[4]

        broken = await sangkien("check", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/empty.db",
                                TELEGRAM_BOT_TOKEN="999:wrongTOKENvalue", TELEGRAM_API_URL=emulator.url,
                                PUBLIC_URL="https://sangkien.example.vn")  # fmt: skip
        code, out, _ = broken
        assert code == 1
        assert "FAIL database: " in out and f"schema empty, expected {LATEST} (run `sangkien db upgrade`)" in out
        assert "FAIL telegram: getMe refused" in out
        assert "wrongTOKENvalue" not in out
    finally:
        await emulator.stop()
