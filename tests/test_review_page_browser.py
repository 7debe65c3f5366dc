"""The chairs' review page in real headless Chromium, from the signed link in the review request.

A valid link: see the initiative, verify it, the member is told. Refused, with nothing changed: a link used
once already, an expired one, a tampered one, one whose chair has lost the role, and one signed for a
chair of another branch.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re

import aiohttp
import pytest
import pytest_asyncio
from docx import Document
from playwright.async_api import expect
from sqlalchemy import select

from bot.sandbox.telegram_emulator import TelegramEmulator
from bot.sandbox.zalo_emulator import ZaloEmulator
from handlers import review_links
from storage.models import OutboxMessage, Status
from tests.browser import phone_page
from tests.harness import (
    ADMIN_ID,
    LINK_SECRET,
    AnyPerson,
    Database,
    InProcessBot,
    Person,
    ZaloPerson,
    answer,
    fill_up_to_summary,
    invite_chair,
    register,
    submit_initiative,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]
LINK = re.compile(r"https?://\S+/r/[A-Za-z0-9_.-]+")


class Cast:
    def __init__(self, admin: Person, chair: AnyPerson, member: Person) -> None:
        self.admin, self.chair, self.member = admin, chair, member


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cast(emulator: TelegramEmulator, zalo_emulator: ZaloEmulator, live_bot: InProcessBot) -> Cast:
    admin = Person(emulator, "Quản Trị Tỉnh", user_id=ADMIN_ID)
    await register(admin, "MAU004", "Quản Trị Tỉnh")
    chair = await invite_chair(admin, ZaloPerson(zalo_emulator, "Chủ Tịch Zalo"), "MAU002", "Chủ Tịch Zalo")
    return Cast(admin, chair, Person(emulator, "Nguyễn Thị Tác Giả"))


async def review_request(cast: Cast, **answers: str) -> tuple[int, str]:
    """A new submission (by a new member of the branch), and the review page link in the chair's request."""
    cast.member = Person(cast.member.emulator, "Nguyễn Thị Tác Giả")
    await register(cast.member, "MAU002", "Nguyễn Thị Tác Giả")
    number = await submit_initiative(cast.member, **answers)
    card = await cast.chair.expect(f"Sáng kiến #{number} chờ xác nhận hồ sơ", "Mở trang xác nhận")
    match = LINK.search(card.text)
    assert match, card.text
    return number, match.group(0)


async def test_a_chair_verifies_from_the_page_and_the_member_is_told(cast: Cast, live_database: Database) -> None:
    number, link = await review_request(cast)
    async with phone_page(link) as page:
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Xác nhận hồ sơ sáng kiến #{number}")
        await expect(page.get_by_text("Số hoá quy trình tiếp nhận hồ sơ một cửa")).to_be_visible()
        await expect(page.get_by_text("Nguyễn Thị Tác Giả").first).to_be_visible()
        for attachment in ("bao-cao.pdf", "Ảnh 1"):  # the attachments, to open, named as the chat names them
            await expect(page.get_by_role("link", name=attachment, exact=True)).to_be_visible()
        if os.environ.get("REVIEW_SCREENSHOT"):
            await page.screenshot(path=os.environ["REVIEW_SCREENSHOT"], full_page=True)
        await page.get_by_role("button", name="✅ Xác nhận hồ sơ").click()
        await expect(page.get_by_role("status")).to_contain_text(f"Đã xác nhận hồ sơ sáng kiến #{number}")
    await cast.member.expect(f"Sáng kiến #{number}", "Chủ Tịch Zalo", "được tính vào chỉ tiêu")
    assert (await live_database.initiative(number)).status == Status.RECOGNISED

    async with phone_page(link) as page:  # the same link again: decided, no buttons
        await expect(page.get_by_role("status")).to_contain_text(f"Sáng kiến #{number} đã được công nhận (")
        await expect(page.get_by_role("button")).to_have_count(0)
    async with aiohttp.ClientSession() as http, http.post(link, data={"action": "r", "reason": "Trùng lặp"}) as reply:
        assert reply.status == 403, "a decision without the page's form is refused"
    assert (await live_database.initiative(number)).status == Status.RECOGNISED


