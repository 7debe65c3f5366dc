"""The rules' exact answers at their edges: what each returns, which key and which parameters each refusal
carries (the message a person reads is built from them), and the boundaries — written to kill the mutants
`make mutation` found surviving in domain/rules.py."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from domain import rules
from domain.credit import AuthorShare
from domain.rules import InputError
from handlers.i18n import catalog

TODAY = dt.date(2022, 5, 3)
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def refusal(function, *args, **kwargs) -> tuple[str, dict]:
    with pytest.raises(InputError) as caught:
        function(*args, **kwargs)
    return caught.value.key, caught.value.params


# --- free text -------------------------------------------------------------------------------------


def test_free_text_is_trimmed_and_blank_runs_of_lines_become_one_blank_line() -> None:
    assert rules.clean_text("  a\n\n\n\nb\n\nc\n\n\nd  ", min_len=1, max_len=50) == "a\n\nb\n\nc\n\nd"
    assert rules.clean_text("abc", min_len=3, max_len=3) == "abc", "both limits included"


def test_free_text_refusals_carry_the_limits_and_the_length() -> None:
    assert refusal(rules.clean_text, "   ", min_len=2, max_len=9) == ("err_empty", {"min": 2, "max": 9})
    assert refusal(rules.clean_text, "ab", min_len=3, max_len=9) == ("err_too_short", {"min": 3, "max": 9, "length": 2})
    assert refusal(rules.clean_text, "abcd", min_len=1, max_len=3) == (
        "err_too_long",
        {"min": 1, "max": 3, "length": 4},
    )
    assert refusal(rules.clean_text, "?!?!", min_len=1, max_len=9) == ("err_no_letters", {"min": 1, "max": 9})


# --- ids -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12", 12), (" #12 ", 12), ("0000000007", 7), ("2147483647", 2147483647), ("2147483648", None),
     ("00000000007", None), ("²", None), ("12a", None), ("", None), ("-3", None), ("١٢", None), ("X12", None)],
)  # fmt: skip
def test_record_numbers(text: str, expected: int | None) -> None:
    assert rules.parse_id(text) == expected


def test_plain_words_drop_symbols_and_accents() -> None:
    assert rules.plain_words("📊 Tiến độ!") == "tien do"
    assert rules.plain_words("Gửi,ngay") == "gui ngay"


# --- names -----------------------------------------------------------------------------------------


def test_person_names_are_normalised_and_bounded() -> None:
    assert rules.parse_person_name("  Nguyễn   Thị  Hoa ") == "Nguyễn Thị Hoa"
    assert rules.parse_person_name("Lê A") == "Lê A", "four characters, two words: the shortest name"
    assert rules.parse_person_name("nguyễn  văn ân") == "Nguyễn Văn Ân", "all lower case: capitalised"
    assert rules.parse_person_name("ĐỖ THỊ ÚT") == "Đỗ Thị Út", "all upper case: capitalised"
    assert rules.parse_person_name("Nguyễn thị Hoa") == "Nguyễn thị Hoa", "mixed case: as typed"
    long_name = "Nguyễn " + "A" * 73
    assert len(long_name) == 80 and rules.parse_person_name(long_name) == long_name
    for bad in ("Lê", "Lê B"[:3], "Nguyễn " + "A" * 74, "Hoa", "Hoa 2", "Hoa_Lê"):
        assert refusal(rules.parse_person_name, bad) == ("err_name", {}), bad
    assert rules.parse_person_name("Công Tôn Nữ Thị Hồng Hạnh Ly") == "Công Tôn Nữ Thị Hồng Hạnh Ly", "seven words"
    sentence = "Số hoá sổ theo dõi vật tư"  # an initiative's title typed where the name was asked
    assert refusal(rules.parse_person_name, sentence + " y tế") == ("err_name_sentence", {"words": 9, "max": 7})


# --- dates -----------------------------------------------------------------------------------------


def test_dates_format_day_first_with_zeros() -> None:
    assert rules.format_date(dt.date(2021, 9, 1)) == "01/09/2021"
    assert rules.format_date(None) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2021-09-01", dt.date(2021, 9, 1)), ("ngày 5 tháng 10 năm 2021", dt.date(2021, 10, 5)),
     ("5/10/2021,", dt.date(2021, 10, 5)), ("29/2/2024", dt.date(2024, 2, 29))],
)  # fmt: skip
def test_more_date_forms(text: str, expected: dt.date) -> None:
    assert rules.parse_date(text) == expected


def test_a_month_alone_asks_for_the_day_in_every_month() -> None:
    assert refusal(rules.parse_date, "tháng 1/2022") == ("err_date_need_day", {"month": 1, "year": 2022})
    assert refusal(rules.parse_date, "12/2022") == ("err_date_need_day", {"month": 12, "year": 2022})


def test_date_refusals_name_what_is_wrong() -> None:
    assert refusal(rules.parse_date, "29/2/2023") == ("err_date_no_such_day", {"day": 29, "month": 2, "year": 2023})
    assert refusal(rules.parse_date, "31/4/2022") == ("err_date_no_such_day", {"day": 31, "month": 4, "year": 2022})
    assert refusal(rules.parse_date, "13/2022") == ("err_date", {}), "no 13th month"
    assert refusal(rules.parse_date, "1/13/2022") == ("err_date", {})
    assert refusal(rules.parse_date, "0/1/2022") == ("err_date", {})
    assert refusal(rules.parse_date, "1/9/221") == ("err_date_year", {})
    assert refusal(rules.parse_date, "15/3") == ("err_date_need_year", {"day": 15, "month": 3}), "no year"
    assert rules.parse_date("15/3/22") == dt.date(2022, 3, 15) and rules.parse_date("12/5/85") == dt.date(1985, 5, 12)
    assert rules.parse_date("15/3/2022.") == rules.parse_date("15-3-2022 .") == dt.date(2022, 3, 15)
    assert refusal(rules.parse_date, "15/13") == ("err_date", {}), "no 13th month: not a date without its year"


def test_a_birth_date_makes_a_working_author() -> None:
    rules.check_birth_date(dt.date(2007, 12, 31), TODAY)  # 15 this year
    rules.check_birth_date(dt.date(1922, 1, 1), TODAY)  # 100 this year
    assert refusal(rules.check_birth_date, dt.date(2008, 1, 1), TODAY) == ("err_birth_date", {"date": "01/01/2008"})
    assert refusal(rules.check_birth_date, dt.date(1921, 12, 31), TODAY) == ("err_birth_date", {"date": "31/12/1921"})


def test_a_birth_date_is_refused_with_a_birth_date_for_example() -> None:
    assert rules.parse_birth_date("12/5/1985", TODAY) == dt.date(1985, 5, 12)
    assert refusal(rules.parse_birth_date, "sinh nhật", TODAY) == ("err_birth_date_unread", {})
    assert refusal(rules.parse_birth_date, "12/5/985", TODAY) == ("err_birth_date_year", {})
    assert refusal(rules.parse_birth_date, "12/5/8500", TODAY) == ("err_birth_date_year_range", {"year": 8500})
    assert refusal(rules.parse_birth_date, "12/5", TODAY) == ("err_birth_date_need_year", {"day": 12, "month": 5})
    assert refusal(rules.parse_birth_date, "31/2/1985", TODAY)[0] == "err_date_no_such_day"
    assert refusal(rules.parse_birth_date, "1/1/2020", TODAY)[0] == "err_birth_date"
    for language in ("vi", "en"):
        for key in ("err_birth_date_unread", "err_birth_date_year", "err_birth_date_year_range"):
            assert "12/05/1985" in catalog(language)(key, year=8500), (language, key)


def test_a_months_benefit_is_asked_for_as_a_years() -> None:
    """The forms print one figure, the year's: «2 triệu/tháng» was stored as 2.000.000 ₫."""
    for typed in ("2 triệu/tháng", "2 triệu mỗi tháng", "khoảng 2 triệu một tháng", "2tr hàng tháng"):
        assert refusal(rules.parse_amount, typed) == (
            "err_amount_per_month",
            {"month": "2.000.000 ₫", "year": "24.000.000 ₫", "typed": "24 triệu"},
        ), typed
    assert refusal(rules.parse_amount, "500k/tháng")[1]["typed"] == "6 triệu"
    assert refusal(rules.parse_amount, "150k/tháng")[1]["typed"] == "1.800.000"
    assert rules.parse_amount("15 triệu/năm") == rules.parse_amount("khoảng 15 triệu mỗi năm") == 15_000_000
    assert rules.parse_amount("24 triệu") == 24_000_000


