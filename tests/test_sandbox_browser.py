"""The sandbox as a new user meets it: `sangkien run` without a token, then the web page in Chromium."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import expect

from tests.browser import phone_page
from tests.harness import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """Start the sandbox exactly as the README's first command does, on any free port."""
    folder = tmp_path_factory.mktemp("sandbox")
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN", "PUBLIC_URL")}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{folder}/sandbox.db"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--port", "0",
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    url, seen = None, []
    async with asyncio.timeout(60):
        while url is None:
            line = (await process.stdout.readline()).decode()
            assert line, "sandbox exited early:\n" + "".join(seen)
            seen.append(line)
            match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            url = match.group(1) if match else None
    drain = asyncio.create_task(process.stdout.read())
    yield url
    process.terminate()
    await process.wait()
    drain.cancel()


async def test_a_new_user_taps_through_registration_to_the_first_question(sandbox_url: str, tmp_path: Path) -> None:
    async with phone_page(sandbox_url + "/") as page:
        await expect(page.get_by_text("SANDBOX — dữ liệu mẫu")).to_be_visible()
        await expect(page.get_by_text("Chọn công đoàn cơ sở (CĐCS)").last).to_be_visible(timeout=15_000)

        await page.get_by_label("Tin nhắn").fill("so y te")
        await page.get_by_role("button", name="Gửi", exact=True).click()
        await page.get_by_role("button", name="[MẪU] Sở Y tế", exact=True).click()
        await expect(page.get_by_text("Nhập họ và tên")).to_be_visible()
        await page.get_by_role("button", name="Dùng tên: Nguyễn Văn An").click()
        await expect(page.get_by_text("Đăng ký xong!")).to_be_visible()

        await page.locator("#menu").get_by_role("button", name="📝 Sáng kiến mới").click()
        first_question = page.locator(".msg.bot").filter(has_text="Bước 1/16")
        await expect(first_question).to_be_visible()
        await expect(first_question.get_by_text("điều kiện tham gia")).to_be_visible()
        # Nothing to keep yet: «Dừng», not «Dừng (giữ nháp)» (a draft is kept once it has a title)
        await expect(first_question.get_by_role("button", name="✖️ Dừng", exact=True)).to_be_visible()
        await expect(first_question.get_by_role("button", name="Quay lại")).to_have_count(0)
        await page.screenshot(path=os.environ.get("SANDBOX_SCREENSHOT", str(tmp_path / "sandbox.png")))


