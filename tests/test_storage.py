"""Storage on SQLite and on a real PostgreSQL: migrations, constraints, the queries conversations use."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, event, func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError, SAWarning
from sqlalchemy.orm.exc import StaleDataError

from bot.config import Config
from storage import claims, decisions, housekeeping, personal_data, processes, queries, sqlite_driver
from storage.engine import (
    alembic_config,
    create_engine,
    open_database,
    reading_engine,
    session_factory,
    upgrade_database,
)
from storage.models import (
    AuditEvent,
    Author,
    Base,
    BotProcess,
    Branch,
    Identity,
    Initiative,
    ProcessedUpdate,
    ReminderRun,
    Role,
    Status,
)
from tests.harness import SAMPLE_BRANCHES

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def sessions(database_url: str):
    engine = create_engine(database_url)
    await upgrade_database(engine)
    yield session_factory(engine)
    await engine.dispose()


async def test_migrations_create_every_table_and_are_idempotent(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade_database(engine)
    await upgrade_database(engine)
    async with engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        drift = await connection.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    await engine.dispose()
    assert {"branch", "branch_quota", "member", "member_role", "identity", "initiative", "author", "attachment",
            "audit_event", "processed_update", "outbox", "chair_invite", "chat_group", "reminder_run",
            "broadcast", "option_menu", "stored_file", "link_code"} <= tables  # fmt: skip
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert drift == [], "the models and the migrations disagree: write a migration"


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    await engine.dispose()


async def test_an_old_sqlite_database_upgrades_keeping_every_row_and_its_foreign_keys(tmp_path) -> None:
    """Migration 0008 copies the member and initiative tables (SQLite's batch mode) and drops the old ones:
    with foreign keys on, the drop of a referenced table failed, or deleted the rows referencing it."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/old.db")
    await upgrade_database(engine, "0007")
    day = "2022-01-01"
    async with engine.begin() as connection:
        for statement in (
            "INSERT INTO branch (id, code, name, is_sample) VALUES (1, 'BV', 'Bệnh viện', 0)",
            f"INSERT INTO member (id, full_name, branch_id, created_at) VALUES (1, 'Lan', 1, '{day}')",
            "INSERT INTO initiative (id, member_id, branch_id, status, title, created_at, updated_at, "
            f"editing_from_summary) VALUES (1, 1, 1, 'draft', 'Sổ tay', '{day}', '{day}', 0)",
            "INSERT INTO author (initiative_id, position, full_name, share_percent) VALUES (1, 1, 'Lan', 100)",
            f"INSERT INTO audit_event (initiative_id, action, created_at) VALUES (1, 'created', '{day}')",
        ):
            await connection.execute(text(statement))
    await upgrade_database(engine)
    async with engine.connect() as connection:
        counts = [(await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
                  for table in ("member", "initiative", "author", "audit_event")]  # fmt: skip
        assert (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1, "on again after"
    await engine.dispose()
    assert counts == [1, 1, 1, 1]


async def test_sqlite_statements_give_back_rows_counts_ids_and_errors(tmp_path) -> None:
    """storage/sqlite_driver.py runs the statements on the event loop's thread through sqlite3 itself: what
    SQLAlchemy reads after a statement (rows, rowcount, lastrowid, a refused row) is the statement's own, and a
    streamed read still streams."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert engine.dialect.driver == "inloop"
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        inserted = await connection.exec_driver_sql("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')")
        assert (inserted.rowcount, inserted.lastrowid) == (3, 3)
        assert (await connection.exec_driver_sql("UPDATE t SET name = name || '!' WHERE id > 1")).rowcount == 2
        rows = await connection.execute(text("SELECT id, name FROM t ORDER BY id"))
        assert list(rows.keys()) == ["id", "name"] and rows.all() == [(1, "a"), (2, "b!"), (3, "c!")]
        streamed = await connection.stream(text("SELECT name FROM t ORDER BY id"))
        assert [name async for name in streamed.scalars()] == ["a", "b!", "c!"]
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.exec_driver_sql("INSERT INTO t (name) VALUES ('d')")
            await connection.exec_driver_sql("INSERT INTO t (name) VALUES ('a')")
    async with engine.connect() as connection:  # the refused row rolled its transaction back, 'd' with it
        assert (await connection.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all() == ["a", "b!", "c!"]
    await engine.dispose()


async def test_a_sqlite_writer_waits_for_another_process_lock_without_stopping_the_bot(tmp_path, monkeypatch) -> None:
    """Another process holding SQLite's write lock (a command-line import) makes a writing transaction wait
    at its BEGIN IMMEDIATE while the event loop goes on serving everyone else; the transaction then runs. One
    that waits longer than LOCK_PATIENCE fails with "locked", and the next begins afresh."""
    path = tmp_path / "x.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")

        async def write(value: int) -> None:
            async with engine.begin() as connection:
                await connection.exec_driver_sql(f"INSERT INTO t VALUES ({value})")

        writer = asyncio.create_task(write(1))
        ticks = 0
        while ticks < 20:  # the loop runs other work meanwhile (a BEGIN blocking in C would stop it)
            await asyncio.sleep(0.01)
            ticks += 1
            assert not writer.done()
        other.execute("INSERT INTO t VALUES (7)")
        other.execute("COMMIT")
        await asyncio.wait_for(writer, timeout=10)
        assert other.execute("SELECT id FROM t ORDER BY id").fetchall() == [(1,), (7,)]

        monkeypatch.setattr(sqlite_driver, "LOCK_PATIENCE", 0.2)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"):
            await asyncio.wait_for(write(2), timeout=10)
        other.execute("ROLLBACK")
        await write(3)
        assert other.execute("SELECT id FROM t ORDER BY id").fetchall() == [(1,), (3,), (7,)]
    finally:
        other.close()
        await engine.dispose()


async def test_a_long_read_holds_no_write_lock_and_a_writer_holds_it_from_its_begin(tmp_path) -> None:
    """An export reads on the reading engine, whose transactions begin DEFERRED: another process (or the bot's
    own connection) writes meanwhile. Every other transaction takes the write lock at its BEGIN."""
    path = tmp_path / "locks.db"
    engine = await open_database(f"sqlite+aiosqlite:///{path}")
    reader = reading_engine(engine)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)

    def other_can_write() -> bool:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
            return False
        other.execute("ROLLBACK")
        return True

    try:
        async with session_factory(reader)() as session, session.begin():
            assert await session.scalar(select(func.count()).select_from(Branch)) == 0
            assert other_can_write()
        async with session_factory(engine)() as session, session.begin():
            await session.connection()
            assert not other_can_write()
        assert other_can_write()
    finally:
        other.close()
        await reader.dispose()
        await engine.dispose()


async def test_a_result_left_half_read_or_a_connection_left_unclosed_never_blocks_the_next_write(
    tmp_path, monkeypatch
) -> None:
    """On the event loop's thread (storage/sqlite_driver.py): a result read only in part must not keep its
    statement open — its old snapshot made the next BEGIN IMMEDIATE fail once another process had written —
    and a connection dropped without being closed (its holder garbage-collected) must not keep the write lock."""
    monkeypatch.setattr(sqlite_driver, "LOCK_PATIENCE", 1.0)
    path = tmp_path / "x.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
        await connection.exec_driver_sql("INSERT INTO t VALUES (1), (2), (3)")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with engine.connect() as connection:
            half_read = await connection.execute(text("SELECT id FROM t ORDER BY id"))
            assert half_read.fetchone() == (1,)
            await connection.commit()
            other.execute("INSERT INTO t VALUES (4)")  # another process writes meanwhile
            await connection.exec_driver_sql("INSERT INTO t VALUES (5)")
            await connection.commit()
            assert half_read.fetchall() == [(2,), (3,)], "the rest as they were when it ran"

        dropped = await engine.connect()
        await dropped.begin()
        await dropped.exec_driver_sql("INSERT INTO t VALUES (6)")
        del dropped
        with pytest.warns(SAWarning, match="non-checked-in connection"):
            gc.collect()
        async with engine.begin() as connection:
            await connection.exec_driver_sql("INSERT INTO t VALUES (7)")
        assert other.execute("SELECT id FROM t ORDER BY id").fetchall() == [(1,), (2,), (3,), (4,), (5,), (7,)]
    finally:
        other.close()
        await engine.dispose()


NOW = dt.datetime(2022, 4, 20, 3, tzinfo=dt.UTC)


async def test_an_update_is_claimed_once(sessions) -> None:
    async with sessions() as session, session.begin():
        assert await claims.claim_update(session, "telegram", "1001", NOW)
        assert not await claims.claim_update(session, "telegram", "1001", NOW)
        assert await claims.claim_update(session, "zalo", "1001", NOW)
    async with sessions() as session, session.begin():
        assert not await claims.claim_update(session, "telegram", "1001", NOW)


async def test_claims_record_the_runtimes_time_and_start_with_no_recipients(sessions) -> None:
    """The bot's clock (not the machine's) stamps a claim: the tests and the sandbox move that clock."""
    later = NOW + dt.timedelta(minutes=5)
    async with sessions() as session, session.begin():
        assert await claims.claim_update(session, "telegram", "3003", NOW)
        assert await claims.claim_reminder_period(session, "digest", NOW, later)
        assert await claims.claim_reminder_period(session, "countdown", NOW, later, skipped=True)
        assert not await claims.claim_reminder_period(session, "digest", NOW, later)
    async with sessions() as session:
        assert (await session.get(ProcessedUpdate, ("telegram", "3003"))).processed_at == NOW
        runs = {run.reminder: run for run in await session.scalars(select(ReminderRun))}
    assert (runs["digest"].due_at, runs["digest"].ran_at, runs["digest"].recipients) == (NOW, later, 0)
    assert (runs["digest"].skipped, runs["countdown"].skipped) == (False, True)


async def test_a_claim_commits_with_the_work_it_guards_or_not_at_all(sessions) -> None:
    """A handler that fails after claiming its update leaves it unclaimed, so the redelivery is handled
    (on SQLite the claim used to commit on its own: the driver emitted no BEGIN before a savepoint)."""

    class HandlerFailed(Exception):
        pass

    for savepoint_first in (True, False):
        with pytest.raises(HandlerFailed):
            async with sessions() as session, session.begin():
                if savepoint_first:  # as the first write of a transaction, the case the driver got wrong
                    async with session.begin_nested():
                        session.add(AuditEvent(action="created"))
                assert await claims.claim_update(session, "telegram", "2002", NOW)
                async with session.begin_nested():
                    session.add(AuditEvent(action="created"))
                raise HandlerFailed
    async with sessions() as session, session.begin():
        assert await claims.claim_update(session, "telegram", "2002", NOW), "the failed handler's claim was kept"
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == 0


async def test_the_processes_alive_are_counted_and_one_stopped_or_silent_drops_out(sessions) -> None:
    """What the processes serving one bot share their sending limits by (bot/limit_sharing.py)."""
    start = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    second = dt.timedelta(seconds=1)
    assert await processes.beat(sessions, "a", start) == 1
    assert await processes.beat(sessions, "b", start + second) == 2
    assert not await processes.counted_by_all(sessions, "b", start + second), "a has not beaten since b's beat"
    assert await processes.beat(sessions, "a", start + processes.BEAT) == 2, "a's beat again is not a third process"
    assert await processes.counted_by_all(sessions, "b", start + second), "a has counted b"
    silent_b = start + second + processes.LEASE + second
    assert await processes.beat(sessions, "a", silent_b) == 1, "b went silent: its lease has passed"
    assert await processes.counted_by_all(sessions, "a", silent_b + second), "b, gone, is waited for by nobody"
    assert await processes.beat(sessions, "b", silent_b + second) == 2, "b is back"
    await processes.leave(sessions, "b")
    assert await processes.beat(sessions, "a", silent_b + 2 * second) == 1, "b stopped"
    await processes.beat(sessions, "crashed", silent_b)
    await processes.beat(sessions, "a", silent_b + processes.FORGOTTEN + second)
    async with sessions() as session:
        assert set(await session.scalars(select(BotProcess.token))) == {"a"}, "a crashed process's row went"


async def test_sample_branches_load_with_quotas_per_phase(sessions, config: Config) -> None:
    async with sessions() as session, session.begin():
        assert await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign) == 160
    async with sessions() as session:
        branch = await queries.branch_by_code(session, "mau002")
        assert branch is not None and branch.name.startswith("[MẪU]") and branch.is_sample
        quotas = {q.phase_code: q.quota for q in await branch.awaitable_attrs.quotas}
        assert quotas == {"p1": 2, "p2": 3}
        assert await queries.branch_count(session) == 160


async def test_units_are_listed_in_vietnamese_order(sessions) -> None:
    """Đ follows D and Ủ follows U: the database's codepoint order put «Đài…» and «Ủy ban…» after «Trường…»."""
    async with sessions() as session, session.begin():
        for code, name in (("U1", "Ủy ban phường"), ("T1", "Trường Tiểu học"), ("D1", "Đài Phát thanh"),
                           ("B1", "Bệnh viện Đa khoa"), ("D2", "Dân số")):  # fmt: skip
            session.add(Branch(code=code, name=name))
    async with sessions() as session:
        names = [branch.name for branch in await queries.all_branches(session)]
    assert names == ["Bệnh viện Đa khoa", "Dân số", "Đài Phát thanh", "Trường Tiểu học", "Ủy ban phường"]


async def test_one_identity_per_platform_account_and_member_registration(sessions, config: Config) -> None:
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        branch = await queries.branch_by_code(session, "MAU001")
        identity = await queries.get_or_create_identity(session, "telegram", "77", "77", "Hoa", "vi")
        again = await queries.get_or_create_identity(session, "telegram", "77", "77", "Hoa N.", "vi")
        assert again.id == identity.id and again.display_name == "Hoa N."
        member = await queries.register_member(session, identity, "Nguyễn Thị Hoa", branch)
    async with sessions() as session:
        stored = await session.scalar(select(Identity).where(Identity.platform_user_id == "77"))
        assert stored.member_id == member.id
        roles = await (await session.get(type(member), member.id)).awaitable_attrs.roles
        assert [(r.role, r.branch_id) for r in roles] == [(Role.MEMBER, branch.id)]
    async with sessions() as session:
        session.add(Identity(platform="telegram", platform_user_id="77", chat_id="77", flow_data={}))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_a_broadcast_reaches_each_person_once_on_the_account_used_last(sessions, config: Config) -> None:
    """Found on a phone walk: "tất cả chủ tịch CĐCS — 2 nơi nhận" was one chair with Telegram and Zalo."""
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        branch = await queries.branch_by_code(session, "MAU001")
        on_telegram = await queries.get_or_create_identity(session, "telegram", "71", "71", "Hà", "vi")
        chair = await queries.register_member(session, on_telegram, "Phạm Thu Hà", branch)
        await queries.add_role(session, chair, Role.CHAIR, branch.id)
        on_zalo = await queries.get_or_create_identity(session, "zalo", "z71", "z71", "Hà", "vi")
        on_zalo.member_id = chair.id
        member_identity = await queries.get_or_create_identity(session, "telegram", "72", "72", "Bình", "vi")
        await queries.register_member(session, member_identity, "Trần Thị Bình", branch)
        await session.flush()
    async with sessions() as session, session.begin():  # she linked Zalo, then wrote on Telegram again
        await session.execute(update(Identity).where(Identity.platform_user_id == "71")
                              .values(updated_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)))  # fmt: skip
    async with sessions() as session:
        assert await queries.broadcast_recipients(session, "chairs") == [("telegram", "71")]
        assert await queries.broadcast_recipients(session, "members") == [("telegram", "71"), ("telegram", "72")]
        assert await queries.broadcast_recipients(session, "chairs", {branch.id + 1}) == []


