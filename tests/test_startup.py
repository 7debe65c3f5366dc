"""What a bot process holds once started: the heavy libraries only some requests use are imported when first
used (matplotlib for a chart, openpyxl for an officer's spreadsheet; aiogram's types: test_telegram_api.py)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.harness import ROOT

HEAVY = ("matplotlib", "numpy", "PIL", "openpyxl")


def test_starting_the_bot_imports_no_library_only_a_chart_or_a_spreadsheet_needs() -> None:
    script = f"import json, sys; import bot.cli, bot.app; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=True)  # fmt: skip
    assert json.loads(run.stdout) == [], "about 44 MB more in every bot process, held from its start"
