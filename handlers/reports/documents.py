"""Text of the generated documents (Excel headers, the council's forms). The forms are official Vietnamese
documents, so this catalog (`handlers/catalogs/documents.vi.toml`) has no English counterpart."""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

from handlers.i18n import CATALOG_DIR


@cache
def _texts() -> dict[str, str]:
    with (CATALOG_DIR / "documents.vi.toml").open("rb") as handle:
        return tomllib.load(handle)


def doc_text(key: str, **params: Any) -> str:
    return _texts()[key].format(**params)


def doc_list(key: str) -> list[str]:
    value = _texts()[key]
    assert isinstance(value, list)
    return value
