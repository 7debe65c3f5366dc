"""What an operator runs besides the bot: a consistent backup while it runs, restoring one, and `check`.

- **Backup.** SQLite: the online backup API (a consistent copy page by page while the bot keeps writing),
  then the copy is checked (`PRAGMA integrity_check`, a known schema revision). PostgreSQL: `pg_dump`
  (custom format) when it is installed; the README gives the commands otherwise.
- **Restore.** The file is checked first (the same checks), then copied over the database — with the bot
  stopped. PostgreSQL: `pg_restore --clean --if-exists`.
- **Check.** One line per thing an operator needs to be true: the configuration, the database (reachable,
  migrated), each token (`getMe`), the webhook against PUBLIC_URL, the clock and the time zone.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from bot.config import Config
from storage.engine import alembic_config, create_engine

TELEGRAM_API = "https://api.telegram.org"
MAX_CLOCK_SKEW = dt.timedelta(seconds=60)


class OperationError(Exception):
    """What went wrong, in one line for the operator."""


def _sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise OperationError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def verify_sqlite_copy(path: Path) -> str:
    """The copy's schema revision, after checking it is a whole SQLite database of this bot."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            (integrity,) = connection.execute("PRAGMA integrity_check").fetchone()
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            row = None
            if "alembic_version" in tables:
                row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as error:
        raise OperationError(f"{path} is not a usable backup: {error}") from error
    if integrity != "ok":
        raise OperationError(f"{path} is damaged: {integrity}")
    if row is None or row[0] not in known_revisions():
        raise OperationError(f"{path} is not a database of this bot (schema revision {row and row[0]!r})")
    return str(row[0])


