"""The program's pure rules: dates and amounts as people type them, eligibility, author shares."""

import datetime as dt

import pytest

from domain import rules
from domain.credit import AuthorShare, credited_author
from domain.rules import InputError
from domain.text import clean_input, shorten, shorten_middle, shortened_apart, vietnamese_order

WINDOW = (dt.date(2021, 9, 1), dt.date(2023, 9, 1))
TODAY = dt.date(2026, 11, 25)


@pytest.mark.parametrize(
    "text",
    ["1/9/2021", "01/09/2021", "01-09-2021", "1.9.2021", "2021-09-01", " 1 / 9 / 2021 ", "ngày 1 tháng 9 năm 2021",
     "Ngày 01 tháng 09 năm 2021"],
)  # fmt: skip
def test_dates_people_type_are_read_day_first(text: str) -> None:
    assert rules.parse_date(text) == dt.date(2021, 9, 1)


@pytest.mark.parametrize("text", ["tháng 9/2021", "9/2021", "Tháng 9 năm 2021", "thang 09-2021"])
def test_a_month_without_a_day_asks_for_the_day(text: str) -> None:
    with pytest.raises(InputError) as caught:
        rules.parse_date(text)
    assert caught.value.key == "err_date_need_day"
    assert caught.value.params == {"month": 9, "year": 2021}


@pytest.mark.parametrize("text", ["hôm qua", "", "32/1/2022", "1/13/2022", "99999"])
def test_impossible_or_unreadable_dates_are_refused(text: str) -> None:
    with pytest.raises(InputError) as caught:
        rules.parse_date(text)
    assert caught.value.key == "err_date"


@pytest.mark.parametrize(("text", "year"), [("1/1/0001", 1), ("31/12/9999", 9999), ("1/9/1899", 1899),
                                            ("ngày 1 tháng 1 năm 2101", 2101), ("0001-01-01", 1)])  # fmt: skip
def test_a_year_no_date_here_can_have_is_named(text: str, year: int) -> None:
    """Births, applications, decisions and report periods all lie in 1900–2100; year 1 overflowed /export."""
    with pytest.raises(InputError) as caught:
        rules.parse_date(text)
    assert (caught.value.key, caught.value.params) == ("err_date_year_range", {"year": year})
    assert rules.parse_date("1/1/1900") == dt.date(1900, 1, 1) and rules.parse_date("31/12/2100").year == 2100


def test_a_day_the_month_does_not_have_is_named() -> None:
    """ "31/2/2022" is not unreadable: February has no 31st, and the person is told so."""
    with pytest.raises(InputError) as caught:
        rules.parse_date("31/2/2022")
    assert (caught.value.key, caught.value.params) == ("err_date_no_such_day", {"day": 31, "month": 2, "year": 2022})


def test_a_two_digit_year_is_read_and_a_three_digit_one_refused_with_its_own_hint() -> None:
    """«1/9/21» is how people write 2021 (and «12/5/85» a birth in 1985); «1/9/221» is a slip."""
    assert rules.parse_date("1/9/21") == dt.date(2021, 9, 1)
    with pytest.raises(InputError) as caught:
        rules.parse_date("1/9/221")
    assert caught.value.key == "err_date_year"


@pytest.mark.parametrize(
    ("text", "amount"),
    [("15 triệu", 15_000_000), ("15tr", 15_000_000), ("15 TR", 15_000_000), ("15.000.000", 15_000_000),
     ("15,000,000 đ", 15_000_000), ("15.000.000 VNĐ", 15_000_000), ("1,5 tỷ", 1_500_000_000), ("2,5tr", 2_500_000),
     ("500k", 500_000), ("500 nghìn", 500_000), ("1.500", 1_500), ("120000", 120_000), ("15.000.000₫", 15_000_000),
     ("15 triệu đồng", 15_000_000), ("khoảng 15 triệu/năm", 15_000_000), ("ước tính 20 triệu đồng mỗi năm", 20_000_000),
     ("1,5 tỷ đồng", 1_500_000_000), ("15.000.000 đồng", 15_000_000)],
)  # fmt: skip
def test_amounts_in_vietnamese_forms(text: str, amount: int) -> None:
    assert rules.parse_amount(text) == amount


