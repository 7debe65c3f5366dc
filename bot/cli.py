"""`sangkien` command line: run the bot (or the sandbox), migrate the database."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

import click

from bot.config import Config, ConfigError, load_config
from bot.logging_setup import setup_logging


def _load() -> Config:
    try:
        return load_config()
    except ConfigError as error:
        click.echo(f"Configuration error: {error}", err=True)
        sys.exit(2)


@click.group()
def main() -> None:
    """Sáng kiến Bot — chatbot for the "01 triệu sáng kiến" programme."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Sandbox only: address of the web page.")
@click.option("--port", default=8080, show_default=True, help="Sandbox only: port of the web page (0 = any).")
def run(host: str, port: int) -> None:
    """Start the bot with long polling: Telegram, Zalo or both, by the tokens set; without any, the sandbox."""
    config = _load()
    setup_logging(config.secrets)
    if config.telegram_token or config.zalo_token:
        _run_bot(config, webhooks=False)
        return
    from bot.sandbox.run import run_sandbox

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_sandbox(config, host, port, os.environ.get("DATABASE_URL")))


@main.command()
def serve() -> None:
    """Serve the bot by webhooks (for several processes behind a proxy): PUBLIC_URL, the tokens and their
    webhook secrets from the environment; the web app listens on WEB_HOST:WEB_PORT."""
    config = _load()
    setup_logging(config.secrets)
    missing = [name for name, needed, value in (
        ("TELEGRAM_BOT_TOKEN or ZALO_BOT_TOKEN", True, config.telegram_token or config.zalo_token),
        ("PUBLIC_URL", True, config.public_url),
        ("TELEGRAM_WEBHOOK_SECRET", bool(config.telegram_token), config.telegram_webhook_secret),
        ("ZALO_WEBHOOK_SECRET", bool(config.zalo_token), config.zalo_webhook_secret),
    ) if needed and not value]  # fmt: skip
    if missing:
        click.echo(f"Configuration error: `sangkien serve` needs {', '.join(missing)} in the environment.", err=True)
        sys.exit(2)
    _run_bot(config, webhooks=True)


def _run_bot(config: Config, *, webhooks: bool) -> None:
    from aiogram.exceptions import TelegramUnauthorizedError

    from bot.app import open_database, run_bot
    from bot.channels.zalo_client import ZaloApiError

    async def serve_bot() -> None:
        engine = await open_database(config)
        try:
            await run_bot(config, engine, webhooks=webhooks)
        finally:
            await engine.dispose()

    try:
        asyncio.run(serve_bot())
    except KeyboardInterrupt:
        pass
    except ValueError as error:  # a missing setting, named in the message
        click.echo(f"Configuration error: {error}", err=True)
        sys.exit(2)
    except TelegramUnauthorizedError:
        click.echo("Telegram refused TELEGRAM_BOT_TOKEN (unauthorized): check the token from @BotFather.", err=True)
        sys.exit(2)
    except ZaloApiError as error:
        click.echo(f"Zalo refused the bot at start-up ({error.code} {error.description}): check ZALO_BOT_TOKEN.",
                   err=True)  # fmt: skip
        sys.exit(2)


@main.command("invite-chair")
@click.argument("branch_code")
def invite_chair(branch_code: str) -> None:
    """Print a one-time link (valid 7 days) that makes whoever opens it a chair of BRANCH_CODE."""
    config = _load()
    from bot.app import open_database, telegram_deep_link
    from bot.channels.telegram import make_bot
    from handlers.chairs import INVITE_PREFIX, create_invite
    from handlers.context import utc_now
    from storage import queries
    from storage.engine import session_factory

    async def create() -> tuple[str, str] | None:
        engine = await open_database(config)
        try:
            async with session_factory(engine)() as session, session.begin():
                branch = await queries.branch_by_code(session, branch_code)
                if branch is None:
                    return None
                invite = await create_invite(session, branch, "cli", utc_now())
                return branch.name, INVITE_PREFIX + invite.token
        finally:
            await engine.dispose()

    async def link_for(payload: str) -> str:
        if not config.telegram_token:
            return f"/start {payload}"
        bot = make_bot(config.telegram_token, config.telegram_api_url)
        try:
            me = await bot.get_me()
        finally:
            await bot.session.close()
        return telegram_deep_link(me.username or "")(payload)

    created = asyncio.run(create())
    if created is None:
        click.echo(f"Unknown branch code: {branch_code}", err=True)
        sys.exit(1)
    branch_name, payload = created
    click.echo(f"Chair invitation for {branch_name} (single use, valid 7 days):")
    click.echo(asyncio.run(link_for(payload)))