async def test_drafts_submissions_and_ownership(sessions, config: Config) -> None:
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        branch = await queries.branch_by_code(session, "MAU001")
        owner_identity = await queries.get_or_create_identity(session, "telegram", "1", "1", "", "vi")
        other_identity = await queries.get_or_create_identity(session, "telegram", "2", "2", "", "vi")
        owner = await queries.register_member(session, owner_identity, "Nguyễn Thị Hoa", branch)
        other = await queries.register_member(session, other_identity, "Lê Văn Tám", branch)
        first = await queries.create_draft(session, owner, "title")
        second = await queries.create_draft(session, owner, "title")
        first.title = "Số hoá hồ sơ một cửa"
        first.economic_amount_vnd = 15_000_000_000
        first.first_applied_on = dt.date(2021, 9, 1)
        authors = [Author(full_name="Nguyễn Thị Hoa", share_percent=70, member_id=owner.id),
                   Author(full_name="Trần Văn Bình", share_percent=30)]  # fmt: skip
        queries.replace_authors(first, authors, research=False)
        queries.submit(session, first, owner, dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC), {"title": first.title})
    async with sessions() as session, session.begin():
        assert await queries.member_initiative(session, other.id, first.id) is None
        mine = await queries.member_initiative(session, owner.id, first.id)
        assert mine.status == Status.SUBMITTED and mine.economic_amount_vnd == 15_000_000_000
        assert [(a.full_name, a.share_percent) for a in mine.authors] == [("Nguyễn Thị Hoa", 70), ("Trần Văn Bình", 30)]
        assert [d.id for d in await queries.member_drafts(session, owner.id)] == [second.id]
        assert [s.id for s in await queries.member_submissions(session, owner.id)] == [first.id]
        await queries.delete_draft(session, second, owner)
    async with sessions() as session:
        assert await session.get(Initiative, second.id) is None
        actions = (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all()
        assert actions.count("submitted") == 1 and "draft_deleted" in actions


async def test_erasure_keeps_what_an_officer_entered_for_members_and_unnames_him_on_others_work(
    sessions, config: Config
) -> None:
    """Found by an attacker's pass: an officer who erased his data deleted the initiatives he had entered for
    members (they were "his" by `member_id`), and a co-author's name stayed on others' pending work."""
    now = dt.datetime(2026, 11, 25, 3, 0, tzinfo=dt.UTC)
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        branch = await queries.branch_by_code(session, "MAU001")
        officer = await queries.register_member(
            session, await queries.get_or_create_identity(session, "telegram", "1", "1", "", "vi"), "Lê Cán Bộ", branch
        )
        member = await queries.register_member(
            session, await queries.get_or_create_identity(session, "telegram", "2", "2", "", "vi"), "Hà Thị Hai", branch
        )
        entered = await queries.create_draft(session, officer, "title", for_branch=branch)
        queries.replace_authors(entered, [Author(full_name="Hà Thị Hai", share_percent=100)], research=False)
        queries.submit(session, entered, officer, now, {})
        entered_draft = await queries.create_draft(session, officer, "title", for_branch=branch)
        own = await queries.create_draft(session, officer, "title")
        queries.submit(session, own, officer, now, {})
        others = await queries.create_draft(session, member, "title")
        queries.replace_authors(others, [Author(full_name="Hà Thị Hai", share_percent=60, member_id=member.id),
                                         Author(full_name="Lê Cán Bộ", share_percent=40, member_id=officer.id)],
                                research=False)  # fmt: skip
        queries.submit(session, others, member, now, {})
        erased = await personal_data.erase(session, officer, now)
    assert (erased.kept, erased.deleted, erased.unnamed_in) == (1, 2, ((others.id, "", member.id),))
    async with sessions() as session:
        assert await session.get(Initiative, entered.id) is not None, "the members' work stays with the branch"
        assert await session.get(Initiative, entered_draft.id) is None and await session.get(Initiative, own.id) is None
        names = (await session.scalars(select(Author.full_name).where(Author.initiative_id == others.id))).all()
    assert sorted(names) == sorted(["Hà Thị Hai", "(đã xoá)"])


async def _a_draft_and_its_identity(sessions, config: Config, user_id: str) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        identity = await queries.get_or_create_identity(session, "telegram", user_id, user_id, "", "vi")
        member = await queries.register_member(session, identity, "Nguyễn Thị Hoa", await queries.branch_by_code(
            session, "MAU001"))  # fmt: skip
        draft = await queries.create_draft(session, member, "title")
        return identity.id, draft.id


def _flushes_through_the_unit_of_work(session) -> list[int]:
    """A list that gains an element whenever the ORM's unit of work writes something in this session."""
    written: list[int] = []
    event.listen(session.sync_session, "after_flush", lambda *_: written.append(1))
    return written


async def test_a_step_that_only_changes_columns_is_written_as_plain_updates(sessions, config: Config) -> None:
    """storage/plain_updates.py: a draft's answer and the person's conversation state, changed together,
    are stored (with the draft's updated_at from the session's clock) without the ORM's unit of work."""
    identity_id, draft_id = await _a_draft_and_its_identity(sessions, config, "41")
    clock = dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC)
    clocked = session_factory(sessions.kw["bind"], clock=lambda: clock)
    async with clocked() as session, session.begin():
        written = _flushes_through_the_unit_of_work(session)
        identity = await session.get(Identity, identity_id)
        draft = await session.get(Initiative, draft_id)
        draft.title, draft.current_step, draft.economic_amount_vnd = "Số hoá hồ sơ một cửa", "type", 15_000_000
        identity.flow, identity.flow_data = "wizard", {"draft": draft_id}
        identity.language = identity.language  # set to what it was: nothing to write
    assert written == []
    async with sessions() as session:
        draft = await session.get(Initiative, draft_id)
        identity = await session.get(Identity, identity_id)
        assert (draft.title, draft.current_step, draft.economic_amount_vnd) == (
            "Số hoá hồ sơ một cửa",
            "type",
            15_000_000,
        )
        assert draft.updated_at.replace(tzinfo=dt.UTC) == clock
        assert (identity.flow, identity.flow_data, identity.language) == ("wizard", {"draft": draft_id}, "vi")