async def test_the_page_warns_of_a_possible_duplicate_as_the_card_does(cast: Cast) -> None:
    title = "Lịch trực điện tử cho khoa Cấp cứu"
    first, link = await review_request(cast, title=title)
    async with phone_page(link) as page:
        await expect(page.get_by_role("button", name="✅ Xác nhận hồ sơ")).to_be_visible()
        await expect(page.get_by_text("Có thể trùng")).to_have_count(0)
    _, link = await review_request(cast, title=title)  # another author of it sends it too
    warning = f"⚠️ Có thể trùng với sáng kiến #{first} (cùng tên và cùng tác giả)"
    async with phone_page(link) as page:
        await expect(page.get_by_text(warning)).to_be_visible()


async def test_changes_need_a_reason_which_reaches_the_member(cast: Cast, live_database: Database) -> None:
    number, link = await review_request(cast)
    async with phone_page(link) as page:
        await page.get_by_role("button", name="✏️ Cần bổ sung").click()
        await expect(page.get_by_role("status")).to_contain_text("chọn hoặc ghi lý do")
        assert (await live_database.initiative(number)).status == Status.SUBMITTED
        reason_box = page.get_by_label("Lý do")
        font = await reason_box.evaluate("box => getComputedStyle(box).fontFamily")
        assert "monospace" not in font, "diacritics stay attached in the page's own font"
        await page.get_by_label("Chưa nêu rõ lợi ích kinh tế hoặc xã hội").check()
        await reason_box.fill("Cần thêm số liệu <trước> & sau khi áp dụng")
        await page.get_by_role("button", name="✏️ Cần bổ sung").click()
        await expect(page.get_by_role("status")).to_contain_text(f"Đã gửi yêu cầu bổ sung sáng kiến #{number}")
    await cast.member.expect(
        f"Sáng kiến #{number}",
        "cần bổ sung",
        "Chưa nêu rõ lợi ích kinh tế hoặc xã hội",
        "Cần thêm số liệu <trước> & sau khi áp dụng",
    )  # both: the preset and the words
    assert (await live_database.initiative(number)).status == Status.CHANGES_REQUESTED


MALICIOUS_REPORT = b"""<!doctype html><html><body><h1>Bao cao</h1>
<script>
  // Posts "approve" to the review page it was opened from (the old attachment URLs sat under it).
  fetch(location.href.split("/a/")[0], {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
        body: "action=a"});
</script></body></html>"""