def backup(database_url: str, target: Path, schema: str | None = None) -> str:
    """Copy the database (a tenant's `schema` only, on PostgreSQL) to `target` while the bot may be running;
    a description of what was written."""
    source = _sqlite_path(database_url)
    if source is None:
        return _pg_dump(database_url, target, schema)
    if not source.exists():
        raise OperationError(f"no database at {source}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(source, timeout=30) as live, sqlite3.connect(partial) as copy:
        live.backup(copy, pages=1024)  # in steps: the bot's writers wait at most one step
    copy.close()
    revision = verify_sqlite_copy(partial)
    partial.replace(target)
    return f"{target} ({target.stat().st_size} bytes, schema {revision})"


def restore(database_url: str, source: Path, schema: str | None = None) -> str:
    """Replace the database (a tenant's `schema`, on PostgreSQL) with the backup at `source`, after checking it
    (stop the bot first)."""
    if not source.exists():
        raise OperationError(f"no backup at {source}")
    target = _sqlite_path(database_url)
    if target is None:
        return _pg_restore(database_url, source, schema)
    revision = verify_sqlite_copy(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(source) as backup_file, sqlite3.connect(target, timeout=30) as database:
        backup_file.backup(database)
    for leftover in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        if leftover.exists() and leftover.stat().st_size == 0:
            leftover.unlink()
    return f"{target} restored from {source} (schema {revision})"


def _pg_arguments(database_url: str) -> tuple[list[str], dict[str, str]]:
    """libpq's connection options for a PostgreSQL URL (the password through the environment, never argv)."""
    url = make_url(database_url)
    arguments = ["--host", url.host or "localhost", "--port", str(url.port or 5432), "--dbname", url.database or ""]
    if url.username:
        arguments += ["--username", url.username]
    return arguments, ({"PGPASSWORD": url.password} if url.password else {})


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise OperationError(f"{name} is not installed: install postgresql-client, or see the README's commands")
    return tool


def _pg_dump(database_url: str, target: Path, schema: str | None) -> str:
    arguments, password = _pg_arguments(database_url)
    only = ["--schema", schema] if schema else []
    _run_tool([_pg_tool("pg_dump"), "--format=custom", *only, "--file", str(target), *arguments], password)
    return f"{target} ({target.stat().st_size} bytes, pg_dump custom format)"


def _pg_restore(database_url: str, source: Path, schema: str | None) -> str:
    """The backup back, or a tenant's schema (`schema`) from it, the schema created first if it is new."""
    arguments, password = _pg_arguments(database_url)
    only: list[str] = []
    if schema is not None:
        if not _holds_schema(source, schema, password):
            raise OperationError(f"{source} holds nothing of {schema}: restore a backup of this tenant")
        _run_tool([_pg_tool("psql"), "--quiet", "--no-psqlrc", "--command",
                   f'CREATE SCHEMA IF NOT EXISTS "{schema}"', *arguments], password)  # fmt: skip
        only = ["--schema", schema]
    _run_tool([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", *only, *arguments, str(source)],
              password)  # fmt: skip
    return f"restored {schema or 'the database'} from {source} with pg_restore"


def _holds_schema(source: Path, schema: str, password: dict[str, str]) -> bool:
    """Whether a pg_dump archive holds the schema itself (`pg_restore --list`: "… SCHEMA - <name> <owner>")."""
    import os

    listing = subprocess.run([_pg_tool("pg_restore"), "--list", str(source)], env={**os.environ, **password},
                             capture_output=True, text=True, timeout=600)  # fmt: skip
    if listing.returncode != 0:
        raise OperationError(f"{source} is not a pg_dump archive")
    return any(line.split()[-4:-1] == ["SCHEMA", "-", schema] for line in listing.stdout.splitlines() if line.strip())


def _run_tool(command: list[str], password: dict[str, str]) -> None:
    import os

    result = subprocess.run(command, env={**os.environ, **password}, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["failed"])[-1]
        raise OperationError(f"{Path(command[0]).name}: {last}")


# --- check -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def check(config: Config, now: dt.datetime) -> list[Finding]:
    """Everything `sangkien check` reports, in order; `now` is this machine's clock."""
    campaign = config.campaign
    findings = [Finding("config", True, f"campaign «{campaign.name[:40]}», place {campaign.place}, "
                                        f"time zone {campaign.timezone}")]  # fmt: skip
    findings.append(await _database(config))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        if config.telegram_token:
            findings += await _telegram(http, config)
        if config.zalo_token:
            findings.append(await _zalo(config))
        findings.append(await _clock(http, config, now))
    if not (config.telegram_token or config.zalo_token):
        findings.append(Finding("tokens", True, "none set: `sangkien run` starts the sandbox"))
    return findings


async def _database(config: Config) -> Finding:
    shown = make_url(config.database_url).render_as_string(hide_password=True)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_engine(config.database_url, config.database_schema)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    except Exception as error:  # the driver's own errors: one line is what the operator needs
        return Finding("database", False, f"{shown}: {str(error).splitlines()[0][:200]}")
    finally:
        await engine.dispose()
    if current != head:
        return Finding("database", False, f"{shown}: schema {current or 'empty'}, expected {head} "
                                          "(run `sangkien db upgrade`)")  # fmt: skip
    return Finding("database", True, f"{shown}: reachable, schema {head} (latest)")


async def _telegram(http: aiohttp.ClientSession, config: Config) -> list[Finding]:
    base = f"{(config.telegram_api_url or TELEGRAM_API).rstrip('/')}/bot{config.telegram_token}"
    try:
        async with http.get(f"{base}/getMe") as reply:
            me = await reply.json(content_type=None)
        if not me.get("ok"):
            return [Finding("telegram", False, f"getMe refused: {me.get('description', reply.status)}")]
        async with http.get(f"{base}/getWebhookInfo") as reply:
            webhook = (await reply.json(content_type=None)).get("result", {})
    except (aiohttp.ClientError, TimeoutError) as error:
        return [Finding("telegram", False, f"cannot reach {config.telegram_api_url or TELEGRAM_API}: "
                                           f"{type(error).__name__}")]  # fmt: skip
    findings = [Finding("telegram", True, f"@{me['result'].get('username', '?')}")]
    findings.append(_webhook_finding("telegram webhook", webhook.get("url", ""), config, "telegram"))
    return findings


async def _zalo(config: Config) -> Finding:
    from bot.channels.zalo_client import ZaloApiError, ZaloClient

    client = ZaloClient(config.zalo_token or "", config.zalo_api_url, attempts=1)
    try:
        me = await client.get_me()
    except ZaloApiError as error:
        return Finding("zalo", False, f"getMe refused: {error.code} {error.description}")
    except (aiohttp.ClientError, TimeoutError) as error:
        return Finding("zalo", False, f"cannot reach the Zalo Bot API: {type(error).__name__}")
    finally:
        await client.close()
    return Finding("zalo", True, str(me.get("account_name") or me.get("display_name") or me.get("id") or "ok"))


def _webhook_finding(name: str, registered: str, config: Config, platform: str) -> Finding:
    """With PUBLIC_URL (`sangkien serve`) the webhook must point at it; without, there must be none (polling)."""
    if config.public_url:
        expected = config.webhook_url(platform)
        if registered == expected:
            return Finding(name, True, registered)
        if not registered:
            return Finding(name, True, f"none yet: `sangkien serve` registers {expected}")
        return Finding(name, False, f"{registered} is registered, PUBLIC_URL gives {expected}")
    if registered:
        return Finding(name, False, f"{registered} is registered but PUBLIC_URL is not set: polling would fail")
    return Finding(name, True, "none (long polling)")


async def _clock(http: aiohttp.ClientSession, config: Config, now: dt.datetime) -> Finding:
    """The time zone is known and this machine's clock agrees with the platform's (its Date header)."""
    campaign = config.campaign
    local = now.astimezone(campaign.tz)
    detail = f"{local:%d/%m/%Y %H:%M} {campaign.timezone} (UTC{local:%z})"
    url = (config.telegram_api_url or TELEGRAM_API) if config.telegram_token else None
    if url is None:
        return Finding("clock", now.year >= 2024, detail)
    try:
        async with http.head(url) as reply:
            stamp = reply.headers.get("Date")
    except (aiohttp.ClientError, TimeoutError):
        stamp = None
    if not stamp:
        return Finding("clock", now.year >= 2024, detail + ", not compared (no Date header)")
    skew = abs(parsedate_to_datetime(stamp) - now)
    return Finding("clock", skew <= MAX_CLOCK_SKEW, detail + f", {skew.total_seconds():.0f} s from the platform's")