async def test_a_flush_with_more_than_changed_columns_goes_to_the_unit_of_work(sessions, config: Config) -> None:
    identity_id, draft_id = await _a_draft_and_its_identity(sessions, config, "42")
    async with sessions() as session, session.begin():
        written = _flushes_through_the_unit_of_work(session)
        draft = await queries.member_initiative(session, (await session.get(Identity, identity_id)).member_id,
                                                draft_id)  # fmt: skip
        draft.title = "Số hoá hồ sơ một cửa"
        draft.authors.append(Author(full_name="Trần Văn Bình", share_percent=100, position=0))
    assert written == [1]
    async with sessions() as session:
        draft = await queries.member_initiative(session, (await session.get(Identity, identity_id)).member_id, draft_id)
        assert draft.title == "Số hoá hồ sơ một cửa" and [a.full_name for a in draft.authors] == ["Trần Văn Bình"]


async def test_a_change_inside_a_rolled_back_savepoint_is_forgotten_in_memory_too(sessions, config: Config) -> None:
    """A savepoint's changes go to the unit of work: rolling it back expires what was written in it, so the
    rest of the transaction reads the stored value again, not the one rolled back."""
    identity_id, _ = await _a_draft_and_its_identity(sessions, config, "44")
    async with sessions() as session, session.begin():
        identity = await session.get(Identity, identity_id)
        with contextlib.suppress(LookupError):
            async with session.begin_nested():
                identity.flow = "inside"
                await session.flush()
                raise LookupError
        assert await identity.awaitable_attrs.flow is None