@main.command("export")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="The .xlsx file to write.")
@click.option("--phase", default=None, help="Only initiatives counted in this phase (its code, e.g. p1).")
@click.option(
    "--status",
    default=None,
    help="Only this status: 'chờ xác nhận', 'chờ công nhận', 'đã công nhận', "
    "'đã nhập cổng', 'cần bổ sung', 'từ chối' (or submitted, verified, recognised, reported, …).",
)
@click.option("--from", "date_from", default=None, help="Period start (d/m/yyyy): recognised, or submitted, from then.")
@click.option("--to", "date_to", default=None, help="Period end (d/m/yyyy).")
def export(out_path: str, phase: str | None, status: str | None, date_from: str | None, date_to: str | None) -> None:
    """Write the whole unit's Excel report (the same workbook as /export in the chat)."""
    config = _load()
    from bot.app import open_database
    from handlers.context import utc_now
    from handlers.reports import excel
    from handlers.reports.scope import parse_filter
    from handlers.rules import InputError
    from storage.engine import session_factory

    words = [w for w in (phase, status) if w]
    if date_from or date_to:
        words.append(f"{date_from or '1/1/1900'}-{date_to or '31/12/2999'}")
    try:
        report_filter = parse_filter(" ".join(words), config.campaign)
    except InputError as error:
        click.echo(f"Bad filter: {error.key} {error.params}", err=True)
        sys.exit(2)

    async def build() -> bytes:
        engine = await open_database(config)
        campaign = config.campaign
        try:
            async with session_factory(engine)() as session:
                today = utc_now().astimezone(campaign.tz).date()
                return await excel.build(session, campaign, None, report_filter, scope_name=campaign.organisation,
                                         today=today, place=campaign.place)  # fmt: skip
        finally:
            await engine.dispose()

    content = asyncio.run(build())
    with open(out_path, "wb") as handle:
        handle.write(content)
    click.echo(f"wrote {out_path} ({len(content)} bytes)")


@main.command("import-branches")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_branches(path: str) -> None:
    """Create or update branches and their quotas from an .xlsx or .csv file (all rows or none)."""
    config = _load()
    from pathlib import Path

    from bot.app import open_database
    from handlers.branch_admin import describe_problems
    from handlers.i18n import catalog
    from storage import branch_import
    from storage.engine import session_factory

    file = Path(path)
    t = catalog(config.settings.language)

    async def run_import(rows: list[branch_import.BranchRow]) -> branch_import.ImportResult:
        engine = await open_database(config)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await branch_import.apply(session, rows)
        finally:
            await engine.dispose()

    try:
        rows = branch_import.parse(branch_import.read_rows(file.name, file.read_bytes()), config.campaign)
        result = asyncio.run(run_import(rows))
    except branch_import.ImportRejected as rejected:
        click.echo(f"{file.name}: nothing imported.\n{describe_problems(t, rejected.problems)}", err=True)
        sys.exit(1)
    click.echo(f"{file.name}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command()
def upgrade() -> None:
    """Apply the Alembic migrations (also done on every start)."""
    config = _load()
    from bot.app import open_database

    async def migrate() -> None:
        engine = await open_database(config)
        await engine.dispose()

    asyncio.run(migrate())
    click.echo("database is up to date")


if __name__ == "__main__":
    main()
