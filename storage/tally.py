"""Each branch's initiatives counted per /progress bucket, kept by the database as they change.

A province's /progress needs, per branch, the recognitions its current phase counts, those waiting for
recognition, those waiting for a chair and those in progress. Counting them from a million initiatives
costs a third of a second at every call; `branch_tally` holds the answer instead, one row per branch and
bucket, and triggers on `initiative` move an initiative from one row to another in the same transaction as
the change itself — whatever makes it: a wizard step, a chair's tap, an import, a deletion.

Buckets follow storage/progress.py's rule: `r:<phase code>` for a recognition the phase counts (its
status counted and its decision dated in the phase's counting days: `counting_phase`), for the credited
branch; `waiting` (verified, for the credited branch); `pending` (submitted) and `in_progress` (drafts
and sent back), for the branch it was submitted to. A recognition dated in no phase has no bucket; one
with no credited branch is filed under branch 0 (no unit has it), so it counts in the totals only, as in
the direct count.

`ensure` runs wherever the campaigns are stored (the seed at every start, `sangkien campaign add`): it
(re)creates the triggers when they are missing or not this version's (a SQLite migration rebuilding
`initiative` drops them), rewrites `counting_phase` when the campaigns' phases changed, and compares the
tally's totals with a count of the initiatives; after any of these it counts the tally again. The tally
answers only for a phase `counting_phase` holds with the same days (`covered`); any other is counted from
the initiatives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import ScalarSelect, Select, Subquery, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign, Phase
from storage.models import COUNTED, IN_PROGRESS, BranchTally, CountingPhase, Initiative, Status

log = logging.getLogger(__name__)

WAITING, PENDING, IN_PROGRESS_BUCKET = "waiting", "pending", "in_progress"
NO_BRANCH = 0


def recognised_bucket(phase: Phase) -> str:
    return _recognised(phase.code)


def _recognised(phase_code: str) -> str:
    return f"r:{phase_code}"  # as _bucket_sql writes it


def _names(statuses: Iterable[Status]) -> str:
    return ", ".join(f"'{status.name}'" for status in statuses)  # stored by name (SQLAlchemy's Enum)


def _bucket_sql(row: str) -> str:
    """The bucket of the initiative `row` (NEW, OLD, or the table itself) as SQL both databases run."""
    return (
        f"CASE WHEN {row}.status IN ({_names(COUNTED)}) THEN (SELECT 'r:' || code FROM counting_phase "
        f"WHERE {row}.recognition_date BETWEEN counts_from AND ends LIMIT 1) "
        f"WHEN {row}.status = '{Status.VERIFIED.name}' THEN '{WAITING}' "
        f"WHEN {row}.status = '{Status.SUBMITTED.name}' THEN '{PENDING}' "
        f"WHEN {row}.status IN ({_names(IN_PROGRESS)}) THEN '{IN_PROGRESS_BUCKET}' END"
    )


def _branch_sql(row: str) -> str:
    """The branch it counts for: the credited one once verified, else the one it was submitted to."""
    credited = _names((*COUNTED, Status.VERIFIED))
    return (
        f"CASE WHEN {row}.status IN ({credited}) THEN coalesce({row}.credited_branch_id, {NO_BRANCH}) "
        f"ELSE {row}.branch_id END"
    )


def _add(row: str) -> str:
    return (
        f"INSERT INTO branch_tally (bucket, branch_id, n) SELECT bucket, branch_id, 1 FROM "
        f"(SELECT {_bucket_sql(row)} AS bucket, {_branch_sql(row)} AS branch_id) AS counted "
        f"WHERE bucket IS NOT NULL ON CONFLICT (bucket, branch_id) DO UPDATE SET n = branch_tally.n + 1;"
    )


def _remove(row: str) -> str:
    return f"UPDATE branch_tally SET n = n - 1 WHERE bucket = {_bucket_sql(row)} AND branch_id = {_branch_sql(row)};"


WATCHED = "status, recognition_date, branch_id, credited_branch_id"
SQLITE_TRIGGERS = {
    f"initiative_tally_{event}": f"CREATE TRIGGER initiative_tally_{event} AFTER {when} ON initiative BEGIN {body} END"
    for event, when, body in (
        ("insert", "INSERT", _add("NEW")),
        ("delete", "DELETE", _remove("OLD")),
        ("update", f"UPDATE OF {WATCHED}", f"{_remove('OLD')} {_add('NEW')}"),
    )
}
# PostgreSQL: one function (its tables looked up in the schema it was made in: a tenant's own); a change
# takes its two rows in one order (the lesser key first), so two transactions each moving one initiative
# of a branch in opposite directions cannot deadlock. Both are replaced in place (PostgreSQL 14 or later):
# dropping the trigger would need the table's strongest lock, which waits for every reader.
_OLD_KEY, _NEW_KEY = (f"({_bucket_sql(row)}, {_branch_sql(row)})" for row in ("OLD", "NEW"))
_POSTGRES_FUNCTION = (
    "CREATE OR REPLACE FUNCTION initiative_tally() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT"
)
_POSTGRES_TRIGGER = (
    f"CREATE OR REPLACE TRIGGER initiative_tally AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} ON initiative "
    f"FOR EACH ROW EXECUTE FUNCTION initiative_tally()"
)
# The body names its function's and its trigger's definitions: one comparison of the stored body tells
# whether any of the three is another version's.
POSTGRES_FUNCTION_BODY = f"""
-- {_POSTGRES_FUNCTION}
-- {_POSTGRES_TRIGGER}
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_add("NEW")}
  ELSIF TG_OP = 'DELETE' THEN
    {_remove("OLD")}
  ELSIF {_OLD_KEY} IS DISTINCT FROM {_NEW_KEY} THEN
    IF {_OLD_KEY} < {_NEW_KEY} THEN
      {_remove("OLD")}
      {_add("NEW")}
    ELSE
      {_add("NEW")}
      {_remove("OLD")}
    END IF;
  END IF;
  RETURN NULL;