async def test_a_plain_update_of_a_row_deleted_meanwhile_fails_as_the_orms_would(sessions, config: Config) -> None:
    _, draft_id = await _a_draft_and_its_identity(sessions, config, "43")
    async with sessions() as session:
        draft = await session.get(Initiative, draft_id)
        await session.commit()  # (SQLite's one connection is free again; the session keeps the draft)
        async with sessions() as other, other.begin():
            await other.execute(delete(AuditEvent).where(AuditEvent.initiative_id == draft_id))
            await other.execute(delete(Initiative).where(Initiative.id == draft_id))
        draft.title = "Số hoá hồ sơ một cửa"
        with pytest.raises(StaleDataError):
            await session.commit()


async def test_foreign_keys_are_enforced(sessions) -> None:
    async with sessions() as session:
        session.add(Initiative(member_id=999, branch_id=999, status=Status.DRAFT))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_generated_files_expire_and_are_forgotten_while_photos_people_sent_stay(sessions) -> None:
    from storage import files

    now = dt.datetime(2022, 4, 20, 3, tzinfo=dt.UTC)
    async with sessions() as session, session.begin():
        form = await files.store(session, b"PK docx", "mo-ta.docx", "application/msword", now, dt.timedelta(days=30))
        photo = await files.store(session, b"\x89PNG", "anh.png", "image/png", now)
    later = now + dt.timedelta(days=31)
    async with sessions() as session, session.begin():
        assert (await files.by_token(session, form.token, now)).content == b"PK docx"
        assert await files.by_token(session, form.token, later) is None, "an expired link serves nothing"
    assert await housekeeping.prune(sessions, later) == {"stored_file": 1}
    async with sessions() as session:
        assert (await files.by_token(session, photo.token, later)).file_name == "anh.png"
        assert await session.scalar(text("SELECT count(*) FROM stored_file")) == 1


