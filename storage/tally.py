"""Each branch's initiatives counted per /progress bucket, kept by the database as they change.

A province's /progress needs, per branch, the recognitions its current phase counts, those waiting for
recognition, those waiting for a chair and those in progress. Counting them from a million initiatives
costs a third of a second at every call; `branch_tally` holds the answer instead, one row per branch and
bucket, and triggers on `initiative` (created by migration 0015 from `trigger_ddl`) move an initiative
from one row to another in the same transaction as the change itself — whatever makes it: a wizard step, a
chair's tap, an import, a deletion.

Buckets follow storage/progress.py's rule: `r:<phase code>` for a recognition the phase counts (its
status counted and its decision dated in the phase's counting days: `counting_phase`), for the credited
branch; `waiting` (verified, for the credited branch); `pending` (submitted) and `in_progress` (drafts
and sent back), for the branch it was submitted to. A recognition dated in no phase has no bucket.

`counting_phase` lists every stored campaign's phases; `sync_phases` rewrites it and rebuilds the tally
whenever the campaigns change (the seed at start, `sangkien campaign add`). The tally answers only for a
phase that table holds with the same days (`covered`); any other is counted from the initiatives.

SQLite drops a table's triggers with the table: a migration that rebuilds `initiative` (Alembic's batch
mode) must create them again (`trigger_ddl`). tests/test_tally.py fails if they are missing.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ScalarSelect, Select, Subquery, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Campaign, Phase
from storage.models import COUNTED, IN_PROGRESS, BranchTally, CountingPhase, Status

WAITING, PENDING, IN_PROGRESS_BUCKET = "waiting", "pending", "in_progress"


def recognised_bucket(phase: Phase) -> str:
    return f"r:{phase.code}"


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
    return f"CASE WHEN {row}.status IN ({credited}) THEN {row}.credited_branch_id ELSE {row}.branch_id END"


def _add(row: str) -> str:
    return (
        f"INSERT INTO branch_tally (bucket, branch_id, n) SELECT bucket, branch_id, 1 FROM "
        f"(SELECT {_bucket_sql(row)} AS bucket, {_branch_sql(row)} AS branch_id) AS counted "
        f"WHERE bucket IS NOT NULL AND branch_id IS NOT NULL "
        f"ON CONFLICT (bucket, branch_id) DO UPDATE SET n = branch_tally.n + 1;"
    )


def _remove(row: str) -> str:
    return f"UPDATE branch_tally SET n = n - 1 WHERE bucket = {_bucket_sql(row)} AND branch_id = {_branch_sql(row)};"


WATCHED = "status, recognition_date, branch_id, credited_branch_id"


def trigger_ddl(dialect: str) -> list[str]:
    """The statements creating the triggers that keep `branch_tally` (after `drop_ddl`, to replace them)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER initiative_tally_insert AFTER INSERT ON initiative BEGIN {_add('NEW')} END",
            f"CREATE TRIGGER initiative_tally_delete AFTER DELETE ON initiative BEGIN {_remove('OLD')} END",
            f"CREATE TRIGGER initiative_tally_update AFTER UPDATE OF {WATCHED} ON initiative "
            f"BEGIN {_remove('OLD')} {_add('NEW')} END",
        ]
    # PostgreSQL: one function; a change takes its two rows in one order (the lesser key first), so two
    # transactions moving initiatives of one branch in opposite directions cannot deadlock.
    old_key = f"({_bucket_sql('OLD')}, {_branch_sql('OLD')})"
    new_key = f"({_bucket_sql('NEW')}, {_branch_sql('NEW')})"
    return [
        f"""CREATE FUNCTION initiative_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_add("NEW")}
  ELSIF TG_OP = 'DELETE' THEN
    {_remove("OLD")}
  ELSIF {old_key} IS DISTINCT FROM {new_key} THEN
    IF {old_key} < {new_key} THEN
      {_remove("OLD")}
      {_add("NEW")}
    ELSE
      {_add("NEW")}
      {_remove("OLD")}
    END IF;
  END IF;
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER initiative_tally AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} ON initiative "
        f"FOR EACH ROW EXECUTE FUNCTION initiative_tally()",
    ]


def drop_ddl(dialect: str) -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS initiative_tally_{event}" for event in ("insert", "delete", "update")]
    return ["DROP TRIGGER IF EXISTS initiative_tally ON initiative", "DROP FUNCTION IF EXISTS initiative_tally()"]


REBUILD = (
    f"INSERT INTO branch_tally (bucket, branch_id, n) SELECT bucket, branch_id, count(*) FROM "
    f"(SELECT {_bucket_sql('initiative')} AS bucket, {_branch_sql('initiative')} AS branch_id FROM initiative) "
    f"AS counted WHERE bucket IS NOT NULL AND branch_id IS NOT NULL GROUP BY bucket, branch_id"
)


async def sync_phases(session: AsyncSession, campaigns: Iterable[Campaign]) -> bool:
    """Make `counting_phase` the campaigns' phases and, if it changed, count the tally again from the
    initiatives (writers wait meanwhile: none can move an initiative between the count and the commit).
    Returns whether it changed."""
    wanted = {(p.code, p.counting_from, p.end) for campaign in campaigns for p in campaign.phases}

    async def held() -> set[tuple]:
        rows = await session.execute(select(CountingPhase.code, CountingPhase.counts_from, CountingPhase.ends))
        return {tuple(row) for row in rows}

    if await held() == wanted:
        return False
    if session.bind.dialect.name == "postgresql":
        # Self-exclusive and exclusive of every writer: two bots starting at once rebuild one after the other.
        await session.execute(text("LOCK TABLE initiative IN SHARE ROW EXCLUSIVE MODE"))
        if await held() == wanted:
            return False
    await session.execute(CountingPhase.__table__.delete())
    if wanted:
        await session.execute(
            CountingPhase.__table__.insert(), [{"code": c, "counts_from": f, "ends": e} for c, f, e in sorted(wanted)]
        )
    await session.execute(BranchTally.__table__.delete())
    await session.execute(text(REBUILD))
    return True


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
    """The count in `bucket` over the branches (None: all)."""
    query = select(func.coalesce(func.sum(BranchTally.n), 0)).where(BranchTally.bucket == bucket)
    if branch_ids is not None:
        query = query.where(BranchTally.branch_id.in_(branch_ids))
    return query.scalar_subquery()