async def test_member_submits_and_the_sample_chair_verifies_side_by_side(sandbox_url: str) -> None:
    """The whole review loop as a new user plays it in the sandbox page: member, then chair, then member."""
    async with phone_page(sandbox_url + "/") as page:
        await page.get_by_label("Chọn người dùng mẫu").select_option(label="Trần Thị Bình (mẫu)")
        last = page.locator(".msg.bot").last
        # Bình's own chat, not the one shown before the switch (which held the same words once).
        await expect(last).to_contain_text("Chọn công đoàn cơ sở (CĐCS)", timeout=15_000)

        async def tap(label: str, waiting_for: str) -> None:
            await expect(last).to_contain_text(waiting_for)
            await last.get_by_role("button", name=label).first.click()

        async def say(text: str, waiting_for: str) -> None:
            await expect(last).to_contain_text(waiting_for)
            await page.get_by_label("Tin nhắn").fill(text)
            await page.get_by_label("Tin nhắn").press("Enter")

        await say("so y te", "Chọn công đoàn cơ sở")
        await tap("[MẪU] Sở Y tế", "phù hợp")
        await tap("Dùng tên: Trần Thị Bình", "Nhập họ và tên")
        await expect(last).to_contain_text("Đăng ký xong")
        await page.locator("#menu").get_by_role("button", name="📝 Sáng kiến mới").click()
        await tap("Đúng, đủ cả 3", "Bước 1/16")
        await say("Sổ tay điện tử cho tổ công đoàn", "Bước 2/16")
        await tap("1.5", "Bước 3/16")
        await tap("Hoạt động công đoàn", "Lĩnh vực áp dụng")
        await say("Sổ sách giấy, ghi chép thủ công, khó tổng hợp số liệu đoàn viên.", "Thực trạng")
        await say(  # several lines in the text box (Shift+Enter), sent with Enter
            "Bước 1: lập bảng tính dùng chung.\nBước 2: hướng dẫn tổ trưởng cập nhật.\nĐiểm mới: số liệu tức thì.",
            "Nội dung giải pháp",
        )
        await say("1/10/2021", "Ngày áp dụng lần đầu")
        await tap("Đã áp dụng", "áp dụng thử")
        await say("Công đoàn Sở Y tế", "Áp dụng ở đâu")
        await tap("Bỏ qua", "Lợi ích kinh tế")
        await say("Đoàn viên nắm thông tin nhanh, tổ trưởng đỡ mất thời gian.", "Lợi ích xã hội")
        await say("chưa", "công nhận")
        await tap("Chỉ mình tôi", "Tác giả")
        await expect(last).to_contain_text("Gửi ảnh hoặc tệp")
        await page.get_by_role("button", name="Gửi tệp").click()
        await expect(last).to_contain_text("Đã nhận bao-cao-sang-kien.pdf (1/10)")
        await page.get_by_role("button", name="Gửi ảnh").click()
        await tap("Xong (2 tệp)", "Đã nhận ảnh (2/10)")
        summary = page.locator(".msg.bot").filter(has_text="Tóm tắt sáng kiến").last
        await expect(summary).to_contain_text("Bước 2: hướng dẫn tổ trưởng cập nhật.")
        await tap("Gửi sáng kiến", "Tóm tắt sáng kiến")
        sent = page.locator(".msg.bot").filter(has_text="Đã gửi sáng kiến")
        await expect(sent).to_be_visible()
        number = re.search(r"#(\d+)", await sent.inner_text()).group(1)
        await tap("Dừng", "Nơi công tác")  # the profile, asked after the first submission: later
        form = page.get_by_role("link", name=f"mo-ta-sang-kien-{number}.docx")
        await expect(form).to_be_visible()
        async with page.expect_download() as download:
            await form.click()
        assert (await download.value).suggested_filename == f"mo-ta-sang-kien-{number}.docx"

        await page.get_by_label("Chọn người dùng mẫu").select_option(label="Phạm Thu Hà (chủ tịch) (mẫu)")
        card = page.locator(".msg.bot").filter(has_text="Sổ tay điện tử cho tổ công đoàn").last
        await expect(card).to_contain_text("chờ xác nhận hồ sơ", timeout=15_000)
        waiting = page.locator("#menu").get_by_role("button", name=re.compile(r"📥 Chờ xác nhận \(\d+\)"))
        await expect(waiting).to_be_visible()  # her menu, though she had only received cards
        # The sandbox's web address is http: Telegram takes only https link buttons, so the link is in the text.
        review_page = await card.get_by_role("link", name=re.compile(r"http.*r.[A-Za-z0-9_-]+")).get_attribute("href")
        async with phone_page(review_page) as reviewing:  # the attachments open (they answered 502 once)
            report = reviewing.get_by_role("link", name="bao-cao-sang-kien.pdf")
            fetched = await reviewing.request.get(sandbox_url.split("//")[0] + "//" + review_page.split("/")[2]
                                                  + await report.get_attribute("href"))  # fmt: skip
            assert fetched.status == 200 and (await fetched.body()).startswith(b"%PDF")
            photo = reviewing.get_by_role("img")
            await expect(photo).to_be_visible()
        await card.get_by_role("button", name="✅ Xác nhận hồ sơ").click()
        await expect(page.locator(".msg.bot").filter(has_text="Đã xác nhận hồ sơ sáng kiến").last).to_be_visible()
        if os.environ.get("SANDBOX_SCREENSHOT"):
            await page.screenshot(path=os.environ["SANDBOX_SCREENSHOT"].replace(".png", "-chair.png"))

        await page.get_by_label("Chọn người dùng mẫu").select_option(label="Trần Thị Bình (mẫu)")
        notice = page.locator(".msg.bot").filter(has_text="đã được CĐCS xác nhận").last
        await expect(notice).to_contain_text("Phạm Thu Hà", timeout=15_000)


async def test_the_sample_group_has_its_digest_and_answers_progress(sandbox_url: str) -> None:
    """The sandbox's sample group, as a new user finds it from the README: a digest, then /progress."""
    async with phone_page(sandbox_url + "/") as page:
        await page.get_by_label("Chọn người dùng mẫu").select_option(label="Phạm Thu Hà (chủ tịch) (mẫu)")
        await page.get_by_label("Chọn cuộc trò chuyện").select_option(label="👥 Nhóm CĐCS [MẪU] Bệnh viện Đa khoa tỉnh")
        digest = page.locator(".msg.bot").filter(has_text="Bản tin tiến độ hằng tuần")
        await expect(digest).to_contain_text("[MẪU] Bệnh viện Đa khoa tỉnh", timeout=15_000)
        await page.get_by_label("Tin nhắn").fill("/progress")
        await page.get_by_label("Tin nhắn").press("Enter")
        mine = page.locator(".msg.user").last
        await expect(mine).to_contain_text("Phạm Thu Hà")  # in a group, each message shows who wrote it
        await expect(page.locator(".msg.bot").filter(has_text="Chờ xác nhận")).to_have_count(2, timeout=15_000)


