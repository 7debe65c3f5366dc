"""What a bot process holds once started: the heavy libraries only some requests use are imported when first
used (matplotlib for a chart, openpyxl for an officer's spreadsheet; aiogram's types: test_telegram_api.py)."""

from __future__ import annotations

from tests.harness import in_a_fresh_interpreter

HEAVY = ("matplotlib", "numpy", "PIL", "openpyxl")


def test_starting_the_bot_imports_no_library_only_a_chart_or_a_spreadsheet_needs() -> None:
    script = f"import json, sys; import bot.cli, bot.app; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    assert in_a_fresh_interpreter(script) == [], "about 44 MB more in every bot process, held from its start"
