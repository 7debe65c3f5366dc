"""Logging with secrets redacted: a bot token must never reach a log line (it sits in API URLs).

Text by default; `LOG_FORMAT=json` writes one JSON object a line (time, level, logger, message, and the
update and person being handled, when there is one, and the tenant) for a log collector. Message texts people send are
never logged, in either format."""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os

# The update being handled (set by the channels' dispatch): JSON lines carry it.
CURRENT_UPDATE: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("update", default=None)
# The tenant whose runtime is working (several tenants in one process: bot/tenants.py): every line names it.
CURRENT_TENANT: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)


class TenantTag(logging.Filter):
    """`record.tenant`: "[code] " while a tenant's runtime works, else empty (one tenant: lines as before)."""

    def filter(self, record: logging.LogRecord) -> bool:
        tenant = CURRENT_TENANT.get()
        record.tenant = f"[{tenant}] " if tenant else ""
        return True


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self.secrets):
            record.msg, record.args = self._redact(message), None
        if record.exc_info and not record.exc_text:  # a traceback may quote a URL with the token in it
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line; the redaction filter has already run on the message and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        tenant = CURRENT_TENANT.get()
        if tenant is not None:
            line["tenant"] = tenant
        update = CURRENT_UPDATE.get()
        if update is not None:
            line["update"], line["person"] = update
        if record.exc_info or record.exc_text:
            line["traceback"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(line, ensure_ascii=False)


def setup_logging(secrets: list[str], level: int = logging.INFO, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(tenant)s%(name)s: %(message)s"))
    handler.addFilter(TenantTag())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if os.environ.get("SANGKIEN_DEBUG") else level)
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
