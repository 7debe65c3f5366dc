"""Campaigns as data: the seed (config.toml's [campaign]) and those added later (`sangkien campaign add`).

Unions run such campaigns year after year. Each is stored whole (its phases, targets, types, eligibility
window) under a code. Their counting windows may not overlap and their phase codes are unique: the plan's
rule — a recognised initiative counts in the phase holding its decision's date — then puts every
initiative in exactly one campaign, and a branch's quota (kept per phase code) in one campaign, without
tagging rows. History stays readable: `/progress 2021-2023` shows a closed campaign's final figures.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign
from storage import tally
from storage.models import CampaignRecord

REFRESH_SECONDS = 60.0


class CampaignRejected(ValueError):
    """The campaign cannot be added (or the config's cannot be the seed); the message says why. A ValueError:
    the command line prints it as a configuration error, in one line."""


def conflicts(campaign: Campaign, others: Sequence[Campaign]) -> list[str]:
    """Why `campaign` cannot sit beside `others`: a code taken, a phase code taken, counting windows that
    overlap (an initiative would count in both)."""
    problems = []
    start, end = campaign.counting_window
    for other in others:
        if other.code == campaign.code:
            problems.append(f"the code {campaign.code!r} is taken")
            continue
        shared = {p.code for p in campaign.phases} & {p.code for p in other.phases}
        if shared:
            problems.append(f"phase code {sorted(shared)[0]!r} is used by campaign {other.code!r}")
        other_start, other_end = other.counting_window
        if start <= other_end and other_start <= end:
            problems.append(
                f"it counts recognitions from {start:%d/%m/%Y} to {end:%d/%m/%Y}, which overlaps campaign "
                f"{other.code!r} ({other_start:%d/%m/%Y}–{other_end:%d/%m/%Y})"
            )
    return problems


async def stored(session: AsyncSession) -> list[Campaign]:
    """Every stored campaign, oldest first (by the first day it counts), each with its territory: from the
    day it starts counting (the first: from the beginning of time) to the day before the next one does (the
    last: on and on). A recognition no phase counts is reported apart by the campaign whose territory
    holds its date — by exactly one."""
    records = (await session.scalars(select(CampaignRecord))).all()
    ordered = sorted((Campaign.model_validate(r.definition) for r in records), key=lambda c: c.counting_window)
    return [
        campaign.model_copy(update={
            "territory_from": campaign.counting_window[0] if index else None,
            "territory_until": ordered[index + 1].counting_window[0] - dt.timedelta(days=1)
            if index + 1 < len(ordered) else None,
        })
        for index, campaign in enumerate(ordered)
    ]  # fmt: skip


async def seed(session: AsyncSession, campaign: Campaign) -> None:
    """Store the config's campaign (or update it: the file stays the place to edit the seed). Refused, so the
    bot does not start, when it would count days another campaign counts (its code changed in the file, say)."""
    others = [c for c in await stored(session) if c.code != campaign.code]
    problems = conflicts(campaign, others)
    if problems:
        raise CampaignRejected(
            f"the [campaign] of the config ({campaign.code}) cannot be stored: {'; '.join(problems)}"
        )
    record = await session.scalar(select(CampaignRecord).where(CampaignRecord.code == campaign.code))
    definition = campaign.model_dump(mode="json")
    if record is None:
        session.add(CampaignRecord(code=campaign.code, definition=definition))
    elif record.definition != definition:
        record.definition = definition
    await tally.ensure(session, await stored(session))


async def add(session: AsyncSession, raw: dict[str, object]) -> Campaign:
    """Validate and store a new campaign (a TOML file's [campaign] table); raises CampaignRejected."""
    try:
        campaign = Campaign.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "campaign"
        raise CampaignRejected(f"invalid value for '{key}': {first['msg'].removeprefix('Value error, ')}") from None
    problems = conflicts(campaign, await stored(session))
    if problems:
        raise CampaignRejected("; ".join(problems))
    session.add(CampaignRecord(code=campaign.code, definition=campaign.model_dump(mode="json")))
    await session.flush()
    await tally.ensure(session, await stored(session))
    return campaign


class CampaignBook:
    """The campaigns the bot knows, read from the database at most once a minute (a code asked for and not
    known yet is looked up at once: a campaign added from the command line is usable immediately)."""

    def __init__(self, seed_campaign: Campaign) -> None:
        self.campaigns: tuple[Campaign, ...] = (seed_campaign,)
        self._loaded_at: float | None = None

    async def refresh(self, session: AsyncSession, *, force: bool = False) -> None:
        if not force and self._loaded_at is not None and time.monotonic() - self._loaded_at < REFRESH_SECONDS:
            return
        found = await stored(session)
        if found:
            self.campaigns = tuple(found)
        self._loaded_at = time.monotonic()

    async def find(self, session: AsyncSession, code: str) -> Campaign | None:
        """The campaign with that code (case-insensitive), or None."""
        for attempt in range(2):
            match = next((c for c in self.campaigns if c.code.lower() == code.lower()), None)
            if match is not None or attempt:
                return match
            await self.refresh(session, force=True)
        return None

    def of_initiative(self, recognised_on: dt.date | None, applied_on: dt.date | None, today: dt.date) -> Campaign:
        """The campaign an initiative belongs to: the one counting its recognition's day, else the running
        one if it takes its first-application day, else another that does, else the running one."""
        if recognised_on is not None:
            counting = [c for c in self.campaigns if c.phase_counting(recognised_on) is not None]
            if counting:
                return counting[0]
        running = self.default(today)
        if applied_on is None or running.eligible_from <= applied_on <= running.eligible_until:
            return running
        taking = [c for c in self.campaigns if c.eligible_from <= applied_on <= c.eligible_until]
        return taking[-1] if taking else running

    def open_on(self, today: dt.date) -> list[Campaign]:
        return [c for c in self.campaigns if c.is_open(today)]

    def default(self, today: dt.date) -> Campaign:
        """What /progress, /export and the digests show without a code: the open campaign — the one whose
        phase runs today if several are open (one may take initiatives long before it counts them), else the
        latest to open — else the last one to have ended, else the next to start."""
        running = self.open_on(today)
        counting = [c for c in running if any(p.start <= today <= p.end for p in c.phases)]
        if counting or running:
            return max(counting or running, key=lambda c: c.eligible_from)
        ended = [c for c in self.campaigns if c.phases[-1].end < today]
        if ended:
            return max(ended, key=lambda c: c.phases[-1].end)
        return min(self.campaigns, key=lambda c: c.eligible_from)