async def test_on_zalo_options_are_numbered_and_answered_by_number(sandbox_url: str) -> None:
    """The same conversation on the Zalo side of the sandbox: no buttons, numbered options, typed answers."""
    async with phone_page(sandbox_url + "/") as page:
        await page.get_by_label("Chọn kênh").select_option(label="Zalo")
        await page.get_by_label("Chọn người dùng mẫu").select_option(label="Trần Thị Bình (mẫu)")
        last = page.locator(".msg.bot").last
        await expect(last).to_contain_text("Chọn công đoàn cơ sở", timeout=15_000)
        await expect(page.locator(".msg.bot button")).to_have_count(0)  # Zalo has no buttons

        async def say(text: str, waiting_for: str) -> None:
            await expect(last).to_contain_text(waiting_for)
            await page.get_by_label("Tin nhắn").fill(text)
            await page.get_by_label("Tin nhắn").press("Enter")

        await say("so tu phap", "Chọn công đoàn cơ sở")
        await say("1", "1. [MẪU] Sở Tư pháp")
        await say("Trần Thị Bình", "Nhập họ và tên")
        await say("sáng kiến mới", "Đăng ký xong")
        await say("có", "Bước 1/16")
        await say("Sổ tay điện tử cho tổ công đoàn", "Bước 2/16")
        await expect(last).to_contain_text("1. 1.1 Giải pháp kỹ thuật")
        await expect(last).to_contain_text("Trả lời bằng số")
        await say("1.5", "Bước 3/16")
        await expect(last).to_contain_text("Bước 4/16")


async def test_the_admin_finds_every_tool_in_the_menu_and_sees_the_campaign_in_motion(sandbox_url: str) -> None:
    """The provincial admin needs no branch: the menu of their role, the progress of the sample campaign (the
    sandbox clock is in phase 1, sample initiatives are recognised) with its chart shown as a photo."""
    async with phone_page(sandbox_url + "/") as page:
        await page.get_by_label("Chọn người dùng mẫu").select_option(label="Quản trị tỉnh (quản trị) (mẫu)")
        menu = page.locator("#menu")
        for item in ("📊 Tiến độ chung", "📤 Xuất Excel", "📢 Thông báo", "👥 Chủ tịch CĐCS", "🏢 CĐCS"):
            await expect(menu.get_by_role("button", name=item)).to_be_visible(timeout=15_000)
        await menu.get_by_role("button", name="📊 Tiến độ chung").click()
        overview = page.locator(".msg.bot").filter(has_text="📊 Tiến độ Giai đoạn 1").last
        await expect(overview).to_contain_text("Dẫn đầu", timeout=15_000)
        await expect(overview).to_contain_text("Còn 41 ngày")
        chart = page.locator(".msg.bot img.photo").last
        await expect(chart).to_be_visible(timeout=15_000)
        assert await chart.evaluate("image => image.naturalWidth") >= 700
        if os.environ.get("SANDBOX_SCREENSHOT"):
            await chart.scroll_into_view_if_needed()
            await page.screenshot(path=os.environ["SANDBOX_SCREENSHOT"].replace(".png", "-admin.png"))
        await menu.get_by_role("button", name="📤 Xuất Excel").click()
        await expect(page.get_by_role("link", name=re.compile(r"\.xlsx$")).last).to_be_visible(timeout=15_000)
        await menu.get_by_role("button", name="❓ Hướng dẫn").click()
        guide = page.locator(".msg.bot").filter(has_text="Quản trị viên").last
        await expect(guide).to_contain_text("/start b_MÃ — chọn CĐCS của mình", timeout=15_000)
        await expect(guide).not_to_contain_text("Sáng kiến mới")  # a member's item his menu does not have


async def test_on_zalo_the_chair_types_the_menu_words_and_verifies_by_number(sandbox_url: str) -> None:
    """The sample chair on Zalo: the menu typed in words, a waiting dossier verified with «1 <number>»."""
    async with phone_page(sandbox_url + "/") as page:
        await page.get_by_label("Chọn kênh").select_option(label="Zalo")
        await page.get_by_label("Chọn người dùng mẫu").select_option(label="Phạm Thu Hà (chủ tịch) (mẫu)")
        await page.get_by_label("Tin nhắn").fill("chờ xác nhận")
        await page.get_by_label("Tin nhắn").press("Enter")
        card = page.locator(".msg.bot").filter(has_text="Kho học liệu số dùng chung cho giáo viên").last
        await expect(card).to_contain_text("1. ✅ Xác nhận hồ sơ", timeout=15_000)
        number = re.search(r"#(\d+)", await card.inner_text()).group(1)
        await page.get_by_label("Tin nhắn").fill(f"1 {number}")
        await page.get_by_label("Tin nhắn").press("Enter")
        done = page.locator(".msg.bot").filter(has_text=f"Đã xác nhận hồ sơ sáng kiến #{number}")
        await expect(done).to_be_visible(timeout=15_000)
        await page.get_by_label("Tin nhắn").fill(f"/history {number}")  # the sample's trail begins with its sending
        await page.get_by_label("Tin nhắn").press("Enter")
        trail = page.locator(".msg.bot").filter(has_text=f"Lịch sử sáng kiến #{number}")
        await expect(trail).to_contain_text("Đỗ Thị Dung: gửi xác nhận", timeout=15_000)
        await expect(trail).to_contain_text("Phạm Thu Hà: quyết định")