async def test_pruning_keeps_each_table_to_its_retention_in_batches(sessions) -> None:
    """Handled update ids older than 8 days (a review link, whose nonce is one, lives 7), menus older than
    60, link codes a day past expiry, LIENKET attempts older than 7 days, unused invitations a month past
    expiry: gone, in batches of 3; the rest stays, to the row."""
    from handlers import review_links
    from storage.models import Branch, ChairInvite, InboxUpdate, LinkAttempt, LinkCode, Member, OptionMenu

    now = dt.datetime(2022, 5, 20, 3, tzinfo=dt.UTC)
    day = dt.timedelta(days=1)
    async with sessions() as session, session.begin():
        branch = Branch(code="BV01", name="Bệnh viện Đa khoa tỉnh")
        session.add(branch)
        await session.flush()
        member = Member(full_name="Lê Văn Tâm", branch_id=branch.id)
        session.add(member)
        await session.flush()
        # 7 past their time, 3 within it (8 days exactly is kept)
        for number, age in enumerate((9, 10, 11, 12, 13, 14, 400, 0, 1, 8)):
            session.add(ProcessedUpdate(platform="telegram", update_key=str(number), processed_at=now - day * age))
        for number, age in enumerate((61, 61, 59, 0)):
            session.add(OptionMenu(platform="zalo", chat_id=str(number), ref="", options=[["Có", "y"]],
                                   created_at=now - day * age))  # fmt: skip
        for number, expired in enumerate((2, 0.5, -1)):
            session.add(LinkCode(code=f"C{number}", member_id=member.id, created_at=now - day * 3,
                                 expires_at=now - day * expired))  # fmt: skip
        for age in (8, 6):
            session.add(LinkAttempt(platform="telegram", platform_user_id="5", code="X", created_at=now - day * age))
        for number, (expired, used) in enumerate(((31, False), (31, True), (29, False))):
            used_at = now - day * 40 if used else None
            session.add(ChairInvite(token=f"t{number}", branch_id=branch.id, created_by="admin",
                                    expires_at=now - day * expired, used_at=used_at))  # fmt: skip
        # The inbox: "7" was handled (claimed above), "new" not yet, "stale" not in a day.
        for key, age in (("7", 0), ("new", 0), ("stale", 2)):
            session.add(InboxUpdate(platform="telegram", update_key=key, payload="{}", received_at=now - day * age))

    assert await housekeeping.prune(sessions, now, batch=3) == {
        "processed_update": 7, "option_menu": 2, "link_code": 1, "link_attempt": 1, "chair_invite": 1,
        "inbox_update": 2,
    }  # fmt: skip
    async with sessions() as session:
        kept_updates = set(await session.scalars(select(ProcessedUpdate.update_key)))
        kept_menus = set(await session.scalars(select(OptionMenu.chat_id)))
        kept_codes = set(await session.scalars(select(LinkCode.code)))
        kept_invites = set(await session.scalars(select(ChairInvite.token)))
        kept_inbox = set(await session.scalars(select(InboxUpdate.update_key)))
    assert kept_updates == {"7", "8", "9"}
    assert housekeeping.UPDATE_IDS_KEPT > review_links.LIFETIME, "a used review link's nonce outlives the link"
    assert kept_menus == {"2", "3"}
    assert kept_codes == {"C1", "C2"}
    assert kept_invites == {"t1", "t2"}, "a used invitation is history; an unused one goes a month after expiry"
    assert kept_inbox == {"new"}, "an update not handled yet stays in the inbox for a day"
    assert await housekeeping.prune(sessions, now, batch=3) == {}, "a second prune finds nothing"


