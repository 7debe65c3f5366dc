"""Loading `config.toml` plus environment overrides into one validated, immutable `Config`.

Campaign data (dates, targets, initiative types) lives in the file; secrets only in the environment.
A bad file stops start-up with a single `ConfigError` whose message names the offending key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_CONFIG_PATH = Path("config.toml")


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InitiativeType(_Frozen):
    code: str = Field(min_length=1)
    label: str = Field(min_length=1)
    explanation: str = Field(min_length=1)
    research: bool = False
    # A shorter name for its button, where the label is too long for a phone («Phòng chống Covid-19»: the
    # label's end was cut away); the label everywhere else (the summary, the card, the forms, the exports).
    button: str = Field(default="", max_length=26)


class Phase(_Frozen):
    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    start: dt.date
    end: dt.date
    target: int = Field(ge=0)
    # Recognitions dated from this day count in the phase (the plan's phase 1: "Sáng kiến được tính từ
    # 01/9/2021", before the phase itself began); the phase's start when not given.
    counts_from: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Phase:
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if self.counts_from is not None and self.counts_from > self.start:
            raise ValueError("counts_from must not be after start")
        return self

    @property
    def counting_from(self) -> dt.date:
        return self.counts_from or self.start

    def counts(self, recognised_on: dt.date) -> bool:
        """Whether an initiative recognised on that day counts in this phase."""
        return self.counting_from <= recognised_on <= self.end


class Campaign(_Frozen):
    # Names the campaign where several exist (`/progress 2024`, `sangkien campaign list`).
    code: str = Field(default="main", pattern=r"^[A-Za-z0-9._-]{1,32}$")
    name: str = Field(min_length=1)
    organisation: str = Field(min_length=1)
    # Where documents are signed ("Phú Thọ, ngày … tháng … năm …").
    place: str = ""
    timezone: str
    portal_url: str = ""
    eligible_from: dt.date
    eligible_until: dt.date
    total_target: int = Field(ge=0)
    phases: tuple[Phase, ...] = Field(min_length=1)
    types: tuple[InitiativeType, ...] = Field(min_length=1)
    # Where several campaigns exist, the days whose recognitions this one reports as "outside every phase"
    # when no campaign counts them (storage/campaigns.py sets them; None: open-ended). Not part of the data.
    territory_from: dt.date | None = Field(default=None, exclude=True)
    territory_until: dt.date | None = Field(default=None, exclude=True)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown timezone {value!r}") from error
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        if self.eligible_until < self.eligible_from:
            raise ValueError("eligible_until must not be before eligible_from")
        for earlier, later in zip(self.phases, self.phases[1:], strict=False):
            if later.counting_from <= earlier.end:
                raise ValueError(f"phases: {later.code} counts from before {earlier.code} ends")
        codes = [t.code for t in self.types]
        if len(set(codes)) != len(codes):
            raise ValueError("types: each code must be unique")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def type_by_code(self, code: str) -> InitiativeType | None:
        return next((t for t in self.types if t.code == code), None)

    def current_phase(self, today: dt.date) -> Phase:
        """The phase running today; before the first, the first; after the last, the last."""
        for phase in self.phases:
            if today <= phase.end:
                return phase
        return self.phases[-1]

    def phase_counting(self, recognised_on: dt.date | None) -> Phase | None:
        """The phase a recognition dated that day counts in; None outside every phase ("ngoài các giai đoạn")."""
        if recognised_on is None:
            return None
        return next((phase for phase in self.phases if phase.counts(recognised_on)), None)

    def is_over(self, today: dt.date) -> bool:
        return today > self.phases[-1].end

    @property
    def counting_window(self) -> tuple[dt.date, dt.date]:
        """From the first day a recognition counts to the last phase's end."""
        return min(p.counting_from for p in self.phases), max(p.end for p in self.phases)

    def is_open(self, today: dt.date) -> bool:
        """Taking initiatives: from its eligibility window's start to its last phase's end."""
        return self.eligible_from <= today <= self.phases[-1].end

    def phase_bounds(self, phase: Phase) -> tuple[dt.datetime, dt.datetime]:
        """The phase as a half-open range of aware datetimes: local midnight of its first day to the day after."""
        start = dt.datetime.combine(phase.start, dt.time(), self.tz)
        end = dt.datetime.combine(phase.end + dt.timedelta(days=1), dt.time(), self.tz)
        return start, end


