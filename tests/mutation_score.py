"""`make mutation`'s report: mutmut's results per module — killed, survived, without a test — and the score
(mutants killed, a timeout counting as killed, over all mutants). Exits non-zero below the target."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

TARGET = 0.85
KILLED = {"killed", "timeout", "caught by type check"}


def measured_modules() -> set[str]:
    """The modules `[tool.mutmut] only_mutate` names, as mutmut names them ("domain/rules.py" → "domain.rules")."""
    config = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    return {path.removesuffix(".py").replace("/", ".") for path in config["tool"]["mutmut"]["only_mutate"]}


def main() -> int:
    output = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for line in output.splitlines():
        match = re.match(r"\s*(\S+?)\.x[_ǁ].*?: (.+)$", line)
        if match and match.group(1) in measured_modules():
            by_module[match.group(1)][match.group(2).strip()] += 1
    if not by_module:
        print("no mutation results: run `mutmut run` first")
        return 1
    print(f"{'module':34} {'mutants':>8} {'killed':>7} {'survived':>9} {'no test':>8} {'score':>7}")
    worst = 1.0
    for module, counts in sorted(by_module.items()):
        total = sum(counts.values())
        killed = sum(counts[status] for status in KILLED)
        score = killed / total
        worst = min(worst, score)
        print(f"{module:34} {total:8} {killed:7} {counts['survived']:9} {counts['no tests']:8} {score:7.0%}")
    everything = sum(sum(c.values()) for c in by_module.values())
    killed_all = sum(sum(c[s] for s in KILLED) for c in by_module.values())
    print(f"{'all':34} {everything:8} {killed_all:7} {'':9} {'':8} {killed_all / everything:7.0%}")
    print(f"target: every module ≥ {TARGET:.0%} (survivors explained in docs/testing.md)")
    return 0 if worst >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