async def test_concurrent_decisions_from_separate_connections_make_exactly_one(
    database_url: str, config: Config
) -> None:
    """Eight chairs' presses at once, each on its own connection from two separate engines (as two bot
    processes would be): exactly one decision, one audit row. (A read-then-update would let several win on
    PostgreSQL; SQLite serialises writers, whose transactions begin IMMEDIATE.)"""
    engines = [create_engine(database_url), create_engine(database_url)]
    await upgrade_database(engines[0])
    factories = [session_factory(engine) for engine in engines]
    async with factories[0]() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        branch = await queries.branch_by_code(session, "MAU001")
        identity = await queries.get_or_create_identity(session, "telegram", "1", "1", "", "vi")
        member = await queries.register_member(session, identity, "Nguyễn Thị Hoa", branch)
    try:
        for _ in range(5):
            async with factories[0]() as session, session.begin():
                initiative = await queries.create_draft(session, member, "title")
                queries.submit(session, initiative, member, NOW, {})

            async def press(number: int, initiative_id: int = initiative.id) -> bool:
                async with factories[number % 2]() as session, session.begin():
                    return await decisions.decide(session, initiative_id, Status.VERIFIED, member, None, NOW)

            results = await asyncio.gather(*(press(n) for n in range(8)))
            assert results.count(True) == 1
            async with factories[1]() as session:
                decided = await session.scalar(select(func.count()).select_from(AuditEvent).where(
                    AuditEvent.initiative_id == initiative.id, AuditEvent.action == "decided"))  # fmt: skip
            assert decided == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_an_unreachable_database_is_told_apart_from_a_refused_query(tmp_path) -> None:
    """What the channels retry for a minute (bot/channels/dispatch.py): a database that cannot be reached —
    not a constraint it enforces, nor a network error that is not the database's."""
    from aiohttp import ClientOSError
    from sqlalchemy.exc import OperationalError

    from storage.engine import database_unreachable
    from tests.postgres import _free_port

    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{_free_port()}/nothing")
    try:
        with pytest.raises(Exception) as refused:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert database_unreachable(refused.value), repr(refused.value)

    class Starting(Exception):
        sqlstate = "57P03"  # the database system is starting up

    assert database_unreachable(OperationalError("SELECT 1", {}, Starting()))
    sqlite_engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    await upgrade_database(sqlite_engine)
    sessions = session_factory(sqlite_engine)
    with pytest.raises(IntegrityError) as duplicate:
        async with sessions() as session, session.begin():
            session.add_all(
                [ProcessedUpdate(platform="t", update_key="1"), ProcessedUpdate(platform="t", update_key="1")]
            )
    await sqlite_engine.dispose()
    assert not database_unreachable(duplicate.value), "a refused write is not retried"
    assert not database_unreachable(ClientOSError(111, "Connect call failed")), "nor a platform's outage"