class Reminder(_Frozen):
    """A scheduled reminder: when (cron, in the campaign's timezone) and what."""

    name: str = Field(min_length=1, max_length=64)
    kind: Literal["digest", "countdown", "idle_drafts", "pending_reviews"]
    cron: str
    # countdown: the numbers of days before a phase ends on which groups are reminded.
    days_before_end: tuple[int, ...] = (14, 7, 3, 1)
    # idle_drafts / pending_reviews: how many days without progress before a nudge.
    after_days: int = Field(default=3, ge=1)

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"not a cron expression: {value!r} (e.g. '0 8 * * MON')")
        return value


# The drivers the bot runs on (async); a URL people often write for them is named in the error.
DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class Settings(_Frozen):
    database_url: str = "sqlite+aiosqlite:///sangkien.db"
    language: str = Field(default="vi", pattern="^(vi|en)$")
    branches_per_page: int = Field(default=8, ge=3, le=20)
    sample_branches: str = "sample-data/branches.csv"
    # No reminders or broadcasts are delivered between these local times; they wait until the end.
    quiet_start: dt.time = dt.time(21, 0)
    quiet_end: dt.time = dt.time(7, 0)

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, value: str) -> str:
        """A URL SQLAlchemy can read, for one of our async drivers (checked before anything connects)."""
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("DATABASE_URL is not a database URL (e.g. postgresql+asyncpg://user@host/db)") from None
        if url.drivername not in DATABASE_DRIVERS:
            raise ValueError(f"DATABASE_URL uses {url.drivername!r}; use one of {', '.join(DATABASE_DRIVERS)}")
        return value


