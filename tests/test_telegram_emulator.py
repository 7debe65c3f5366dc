"""The emulator refuses what Telegram refuses, so a bot that passes here does not fail in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from bot.sandbox.telegram_emulator import BotApiError, TelegramEmulator, check_object, parse_html

pytestmark = pytest.mark.asyncio(loop_scope="module")
TOKEN = "777:strict"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api() -> AsyncIterator[tuple[TelegramEmulator, aiohttp.ClientSession]]:
    emulator = TelegramEmulator()
    emulator.add_bot(TOKEN)
    emulator.add_user(5, "Hoa")
    await emulator.start()
    async with aiohttp.ClientSession() as session:
        yield emulator, session
    await emulator.stop()


async def call(api, method: str, **params) -> dict:
    emulator, session = api
    async with session.post(f"{emulator.url}/bot{TOKEN}/{method}", json=params) as response:
        return await response.json()


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"chat_id": 5, "text": "x" * 4097}, "message is too long"),
        ({"chat_id": 5, "text": "<b>x</b>" + "y" * 4096, "parse_mode": "HTML"}, "message is too long"),
        ({"chat_id": 5, "text": "<div>x</div>", "parse_mode": "HTML"}, "can't parse entities"),
        ({"chat_id": 5, "text": "a < b", "parse_mode": "HTML"}, "can't parse entities"),
        ({"chat_id": 5, "text": "<b>open", "parse_mode": "HTML"}, "can't parse entities"),
        ({"chat_id": 5, "text": "R&D", "parse_mode": "HTML"}, "can't parse entities"),
        ({"chat_id": 5, "text": "  "}, "text is empty"),
        ({"chat_id": 5}, "text is required"),
        ({"chat_id": 5, "text": "hi", "colour": "red"}, "unknown parameter colour"),
        ({"chat_id": 999, "text": "hi"}, "chat not found"),
        (
            {
                "chat_id": 5,
                "text": "hi",
                "reply_markup": {"inline_keyboard": [[{"text": "b", "callback_data": "x" * 65}]]},
            },
            "BUTTON_DATA_INVALID",
        ),
    ],
)
async def test_refuses_what_telegram_refuses(api, params: dict, description: str) -> None:
    body = await call(api, "sendMessage", **params)
    assert body["ok"] is False and body["error_code"] == 400
    assert description in body["description"]


async def test_accepts_telegram_html_counts_length_after_parsing_and_unknown_methods_404(api) -> None:
    body = await call(api, "sendMessage", chat_id=5, text="<b>" + "é" * 4096 + "</b>", parse_mode="HTML")
    assert body["ok"] is True and body["result"]["text"].startswith("éé")
    assert (await call(api, "sendMessageFast", chat_id=5, text="x"))["error_code"] == 404
    wrong_token = await api[1].post(f"{api[0].url}/botNOPE/getMe")
    assert wrong_token.status == 401


async def test_injected_429_carries_retry_after(api) -> None:
    emulator, _ = api
    emulator.inject_fault("sendMessage", 429, retry_after=3)
    body = await call(api, "sendMessage", chat_id=5, text="hi")
    assert (body["error_code"], body["parameters"]["retry_after"]) == (429, 3)
    assert (await call(api, "sendMessage", chat_id=5, text="hi"))["ok"] is True


async def test_updates_it_produces_match_the_reference(api) -> None:
    emulator, _ = api
    await emulator.user_sends(5, "/start b_MAU001")
    await emulator.user_sends(5, document={"file_name": "a.pdf", "mime_type": "application/pdf", "file_size": 10})
    await emulator.user_sends(5, photo=True)
    await emulator.user_sends(5, sticker=True)
    updates = (await call(api, "getUpdates", offset=0, timeout=0))["result"]
    assert len(updates) == 4
    for update in updates:
        check_object("Update", update)
    assert updates[0]["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    confirmed = (await call(api, "getUpdates", offset=updates[-1]["update_id"] + 1, timeout=0))["result"]
    assert confirmed == []


async def test_the_schema_check_itself_catches_a_missing_required_field() -> None:
    with pytest.raises(AssertionError, match="required field chat"):
        check_object("Message", {"message_id": 1, "date": 0})
    with pytest.raises(BotApiError):
        parse_html("<i>unclosed")