def test_coauthors_as_the_bot_itself_writes_them_and_with_and_between() -> None:
    """«Trần Thị Bình (30%); Lê Văn Cường (20%)» is how the summary and the exports show authors."""
    expected = [AuthorShare("Trần Thị Bình", 30, ""), AuthorShare("Lê Văn Cường", 20, "")]
    for typed in ("Trần Thị Bình (30%); Lê Văn Cường (20%)", "Trần Thị Bình 30% và Lê Văn Cường 20%",
                  "trần thị bình 30, LÊ VĂN CƯỜNG 20"):  # fmt: skip
        assert rules.parse_coauthors(typed) == expected, typed
    assert rules.parse_coauthors("Trần Thị Bình (30%) MAU003")[0].branch_code == "MAU003"
    assert rules.parse_coauthors("Đỗ Thị Lan-Anh 30")[0].full_name == "Đỗ Thị Lan-Anh", "mixed case kept as typed"


def test_english_amounts_and_skip_words_are_read() -> None:
    """The English mode's member types as the English prompts read."""
    assert rules.parse_amount("24 million VND") == rules.parse_amount("24 million") == 24_000_000
    assert rules.parse_amount("1.5 billion") == 1_500_000_000 and rules.parse_amount("500 thousand") == 500_000
    assert {rules.plain_words(typed) in rules.SKIP_WORDS for typed in ("Not yet", "none", "no")} == {True}


