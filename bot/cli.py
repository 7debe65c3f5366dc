"""`sangkien` command line: run the bot (or the sandbox), migrate the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.config import Config, ConfigError, load_config, tenant_config, tenant_configs
from bot.logging_setup import setup_logging

# uvloop's event loop (on libuv): a conversation step costs less CPU (README, Choices). It does not build on
# Windows, where asyncio's own runs; elsewhere a broken install fails here rather than running slower unseen.
if sys.platform == "win32":
    from asyncio import run as run_event_loop
else:
    from uvloop import run as run_event_loop

T = TypeVar("T")
log = logging.getLogger(__name__)


_SECRETS: list[str] = []  # every secret of the configuration and of its tenants, redacted from what we print


def _tenant() -> str | None:
    return click.get_current_context().find_root().params.get("tenant")


def _load(*, every_tenant: bool = False) -> Config:
    """The configuration, with log redaction of its secrets installed (every command logs through it).

    With [[tenants]] declared, a command works on the tenant named by `--tenant`; `every_tenant` (run, serve,
    db upgrade): the deployment's configuration, for every tenant or the one `--tenant` names."""
    tenant = _tenant()
    try:
        config = load_config()
        everyone = tenant_configs(config) if config.tenants else []
        if tenant is not None and not config.tenants:
            raise ConfigError(f"--tenant {tenant}: no [[tenants]] are declared in the configuration")
        if tenant is not None:
            chosen = tenant_config(config, tenant)
            config = config if every_tenant else chosen
        elif config.tenants and not every_tenant:
            codes = ", ".join(t.code for t in config.tenants)
            raise ConfigError(f"several tenants are declared ({codes}): name one with --tenant CODE")
    except ConfigError as error:
        click.echo(f"Configuration error: {error}", err=True)
        sys.exit(2)
    _SECRETS[:] = [*config.secrets, *(s for t in everyone for s in t.secrets)]
    setup_logging(_SECRETS, log_format=config.log_format)
    return config


def _run(config: Config, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a command's work; a database or platform that cannot be reached is one line on stderr (exit 2),
    with the configuration's secrets redacted — never a traceback."""
    try:
        return run_event_loop(work())
    except Exception as error:
        problem = _connection_problem(error, config)
        if problem is None:
            raise
        for secret in _SECRETS or config.secrets:
            problem = problem.replace(secret, "<redacted>")
        click.echo(problem, err=True)
        sys.exit(2)


def _connection_problem(error: Exception, config: Config) -> str | None:
    """What to tell the operator about an error that is the environment's, not the bot's (else None)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError, InterfaceError

    name = type(error).__name__
    if isinstance(error, ValueError) and not isinstance(error, UnicodeError):  # a missing setting, named
        return f"Configuration error: {error}"
    if name == "TelegramUnauthorizedError":
        return "Telegram refused TELEGRAM_BOT_TOKEN (unauthorized): check the token from @BotFather."
    if name == "ZaloApiError":
        code, description = getattr(error, "code", ""), getattr(error, "description", "")
        return f"Zalo refused the bot at start-up ({code} {description}): check ZALO_BOT_TOKEN."
    database = make_url(config.database_url).render_as_string(hide_password=True)
    if isinstance(error, DBAPIError | InterfaceError):
        return f"Database error ({database}): {str(error.orig or error).splitlines()[0]}"
    if isinstance(error, OSError):  # refused, unknown host, no such directory for the SQLite file
        return f"Cannot connect ({database}): {error.strerror or error}"
    if name == "TelegramNetworkError":
        return f"Cannot reach the Telegram Bot API at {config.telegram_api_url or 'api.telegram.org'}: {error}"
    if name == "ClientConnectorError":  # the Zalo client's aiohttp
        return f"Cannot reach {getattr(error, 'host', '')}:{getattr(error, 'port', '')}: {error.strerror or error}"
    return None


@click.group()
@click.option("--tenant", envvar="SANGKIEN_TENANT", default=None, metavar="CODE",
              help="With [[tenants]] in the config: the tenant a command works on.")  # fmt: skip
def main(tenant: str | None) -> None:
    """Sáng kiến Bot — chatbot for the "01 triệu sáng kiến" programme."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Sandbox only: address of the web page.")
