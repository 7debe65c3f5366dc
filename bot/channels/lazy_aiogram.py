"""aiogram's Telegram types, each built when first used instead of all at import.

aiogram declares its ~400 types with pydantic's `defer_build`, then builds every one at import anyway
(`aiogram/types/__init__.py` calls `model_rebuild` on each, to resolve the names their annotations refer to):
about a second of CPU and 80 MB in every bot process, for a bot that reads updates and sends a step's
replies as plain JSON (`telegram_api.call`). Here that call gives those names to each type and its module
instead, so pydantic resolves them whenever the type is first built: a process builds what it meets (a sent
document's `Message`: 3 MB and a few milliseconds, once). tests/test_telegram_api.py builds every type and
method.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from pydantic import BaseModel


def import_aiogram() -> None:
    """Import aiogram with its types' building deferred (nothing to do once it is imported)."""
    if "aiogram" in sys.modules:
        return
    rebuild = BaseModel.__dict__["model_rebuild"]

    def names_given(
        cls: type[BaseModel],
        *,
        force: bool = False,
        raise_errors: bool = True,
        _parent_namespace_depth: int = 2,
        _types_namespace: dict[str, Any] | None = None,
    ) -> bool | None:
        if _types_namespace is None or force or not cls.model_config.get("defer_build"):
            return rebuild.__func__(cls, force=force, raise_errors=raise_errors, _types_namespace=_types_namespace,
                                    _parent_namespace_depth=_parent_namespace_depth + 1)  # fmt: skip
        # Its module's names serve the methods aiogram builds at import, whose fields hold types (a type inside
        # another is resolved in its own module); the parent namespace comes before the locals of whichever
        # function first validates the type, which must not decide what «User» means.
        module = vars(sys.modules[cls.__module__])
        for name, value in _types_namespace.items():
            module.setdefault(name, value)
        cls.__pydantic_parent_namespace__ = _types_namespace
        return None

    BaseModel.model_rebuild = classmethod(names_given)  # type: ignore[assignment, method-assign]
    try:
        importlib.import_module("aiogram")
    finally:
        BaseModel.model_rebuild = rebuild  # type: ignore[method-assign]