@pytest.mark.parametrize(("text", "amount"), [("20", None), ("999", None), ("20 đồng", 20), ("20 triệu", 20_000_000),
                                              ("1000", 1_000), ("khoảng 15", None)])  # fmt: skip
def test_a_bare_small_number_asks_for_its_unit(text: str, amount: int | None) -> None:
    """Found in a phone walk: "20" typed after "about 20 million a year" was stored as 20 ₫."""
    if amount is not None:
        assert rules.parse_amount(text) == amount
        return
    with pytest.raises(InputError) as caught:
        rules.parse_amount(text)
    assert caught.value.key == "err_amount_unit" and caught.value.params["number"] in text


@pytest.mark.parametrize("text", ["0", "-5 triệu", "mười lăm triệu", "15..000", "", "1,5", "10^20"])
def test_unreadable_amounts_are_refused(text: str) -> None:
    with pytest.raises(InputError):
        rules.parse_amount(text)


def test_first_application_window_includes_both_ends() -> None:
    rules.check_first_application(dt.date(2021, 9, 1), *WINDOW, TODAY)
    rules.check_first_application(dt.date(2023, 9, 1), *WINDOW, TODAY)


@pytest.mark.parametrize(
    ("date", "key"),
    [(dt.date(2021, 8, 31), "err_applied_too_early"), (dt.date(2023, 9, 2), "err_applied_too_late"),
     (dt.date(2027, 1, 1), "err_date_future")],
)  # fmt: skip
def test_first_application_outside_the_window_is_explained(date: dt.date, key: str) -> None:
    with pytest.raises(InputError) as caught:
        rules.check_first_application(date, *WINDOW, TODAY)
    assert caught.value.key == key
    assert caught.value.params["start"] == "01/09/2021"


def test_recognition_must_come_from_the_window_start_on() -> None:
    rules.check_recognition_date(dt.date(2021, 9, 1), WINDOW[0], TODAY)
    with pytest.raises(InputError) as caught:
        rules.check_recognition_date(dt.date(2021, 8, 31), WINDOW[0], TODAY)
    assert caught.value.key == "err_recognised_too_early"


def test_coauthors_are_read_one_a_line_with_their_share() -> None:
    authors = rules.parse_coauthors("Trần Văn Bình 30\n- Lê Thị Cúc: 20%\nPhạm Đức Duy – 10 %")
    assert authors == [AuthorShare("Trần Văn Bình", 30), AuthorShare("Lê Thị Cúc", 20), AuthorShare("Phạm Đức Duy", 10)]


def test_coauthors_as_people_type_them_several_on_a_line_with_branches() -> None:
    assert rules.parse_coauthors("Mai 30%, Hùng 20%") == [AuthorShare("Mai", 30), AuthorShare("Hùng", 20)]
    assert rules.parse_coauthors("Trần Văn Bình 30% MAU003; Lê Cúc 10 (mau004)") == [
        AuthorShare("Trần Văn Bình", 30, "MAU003"), AuthorShare("Lê Cúc", 10, "MAU004")]  # fmt: skip
    assert rules.parse_coauthors("chị Bình 30, anh Hùng 20, đ/c Mai 10") == [  # how one speaks of them
        AuthorShare("Bình", 30), AuthorShare("Hùng", 20), AuthorShare("Mai", 10)]  # fmt: skip
    assert rules.parse_coauthors("Cô Thị Lan 30, anh thư 20") == [  # a surname; a given name, typed in lower case
        AuthorShare("Cô Thị Lan", 30), AuthorShare("Anh Thư", 20)]  # fmt: skip
    assert rules.parse_coauthors("Chị Bình 30, chị bình 20, Đ/c Mai 10") == [  # a phone's capital; all in lower case
        AuthorShare("Bình", 30), AuthorShare("Bình", 20), AuthorShare("Mai", 10)]  # fmt: skip
    on_behalf = rules.parse_coauthors("Trần An 60, Lê Hai 40", total=100)
    assert on_behalf == [AuthorShare("Trần An", 60), AuthorShare("Lê Hai", 40)]
    assert rules.parse_coauthors("Hoàng Văn Nam", total=100) == [AuthorShare("Hoàng Văn Nam", 100)]  # one: all of it
    with pytest.raises(InputError) as caught:  # a co-author of the submitter's alone: his share is asked
        rules.parse_coauthors("Hoàng Văn Nam")
    assert caught.value.key == "err_coauthors_no_share"
    with pytest.raises(InputError) as caught:
        rules.parse_coauthors("Trần An 60, Lê Hai 30", total=100)
    assert caught.value.params == {"total": 90, "expected": 100}


@pytest.mark.parametrize(
    ("text", "key"),
    [("Trần Văn Bình 60\nLê Thị Cúc 40", "err_coauthors_total"), ("Trần Văn Bình", "err_coauthors_no_share"),
     ("Trần Văn Bình 0", "err_coauthors_share"), ("Trần Văn Bình 12.5", "err_coauthors_share"),
     ("B 30", "err_coauthors_line"), ("   ", "err_coauthors_format")],
)  # fmt: skip
def test_bad_coauthor_lists_are_explained(text: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        rules.parse_coauthors(text)
    assert caught.value.key == key


def test_credit_goes_to_the_leader_or_the_highest_share_and_a_tie_to_the_submitter() -> None:
    """Plan IV.2.5: "chủ nhiệm đề tài hoặc tác giả … có tỷ lệ đóng góp cao nhất"."""
    shares = [AuthorShare("A Một", 40), AuthorShare("B Hai", 40), AuthorShare("C Ba", 20)]
    assert credited_author(shares) == 0, "a tie without the submitter: the first listed"
    submitter_second = [AuthorShare("A Một", 40), AuthorShare("B Hai", 40, is_submitter=True)]
    assert credited_author(submitter_second) == 1, "a tie: the submitter"
    assert credited_author([AuthorShare("A Một", 30), AuthorShare("B Hai", 70)]) == 1
    with_leader = [AuthorShare("A Một", 70), AuthorShare("B Hai", 30, is_lead=True)]
    assert credited_author(with_leader, research=True) == 1, "a research topic: its leader, whatever the shares"
    assert credited_author(with_leader, research=False) == 0


@pytest.mark.parametrize(
    ("text", "values", "answer"),
    [("có", {"yes", "no"}, "yes"), ("Rồi", {"yes", "no"}, "yes"), ("không", {"yes", "no"}, "no"),
     ("chưa", {"yes", "no"}, "no"), ("chưa", {"yes"}, None), ("có lẽ", {"yes", "no"}, None),
     ("dung", {"yes", "no"}, "yes"), ("ĐÚNG", {"yes", "no"}, "yes"), ("dừng", {"yes", "no"}, None),
     ("khong", {"yes", "no"}, "no"), ("đồng y", {"yes", "no"}, "yes")],
)  # fmt: skip
def test_yes_and_no_as_people_type_them(text: str, values: set[str], answer: str | None) -> None:
    assert rules.yes_or_no(text, values) == answer


@pytest.mark.parametrize(
    ("text", "number", "date"),
    [("45/QĐ-CĐCS 15/03/2022", "45/QĐ-CĐCS", dt.date(2022, 3, 15)),
     ("Số 45/QĐ-CĐCS ngày 15/3/2022", "45/QĐ-CĐCS", dt.date(2022, 3, 15)),
     ("123/QĐ-BV, ngày 20 tháng 12 năm 2021", "123/QĐ-BV", dt.date(2021, 12, 20)),
     ("Quyết định số 12/QĐ-BV ngày 10 tháng 4 năm 2022", "12/QĐ-BV", dt.date(2022, 4, 10)),
     ("QĐ số: 7/QĐ-CĐ 1/3/2022", "7/QĐ-CĐ", dt.date(2022, 3, 1)),
     ("quyet dinh so 7/QD 1/3/2022", "7/QD", dt.date(2022, 3, 1)),
     ("QĐ-45/BV 1/3/2022", "QĐ-45/BV", dt.date(2022, 3, 1)),
     ("số 5/QĐ-THPT ký ngày 1/4/2022", "5/QĐ-THPT", dt.date(2022, 4, 1)),
     ("QĐ số 5/QĐ-THPT do hiệu trưởng ký ngày 1/4/2022", "5/QĐ-THPT", dt.date(2022, 4, 1)),
     ("Quyết định 5/QĐ-THPT ban hành ngày 01/04/2022", "5/QĐ-THPT", dt.date(2022, 4, 1)),
     ("Quyết định công nhận sáng kiến số 5/QĐ-THPT ngày 1/4/2022", "5/QĐ-THPT", dt.date(2022, 4, 1)),
     ("45/QĐ - CĐCS của Hội đồng 15/3/2022", "45/QĐ - CĐCS", dt.date(2022, 3, 15))],
)  # fmt: skip
def test_a_decision_is_its_number_then_its_date(text: str, number: str, date: dt.date) -> None:
    """The words before the number are left out: the confirmation and the forms write "QĐ" / "Quyết định số"
    themselves ("QĐ Quyết định số 12/QĐ-BV" was shown)."""
    assert rules.parse_decision(text) == (number, date)


@pytest.mark.parametrize(
    "text",
    [
        "15/03/2022",
        "ngày 15/3/2022",
        "",
        "Quyết định số ngày 1/3/2022",
        "QĐ ngày 1/3/2022",
        "<b>4/5</b>",
        "15/03",
        "45/QĐ-BV 15/03",
        "12",  # a number alone, no word saying it is the decision's: perhaps a day
    ],
)
def test_a_decision_without_its_number_or_date_is_explained(text: str) -> None:
    with pytest.raises(InputError) as caught:
        rules.parse_decision(text)
    assert caught.value.key == "recognition_format"


@pytest.mark.parametrize(
    ("text", "number"),
    [("45/QĐ-CĐCS", "45/QĐ-CĐCS"), ("Quyết định số 45/QĐ-CĐCS", "45/QĐ-CĐCS"), ("quyết định số 12", "12"),
     ("QĐ số 7", "7")],
)  # fmt: skip
def test_a_decision_number_without_its_date_is_said_back_with_what_is_missing(text: str, number: str) -> None:
    with pytest.raises(InputError) as caught:
        rules.parse_decision(text)
    assert (caught.value.key, caught.value.params) == ("recognition_date_missing", {"number": number})


@pytest.mark.parametrize(
    ("text", "key"),
    [("", "err_empty"), ("   \n ", "err_empty"), ("ngắn", "err_too_short"), ("x" * 10_000, "err_too_long"),
     ("!!! ??? ...", "err_no_letters")],
)  # fmt: skip
def test_free_text_limits(text: str, key: str) -> None:
    with pytest.raises(InputError) as caught:
        rules.clean_text(text, min_len=10, max_len=250)
    assert caught.value.key == key


def test_a_wizard_answer_of_digits_alone_is_refused_where_a_profile_answer_is_kept() -> None:
    with pytest.raises(InputError) as caught:
        rules.clean_text("123", min_len=3, max_len=200, words=True)
    assert (caught.value.key, caught.value.params) == ("err_digits_only", {"min": 3, "max": 200})
    assert rules.clean_text("Khoa 3", min_len=3, max_len=200, words=True) == "Khoa 3"
    with pytest.raises(InputError) as caught:
        rules.clean_text("7", min_len=3, max_len=200, words=True)
    assert caught.value.key == "err_digits_only", "a list's number typed, not a short answer"
    assert rules.clean_text("12/12", min_len=2, max_len=100) == "12/12"  # a qualification people write so


def test_free_text_keeps_emoji_and_markup_characters_verbatim() -> None:
    assert rules.clean_text("  Giải pháp <b>số hoá</b> & 🚀 nhanh  ", min_len=10, max_len=250) == (
        "Giải pháp <b>số hoá</b> & 🚀 nhanh"
    )


def test_free_text_loses_double_spaces_between_words_but_keeps_indented_lines() -> None:
    assert rules.clean_text("Sổ theo dõi  hiện   vật", min_len=10, max_len=250) == "Sổ theo dõi hiện vật"
    steps = "Các bước:\n  - lập bảng tính\n  - cập nhật hằng tuần"
    assert rules.clean_text(steps, min_len=10, max_len=250) == steps


def test_fold_makes_search_accent_insensitive() -> None:
    assert rules.fold("Bệnh viện ĐA KHOA tỉnh") == "benh vien da khoa tinh"


def test_vietnamese_order_puts_marked_letters_after_their_base_and_tones_last() -> None:
    names = ["Y dược", "Đa khoa", "Ăn uống", "An toàn", "Bạ", "Bá", "Ba", "Bà", "Ơn", "Ô tô", "Oanh", "Dân"]
    assert sorted(names, key=vietnamese_order) == [
        "An toàn", "Ăn uống", "Ba", "Bà", "Bá", "Bạ", "Dân", "Đa khoa", "Oanh", "Ô tô", "Ơn", "Y dược",
    ]  # fmt: skip


@pytest.mark.parametrize("name", ["Nguyễn Thị Hoa", "Lê Văn Tám", "Đỗ  Quang   Minh"])
def test_person_names(name: str) -> None:
    assert rules.parse_person_name(name) == " ".join(name.split())


@pytest.mark.parametrize("name", ["Hoa", "Nguyễn 123", "<script>", "a b", "x" * 90])
def test_bad_person_names(name: str) -> None:
    with pytest.raises(InputError):
        rules.parse_person_name(name)


def test_an_invisible_character_between_a_letter_and_its_marks_leaves_one_letter() -> None:
    """Removed between «e» and its marks, a zero-width space leaves «ễ» as one letter (NFC), so the name equals
    the same name typed plainly (the namesake rule, a unit search)."""
    assert clean_input("Nguye\u200b\u0302\u0303n") == "Nguyễn"
    assert clean_input("Bi\u0300\u200dnh") == "Bình"


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("[MẪU] Bệnh viện Đa khoa tỉnh", "[MẪU] Bệnh viện Đa khoa tỉnh"),  # short enough: whole
        ("[MẪU] Bệnh viện Đa khoa tỉnh – cơ sở 2", "[MẪU] Bệnh viện Đa… – cơ sở 2"),
        ("Khoa Hồi sức tích cực, Bệnh viện A", "Khoa Hồi sức…, Bệnh viện A"),
        ("[MẪU] Trường Cao đẳng Y tế Phú Thọ", "[MẪU] Trường Cao đẳng Y tế…"),  # no last part: its end cut
        ("Tổ 1, Khoa Hồi sức tích cực và chống độc", "Tổ 1, Khoa Hồi sức tích cực…"),  # a last part too long
        ("X" * 40, "X" * 29 + "…"),
    ],
)
def test_a_long_unit_name_keeps_its_end_within_the_limit(name: str, shown: str) -> None:
    assert shorten_middle(name, 30) == shown
    assert len(shorten_middle(name, 30)) <= 30


def test_units_whose_cuts_come_out_alike_are_told_apart() -> None:
    """Three schools «[MẪU] Trường THPT… – cơ sở 2» alike: each keeps the end of its first part instead; a name
    that stays alike is left whole (the phone cuts it), and a unit listed twice is not a clash."""
    schools = [f"[MẪU] Trường THPT {name} – cơ sở 2" for name in ("Chuyên Hùng Vương", "Việt Trì", "Long Châu Sa")]
    hospital = "[MẪU] Bệnh viện Đa khoa tỉnh – cơ sở 2"
    assert shortened_apart([*schools, hospital, hospital], [30] * 5) == [
        "…Chuyên Hùng Vương – cơ sở 2", "…THPT Việt Trì – cơ sở 2", "…THPT Long Châu Sa – cơ sở 2",
        "[MẪU] Bệnh viện Đa… – cơ sở 2", "[MẪU] Bệnh viện Đa… – cơ sở 2"]  # fmt: skip
    alone = "Công đoàn Bệnh viện Trung ương Huế"  # cut only at its end: left whole, the phone cuts it at its width
    assert shortened_apart([alone, hospital], [30, 30]) == [alone, "[MẪU] Bệnh viện Đa… – cơ sở 2"]
    wards = ["Công đoàn Trường Tiểu học Kim Đức Phường Vân Phú", "Công đoàn Trường Tiểu học Kim Đức Phường Minh Nông"]
    assert shortened_apart(wards, [30, 30]) == ["…học Kim Đức Phường Vân Phú", "…học Kim Đức Phường Minh Nông"]


def test_shorten_never_passes_its_limit() -> None:
    assert shorten("Nguyễn Thị Hoa Hồng", 14) == "Nguyễn Thị…"  # the cut falls before a space: still ≤ 14
    assert all(len(shorten("điều dưỡng viên khoa nội " * 3, limit)) <= limit for limit in range(0, 80))
