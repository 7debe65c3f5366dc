"""Long lists shown a page at a time, with «◀️ Trang trước» and «Trang sau ▶️» (registration's units, /chairs)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from handlers.events import Option
from handlers.i18n import Catalog

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int  # from 0
    count: int  # at least 1, an empty list being one empty page


def page_of(items: Sequence[T], number: int, size: int) -> Page[T]:
    """Page `number` of `items`, kept within the pages there are (a button pressed after the list shrank)."""
    count = max(1, math.ceil(len(items) / size))
    number = min(max(number, 0), count - 1)
    return Page(items[number * size : (number + 1) * size], number, count)


def nav_row(t: Catalog, page: Page[object], payload: Callable[[int], str]) -> list[Option]:
    """The buttons to the pages before and after, each pressing `payload(page number)`."""
    row = []
    if page.number > 0:
        row.append(Option(t("btn_prev_page"), payload(page.number - 1)))
    if page.number < page.count - 1:
        row.append(Option(t("btn_next_page"), payload(page.number + 1)))
    return row
