"""The Zalo client against the Zalo emulator (real HTTP on loopback) and on recorded payload shapes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from bot.channels import numbered
from bot.channels.zalo_client import ZaloApiError, ZaloClient, parse_updates
from bot.logging_setup import RedactSecrets
from bot.sandbox.zalo_emulator import TEXT_LIMIT, ZaloEmulator

TOKEN = "777:zalo-client-test-token"
TEXT = {"from": {"id": "6ede9afa66b88fe6d6a9", "display_name": "Ted", "is_bot": False},
        "chat": {"id": "6ede9afa66b88fe6d6a9", "chat_type": "PRIVATE"},
        "text": "Xin chào", "message_id": "2d758cb5e222177a4e35", "date": 1750316131602}  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def zalo() -> AsyncIterator[ZaloEmulator]:
    emulator = ZaloEmulator()
    emulator.add_bot(TOKEN)
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def client(zalo: ZaloEmulator) -> AsyncIterator[ZaloClient]:
    client = ZaloClient(TOKEN, zalo.api_url)
    yield client
    await client.close()


def test_both_payload_shapes_and_their_variants_parse_alike() -> None:
    wrapped = {"ok": True, "result": {"event_name": "message.text.received", "message": TEXT}}
    flat = {"event_name": "message.text.received", "message": TEXT}
    no_event = {"ok": True, "result": {"message": {**TEXT, "from": {"id": TEXT["from"]["id"], "first_name": "Ted"}}}}
    photo = {"event_name": "message.image.received",
             "message": {**{k: v for k, v in TEXT.items() if k != "text"}, "photo_url": "https://x/1.jpg",
                         "message_type": "CHAT_PHOTO"}}  # fmt: skip
    parsed = [parse_updates(body)[0] for body in (wrapped, flat, no_event)]
    assert {(m.user_id, m.text, m.display_name, m.update_key) for m in parsed} == {
        ("6ede9afa66b88fe6d6a9", "Xin chào", "Ted", "message.text.received:2d758cb5e222177a4e35")
    }
    assert parsed[0].date_ms == 1750316131602 and not parsed[0].is_group
    [image] = parse_updates(photo)
    assert (image.event_name, image.photo_url, image.text) == ("message.image.received", "https://x/1.jpg", "")
    assert parse_updates([flat, wrapped["result"]]) and parse_updates({"ok": True}) == []
    assert parse_updates({"garbage": 1}) == [] and parse_updates(None) == []


@pytest.mark.asyncio(loop_scope="module")
async def test_polling_gets_one_update_then_nothing_on_408(zalo: ZaloEmulator, client: ZaloClient) -> None:
    user = zalo.add_user("Ted")
    await zalo.user_sends(user, "một")
    await zalo.user_sends(user, "hai")
    first = await client.get_updates(timeout=1)
    second = await client.get_updates(timeout=1)
    assert [m.text for m in first + second] == ["một", "hai"]
    assert await client.get_updates(timeout=1) == []  # idle: Zalo answers 408, which is not an error


@pytest.mark.asyncio(loop_scope="module")
async def test_long_texts_are_split_at_line_boundaries(zalo: ZaloEmulator, client: ZaloClient) -> None:
    user = zalo.add_user("Ted")
    await zalo.user_sends(user, "hi")
    lines = [f"{n}. {'Sáng kiến cải tiến quy trình ' * 3}" for n in range(1, 120)]
    await client.send_message(user, "\n".join(lines))
    sent = [m.text for m in zalo.chat(user) if m.from_bot]
    assert len(sent) >= 3 and all(len(text) <= TEXT_LIMIT for text in sent)
    assert "\n".join(sent).splitlines() == lines, "split only between lines, nothing lost"


@pytest.mark.asyncio(loop_scope="module")
async def test_429_is_retried_and_other_errors_are_raised(zalo: ZaloEmulator, client: ZaloClient) -> None:
    user = zalo.add_user("Ted")
    await zalo.user_sends(user, "hi")
    zalo.inject_fault("sendMessage", 429, count=2)
    calls_before = sum(1 for method, _ in zalo.calls if method == "sendMessage")
    await client.send_message(user, "sau hai lần 429")
    assert sum(1 for method, _ in zalo.calls if method == "sendMessage") - calls_before == 3
    with pytest.raises(ZaloApiError) as refused:
        await client.send_message("00000000000000000bad", "chưa từng nhắn cho bot")
    assert refused.value.code == 400 and "chat not found" in refused.value.description
    with pytest.raises(ZaloApiError):
        await client.send_message(user, "")  # Zalo refuses an empty text


@pytest.mark.asyncio(loop_scope="module")
async def test_the_token_never_reaches_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    unreachable = ZaloClient(TOKEN, "http://127.0.0.1:9", attempts=1)
    with pytest.raises(aiohttp.ClientError) as failed:
        await unreachable.get_me()
    await unreachable.close()
    assert TOKEN not in str(failed.value) and TOKEN not in repr(failed.value.__cause__)
    logger = logging.getLogger("sangkien.test")
    handler = logging.Handler()
    handler.addFilter(RedactSecrets([TOKEN]))
    records: list[logging.LogRecord] = []
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        logger.error("calling https://bot-api.zaloplatforms.com/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"boom at /bot{TOKEN}/sendMessage")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert all(TOKEN not in record.getMessage() for record in records)
    assert TOKEN not in (records[1].exc_text or "") and "<redacted>" in (records[1].exc_text or "")


ELIGIBILITY = [["✅ Đúng, đủ cả 3 điều kiện", "yes"], ["❌ Không đủ", "no"], ["✖️ Dừng (giữ nháp)", "stop"]]


@pytest.mark.parametrize(
    ("typed", "payload", "nav"),
    [("đúng", "yes", None), ("Đúng", "yes", None), ("dừng", "stop", "cancel"), ("không", "no", None),
     ("khong du", "no", None), ("Không đủ", "no", None), ("đung", "yes", None), ("dung", None, "cancel"),
     ("quay lai", None, "back"), ("Bỏ qua", None, "skip"), ("huy", None, "cancel"), ("hủy", None, "cancel"),
     ("3", None, None)],
)  # fmt: skip
def test_an_option_typed_by_its_words_accents_optional_but_never_contradicted(typed, payload, nav) -> None:
    """Found in a phone walk: "đúng" typed on Zalo stopped the wizard, as "dừng" (both "dung" unaccented).
    An accent typed must be the label's; one left out is not held against the person; "dung" could be
    either, so it is neither option (the channel then hands it to the step as text: `ambiguous`)."""
    assert (numbered.by_words(ELIGIBILITY, typed), numbered.nav_command(typed)) == (payload, nav)
    assert numbered.ambiguous(ELIGIBILITY, typed) is (typed == "dung")


@pytest.mark.parametrize(
    ("typed", "label"),
    [("xóa hẳn", "🗑 Xoá hẳn"), ("hủy thông báo", "✖️ Huỷ thông báo"), ("tiêp tuc", "▶️ Tiếp tục"),
     ("xac nhân", "✅ Xác nhận hồ sơ"), ("XÁC NHẬN", "✅ Xác nhận hồ sơ"), ("gui", "📨 Gửi sáng kiến")],
)  # fmt: skip
def test_the_tone_on_another_letter_or_a_mark_left_out_still_reads_as_the_option(typed: str, label: str) -> None:
    """Found in review: comparing letter by letter refused "xóa" for "Xoá" and "tiêp" for "Tiếp"."""
    options = [[label, "chosen"], ["⬅️ Quay lại", "back"]]
    assert numbered.by_words(options, typed) == "chosen"
