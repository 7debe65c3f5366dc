"""Every unit's id, code and name, in the Vietnamese order of names, with the words a search looks in: read
from the database once a minute at most, not at every page of the registration list or every unit named.

Reading and ordering ten thousand units (a national deployment) took 0.3–0.5 s of the event loop's time on
each such step, everyone else waiting. Units change rarely: an import (storage/branch_import.py) makes this
process read them again once it commits; another process sees the change within `READ_EVERY`.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from domain.text import fold, vietnamese_order
from storage.models import Branch

READ_EVERY = 60.0  # seconds


@dataclass(frozen=True)
class Unit:
    """A unit as lists and searches show it."""

    id: int
    code: str
    name: str
    searched: str  # its name and code folded (domain.text.fold): what a search's words are looked for in


@dataclass(frozen=True)
class _Read:
    units: list[Unit]
    at: float


# One directory per database (each tenant has its own engine), forgotten with its engine.
_directories: weakref.WeakKeyDictionary[Engine, _Read] = weakref.WeakKeyDictionary()


async def units(session: AsyncSession) -> list[Unit]:
    """Every unit, in the Vietnamese order of its name (then its code)."""
    engine = _engine(session.sync_session)
    kept = _directories.get(engine)
    if kept is not None and time.monotonic() - kept.at < READ_EVERY:
        return kept.units
    rows = (await session.execute(select(Branch.id, Branch.code, Branch.name))).all()
    read = sorted((Unit(id, code, name, fold(f"{name} {code}")) for id, code, name in rows),
                  key=lambda unit: (vietnamese_order(unit.name), unit.code))  # fmt: skip
    _directories[engine] = _Read(read, time.monotonic())
    return read


def read_again_after_commit(session: Session) -> None:
    """The units were changed in this session's transaction: read them again once it commits (not before: a
    step between would keep the old list for a minute)."""
    engine = _engine(session)
    event.listen(session, "after_commit", lambda _session: _directories.pop(engine, None), once=True)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine
