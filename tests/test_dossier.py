"""The council's dossier: the Đơn yêu cầu công nhận sáng kiến and the Mô tả sáng kiến built from a real
database (SQLite and PostgreSQL) for a single author, three co-authors and a research topic (1.7), read back
with python-docx — every section's label and content, the tables' columns and rows, the signature blocks,
and dotted blanks only where the author left an answer out. The dossier's answers are parsed by the same
functions the chat and the web page use (`handlers/dossier.py`)."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from docx import Document
from sqlalchemy import select

from bot.config import Config
from domain.rules import InputError
from handlers.dossier import parse_people, parse_person
from handlers.reports import forms
from storage import queries
from storage.engine import create_engine, session_factory, upgrade_database
from storage.models import Attachment, Author, Initiative, Status
from tests.harness import SAMPLE_BRANCHES

TODAY = dt.date(2022, 5, 3)
BLANK = "……………………………………………………"
SHORT = "…………"


@pytest.fixture
async def dossiers(database_url: str, config: Config):
    """Three submitted initiatives of branch MAU001: a single author's with the whole dossier answered, a
    three-author one with the dossier left out, and a research topic (1.7) with its acceptance."""
    engine = create_engine(database_url)
    await upgrade_database(engine)
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        branch = await queries.branch_by_code(session, "MAU001")
        branch.recognising_body = "Hội đồng sáng kiến Sở Y tế tỉnh Phú Thọ"

        async def member(user: str, name: str, **profile: object):
            identity = await queries.get_or_create_identity(session, "telegram", user, user, "", "vi")
            person = await queries.register_member(session, identity, name, branch)
            for key, value in profile.items():
                setattr(person, key, value)
            return person

        hoa = await member("1", "Nguyễn Thị Hoa", workplace="Bệnh viện Đa khoa tỉnh Phú Thọ",
                           birth_date=dt.date(1985, 5, 12), job_title="Điều dưỡng trưởng",
                           qualification="Thạc sĩ")  # fmt: skip
        lan = await member("2", "Phạm Thị Lan", workplace="Trường THPT Việt Trì", birth_date=dt.date(1990, 1, 2),
                           job_title="Giáo viên", qualification="Đại học")  # fmt: skip

        def initiative(writer, title: str, type_code: str = "1.2", **fields: object) -> Initiative:
            answers = {"field": "Y tế", **fields}
            made = Initiative(
                member_id=writer.id, branch_id=branch.id, status=Status.SUBMITTED, title=title, type_code=type_code,
                problem="Hồ sơ giấy mất 3 ngày.", solution="Quét mã QR, bước 1 và bước 2.",
                first_applied_on=dt.date(2021, 10, 15), application_kind="trial",
                application_place="Khoa Khám bệnh", economic_benefit="Tiết kiệm giấy in.",
                economic_amount_vnd=15_000_000, social_benefit="Người bệnh chờ ít hơn.",
                submitted_at=dt.datetime(2022, 3, 1, 3, tzinfo=dt.UTC), **answers,
            )  # fmt: skip
            session.add(made)
            return made

        def author(person, share: int, *, lead: bool = False) -> Author:
            made = Author(full_name=person.full_name, share_percent=share, member_id=person.id, branch_id=branch.id,
                          confirmed=True, is_lead=lead)  # fmt: skip
            queries.copy_profile(made, person)
            return made

        single = initiative(
            hoa, "Số hoá phiếu khám bằng mã QR", recognition_kind="head",
            addressee="Giám đốc Bệnh viện Đa khoa tỉnh Phú Thọ", investor="Tác giả đồng thời là chủ đầu tư",
            purpose="Rút ngắn thời gian chờ khám.", applicability="Mọi bệnh viện tuyến tỉnh.",
            conditions="Máy quét mã QR.", confidential="Không có",
            appliers_opinion="Khoa Khám bệnh đánh giá: giảm một nửa thời gian chờ.",
            appliers=parse_people("Lê Văn Tám; 01/02/1980; Khoa Khám bệnh; Bác sĩ; Đại học; Thử nghiệm\n"
                                  "Đỗ Thị Nga; Nhập dữ liệu"),
        )  # fmt: skip
        queries.replace_authors(single, [author(hoa, 100)], research=False)
        single.attachments = [
            Attachment(platform="telegram", file_id="P1", kind="photo"),
            Attachment(platform="telegram", file_id="D1", kind="document", file_name="quy-trinh.pdf"),
            Attachment(platform="telegram", file_id="D2", kind="document"),
            Attachment(platform="telegram", file_id="S1", kind="photo", purpose="decision"),
        ]

        group = initiative(lan, "Ngân hàng câu hỏi trực tuyến", field="Giáo dục")
        bình = Author(full_name="Trần Văn Bình", share_percent=30, branch_id=branch.id)
        minh = Author(full_name="Vũ Đức Minh", share_percent=20, branch_id=branch.id)
        queries.replace_authors(group, [author(lan, 50), bình, minh], research=False)
        bình.workplace, bình.birth_date, bình.job_title, bình.qualification = parse_person(
            "Trường THPT Việt Trì; 3/4/1988; Giáo viên; Thạc sĩ", TODAY
        )

        topic = initiative(
            lan, "Nghiên cứu mô hình công đoàn số", type_code="1.7", research_level="province", head_confirmed=True,
            recognition_kind="acceptance", recognition_decision_no="45/QĐ-SKHCN",
            recognition_date=dt.date(2022, 2, 10),
        )  # fmt: skip
        queries.replace_authors(topic, [author(hoa, 40), author(lan, 60, lead=True)], research=True)
        await session.flush()
        ids = {"single": single.id, "group": group.id, "topic": topic.id}
    yield sessions, ids
    await engine.dispose()


async def load(sessions, number: int) -> Initiative:
    async with sessions() as session:
        initiative = await queries.initiative_by_id(session, number)
        assert initiative is not None
        return initiative


def read(content: bytes) -> tuple[list[str], list[list[list[str]]]]:
    document = Document(io.BytesIO(content))
    texts = [p.text for p in document.paragraphs if p.text.strip()]
    tables = [[[cell.text for cell in row.cells] for row in table.rows] for table in document.tables]
    return texts, tables


def in_order(texts: list[str], expected: list[str]) -> None:
    """Each expected paragraph exactly, in this order (others may come between)."""
    position = 0
    for line in expected:
        found = next((i for i in range(position, len(texts)) if texts[i] == line), None)
        assert found is not None, f"{line!r} missing after paragraph {position}: {texts[position : position + 4]}"
        position = found + 1


def signature(tables: list[list[list[str]]]) -> list[str]:
    """The signature blocks' lines (left, then right), without the room left to sign."""
    cells = tables[-1][0]
    return [line for cell in cells for line in cell.split("\n") if line]


@pytest.mark.asyncio
async def test_a_single_authors_request_is_complete(dossiers, config: Config) -> None:
    sessions, ids = dossiers
    texts, tables = read(forms.request_form(await load(sessions, ids["single"]), config.campaign, TODAY))
    in_order(texts, [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "───────────────",
        "ĐƠN YÊU CẦU CÔNG NHẬN SÁNG KIẾN",
        "Kính gửi: Giám đốc Bệnh viện Đa khoa tỉnh Phú Thọ",
        "Tôi (chúng tôi) ghi tên dưới đây:",
        "Là tác giả (nhóm tác giả) đề nghị xét công nhận sáng kiến: Số hoá phiếu khám bằng mã QR",
        "- Chủ đầu tư tạo ra sáng kiến (trường hợp tác giả không đồng thời là chủ đầu tư tạo ra sáng kiến): "
        "Tác giả đồng thời là chủ đầu tư",
        "- Lĩnh vực áp dụng sáng kiến: Y tế",
        "- Ngày sáng kiến được áp dụng lần đầu hoặc áp dụng thử (ghi ngày nào sớm hơn): 15/10/2021",
        "- Mô tả bản chất của sáng kiến:",
        "+ Tình trạng giải pháp đã biết: Hồ sơ giấy mất 3 ngày.",
        "+ Nội dung giải pháp đề nghị công nhận là sáng kiến: Quét mã QR, bước 1 và bước 2.",
        "+ Khả năng áp dụng của giải pháp: Mọi bệnh viện tuyến tỉnh.",
        "- Những thông tin cần được bảo mật (nếu có): Không có",
        "- Những điều kiện cần thiết để áp dụng sáng kiến: Máy quét mã QR.",
        "- Đánh giá lợi ích thu được hoặc dự kiến có thể thu được do áp dụng sáng kiến theo ý kiến của tác giả:",
        "Lợi ích kinh tế: Tiết kiệm giấy in.", "Giá trị làm lợi ước tính trong một năm: 15.000.000 đồng",
        "Lợi ích xã hội: Người bệnh chờ ít hơn.",
        "- Đánh giá lợi ích thu được hoặc dự kiến có thể thu được do áp dụng sáng kiến theo ý kiến của tổ chức, cá "
        "nhân đã tham gia áp dụng sáng kiến lần đầu, kể cả áp dụng thử (nếu có): Khoa Khám bệnh đánh giá: giảm một "
        "nửa thời gian chờ.",
        "- Danh sách những người đã tham gia áp dụng thử hoặc áp dụng sáng kiến lần đầu (nếu có):",
        "Tôi (chúng tôi) xin cam đoan mọi thông tin nêu trong đơn là trung thực, đúng sự thật và hoàn toàn chịu "
        "trách nhiệm trước pháp luật.",
    ])  # fmt: skip
    assert not any(BLANK in text or "₫" in text for text in texts), "nothing left blank, amounts in đồng"
    authors, appliers = tables[0], tables[1]
    assert authors == [
        ["Số TT", "Họ và tên", "Ngày tháng năm sinh", "Nơi công tác (hoặc nơi thường trú)", "Chức danh",
         "Trình độ chuyên môn",
         "Tỷ lệ (%) đóng góp vào việc tạo ra sáng kiến (ghi rõ đối với từng đồng tác giả, nếu có)"],
        ["1", "Nguyễn Thị Hoa", "12/05/1985", "Bệnh viện Đa khoa tỉnh Phú Thọ", "Điều dưỡng trưởng", "Thạc sĩ", "100%"],
    ]  # fmt: skip
    assert appliers == [
        ["Số TT", "Họ và tên", "Ngày tháng năm sinh", "Nơi công tác", "Chức danh", "Trình độ chuyên môn",
         "Nội dung công việc hỗ trợ"],
        ["1", "Lê Văn Tám", "01/02/1980", "Khoa Khám bệnh", "Bác sĩ", "Đại học", "Thử nghiệm"],
        ["2", "Đỗ Thị Nga", SHORT, SHORT, SHORT, SHORT, "Nhập dữ liệu"],
    ]  # fmt: skip
    assert signature(tables) == [
        "Phú Thọ, ngày 03 tháng 05 năm 2022",
        "Người nộp đơn",
        "(Ký và ghi rõ họ tên)",
        "Nguyễn Thị Hoa",
    ]


@pytest.mark.asyncio
async def test_a_single_authors_description_is_complete(dossiers, config: Config) -> None:
    sessions, ids = dossiers
    texts, tables = read(forms.description(await load(sessions, ids["single"]), config.campaign, TODAY))
    in_order(texts, [
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc", "MÔ TẢ SÁNG KIẾN",
        "Tác giả: Nguyễn Thị Hoa (100%)", "Đơn vị công tác: Bệnh viện Đa khoa tỉnh Phú Thọ",
        "1. Tên sáng kiến: Số hoá phiếu khám bằng mã QR", "2. Lĩnh vực áp dụng sáng kiến: Y tế",
        "3. Mô tả bản chất của sáng kiến:", "3.1. Tình trạng giải pháp đã biết:", "Hồ sơ giấy mất 3 ngày.",
        "3.2. Nội dung giải pháp đề nghị công nhận là sáng kiến:",
        "- Mục đích của giải pháp: Rút ngắn thời gian chờ khám.",
        "- Những điểm khác biệt, tính mới của giải pháp và các bước thực hiện: Quét mã QR, bước 1 và bước 2.",
        "3.3. Khả năng áp dụng của giải pháp:", "Mọi bệnh viện tuyến tỉnh.",
        "3.4. Hiệu quả, lợi ích thu được hoặc dự kiến có thể thu được do áp dụng giải pháp:",
        "Áp dụng thử tại Khoa Khám bệnh từ ngày 15/10/2021.", "Lợi ích kinh tế: Tiết kiệm giấy in.",
        "Giá trị làm lợi ước tính trong một năm: 15.000.000 đồng", "Lợi ích xã hội: Người bệnh chờ ít hơn.",
        "3.5. Tài liệu kèm theo:", "- Ảnh 1", "- quy-trinh.pdf", "- Tệp 2", "- Bản chụp quyết định công nhận",
        "4. Những thông tin cần được bảo mật (nếu có): Không có",
        "5. Những điều kiện cần thiết để áp dụng sáng kiến: Máy quét mã QR.",
    ])  # fmt: skip
    assert not any(BLANK in text for text in texts)
    assert signature(tables) == [
        "XÁC NHẬN CỦA CƠ QUAN, ĐƠN VỊ ÁP DỤNG SÁNG KIẾN", "(Ký tên, đóng dấu)",
        "Phú Thọ, ngày 03 tháng 05 năm 2022", "TÁC GIẢ SÁNG KIẾN", "(Ký và ghi rõ họ tên)", "Nguyễn Thị Hoa",
    ]  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("typed", "printed"),
    [("Tại Khoa Khám bệnh", "Khoa Khám bệnh"), ("ở khoa Dược", "khoa Dược"), ("Tại: Khoa Dược", "Khoa Dược"),
     ("Tại", "Tại"), ("Tạiđây", "Tạiđây")],
)  # fmt: skip
async def test_the_place_applied_is_printed_once_after_the_forms_own_tai(
    dossiers, config: Config, typed: str, printed: str
) -> None:
    """«Tại đơn vị», as members type where it is applied, printed «Áp dụng tại Tại đơn vị» (a phone walk)."""
    sessions, ids = dossiers
    initiative = await load(sessions, ids["single"])
    initiative.application_place = typed
    texts, _ = read(forms.description(initiative, config.campaign, TODAY))
    assert f"Áp dụng thử tại {printed} từ ngày 15/10/2021." in texts


@pytest.mark.asyncio
async def test_three_authors_with_the_dossier_left_out_keep_blanks_only_there(dossiers, config: Config) -> None:
    sessions, ids = dossiers
    group = await load(sessions, ids["group"])
    texts, tables = read(forms.request_form(group, config.campaign, TODAY))
    in_order(texts, [
        "Kính gửi: Hội đồng sáng kiến Sở Y tế tỉnh Phú Thọ",  # the branch's recognising body
        "- Chủ đầu tư tạo ra sáng kiến (trường hợp tác giả không đồng thời là chủ đầu tư tạo ra sáng kiến): " + BLANK,
        "- Lĩnh vực áp dụng sáng kiến: Giáo dục",
        "+ Khả năng áp dụng của giải pháp: " + BLANK,
        "- Những thông tin cần được bảo mật (nếu có): " + BLANK,
        "- Những điều kiện cần thiết để áp dụng sáng kiến: " + BLANK,
    ])  # fmt: skip
    blanks = [text for text in texts if BLANK in text]
    assert len(blanks) == 5, blanks  # investor, applicability, confidential, conditions, appliers' opinion
    assert tables[0][1:] == [
        ["1", "Phạm Thị Lan", "02/01/1990", "Trường THPT Việt Trì", "Giáo viên", "Đại học", "50%"],
        ["2", "Trần Văn Bình", "03/04/1988", "Trường THPT Việt Trì", "Giáo viên", "Thạc sĩ", "30%"],
        ["3", "Vũ Đức Minh", SHORT, SHORT, SHORT, SHORT, "20%"],  # details not given: blank to write in
    ]
    assert tables[1][1:] == [[SHORT] * 7], "no appliers listed: one row to fill by hand"
    texts, _ = read(forms.description(group, config.campaign, TODAY))
    in_order(texts, [
        "Tác giả: Phạm Thị Lan (50%), Trần Văn Bình (30%), Vũ Đức Minh (20%)",
        "Đơn vị công tác: Trường THPT Việt Trì",
        "- Mục đích của giải pháp: " + BLANK, "3.3. Khả năng áp dụng của giải pháp:", BLANK,
        "3.5. Tài liệu kèm theo:", "- Không có.",
    ])  # fmt: skip


@pytest.mark.asyncio
async def test_a_research_topic_gets_its_own_request(dossiers, config: Config) -> None:
    sessions, ids = dossiers
    texts, tables = read(forms.request_form(await load(sessions, ids["topic"]), config.campaign, TODAY))
    in_order(texts, [
        "ĐƠN ĐỀ NGHỊ CÔNG NHẬN ĐỀ TÀI NGHIÊN CỨU KHOA HỌC", "(tham gia Chương trình “01 triệu sáng kiến”)",
        "Kính gửi: Hội đồng sáng kiến Sở Y tế tỉnh Phú Thọ",
        "Là chủ nhiệm (các thành viên) đề tài nghiên cứu khoa học đề nghị công nhận: Nghiên cứu mô hình công đoàn số",
        "- Cấp đề tài: Cấp tỉnh", "- Lĩnh vực áp dụng sáng kiến: Y tế",
        "- Kết quả nghiệm thu (Hội đồng nghiệm thu, số và ngày quyết định): Hội đồng nghiệm thu, Quyết định số "
        "45/QĐ-SKHCN ngày 10/02/2022",
        "- Ngày đề tài được ứng dụng lần đầu trong thực tế (ghi ngày nào sớm hơn): 15/10/2021",
        "- Cơ quan, đơn vị ứng dụng đề tài: Khoa Khám bệnh",
        "+ Vấn đề đặt ra: Hồ sơ giấy mất 3 ngày.", "+ Nội dung, kết quả của đề tài: Quét mã QR, bước 1 và bước 2.",
        "- Hiệu quả ứng dụng thực tế:", "Giá trị làm lợi ước tính trong một năm: 15.000.000 đồng",
        "- Xác nhận hiệu quả ứng dụng của thủ trưởng cơ quan, đơn vị ứng dụng: Đã xác nhận (kèm theo văn bản xác "
        "nhận)",
    ])  # fmt: skip
    assert "ĐƠN YÊU CẦU CÔNG NHẬN SÁNG KIẾN" not in texts
    assert [row[1] for row in tables[0][1:]] == ["Nguyễn Thị Hoa", "Phạm Thị Lan"]
    assert [row[6] for row in tables[0][1:]] == ["Thành viên, 40%", "Chủ nhiệm đề tài, 60%"]
    assert signature(tables) == [
        "XÁC NHẬN CỦA THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ ỨNG DỤNG ĐỀ TÀI", "(Ký tên, đóng dấu)",
        "Phú Thọ, ngày 03 tháng 05 năm 2022", "Chủ nhiệm đề tài", "(Ký và ghi rõ họ tên)", "Phạm Thị Lan",
    ], "the lead signs; the applying unit's head confirms"  # fmt: skip


@pytest.mark.asyncio
async def test_the_addressee_follows_the_recognition_kind_without_a_branch_default(dossiers, config: Config) -> None:
    sessions, ids = dossiers
    single = await load(sessions, ids["single"])
    single.branch.recognising_body, single.addressee = None, None
    assert forms.addressee(single) == "Thủ trưởng Bệnh viện Đa khoa tỉnh Phú Thọ"  # recognised by the head
    assert forms.addressee_choices(single) == [
        "Thủ trưởng Bệnh viện Đa khoa tỉnh Phú Thọ",
        "Hội đồng sáng kiến Bệnh viện Đa khoa tỉnh Phú Thọ",
    ]
    single.recognition_kind = None
    assert forms.addressee(single) == "", "not known yet: the form keeps the dotted line"


def test_typed_details_are_read_or_refused_with_what_to_fix() -> None:
    assert parse_person("Sở Y tế; ; Chuyên viên", TODAY) == ("Sở Y tế", None, "Chuyên viên", None)
    assert parse_person(" ; 31/12/1979 ", TODAY) == (None, dt.date(1979, 12, 31), None, None)
    # Commas, as a phone's keyboard offers them: the date of birth places the parts (a workplace keeps its own).
    assert parse_person("Khoa Nội, Bệnh viện A, 3/4/1988, Bác sĩ, Thạc sĩ", TODAY) == (
        "Khoa Nội, Bệnh viện A",
        dt.date(1988, 4, 3),
        "Bác sĩ",
        "Thạc sĩ",
    )
    assert parse_person("Sở Y tế, Chuyên viên", TODAY) == ("Sở Y tế, Chuyên viên", None, None, None), "no date"
    wrong_details = (("a; b; c; d; e", "err_person_details"), (" ; ; ", "err_person_details"),
                     ("Sở Y tế; 31/2/1985", "err_date_no_such_day"), ("Y tế; 1/1/2020", "err_birth_date"))  # fmt: skip
    for wrong, key in wrong_details:
        with pytest.raises(InputError) as error:
            parse_person(wrong, TODAY)
        assert error.value.key == key, wrong
    assert parse_people("  Lê Văn Tám ;Thử nghiệm \n\n Đỗ Thị Nga") == "Lê Văn Tám; Thử nghiệm\nĐỗ Thị Nga"
    typed = "Nguyễn Thị Lan - nhập dữ liệu hiện vật\nTrần Văn Bảo: kiểm kê - đối chiếu"  # as people write it
    assert parse_people(typed) == "Nguyễn Thị Lan; nhập dữ liệu hiện vật\nTrần Văn Bảo; kiểm kê - đối chiếu"
    for wrong, key in (("", "err_people"), ("Lê Văn Tám; a\n12; b", "err_people_line"),
                       ("\n".join(f"Người số {n}" for n in range(31)), "err_people_too_many")):  # fmt: skip
        with pytest.raises(InputError) as error:
            parse_people(wrong)
        assert error.value.key == key


@pytest.mark.asyncio
async def test_an_investor_stored_in_the_old_words_reads_as_the_forms_line_after_the_upgrade(
    tmp_path, config: Config
) -> None:
    """«Tác giả tự đầu tư» printed under «(trường hợp tác giả không đồng thời là chủ đầu tư …)» contradicted the
    line; migration 0018 words the stored suggestion as the line does, and leaves every other answer alone."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/old.db")
    await upgrade_database(engine, "0017")
    sessions = session_factory(engine)
    async with sessions() as session, session.begin():
        await queries.load_sample_branches(session, SAMPLE_BRANCHES, config.campaign)
        branch = await queries.branch_by_code(session, "MAU001")
        identity = await queries.get_or_create_identity(session, "telegram", "1", "1", "", "vi")
        hoa = await queries.register_member(session, identity, "Nguyễn Thị Hoa", branch)
        for investor in ("Tác giả tự đầu tư", "Sở Khoa học và Công nghệ"):
            session.add(Initiative(member_id=hoa.id, branch_id=branch.id, status=Status.SUBMITTED, title=investor,
                                   investor=investor))  # fmt: skip
    await upgrade_database(engine)
    async with sessions() as session:
        stored = {
            title: investor for title, investor in await session.execute(select(Initiative.title, Initiative.investor))
        }
    await engine.dispose()
    assert stored == {"Tác giả tự đầu tư": "Tác giả đồng thời là chủ đầu tư",
                      "Sở Khoa học và Công nghệ": "Sở Khoa học và Công nghệ"}  # fmt: skip