def test_an_amount_in_parts_is_their_sum() -> None:
    assert rules.parse_amount("2 triệu 500 nghìn") == rules.parse_amount("2tr500k") == 2_500_000
    assert rules.parse_amount("1 tỷ 200 triệu đồng") == 1_200_000_000
    assert refusal(rules.parse_amount, "500 nghìn 2 triệu")[0] == "err_amount", "units must fall"
    assert refusal(rules.parse_amount, "2 triệu 500")[0] == "err_amount", "500 what?"


def test_a_date_may_be_today_but_not_tomorrow() -> None:
    rules.check_not_future(TODAY, TODAY)
    assert refusal(rules.check_not_future, dt.date(2022, 5, 4), TODAY) == ("err_date_future", {"date": "04/05/2022"})


def test_window_refusals_carry_the_window() -> None:
    start, end = dt.date(2021, 9, 1), dt.date(2023, 9, 1)
    window = {"start": "01/09/2021", "end": "01/09/2023"}
    assert refusal(rules.check_first_application, dt.date(2021, 8, 31), start, end, TODAY) == (
        "err_applied_too_early", {"date": "31/08/2021", **window})  # fmt: skip
    assert refusal(rules.check_first_application, dt.date(2023, 9, 2), start, end, dt.date(2024, 1, 1)) == (
        "err_applied_too_late", {"date": "02/09/2023", **window})  # fmt: skip
    assert refusal(rules.check_first_application, dt.date(2022, 5, 4), start, end, TODAY) == (
        "err_date_future", {"date": "04/05/2022", **window})  # fmt: skip
    rules.check_first_application(TODAY, start, end, TODAY)
    assert refusal(rules.check_recognition_date, dt.date(2021, 8, 31), start, TODAY) == (
        "err_recognised_too_early", {"date": "31/08/2021", "start": "01/09/2021"})  # fmt: skip
    assert refusal(rules.check_recognition_date, dt.date(2022, 5, 4), start, TODAY)[0] == "err_date_future"
    rules.check_recognition_date(start, start, TODAY)
    rules.check_recognition_date(TODAY, start, TODAY)


def test_a_decision_number_is_cleaned() -> None:
    assert rules.parse_decision("  45/QĐ-CĐCS ,  ngày 15/3/2022 ") == ("45/QĐ-CĐCS", dt.date(2022, 3, 15))
    assert rules.parse_decision("12/QĐ (15 tháng 3 năm 2022)") == ("12/QĐ", dt.date(2022, 3, 15))
    assert rules.parse_decision("45/QĐ; 15/3/2022") == ("45/QĐ", dt.date(2022, 3, 15))
    assert rules.parse_decision("7 15/3/2022") == ("7", dt.date(2022, 3, 15)), "one character is a number"
    assert rules.parse_decision("Q" * 100 + " 15/3/2022")[0] == "Q" * 100
    assert refusal(rules.parse_decision, "Q" * 101 + " 15/3/2022")[0] == "err_too_long"


# --- money -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount"),
    [("1,500", 1_500), ("1,500 triệu", 1_500_000), ("1.500 triệu", 1_500_000_000), ("1,5 triệu", 1_500_000),
     ("15 nghìn đồng", 15_000), ("2 ngàn", 2_000), ("3 tỉ", 3_000_000_000), ("4m", 4_000_000),
     ("1.000.000.000.000.000", 10**15), ("7 vnd", 7), ("9 đ", 9), ("gần 5 triệu một năm", 5_000_000),
     ("trên 2 triệu mỗi năm", 2_000_000), ("1 triệu/year", 1_000_000), ("0,5 tr", 500_000),
     ("15 triệu.", 15_000_000), (" 500k ", 500_000), ("15 000 000 đồng", 15_000_000), ("1 đồng", 1)],
)  # fmt: skip
def test_amount_edges(text: str, amount: int) -> None:
    assert rules.parse_amount(text) == amount


@pytest.mark.parametrize(
    "text", ["0", "0 triệu", "1.000.000.000.000.001", "1..5 triệu", "1,5", "1.5", "12,34,567", "abc", "", "5 đô"]
)
def test_amounts_that_are_not_amounts(text: str) -> None:
    assert refusal(rules.parse_amount, text) == ("err_amount", {})


def test_amounts_are_written_the_vietnamese_way() -> None:
    assert rules.format_amount(15_000_000) == "15.000.000 ₫"
    assert rules.format_amount(500) == "500 ₫"
    assert rules.format_amount(None) == ""


