"""Secrets never reach a log line: in the message, its arguments, or a traceback — through the handler the
bot's logging setup installs (the running bot's own log is checked in test_robustness_e2e)."""

from __future__ import annotations

import io
import logging

from bot import logging_setup

TOKEN = "123456:ABCsecretTOKENvalue"


def test_the_installed_handler_redacts_every_secret_in_messages_arguments_and_tracebacks() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging_setup.setup_logging([TOKEN, "", "s3cr%40t"])
        stream = io.StringIO()
        [handler] = root.handlers
        handler.setStream(stream)
        log = logging.getLogger("sangkien.test")
        log.info("GET https://api.telegram.org/bot%s/getMe", TOKEN)
        log.warning("database %s is down", "postgresql+asyncpg://u:s3cr%40t@h/db")
        try:
            raise RuntimeError(f"request to /file/bot{TOKEN}/documents/1 failed")
        except RuntimeError:
            log.exception("could not download %s", "DOC1")
        log.info("nothing secret here: %d", 42)
        written = stream.getvalue()
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    assert TOKEN not in written and "s3cr%40t" not in written
    assert written.count("<redacted>") == 3
    assert "could not download DOC1" in written and "nothing secret here: 42" in written
    assert logging.getLogger("aiogram.event").level == logging.WARNING


def test_json_lines_carry_the_update_and_no_secret() -> None:
    import json

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging_setup.setup_logging([TOKEN], log_format="json")
        stream = io.StringIO()
        [handler] = root.handlers
        handler.setStream(stream)
        log = logging.getLogger("sangkien.test")
        log.info("started")
        token = logging_setup.CURRENT_UPDATE.set(("telegram:812", "telegram:5001"))
        try:
            log.warning("send to %s refused: bot%s", "5001", TOKEN)
            try:
                raise RuntimeError(f"GET /bot{TOKEN}/getFile failed")
            except RuntimeError:
                log.exception("download failed")
        finally:
            logging_setup.CURRENT_UPDATE.reset(token)
        written = stream.getvalue()
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    lines = [json.loads(line) for line in written.splitlines()]
    assert [line["message"] for line in lines] == ["started", "send to 5001 refused: bot<redacted>", "download failed"]
    assert [line["level"] for line in lines] == ["INFO", "WARNING", "ERROR"]
    assert all(line["logger"] == "sangkien.test" and line["time"].endswith("+00:00") for line in lines)
    assert "update" not in lines[0] and (lines[1]["update"], lines[1]["person"]) == ("telegram:812", "telegram:5001")
    assert "RuntimeError" in lines[2]["traceback"] and TOKEN not in written


def test_the_text_format_the_level_and_the_quiet_libraries(monkeypatch) -> None:
    import re

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    noisy = [logging.getLogger(name) for name in ("aiogram.event", "alembic")]
    try:
        for logger in noisy:
            logger.setLevel(logging.NOTSET)
        monkeypatch.delenv("SANGKIEN_DEBUG", raising=False)
        logging_setup.setup_logging([])
        assert root.level == logging.INFO and [logger.level for logger in noisy] == [logging.WARNING] * 2
        stream = io.StringIO()
        root.handlers[0].setStream(stream)
        logging.getLogger("sangkien.test").info("Đã gửi %d tin", 3)
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO sangkien.test: Đã gửi 3 tin\n", stream.getvalue()
        )
        monkeypatch.setenv("SANGKIEN_DEBUG", "1")
        logging_setup.setup_logging([], log_format="json")
        assert root.level == logging.DEBUG
        stream = io.StringIO()
        root.handlers[0].setStream(stream)
        logging.getLogger("sangkien.test").info("Đã gửi")
        assert '"message": "Đã gửi"' in stream.getvalue(), "Vietnamese as it is, not escaped"
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
