"""The deployment recipe's files (docs/deploy/) are what they say: nginx parses its config in the http
context with two upstream servers matching the two systemd units, the units run `sangkien serve` with the
env file, the backup timer runs `sangkien backup`, the env file example holds no secret, and the Grafana
dashboard queries only metrics the bot exports."""

from __future__ import annotations

import configparser
import json
import re
from pathlib import Path

import crossplane

from bot import metrics
from tests.harness import ROOT

DEPLOY = ROOT / "docs" / "deploy"


def directives(block: list[dict], name: str) -> list[dict]:
    found = []
    for directive in block:
        if directive["directive"] == name:
            found.append(directive)
        found += directives(directive.get("block", []), name)
    return found


def test_nginx_parses_and_balances_the_two_units(tmp_path: Path) -> None:
    main = tmp_path / "nginx.conf"
    main.write_text(f"events {{}}\nhttp {{\n    include {DEPLOY / 'nginx.conf'};\n}}\n")
    parsed = crossplane.parse(str(main))
    assert parsed["status"] == "ok", parsed["errors"]
    config = next(c for c in parsed["config"] if c["file"].endswith("deploy/nginx.conf"))["parsed"]
    [upstream] = directives(config, "upstream")
    servers = [d["args"][0] for d in upstream["block"] if d["directive"] == "server"]
    assert servers == ["127.0.0.1:8081", "127.0.0.1:8082"]
    assert {tuple(d["args"]) for d in directives(config, "proxy_pass")} == {("http://sangkien",)}
    assert directives(config, "client_max_body_size")[0]["args"] == ["10m"], "the app accepts 10 MB"
    metrics_location = next(d for d in directives(config, "location") if d["args"] == ["=", "/metrics"])
    assert ["all"] in [d["args"] for d in metrics_location["block"] if d["directive"] == "deny"]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name)
    return parser


def test_the_units_serve_with_the_env_file_and_back_up_nightly() -> None:
    service = unit("sangkien@.service")["Service"]
    assert service["ExecStart"].endswith("/.venv/bin/sangkien serve")
    assert service["EnvironmentFile"] == "/etc/sangkien/sangkien.env" and service["Environment"] == "WEB_PORT=%i"
    assert service["Restart"] == "always"
    backup = unit("sangkien-backup.service")["Service"]
    assert "sangkien backup /var/backups/sangkien/" in backup["ExecStart"] and backup["Type"] == "oneshot"
    assert "/var/backups/sangkien" in unit("sangkien@.service")["Service"]["ReadWritePaths"]
    timer = unit("sangkien-backup.timer")["Timer"]
    assert timer["OnCalendar"] == "*-*-* 02:30:00" and timer["Persistent"] == "true"


def test_the_env_example_names_every_secret_and_holds_none() -> None:
    values = dict(line.split("=", 1) for line in (DEPLOY / "sangkien.env.example").read_text().splitlines()
                  if line and not line.startswith("#"))  # fmt: skip
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "ZALO_BOT_TOKEN", "ZALO_WEBHOOK_SECRET",
                 "SANGKIEN_LINK_SECRET", "METRICS_TOKEN"):  # fmt: skip
        assert values[name] == "", name
    assert values["PUBLIC_URL"].startswith("https://") and "CHANGE-ME" in values["DATABASE_URL"]


def test_the_dashboard_queries_only_exported_metrics() -> None:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exported = {family.name for family in metrics.REGISTRY.collect()}
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"sangkien_[a-z_]+", target["expr"])}  # fmt: skip
    base = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in queried}
    assert base <= exported, base - exported
    assert len(dashboard["panels"]) == 8