@pytest.mark.postgres
async def test_a_deadlock_is_told_apart_and_the_update_tried_again(postgres_server, monkeypatch) -> None:
    """Two transactions taking two rows in opposite orders: PostgreSQL rolls one back (40P01). Nothing of it
    remains, so the channels try its update again (bot/channels/dispatch.py), as for an unreachable database."""
    from sqlalchemy.exc import DBAPIError

    from bot.channels import dispatch
    from handlers.events import Event, EventKind, Reply
    from storage.engine import database_unreachable, transaction_rolled_back
    from storage.models import Branch

    engine = create_engine(postgres_server.create_database())
    await upgrade_database(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        session.add_all([Branch(id=1, code="A", name="A"), Branch(id=2, code="B", name="B")])
    first_locked, second_locked = asyncio.Event(), asyncio.Event()

    async def take(first: int, second: int, mine: asyncio.Event, theirs: asyncio.Event) -> None:
        async with sessions() as session, session.begin():
            await session.execute(text("UPDATE branch SET name = name WHERE id = :id"), {"id": first})
            mine.set()
            await asyncio.wait_for(theirs.wait(), 10)
            await session.execute(text("UPDATE branch SET name = name WHERE id = :id"), {"id": second})

    try:
        outcomes = await asyncio.wait_for(asyncio.gather(
            take(1, 2, first_locked, second_locked), take(2, 1, second_locked, first_locked), return_exceptions=True,
        ), 30)  # fmt: skip
    finally:
        await engine.dispose()
    (deadlock,) = [outcome for outcome in outcomes if outcome is not None]
    assert isinstance(deadlock, DBAPIError) and transaction_rolled_back(deadlock), repr(deadlock)
    assert not database_unreachable(deadlock)

    tries: list[Event] = []

    async def deadlocked_once(services, event: Event) -> list[Reply]:
        tries.append(event)
        if len(tries) == 1:
            raise deadlock
        return [Reply(text="ok")]

    monkeypatch.setattr(dispatch, "handle_event", deadlocked_once)
    event = Event(platform="telegram", update_key="7", user_id="1", chat_id="1", kind=EventKind.TEXT, text="x")
    assert await asyncio.wait_for(dispatch.handle_counted(None, event), 30) == [Reply(text="ok")]
    assert len(tries) == 2, "tried again once"
