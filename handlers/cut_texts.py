"""A long answer a phone app cut into parts. Telegram's apps send a message over 4,096 characters as several,
one right after another. When the first part was refused as too long, the next must not become the answer (a
fragment starting in the middle of a word was saved as «Thực trạng»): it is refused too, saying why."""

from __future__ import annotations

import datetime as dt

from domain.rules import InputError
from handlers.context import Context

CUT_LENGTHS = range(4000, 4097)  # a refused text this long may be the first part of a cut one (at most 4,096)
PARTS_WITHIN = dt.timedelta(seconds=5)
_KEY = "cut_text_at"


def refuse_the_rest(ctx: Context, max_len: int) -> None:
    """Raise `err_too_long_rest` for a text arriving right after a refused one the app may have cut."""
    refused_at = ctx.identity.flow_data.get(_KEY)
    if refused_at and ctx.now() - dt.datetime.fromisoformat(refused_at) <= PARTS_WITHIN:
        raise InputError("err_too_long_rest", {"max": max_len})


def note(ctx: Context, error: InputError | None) -> None:
    """After a text was read: remember when one at the cutting length was refused as too long; else forget."""
    data = ctx.identity.flow_data
    if error is not None and error.key in ("err_too_long", "err_too_long_rest") and len(ctx.event.text) in CUT_LENGTHS:
        ctx.identity.flow_data = {**data, _KEY: ctx.now().isoformat()}
    elif _KEY in data:
        ctx.identity.flow_data = {key: value for key, value in data.items() if key != _KEY}