@click.option("--port", default=8080, show_default=True, help="Sandbox only: port of the web page (0 = any).")
def run(host: str, port: int) -> None:
    """Start the bot with long polling: Telegram, Zalo or both, by the tokens set; without any, the sandbox.
    With [[tenants]] declared: every tenant with a token set (or only --tenant), never the sandbox."""
    config = _load(every_tenant=True)
    if config.tenants:
        _run_tenants(config, webhooks=False)
        return
    if config.telegram_token or config.zalo_token:
        _run_bot(config, webhooks=False)
        return
    from bot.sandbox.run import run_sandbox

    _serve(config, lambda: run_sandbox(config, host, port, os.environ.get("DATABASE_URL")))


@main.command()
def serve() -> None:
    """Serve the bot by webhooks (for several processes behind a proxy): PUBLIC_URL, the tokens and their
    webhook secrets from the environment; the web app listens on WEB_HOST:WEB_PORT. With [[tenants]]:
    every tenant with a token set, each at /webhook/<tenant>/<platform>."""
    config = _load(every_tenant=True)
    if config.tenants:
        if not config.public_url:
            click.echo("Configuration error: `sangkien serve` needs PUBLIC_URL in the environment.", err=True)
            sys.exit(2)
        _run_tenants(config, webhooks=True)
        return
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
    from bot.app import run_bot
    from storage.engine import open_database

    async def serve_bot() -> None:
        engine = await open_database(config.database_url, config.database_schema)
        try:
            await run_bot(config, engine, webhooks=webhooks)
        finally:
            await engine.dispose()

    _serve(config, serve_bot)


def _run_tenants(config: Config, *, webhooks: bool) -> None:
    from bot.tenants import run_tenants

    only = _tenant()
    _serve(config, lambda: run_tenants(config, webhooks=webhooks, only=only))