# --- authors ---------------------------------------------------------------------------------------


def test_coauthor_lines_in_every_form() -> None:
    text = "• Trần Văn Bình - 30% (mau003)\n* Lê Thị Mai: 20\n\nPhạm Hùng, 10 MAU004; Đỗ Nga 5"
    assert rules.parse_coauthors(text) == [
        AuthorShare("Trần Văn Bình", 30, "MAU003"), AuthorShare("Lê Thị Mai", 20, ""),
        AuthorShare("Phạm Hùng", 10, "MAU004"), AuthorShare("Đỗ Nga", 5, ""),
    ]  # fmt: skip
    assert rules.parse_coauthors("Bình 30,0") == [AuthorShare("Bình", 30, "")]
    assert rules.parse_coauthors("Bình 99") == [AuthorShare("Bình", 99, "")]
    assert rules.parse_coauthors("Bình 60\nMai 40", total=100) == [
        AuthorShare("Bình", 60, ""),
        AuthorShare("Mai", 40, ""),
    ]


def test_coauthor_refusals_name_the_line_and_the_totals() -> None:
    assert refusal(rules.parse_coauthors, " \n • ") == ("err_coauthors_format", {})
    many = "\n".join(f"Người Thứ {chr(65 + n)} 1" for n in range(21))
    assert refusal(rules.parse_coauthors, many) == ("err_coauthors_too_many", {"max": 20})
    twenty = "\n".join(f"Người Thứ {chr(65 + n)} 1" for n in range(20))
    assert len(rules.parse_coauthors(twenty)) == 20
    assert refusal(rules.parse_coauthors, "Bình 30\n30 Mai") == ("err_coauthors_line", {"line": 2})
    assert refusal(rules.parse_coauthors, "B 30") == ("err_coauthors_line", {"line": 1}), "a name has 2+ letters"
    assert refusal(rules.parse_coauthors, "A" * 81 + " 30") == ("err_coauthors_line", {"line": 1})
    no_share = refusal(rules.parse_coauthors, "Bình 30, chị tran thi mai")  # a name alone: its share is missing
    assert no_share == ("err_coauthors_no_share", {"line": 2, "name": "Tran Thi Mai"})
    assert refusal(rules.parse_coauthors, "<b>Mai</b>") == ("err_coauthors_line", {"line": 1}), "letters alone"
    assert len(rules.parse_coauthors("A" * 80 + " 30")[0].full_name) == 80
    assert refusal(rules.parse_coauthors, "Bình 30,5") == ("err_coauthors_share", {"line": 1})
    assert refusal(rules.parse_coauthors, "Bình 0") == ("err_coauthors_share", {"line": 1})
    assert refusal(rules.parse_coauthors, "Bình 100") == ("err_coauthors_share", {"line": 1})
    assert rules.parse_coauthors("Bình 100", total=100) == [AuthorShare("Bình", 100, "")]
    assert refusal(rules.parse_coauthors, "Bình 101", total=100) == ("err_coauthors_share", {"line": 1})
    assert refusal(rules.parse_coauthors, "Bình 60\nMai 40") == ("err_coauthors_total", {"total": 100})
    assert refusal(rules.parse_coauthors, "Bình 60\nMai 30", total=100) == (
        "err_authors_total", {"total": 90, "expected": 100})  # fmt: skip


# --- quiet hours -----------------------------------------------------------------------------------

NIGHT = (dt.time(21, 0), dt.time(7, 0))  # spans midnight
LUNCH = (dt.time(12, 0), dt.time(13, 0))


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2022, 5, day, hour, minute, tzinfo=HANOI)


@pytest.mark.parametrize(
    ("now", "quiet", "expected"),
    [(local(3, 20, 59), NIGHT, local(3, 20, 59)), (local(3, 21), NIGHT, local(4, 7)),
     (local(3, 23, 30), NIGHT, local(4, 7)), (local(4, 3), NIGHT, local(4, 7)), (local(4, 6, 59), NIGHT, local(4, 7)),
     (local(4, 7), NIGHT, local(4, 7)), (local(3, 11, 59), LUNCH, local(3, 11, 59)),
     (local(3, 12), LUNCH, local(3, 13)),
     (local(3, 12, 30), LUNCH, local(3, 13)), (local(3, 13), LUNCH, local(3, 13)), (local(3, 22), LUNCH, local(3, 22))],
)  # fmt: skip
def test_quiet_hours_postpone_to_their_end(
    now: dt.datetime, quiet: tuple[dt.time, dt.time], expected: dt.datetime
) -> None:
    moved = rules.after_quiet_hours(now.astimezone(dt.UTC), HANOI, *quiet)
    assert moved == expected and moved.utcoffset() == dt.timedelta(0)