class Tenant(_Frozen):
    """One of several bots sharing a deployment (a province, say): its own bots, admins, organisation tree,
    campaigns and data. The config names the environment variables holding its secrets, never the secrets."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,29}$")
    # The union running the tenant: its campaigns' organisation (the Word forms, the Excel header, the bot's
    # introduction) unless `organisation` says otherwise; `place`: where its documents are signed.
    name: str = Field(min_length=1)
    organisation: str | None = None
    place: str | None = None
    # The deployment that ran before tenants were declared: its data stays where it was (the default schema,
    # the configured SQLite file), and its review links keep their key and their old address. One at most.
    existing: bool = False
    telegram_token_env: str | None = None
    zalo_token_env: str | None = None
    admins_env: str | None = None
    telegram_webhook_secret_env: str | None = None
    zalo_webhook_secret_env: str | None = None


class Config(_Frozen):
    campaign: Campaign
    settings: Settings = Settings()
    reminders: tuple[Reminder, ...] = ()
    # From the environment only:
    telegram_token: str | None = None
    telegram_api_url: str | None = None
    zalo_token: str | None = None
    zalo_api_url: str | None = None
    # Provincial admins as "platform:user id" ("telegram:123456", "zalo:6ede9afa66b88fe6d6a9").
    admins: frozenset[str] = frozenset()
    # The bot's web app: where it is reachable from outside (webhooks, review pages, files for Zalo),
    # and where it listens.
    public_url: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8081
    telegram_webhook_secret: str | None = None
    zalo_webhook_secret: str | None = None
    # Signs the chairs' review links (HMAC-SHA256).
    link_secret: str | None = None
    # The bearer token a Prometheus scraper sends to /metrics (no token: no metrics page).
    metrics_token: str | None = None
    # LOG_FORMAT=json: one JSON object per log line; text (the default) reads well in a terminal.
    log_format: str = "text"
    base_dir: Path = Path(".")
    # Several bots on one database ([[tenants]]); `tenant` is the one this config serves (None: a
    # single-tenant deployment, as without [[tenants]]). `web_root`: the address the web app answers on for
    # every tenant (a tenant's own pages live under its `public_url`, web_root/t/<code>).
    tenants: tuple[Tenant, ...] = ()
    tenant: str | None = None
    tenant_existing: bool = False
    web_root: str | None = None

    @property
    def _own_place(self) -> bool:
        """A tenant whose data lives apart from the configured database's default place."""
        return self.tenant is not None and not self.tenant_existing

    @property
    def database_url(self) -> str:
        """A tenant's data on SQLite lives in a file of its own beside the configured one (SQLite has no
        schemas); on PostgreSQL in a schema of its own (`database_schema`) of the configured database."""
        url = self.settings.database_url
        parsed = make_url(url)
        if not self._own_place or parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
            return url
        path = Path(parsed.database or "")
        shown = parsed.set(database=str(path.with_name(f"{path.stem}.{self.tenant}{path.suffix}")))
        return shown.render_as_string(hide_password=False)

    @property
    def database_schema(self) -> str | None:
        """The PostgreSQL schema holding a tenant's tables: every connection of its engine sees only it."""
        if not self._own_place or make_url(self.settings.database_url).get_backend_name() == "sqlite":
            return None
        return f"tenant_{self.tenant}"

    def webhook_url(self, platform: str) -> str:
        """Where the platform posts this bot's updates: /webhook/<platform>, or /webhook/<tenant>/<platform>."""
        root = self.web_root or self.public_url or ""
        return f"{root}/webhook/{self.tenant}/{platform}" if self.tenant else f"{root}/webhook/{platform}"

    @property
    def secrets(self) -> list[str]:
        """What must never appear in a log line."""
        password = str(make_url(self.database_url).password or "")
        # The database password as given and as written in the URL; one of 3 characters or fewer is not
        # redacted (it would blank every such run of letters in the log; such a password is no secret anyway).
        passwords = {password, quote_plus(password)} if len(password) > 3 else set()
        values = (self.telegram_token, self.zalo_token, self.telegram_webhook_secret, self.zalo_webhook_secret,
                  self.link_secret, self.metrics_token, *passwords)  # fmt: skip
        return [value for value in values if value]

    def is_admin(self, platform: str, user_id: str) -> bool:
        return f"{platform}:{user_id}" in self.admins

    @model_validator(mode="after")
    def _unique_names(self) -> Config:
        names = [r.name for r in self.reminders]
        if len(set(names)) != len(names):
            raise ValueError("reminders: each name must be unique")
        codes = [t.code for t in self.tenants]
        if len(set(codes)) != len(codes):
            raise ValueError("tenants: each code must be unique")
        if sum(t.existing for t in self.tenants) > 1:
            raise ValueError("tenants: only one can be the existing deployment (existing = true)")
        return self

    def resolve(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else self.base_dir / path


def _format_validation_error(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return f"{source}: invalid value for '{key}': {first['msg'].removeprefix('Value error, ')}"


def parse_admins(value: str) -> frozenset[str]:
    """SANGKIEN_ADMINS: comma-separated Telegram user ids ("123456"), or "zalo:<id>" / "telegram:<id>"."""
    admins = set()
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        platform, _, user_id = entry.rpartition(":")
        platform = platform.lower() or "telegram"
        valid = (platform == "telegram" and user_id.lstrip("-").isdigit()) or (platform == "zalo" and user_id.isalnum())
        if not valid:
            raise ConfigError(
                f"SANGKIEN_ADMINS: '{entry}' is neither a numeric Telegram user id nor zalo:<Zalo user id>"
            )
        admins.add(f"{platform}:{user_id}")
    return frozenset(admins)


def _log_format(value: str | None) -> str:
    if (value or "text").lower() not in ("text", "json"):
        raise ConfigError(f"LOG_FORMAT must be text or json, not {value!r}")
    return (value or "text").lower()


def _port(value: str | None) -> int:
    if not value:
        return 8081
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise ConfigError(f"WEB_PORT: '{value}' is not a port number")
    return int(value)


SECRET_MIN_LENGTH = 16


def _secret(env: Mapping[str, str], name: str | None) -> str | None:
    """A secret from the environment variable `name`; one shorter than SECRET_MIN_LENGTH is refused (a
    guessable key would let anyone sign review links, post as the platform or read the metrics)."""
    value = (env.get(name) or None) if name else None
    if value is not None and len(value) < SECRET_MIN_LENGTH:
        raise ConfigError(
            f"{name}: at least {SECRET_MIN_LENGTH} characters, random (for example the output of "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return value


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config file (``SANGKIEN_CONFIG`` or ``config.toml``) and apply environment overrides."""
    env = os.environ if environ is None else environ
    path = path or Path(env.get("SANGKIEN_CONFIG") or DEFAULT_CONFIG_PATH)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(
            f"config file not found: {path} (set SANGKIEN_CONFIG or run from the project folder)"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error

    settings = dict(raw.get("settings", {}))
    if env.get("DATABASE_URL"):
        settings["database_url"] = env["DATABASE_URL"]
    admins = parse_admins(env.get("SANGKIEN_ADMINS", ""))
    unknown = set(raw) - {"campaign", "settings", "reminders", "tenants"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown section '{sorted(unknown)[0]}' "
            "(expected [campaign], [settings], [[reminders]], [[tenants]])"
        )
    if "campaign" not in raw:
        raise ConfigError(f"{path}: missing section 'campaign'")
    try:
        return Config(
            campaign=raw["campaign"],
            settings=settings,
            reminders=raw.get("reminders", []),
            tenants=raw.get("tenants", []),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_api_url=(env.get("TELEGRAM_API_URL") or "").rstrip("/") or None,
            zalo_token=env.get("ZALO_BOT_TOKEN") or None,
            zalo_api_url=(env.get("ZALO_API_URL") or "").rstrip("/") or None,
            admins=admins,
            public_url=(env.get("PUBLIC_URL") or "").rstrip("/") or None,
            web_host=env.get("WEB_HOST") or "127.0.0.1",
            web_port=_port(env.get("WEB_PORT")),
            telegram_webhook_secret=_secret(env, "TELEGRAM_WEBHOOK_SECRET"),
            zalo_webhook_secret=_secret(env, "ZALO_WEBHOOK_SECRET"),
            link_secret=_secret(env, "SANGKIEN_LINK_SECRET"),
            metrics_token=_secret(env, "METRICS_TOKEN"),
            log_format=_log_format(env.get("LOG_FORMAT")),
            base_dir=path.resolve().parent,
        )
    except ValidationError as error:
        raise ConfigError(_format_validation_error(error, str(path))) from error


def tenant_config(config: Config, code: str, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration one tenant runs with: the shared file's settings, its own secrets (read from the
    environment variables it names), admins, database place and web address."""
    env = os.environ if environ is None else environ
    tenant = next((t for t in config.tenants if t.code == code), None)
    if tenant is None:
        declared = ", ".join(t.code for t in config.tenants) or "none"
        raise ConfigError(f"unknown tenant {code!r} (declared in [[tenants]]: {declared})")

    def read(name: str | None) -> str | None:
        return (env.get(name) or None) if name else None

    admins = read(tenant.admins_env) or ""
    try:
        parsed_admins = parse_admins(admins)
    except ConfigError as error:
        raise ConfigError(f"tenant {code}: {tenant.admins_env}: {str(error).split(': ', 1)[1]}") from None
    campaign = config.campaign.model_copy(
        update={"organisation": tenant.organisation or tenant.name, "place": tenant.place or "……"}
    )
    return config.model_copy(
        update={
            "campaign": campaign,
            "tenant": tenant.code,
            "telegram_token": read(tenant.telegram_token_env),
            "zalo_token": read(tenant.zalo_token_env),
            "admins": parsed_admins,
            "telegram_webhook_secret": _secret(env, tenant.telegram_webhook_secret_env),
            "zalo_webhook_secret": _secret(env, tenant.zalo_webhook_secret_env),
            "public_url": f"{config.public_url}/t/{tenant.code}" if config.public_url else None,
            # Each tenant signs its review links with a key of its own: a link one tenant signed names an
            # initiative and a member by their numbers, which mean someone else in another tenant's data.
            "link_secret": _tenant_key(config.link_secret, tenant.code)
            if config.link_secret and not tenant.existing
            else config.link_secret,
            "tenant_existing": tenant.existing,
            "web_root": config.public_url,
        }
    )


def _tenant_key(secret: str, code: str) -> str:
    return hmac.new(secret.encode(), f"tenant:{code}".encode(), hashlib.sha256).hexdigest()


def tenant_configs(config: Config, environ: Mapping[str, str] | None = None) -> list[Config]:
    """Every declared tenant's configuration. Two tenants sharing a bot token (their updates would mix) or a
    webhook secret (whoever holds one could post as the other's people) are refused."""
    configs = [tenant_config(config, tenant.code, environ) for tenant in config.tenants]
    for kind, values in (
        ("bot token", lambda t: (t.telegram_token, t.zalo_token)),
        ("webhook secret", lambda t: (t.telegram_webhook_secret, t.zalo_webhook_secret)),
    ):
        seen: dict[str, str] = {}
        for tenant in configs:
            for value in values(tenant):
                if value and value in seen and seen[value] != tenant.tenant:
                    raise ConfigError(f"tenants {seen[value]} and {tenant.tenant} name the same {kind}")
                if value:
                    seen[value] = tenant.tenant or ""
    return configs