async def test_an_attachment_cannot_approve_for_the_chair(
    emulator: TelegramEmulator, cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    """A member attaches bao-cao.html whose script posts "approve"; the chair only opens the attachment."""
    cast.member = Person(emulator, "Nguyễn Thị Tác Giả")
    await register(cast.member, "MAU002", "Nguyễn Thị Tác Giả")
    await fill_up_to_summary(cast.member)
    summary = await cast.member.expect("Tóm tắt sáng kiến")
    await cast.member.tap("Sửa một mục", summary)
    await cast.member.tap("✏️ Tệp đính kèm", await cast.member.expect("Sửa mục nào", edited=True))
    await cast.member.expect("Gửi ảnh hoặc tệp", edited=True)
    await cast.member.send_file("bao-cao.html", MALICIOUS_REPORT)
    received = await cast.member.expect("Đã nhận bao-cao.html")
    await cast.member.tap("Xong", received)
    await cast.member.tap("Gửi sáng kiến", await cast.member.expect("Tóm tắt sáng kiến"))
    number = int((await cast.member.expect("Đã gửi sáng kiến")).plain_text.split("#", 1)[1].split()[0])
    link = LINK.search((await cast.chair.expect(f"Sáng kiến #{number} chờ xác nhận hồ sơ")).text).group(0)

    async with phone_page(link) as page:
        report = page.get_by_role("link", name="bao-cao.html")
        attachment_url = await report.get_attribute("href")
        async with page.expect_download() as downloading:
            await report.click()
        assert (await downloading.value).suggested_filename == "bao-cao.html"
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Xác nhận hồ sơ sáng kiến #{number}")
    token = link.rsplit("/", 1)[1]
    assert attachment_url and token not in attachment_url, "the attachment's address does not hold the page's"
    async with aiohttp.ClientSession() as http:
        async with http.get(live_bot.web_url + attachment_url) as served:
            assert served.status == 200 and await served.read() == MALICIOUS_REPORT
            assert served.headers["Content-Type"] == "application/octet-stream"
            assert served.headers["Content-Disposition"].startswith("attachment;")
            assert served.headers["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in served.headers["Content-Security-Policy"]
        async with http.get(link) as page_reply:
            assert "script-src" not in page_reply.headers["Content-Security-Policy"]
            assert page_reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
        # Knowing the page's address is not enough to decide: the form's own token is needed.
        for form in ({"action": "a"}, {"action": "a", "form": "forged"}, {"action": "a", "form": token}):
            async with http.post(link, data=form) as reply:
                assert reply.status == 403, form
        attachment_token = attachment_url.rsplit("/", 1)[1]
        async with http.post(f"{live_bot.web_url}/r/{attachment_token}", data={"action": "a"}) as reply:
            assert reply.status == 403, "an attachment's token is not a review link"
    assert (await live_database.initiative(number)).status == Status.SUBMITTED
    assert [a for a in await live_database.audit_actions(number) if a[0] == "decided"] == []


async def test_refused_links_change_nothing(
    emulator: TelegramEmulator, cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    number, link = await review_request(cast)
    token = link.rsplit("/", 1)[1]
    tampered = link[: -len(token)] + token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    other_initiative = review_links.link(live_bot.web_url, LINK_SECRET, number + 1000, 1, live_bot.clock.now)

    other = await invite_chair(cast.admin, Person(emulator, "Chủ Tịch Khác"), "MAU003", "Chủ Tịch Khác")
    other_member = await live_database.member_of(other.user_id)
    assert other_member is not None
    other_branch_chair = review_links.link(live_bot.web_url, LINK_SECRET, number, other_member.id, live_bot.clock.now)

    async with phone_page(tampered) as page:
        await expect(page.get_by_role("status")).to_contain_text("không hợp lệ hoặc đã hết hạn")
    async with phone_page(other_initiative) as page:
        await expect(page.get_by_role("status")).to_contain_text("không có quyền")
    async with phone_page(other_branch_chair) as page:
        await expect(page.get_by_role("status")).to_contain_text("không có quyền")
        await expect(page.get_by_role("button")).to_have_count(0)
    async with aiohttp.ClientSession() as http:
        for forged in (tampered, other_branch_chair):
            async with http.post(forged, data={"action": "a"}) as reply:
                assert reply.status == 403

    live_bot.clock.set(live_bot.clock.now + review_links.LIFETIME + dt.timedelta(hours=1))
    async with phone_page(link) as page:
        await expect(page.get_by_role("status")).to_contain_text("không hợp lệ hoặc đã hết hạn")
    async with aiohttp.ClientSession() as http, http.post(link, data={"action": "a"}) as reply:
        assert reply.status == 403
    assert (await live_database.initiative(number)).status == Status.SUBMITTED
    assert [a for a in await live_database.audit_actions(number) if a[0] == "decided"] == []


DOSSIER_LINK = re.compile(r"https?://\S+/h/[A-Za-z0-9_-]+")


async def web_save_notices(database: Database, number: int) -> int:
    """The notices of a save on the dossier page queued for initiative `number` (delivered or not)."""
    async with database.sessions() as session:
        payloads = await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.initiative_id == number))
        return sum("từ trang web" in payload["text"] for payload in payloads)


async def dossier_page_save(link: str, **answers: str) -> str:
    """Save the dossier page as its form would (with the page's own form token); the page's answer."""
    async with aiohttp.ClientSession() as http:
        async with http.get(link) as page:
            token = re.search(r'name="form" value="([^"]+)"', await page.text()).group(1)
        async with http.post(link, data={"form": token, **answers}) as saved:
            assert saved.status == 200
            return await saved.text()


async def test_the_dossier_page_and_the_chat_write_the_same_record(
    emulator: TelegramEmulator, cast: Cast, live_bot: InProcessBot, live_database: Database
) -> None:
    sen = Person(emulator, "Lò Thị Sen")
    await register(sen, "MAU002", "Lò Thị Sen")
    number = await submit_initiative(sen)  # co-author typed: Trần Văn Bình 30
    await answer(sen, "Bước 1/4", tap="Dừng")
    await sen.expect_file(f"mo-ta-sang-kien-{number}.docx")
    link = DOSSIER_LINK.search(sen.last_with_buttons().plain_text).group(0)

    async with phone_page(link) as page:
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Hoàn thiện hồ sơ sáng kiến #{number}")
        # The help under each label is the page's: the label once, and the suggestions named (the chat's buttons
        # are not here; a text area has no list to pick from).
        investor = page.locator("label", has_text="Chủ đầu tư tạo ra sáng kiến")
        await expect(investor).to_contain_text(
            "Gợi ý (bấm vào ô để chọn, hoặc tự gõ): «Tác giả đồng thời là chủ đầu tư»"
        )
        assert (await investor.inner_text()).count("Chủ đầu tư") == 1, await investor.inner_text()
        confidential = page.locator("label", has_text="Thông tin cần được bảo mật")
        await expect(confidential).to_contain_text("Có thể ghi: «Không có»")
        await page.get_by_label("Kính gửi").fill("Giám đốc Sở Y tế tỉnh Phú Thọ")
        await page.get_by_label("Đồng tác giả Trần Văn Bình").fill("Sở Y tế; 31/2/1988; Chuyên viên")
        await page.get_by_label("Mục đích của giải pháp").fill("Giảm giấy tờ <b>& thời gian</b>")
        typed_suggestion = "tac gia dong thoi la chu dau tu"  # the suggestion's words, typed
        await page.get_by_label("Chủ đầu tư tạo ra sáng kiến").fill(typed_suggestion)
        # A control character typed or pasted (it made every Word form of the initiative fail) is cleaned away.
        await page.get_by_label("Người đã tham gia áp dụng").fill("Lê Văn Tám; Thử nghiệm\x01\nĐỗ Thị Nga; Nhập liệu")
        if os.environ.get("DOSSIER_SCREENSHOT"):
            await page.screenshot(path=os.environ["DOSSIER_SCREENSHOT"], full_page=True)
        await page.get_by_role("button", name="Lưu hồ sơ").click()
        await expect(page.get_by_role("status")).to_contain_text("Có mục chưa đúng")
        await expect(page.get_by_role("alert")).to_contain_text("Tháng 2/1988 không có ngày 31")
        assert (await live_database.initiative(number)).purpose is None, "nothing saved while one answer is wrong"
        assert await page.get_by_label("Mục đích của giải pháp").input_value() == "Giảm giấy tờ <b>& thời gian</b>"
        await page.get_by_label("Đồng tác giả Trần Văn Bình").fill("Sở Y tế; 3/4/1988; Chuyên viên; dai hoc")
        await page.get_by_role("button", name="Lưu hồ sơ").click()
        await expect(page.get_by_role("status")).to_contain_text(f"Đã lưu hồ sơ sáng kiến #{number}. Bot vừa nhắn")
        await page.get_by_role("button", name="Lưu hồ sơ").click()  # the same again: nothing new to tell
        await expect(page.get_by_role("status")).to_contain_text("gõ /docx")
    # The chat says so (once: neither the refused save nor the same one again told it), with one tap for the forms.
    told = await sen.expect(f"Đã lưu hồ sơ sáng kiến #{number} từ trang web: 5/9 mục đã có")
    await sen.tap("Nhận Đơn và Mô tả mới", told)
    request = Document(io.BytesIO(await sen.expect_file(f"don-yeu-cau-cong-nhan-sang-kien-{number}.docx")))
    assert any("Giám đốc Sở Y tế tỉnh Phú Thọ" in paragraph.text for paragraph in request.paragraphs)
    await sen.expect_file(f"mo-ta-sang-kien-{number}.docx")
    assert await web_save_notices(live_database, number) == 1
    stored = await live_database.initiative(number)
    assert (stored.addressee, stored.purpose) == ("Giám đốc Sở Y tế tỉnh Phú Thọ", "Giảm giấy tờ <b>& thời gian</b>")
    assert stored.appliers == "Lê Văn Tám; Thử nghiệm\nĐỗ Thị Nga; Nhập liệu"
    assert stored.investor == "Tác giả đồng thời là chủ đầu tư", (
        "a suggestion typed is stored as the records word it, as in the chat"
    )
    typed = stored.authors[1]
    assert (typed.workplace, typed.birth_date, typed.job_title, typed.qualification) == (
        "Sở Y tế",
        dt.date(1988, 4, 3),
        "Chuyên viên",
        "Đại học",
    )  # «dai hoc»: as the profile's button words it

    # The chat shows what the page wrote, and what the chat writes the page shows.
    await sen.tap("Hoàn thiện hồ sơ")
    await answer(sen, "Đang lưu: Giám đốc Sở Y tế tỉnh Phú Thọ", "Hội đồng sáng kiến Sở Y tế")
    await answer(sen, "Đang lưu: Sở Y tế; 03/04/1988; Chuyên viên; Đại học", tap="Dừng")
    await sen.expect(f"Đã lưu hồ sơ sáng kiến #{number}")
    async with phone_page(link) as page:
        await expect(page.get_by_label("Kính gửi")).to_have_value("Hội đồng sáng kiến Sở Y tế")

    # Only the writer, only through the page's own form.
    chair = await live_database.member_of(cast.admin.user_id)
    someone_else = review_links.sign(LINK_SECRET, number, chair.id, live_bot.clock.now, purpose=review_links.DOSSIER)
    review_token = review_links.sign(LINK_SECRET, number, (await live_database.member_of(sen.user_id)).id,
                                     live_bot.clock.now)  # fmt: skip
    async with phone_page(f"{live_bot.web_url}/h/{someone_else}") as page:
        await expect(page.get_by_role("status")).to_contain_text("chỉ dành cho người gửi sáng kiến")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{live_bot.web_url}/h/{review_token}") as reply:
            assert reply.status == 403, "a review link does not open the dossier"
        async with http.post(link, data={"purpose": "Đổi"}) as reply:
            assert reply.status == 403, "a save without the page's form token"
    assert (await live_database.initiative(number)).purpose == "Giảm giấy tờ <b>& thời gian</b>"


async def test_on_zalo_a_save_on_the_dossier_page_is_answered_with_the_initiatives_number(
    zalo_emulator: ZaloEmulator, live_bot: InProcessBot, live_database: Database
) -> None:
    """Zalo has no buttons: the notice of a save asks for «1 <number>», which sends the new forms."""
    tuyet = ZaloPerson(zalo_emulator, "Đào Thị Tuyết")
    await register(tuyet, "MAU002", "Đào Thị Tuyết")
    number = await submit_initiative(tuyet)
    await tuyet.tap("Dừng", await tuyet.expect("Bước 1/4"))
    described = await tuyet.expect(f"mo-ta-sang-kien-{number}.docx")
    page = await dossier_page_save(DOSSIER_LINK.search(described.text).group(0), purpose="Giảm giấy tờ")
    assert "Bot vừa nhắn" in page
    told = await tuyet.expect(f"Đã lưu hồ sơ sáng kiến #{number} từ trang web: 1/", f"1 {number}")
    await tuyet.send(f"1 {number}")
    await tuyet.expect(f"don-yeu-cau-cong-nhan-sang-kien-{number}.docx")
    assert told.text.count("1. ") == 1, told.text