END
"""
POSTGRES_DDL = [f"{_POSTGRES_FUNCTION} AS $${POSTGRES_FUNCTION_BODY}$$", _POSTGRES_TRIGGER]
REBUILD = (
    f"INSERT INTO branch_tally (bucket, branch_id, n) SELECT bucket, branch_id, count(*) FROM "
    f"(SELECT {_bucket_sql('initiative')} AS bucket, {_branch_sql('initiative')} AS branch_id FROM initiative) "
    f"AS counted WHERE bucket IS NOT NULL GROUP BY bucket, branch_id"
)


async def _triggers_current(session: AsyncSession) -> bool:
    """Whether the triggers exist, enabled, as this version writes them."""
    if session.bind.dialect.name == "sqlite":
        rows = await session.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'initiative'")
        )
        found = {name: sql for name, sql in rows if name.startswith("initiative_tally")}
        return found == SQLITE_TRIGGERS
    body = await session.scalar(
        text(
            "SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgrelid = 'initiative'::regclass AND t.tgname = 'initiative_tally' AND t.tgenabled = 'O'"
        )
    )
    return body == POSTGRES_FUNCTION_BODY


async def _create_triggers(session: AsyncSession) -> None:
    if session.bind.dialect.name == "sqlite":
        found = await session.scalars(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'initiative_tally%'")
        )
        for name in found.all():  # this version's and any other's
            await session.execute(text(f'DROP TRIGGER "{name}"'))
        for create in SQLITE_TRIGGERS.values():
            await session.execute(text(create))
    else:
        for statement in POSTGRES_DDL:
            await session.execute(text(statement))


async def _phases(session: AsyncSession) -> set[tuple]:
    rows = await session.execute(select(CountingPhase.code, CountingPhase.counts_from, CountingPhase.ends))
    return {tuple(row) for row in rows}


async def _totals_agree(session: AsyncSession, phases: set[tuple]) -> bool:
    """The tally's totals per bucket against the initiatives counted by status and decision date (index
    counts): a tally that missed changes (its triggers gone for a while) does not pass."""
    held = {bucket: n for bucket, n in await session.execute(
        select(BranchTally.bucket, func.sum(BranchTally.n)).group_by(BranchTally.bucket)) if n}  # fmt: skip
    by_status = dict((await session.execute(select(Initiative.status, func.count()).group_by(Initiative.status))).all())
    counted = [
        select(func.count()).where(Initiative.status.in_(COUNTED), Initiative.recognition_date.between(start, end))
        for _, start, end in sorted(phases)
    ]
    in_phases = (await session.execute(select(*(c.scalar_subquery() for c in counted)))).one() if counted else ()
    wanted = {
        WAITING: by_status.get(Status.VERIFIED, 0),
        PENDING: by_status.get(Status.SUBMITTED, 0),
        IN_PROGRESS_BUCKET: sum(by_status.get(status, 0) for status in IN_PROGRESS),
        **{_recognised(code): n for (code, _, _), n in zip(sorted(phases), in_phases, strict=True)},
    }
    return held == {bucket: n for bucket, n in wanted.items() if n}


async def ensure(session: AsyncSession, campaigns: Iterable[Campaign]) -> str | None:
    """Make the tally right for these campaigns (see the module's docstring); returns why it was counted
    again, or None. Writers wait while it is (on PostgreSQL `initiative` is locked against writers, never
    readers: none can move an initiative between the count and the commit; an advisory lock makes two bots
    starting at once, or a bot and `sangkien campaign add`, check one after the other)."""
    wanted = {(p.code, p.counting_from, p.end) for campaign in campaigns for p in campaign.phases}

    async def reason() -> str | None:
        if not await _triggers_current(session):
            return "the triggers were missing or out of date"
        if await _phases(session) != wanted:
            return "the campaigns' phases changed"
        if not await _totals_agree(session, wanted):
            return "its totals disagreed with the initiatives"
        return None

    postgres = session.bind.dialect.name == "postgresql"
    if postgres:  # one ensure at a time per schema, before either reads anything
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('sangkien.tally:' || current_schema()))"))
    why = await reason()
    if why is None:
        return None
    if postgres:
        await session.execute(text("LOCK TABLE initiative IN SHARE ROW EXCLUSIVE MODE"))
        why = await reason()
        if why is None:
            return None
    if not await _triggers_current(session):
        await _create_triggers(session)
    await session.execute(CountingPhase.__table__.delete())
    if wanted:
        rows = [{"code": code, "counts_from": start, "ends": end} for code, start, end in sorted(wanted)]
        await session.execute(CountingPhase.__table__.insert(), rows)
    await session.execute(BranchTally.__table__.delete())
    await session.execute(text(REBUILD))
    if postgres:
        await session.execute(text("ANALYZE branch_tally"))  # its new size, for the planner
    log.info("progress tally counted again: %s", why)
    return why


async def covered(session: AsyncSession, phases: Iterable[Phase]) -> set[str]:
    """The codes of those phases the tally counts: stored phases with these very days."""
    days = {phase.code: (phase.counting_from, phase.end) for phase in phases}
    rows = await session.execute(
        select(CountingPhase.code, CountingPhase.counts_from, CountingPhase.ends).where(CountingPhase.code.in_(days))
    )
    return {code for code, counts_from, ends in rows if days[code] == (counts_from, ends)}


def counts(bucket: str, branch_ids: set[int] | None) -> Subquery:
    """Each branch's count in `bucket` (branch_id, n), as storage/progress.py joins it."""
    query: Select = select(BranchTally.branch_id, BranchTally.n).where(BranchTally.bucket == bucket)
    if branch_ids is not None:
        query = query.where(BranchTally.branch_id.in_(branch_ids))
    return query.subquery()


def total(bucket: str, branch_ids: set[int] | None) -> ScalarSelect[int]:
    """The count in `bucket` over the branches (None: all, those credited to no branch too)."""
    query = select(func.coalesce(func.sum(BranchTally.n), 0)).where(BranchTally.bucket == bucket)
    if branch_ids is not None:
        query = query.where(BranchTally.branch_id.in_(branch_ids))
    return query.scalar_subquery()