def _serve(config: Config, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Serve until stopped: Ctrl+C, or SIGTERM (systemd's stop, `docker stop`), which stops it the same way.
    Python's default for SIGTERM ends the process at once, in the middle of a step: the replies it had not
    sent then wait for the journal's grace, and the other processes for its lease. Cancelled instead, the
    runtime shuts down in order (bot/app.py: `Runtime._shut_down`; 25 s at most while the database answers:
    5 for the web app's requests, 10 for the background passes, 10 for the steps in hand) and the process
    exits 0. A second
    SIGTERM changes nothing: the stop already under way finishes."""

    async def until_terminated() -> None:
        task = asyncio.ensure_future(work())
        loop = asyncio.get_running_loop()
        terminated = False

        def terminate() -> None:
            nonlocal terminated
            if terminated:
                log.info("already stopping")
                return
            terminated = True
            log.info("SIGTERM: stopping (the steps in hand finish first)")
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, terminate)
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not terminated or (current is not None and current.cancelling()):  # Ctrl+C: asyncio's way out
                raise
        finally:
            loop.remove_signal_handler(signal.SIGTERM)

    with contextlib.suppress(KeyboardInterrupt):
        _run(config, until_terminated)


@main.command("invite-chair")
@click.argument("branch_code")
def invite_chair(branch_code: str) -> None:
    """Print a one-time link (valid 7 days) that makes whoever opens it a chair of BRANCH_CODE."""
    config = _load()
    from bot.app import telegram_deep_link
    from bot.channels.telegram_api import make_bot
    from handlers.chairs import INVITE_PREFIX, create_invite
    from handlers.context import typed_start_command, utc_now
    from storage import queries
    from storage.engine import open_database, session_factory

    async def create() -> tuple[str, str] | None:
        engine = await open_database(config.database_url, config.database_schema)
        try:
            async with session_factory(engine)() as session, session.begin():
                branch = await queries.branch_by_code(session, branch_code)
                if branch is None:
                    return None
                invite = await create_invite(session, branch, "cli", utc_now())
                return branch.name, INVITE_PREFIX + invite.token
        finally:
            await engine.dispose()

    async def ways_for(payload: str) -> list[str]:
        """How the invited person opens it on each channel the bot serves."""
        ways = []
        if config.telegram_token:
            bot = make_bot(config.telegram_token, config.telegram_api_url)
            try:
                me = await bot.get_me()
            finally:
                await bot.session.close()
            ways.append(f"Telegram: {telegram_deep_link(me.username or '')(payload)}")
        if config.zalo_token or not ways:
            ways.append(f"Zalo (type or paste this line to the bot): {typed_start_command(payload)}")
        return ways

    created = _run(config, create)
    if created is None:
        click.echo(f"Unknown branch code: {branch_code}", err=True)
        sys.exit(1)
    branch_name, payload = created
    click.echo(f"Chair invitation for {branch_name} (single use, valid 7 days):")
    for way in _run(config, lambda: ways_for(payload)):
        click.echo(way)


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
@click.option("--campaign", "campaign_code", default=None, help="A campaign's code (default: the one running today).")
def export(out_path: str, phase: str | None, status: str | None, date_from: str | None, date_to: str | None,
           campaign_code: str | None) -> None:  # fmt: skip
    """Write the whole unit's Excel report (the same workbook as /export in the chat)."""
    config = _load()
    from domain.rules import InputError
    from handlers.context import utc_now
    from handlers.reports import excel
    from handlers.reports.scope import parse_filter
    from storage.campaigns import CampaignBook

    words = [w for w in (phase, status) if w]
    if date_from or date_to:
        words.append(f"{date_from or '1/1/1900'}-{date_to or '31/12/2999'}")
    today = utc_now().astimezone(config.campaign.tz).date()

    async def build(session: Any) -> bytes | str:
        book = CampaignBook(config.campaign)
        await book.refresh(session, force=True)
        campaign = await book.find(session, campaign_code) if campaign_code else book.default(today)
        if campaign is None:
            return f"Unknown campaign: {campaign_code} (known: {', '.join(c.code for c in book.campaigns)})"
        try:
            report_filter = parse_filter(" ".join(words), campaign)
        except InputError as error:
            return f"Bad filter: {error.key} {error.params}"
        request = excel.ReportRequest(campaign, None, report_filter, campaign.organisation, today, campaign.place)
        return await excel.build(session, request)

    content = _run(config, lambda: _with_campaigns(config, build, write=False))
    if isinstance(content, str):
        click.echo(content, err=True)
        sys.exit(2)
    with open(out_path, "wb") as handle:
        handle.write(content)
    click.echo(f"wrote {out_path} ({len(content)} bytes)")


def _import_file(path: str, kind: str) -> None:
    """Import a spreadsheet of branches or of recognised initiatives, all rows or none (the same checks as
    a file sent to the bot)."""
    config = _load()

    from handlers.branch_admin import describe_problems
    from handlers.context import utc_now
    from handlers.i18n import catalog
    from storage import branch_import, initiative_import
    from storage.campaigns import CampaignBook

    file = Path(path)
    t = catalog(config.settings.language)

    async def run_import(sheet: list[list[object]]) -> str:
        now = utc_now()
        today = now.astimezone(config.campaign.tz).date()

        async def work(session: Any) -> str:
            book = CampaignBook(config.campaign)  # the campaign running today, as in the bot
            await book.refresh(session, force=True)
            campaign = book.default(today)
            if kind == "initiatives":
                initiatives = initiative_import.parse(sheet, campaign, today)
                actor = await initiative_import.importer_member(session)
                count = await initiative_import.apply(session, initiatives, campaign, actor, now)
                return f"{count} recognised initiatives imported"
            every_phase = [phase for known in book.campaigns for phase in known.phases]
            result = await branch_import.apply(session, branch_import.parse(sheet, campaign, every_phase))
            return f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"

        return await _with_campaigns(config, work)

    try:
        sheet = branch_import.read_rows(file.name, file.read_bytes())
        outcome = _run(config, lambda: run_import(sheet))
    except branch_import.ImportRejected as rejected:
        click.echo(f"{file.name}: nothing imported.\n{describe_problems(t, rejected.problems)}", err=True)
        sys.exit(1)
    click.echo(f"{file.name}: {outcome}")


@main.command("import-branches")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_branches(path: str) -> None:
    """Create or update branches and their quotas from an .xlsx or .csv file (all rows or none)."""
    _import_file(path, "branches")


@main.command("import-initiatives")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_initiatives(path: str) -> None:
    """Load initiatives already recognised (decision number and date) from an .xlsx or .csv file, all rows
    or none; each counts in the phase of its decision, for its credited author's branch."""
    _import_file(path, "initiatives")


@main.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_command(path: str) -> None:
    """Write a consistent copy of the database to PATH while the bot runs (SQLite: the online backup API,
    checked; PostgreSQL: pg_dump's custom format)."""
    config = _load()

    from bot import operations

    try:
        click.echo(f"backup written: {operations.backup(config.database_url, Path(path), config.database_schema)}")
    except operations.OperationError as error:
        click.echo(f"Backup failed: {error}", err=True)
        sys.exit(1)


@main.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def restore_command(path: str) -> None:
    """Put the backup at PATH back as the database, after checking it. Stop the bot first."""
    config = _load()

    from bot import operations

    try:
        click.echo(operations.restore(config.database_url, Path(path), config.database_schema))
    except operations.OperationError as error:
        click.echo(f"Restore refused: {error}", err=True)
        sys.exit(1)


@main.command("check")
def check_command() -> None:
    """Check the configuration, the database, each token, the webhook and the clock: one line each; the
    exit status is 1 if anything failed."""
    config = _load()
    from bot import operations
    from handlers.context import utc_now

    findings = _run(config, lambda: operations.check(config, utc_now()))
    for finding in findings:
        line = finding.line()
        for secret in _SECRETS or config.secrets:
            line = line.replace(secret, "<redacted>")
        click.echo(line)
    sys.exit(0 if all(f.ok for f in findings) else 1)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command()
def upgrade() -> None:
    """Apply the Alembic migrations (also done on every start); with [[tenants]], every tenant's (or --tenant's)."""
    config = _load(every_tenant=True)
    from storage.engine import open_database

    only = _tenant()
    places = [t for t in tenant_configs(config) if only in (None, t.tenant)] if config.tenants else [config]

    async def migrate() -> None:
        for place in places:
            engine = await open_database(place.database_url, place.database_schema)
            await engine.dispose()

    _run(config, migrate)
    named = f" ({', '.join(p.tenant or '' for p in places)})" if config.tenants else ""
    click.echo(f"database is up to date{named}")


@main.group()
def campaign() -> None:
    """Campaigns as data: the config's [campaign] is the seed; later ones are added from a file."""


async def _with_campaigns(config: Config, work: Callable[[Any], Coroutine[Any, Any, T]], *, write: bool = True) -> T:
    """Open the database, store the seed campaign, run `work(session)` (in a transaction if it `write`s; a
    report only reads, holding no lock the running bot would wait for)."""
    from storage import campaigns
    from storage.engine import open_database, session_factory

    engine = await open_database(config.database_url, config.database_schema)
    sessions = session_factory(engine)
    try:
        async with sessions() as session, session.begin():
            await campaigns.seed(session, config.campaign)
        async with sessions() as session:
            if not write:
                return await work(session)
            async with session.begin():
                return await work(session)
    finally:
        await engine.dispose()


@campaign.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def campaign_add(path: str) -> None:
    """Add the campaign of a TOML file with a [campaign] table like config.toml's (a code of its own, phases
    that count on days no other campaign counts, phase codes of its own)."""
    import tomllib

    from storage import campaigns

    config = _load()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        click.echo(f"{path}: not valid TOML: {error}", err=True)
        sys.exit(1)
    if not isinstance(raw.get("campaign"), dict):
        click.echo(f"{path}: no [campaign] table", err=True)
        sys.exit(1)

    async def add(session: Any) -> Any:
        try:
            return await campaigns.add(session, raw["campaign"])
        except campaigns.CampaignRejected as rejected:
            return rejected

    added = _run(config, lambda: _with_campaigns(config, add))
    if isinstance(added, campaigns.CampaignRejected):
        click.echo(f"{path}: campaign not added: {added}", err=True)
        sys.exit(1)
    click.echo(f"campaign {added.code} added: {added.name} ({len(added.phases)} phases)")


@campaign.command("list")
def campaign_list() -> None:
    """Every campaign: code, name, eligibility window, counting window, whether it is open today."""
    from handlers.context import utc_now
    from storage import campaigns

    config = _load()
    known = _run(config, lambda: _with_campaigns(config, campaigns.stored, write=False))
    today = utc_now().astimezone(config.campaign.tz).date()
    for item in known:
        start, end = item.counting_window
        state = "open" if item.is_open(today) else "closed"
        click.echo(f"{item.code:<16} {state:<7} applied {item.eligible_from:%d/%m/%Y}–{item.eligible_until:%d/%m/%Y}  "
                   f"counts {start:%d/%m/%Y}–{end:%d/%m/%Y}  {item.name}")  # fmt: skip
