"""Message catalogs: every user-facing text, Vietnamese first (`vi.toml`), English second (`en.toml`).

Plain TOML tables of named templates (`str.format` placeholders). Both catalogs must hold the same keys
with the same placeholders; `tests/test_catalogs.py` checks that.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from domain.text import reads_as

CATALOG_DIR = Path(__file__).parent / "catalogs"
LANGUAGES = ("vi", "en")


class Catalog:
    def __init__(self, language: str, messages: dict[str, str]) -> None:
        self.language = language
        self.messages = messages

    def __call__(self, key: str, **params: Any) -> str:
        return self.messages[key].format(**params)

    def has(self, key: str) -> bool:
        return key in self.messages


def records() -> Catalog:
    """The language of what is stored, whoever chose it in whichever language: the records fill the council's
    forms, the lists and the exports, which are Vietnamese (a field tapped as «Health» is «Y tế»)."""
    return catalog(LANGUAGES[0])


def record_text(key: str) -> str:
    """A suggestion's text as it is stored (`records`)."""
    return records()(key)


def as_recorded(t: Catalog, keys: Iterable[str], text: str) -> str:
    """A suggestion's words typed, accents optional, in the reader's language or the records' («hoat dong cong
    doan», «Health», «dai hoc»), or the head of one worded «head – rest» («hanh chinh» for «Hành chính – quản
    lý»): the suggestion as the records word it; any other text as typed."""
    return next((record_text(key) for key in keys
                 if any(reads_as(text, label) or reads_as(text, label.split(" – ")[0])
                        for label in (t(key), record_text(key)))), text)  # fmt: skip


@cache
def catalog(language: str) -> Catalog:
    if language not in LANGUAGES:
        language = LANGUAGES[0]
    with (CATALOG_DIR / f"{language}.toml").open("rb") as handle:
        return Catalog(language, tomllib.load(handle))
