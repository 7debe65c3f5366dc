"""Pure rules of the program: parsing what people type, eligibility, author shares. No I/O here.

Every failure is an `InputError` carrying a message-catalog key and its parameters, so the
conversation can tell the person, in their language, exactly what to do.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.credit import AuthorShare
from domain.text import clean_input, fold, reads_as


@dataclass
class InputError(Exception):
    key: str
    params: dict[str, Any] = field(default_factory=dict)


def plain_words(text: str) -> str:
    """Words only, folded: "📊 Tiến độ" → "tien do" (what people type for a label without buttons)."""
    return fold(re.sub(r"[^\w\s]", " ", text))


# --- numbers people and buttons send ---------------------------------------------------------------

MAX_ID = 2**31 - 1


def parse_id(text: str) -> int | None:
    """A record number from a payload or a command ("123", "#123"): ASCII digits only (`"²".isdigit()` is
    True, and int() refuses it), at most MAX_ID (a larger number would overflow the database's integer)."""
    value = text.strip().lstrip("#")
    if not (value.isascii() and value.isdecimal()) or len(value) > 10 or int(value) > MAX_ID:
        return None
    return int(value)


# --- yes and no as people type them ------------------------------------------------------------------

# With their accents, which may be left out when typed but never contradicted: "dừng" is not "đúng".
YES_WORDS = ("có", "rồi", "đã có", "đúng", "vâng", "dạ", "đã", "yes", "y", "ok", "đồng ý", "xác nhận", "tôi xác nhận")
NO_WORDS = ("không", "chưa", "no", "n", "sai", "không phải", "chưa có", "không có", "not yet", "none")
# "Nothing to give" at an optional question, as typed (plain_words): "bỏ qua", "không có", "chưa" (English too).
SKIP_WORDS = frozenset({"bo qua", "skip", "khong co", "khong", "chua", "chua co", "not yet", "none", "no"})
# What people type to keep a saved answer (the «✔️ Giữ nguyên» button's words).
KEEP_WORDS = ("giữ nguyên", "giữ", "keep")
# What people type to step back from what they were asked, where no answer is "no".
CANCEL_WORDS = ("thôi", "huỷ", "hủy", "dừng", "bỏ qua", "quay lại", "cancel")


def yes_or_no(text: str, values: set[str]) -> str | None:
    """ "có", "rồi", "chưa", "không"… as the step's "yes" or "no" answer, when it has one."""
    if "yes" in values and any(reads_as(text, word) for word in YES_WORDS):
        return "yes"
    if "no" in values and any(reads_as(text, word) for word in NO_WORDS):
        return "no"
    return None


# What people type to the bot itself rather than to a question: a greeting, thanks, asking for the menu.
SMALL_TALK = {
    "greeting": ("xin chào", "chào", "chào bot", "chào bạn", "chào đồng chí", "alo", "hello", "hi"),
    "thanks": ("cảm ơn", "cám ơn", "cảm ơn bot", "cảm ơn nhiều", "cảm ơn nhé", "cám ơn nhé", "thanks", "thank you"),
    "menu": ("menu", "mở menu", "danh mục"),
}


def small_talk(text: str) -> str | None:
    """ "greeting", "thanks" or "menu" when the whole text is one ("Xin chào!", "cam on"), else None."""
    return next((kind for kind, words in SMALL_TALK.items() if any(reads_as(text, word) for word in words)), None)


def declines(text: str) -> bool:
    """The whole text is a "no" or a "never mind" ("không", "chưa", "thôi", "huỷ"…), not an answer."""
    return any(reads_as(text, word) for word in (*NO_WORDS, *CANCEL_WORDS))


# --- free text -------------------------------------------------------------------------------------


def clean_text(text: str, *, min_len: int, max_len: int, words: bool = False) -> str:
    """Normalise a free-text answer and enforce its length limits (counted in visible characters). `words`: an
    answer of digits alone («123»: a list's number typed where none is) is refused."""
    value = clean_input(text).strip()
    value = re.sub(r"\n{3,}", "\n\n", value)
    value = re.sub(r"(?<=\S)[ \t]{2,}(?=\S)", " ", value)  # "Sổ theo dõi  hiện vật": a slip; a line's indent stays
    if not value:
        raise InputError("err_empty", {"min": min_len, "max": max_len})
    if words and any(ch.isdigit() for ch in value) and not any(ch.isalpha() for ch in value):  # «7», «1.5»: not short
        raise InputError("err_digits_only", {"min": min_len, "max": max_len})
    if len(value) < min_len:
        raise InputError("err_too_short", {"min": min_len, "max": max_len, "length": len(value)})
    if len(value) > max_len:
        raise InputError("err_too_long", {"min": min_len, "max": max_len, "length": len(value)})
    if not any(ch.isalnum() for ch in value):
        raise InputError("err_no_letters", {"min": min_len, "max": max_len})
    return value


_NAME_CHARS = re.compile(r"^[^\W\d_]+(?:[ '.\-][^\W\d_]+)*$")
# «Công Tôn Nữ Thị Hồng Hạnh» has six words; more is a sentence (an initiative's title typed before the name).
MAX_NAME_WORDS = 7


def asked_about_accents(name: str, asked_before: object) -> bool:
    """A name with no accent at all («Le Thi Binh») is asked about once, since the council's forms print it;
    the same typed again (`asked_before`) is kept («Mai Lan Anh» is a real name)."""
    return name.isascii() and asked_before != name


def parse_person_name(text: str) -> str:
    """A full name, its words capitalised when typed all in lower or all in upper case («nguyễn văn an» →
    «Nguyễn Văn An»: it is printed on cards, lists and the council's forms); mixed case is kept as typed."""
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not 4 <= len(name) <= 80 or not _NAME_CHARS.match(name) or len(name.split()) < 2:
        raise InputError("err_name")
    if len(name.split()) > MAX_NAME_WORDS:
        raise InputError("err_name_sentence", {"words": len(name.split()), "max": MAX_NAME_WORDS})
    return capitalised(name)


def capitalised(name: str) -> str:
    """A name typed all in lower or all in upper case, its words capitalised; mixed case as typed."""
    if name == name.lower() or name == name.upper():
        return " ".join(word[:1].upper() + word[1:].lower() for word in name.split())
    return name


# --- dates -----------------------------------------------------------------------------------------

_MONTH_ONLY = re.compile(
    r"^(?:th[aá]ng\s*)?(\d{1,2})\s*[/.\-]\s*(\d{4})$|^(?:th[aá]ng\s*)(\d{1,2})\s+(?:n[aă]m\s+)?(\d{4})$"
)
_DAY_AND_MONTH = re.compile(r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})$")
_NUMERIC_DATE = re.compile(r"^(\d{1,4})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{1,4})$")
_WORDY_DATE = re.compile(r"^(?:ng[aà]y\s*)?(\d{1,2})\s*(?:th[aá]ng\s*)(\d{1,2})\s*(?:n[aă]m\s*)?(\d{4})$")


def parse_date(text: str) -> dt.date:
    """Read a date the way people type it in Vietnam: day first, never guessed.

    Parsed strictly with the standard library: general parsers (dateutil, dateparser) silently swap
    day and month when the day is impossible (1/13/2022 → 13 January), which is wrong here.

    Accepts 1/9/2021, 01-09-2021, 01.09.2021, 2021-09-01, "ngày 1 tháng 9 năm 2021". A month without a
    day ("tháng 9/2021", "9/2021") raises `date_need_day` so the conversation can ask for the day; a day without
    its year ("15/3") `date_need_year`.
    """
    value = fold(text).replace(",", " ").strip().rstrip(".").strip()  # "15/3/2022." ends a sentence
    month_only = _MONTH_ONLY.match(value)
    if month_only:
        month, year = (int(g) for g in month_only.groups() if g is not None)
        if 1 <= month <= 12:
            raise InputError("err_date_need_day", {"month": month, "year": year})
        raise InputError("err_date")
    wordy = _WORDY_DATE.match(value)
    if wordy:
        day, month, year = (int(g) for g in wordy.groups())
        return _checked_date(year, month, day)
    day_and_month = _DAY_AND_MONTH.match(value)
    if day_and_month and 1 <= int(day_and_month[1]) <= 31 and 1 <= int(day_and_month[2]) <= 12:
        raise InputError("err_date_need_year", {"day": int(day_and_month[1]), "month": int(day_and_month[2])})
    numeric = _NUMERIC_DATE.match(value)
    if not numeric:
        raise InputError("err_date")
    first, middle, last = numeric.groups()
    if len(first) == 4:
        return _checked_date(int(first), int(middle), int(last))
    if len(last) == 2:  # "15/3/22": this century up to its 50th year, else the last ("12/5/85": 1985)
        return _checked_date(int(last) + (2000 if int(last) <= CENTURY_PIVOT else 1900), int(middle), int(first))
    if len(last) != 4:
        raise InputError("err_date_year")
    return _checked_date(int(last), int(middle), int(first))


# A year typed in two digits: up to this one, 20yy (an application, a decision); above it, 19yy (a birth).
CENTURY_PIVOT = 50
# Any date typed here — a birth, an application, a decision, a report's period — lies in these years; one
# outside them is a typing slip (and year 1 or 9999 overflowed the reports' date arithmetic).
YEARS = range(1900, 2101)


def _checked_date(year: int, month: int, day: int) -> dt.date:
    if year not in YEARS:
        raise InputError("err_date_year_range", {"year": year})
    try:
        return dt.date(year, month, day)
    except ValueError as error:
        if 1 <= month <= 12 and 1 <= day <= 31 and 1 <= year <= 9999:  # "31/2/2022": February has no 31st
            raise InputError("err_date_no_such_day", {"day": day, "month": month, "year": year}) from error
        raise InputError("err_date") from error


def format_date(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


# --- money -----------------------------------------------------------------------------------------

_UNITS = {
    "ty": 1_000_000_000,
    "ti": 1_000_000_000,
    "billion": 1_000_000_000,
    "trieu": 1_000_000,
    "tr": 1_000_000,
    "m": 1_000_000,
    "million": 1_000_000,
    "nghin": 1_000,
    "ngan": 1_000,
    "thousand": 1_000,
    "k": 1_000,
    "dong": 1,
    "d": 1,
    "vnd": 1,
}
_AMOUNT = re.compile(r"^([\d.,\s]+?)\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")?$")
# "2 triệu 500 nghìn", "1 tỷ 200 triệu": parts with their units, each smaller than the one before.
_AMOUNT_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*(ty|ti|trieu|tr|nghin|ngan|k)(?![a-z])\s*")
MAX_AMOUNT_VND = 10**15
# A bare number below this is not taken as đồng: people mean "triệu" (or "nghìn") and leave it out.
BARE_AMOUNT_MIN = 1_000


# Words around an amount that do not change it: "khoảng 15 triệu đồng/năm", "ước tính 15 triệu mỗi năm".
_AMOUNT_FILLER = re.compile(
    r"^(?:khoang|tam|gan|hon|tren|duoi|uoc tinh|uoc|chung|about|around)\s+|"
    r"\s*(?:/|moi|mot|1|per|a|hang)\s*(?:nam|year)$"
)
# "2 triệu/tháng": the benefit is a year's (the forms' one figure), so a month's is asked for as a year's.
_PER_MONTH = re.compile(r"\s*(?:/|moi|mot|1|per|a|hang)\s*(?:thang|month)$")


def parse_amount(text: str) -> int:
    """Read an amount in VND: "15 triệu", "15 triệu đồng", "khoảng 15 triệu/năm", "15tr", "1,5 tỷ",
    "15.000.000", "15,000,000 đ", "500k". A month's ("2 triệu/tháng") is refused with its year's to confirm."""
    value = fold(text).replace("₫", "d").strip(" .")
    for _ in range(3):
        value = _AMOUNT_FILLER.sub("", value).strip()
    monthly = _PER_MONTH.search(value)
    if monthly:
        month = parse_amount(value[: monthly.start()])
        year = month * 12
        typed = f"{year // 1_000_000} triệu" if year % 1_000_000 == 0 else group_thousands(year)
        raise InputError("err_amount_per_month", {"month": format_amount(month), "year": format_amount(year),
                                                  "typed": typed})  # fmt: skip
    if re.search(r"(?:ty|ti|trieu|tr|nghin|ngan|k|m|billion|million|thousand)\s+(?:dong|d|vnd)$", value):
        value = re.sub(r"\s+(?:dong|d|vnd)$", "", value)
    if (compound := _compound_amount(value)) is not None:
        return compound
    match = _AMOUNT.match(value)
    if not match:
        raise InputError("err_amount")
    number_text, unit = match.group(1).replace(" ", ""), match.group(2)
    multiplier = _UNITS[unit] if unit else 1
    number = _parse_number(number_text, has_unit=multiplier > 1)
    amount = int((number * multiplier).to_integral_value())
    if amount <= 0 or amount > MAX_AMOUNT_VND:
        raise InputError("err_amount")
    if unit is None and amount < BARE_AMOUNT_MIN:  # "20" after "about 20 million a year": 20 ₫ was stored
        raise InputError("err_amount_unit", {"number": number_text})
    return amount


def _compound_amount(value: str) -> int | None:
    """ "2 trieu 500 nghin" → 2.500.000; None unless the whole text is two or more parts, units falling."""
    parts = [(match, _UNITS[match.group(2)]) for match in _AMOUNT_PART.finditer(value)]
    if len(parts) < 2 or "".join(match.group(0) for match, _ in parts) != value:
        return None
    units = [unit for _, unit in parts]
    if any(later >= earlier for earlier, later in itertools.pairwise(units)):
        return None
    total = sum(_parse_number(match.group(1), has_unit=True) * unit for match, unit in parts)
    amount = int(total.to_integral_value())
    if amount <= 0 or amount > MAX_AMOUNT_VND:
        raise InputError("err_amount")
    return amount


def _parse_number(text: str, *, has_unit: bool) -> Decimal:
    """Vietnamese writes 15.000.000 (dot groups) and 1,5 (decimal comma); some write 15,000,000."""
    if not text:  # the amount pattern lets only digits, dots and commas through
        raise InputError("err_amount")
    grouped = re.fullmatch(r"\d{1,3}([.,])\d{3}(?:\1\d{3})*", text)
    if grouped and not (has_unit and text.count(grouped.group(1)) == 1 and grouped.group(1) == ","):
        return Decimal(text.replace(grouped.group(1), ""))
    if re.fullmatch(r"\d+", text):
        return Decimal(text)
    decimal = re.fullmatch(r"(\d+)[.,](\d+)", text)
    if decimal and has_unit:
        return Decimal(f"{decimal.group(1)}.{decimal.group(2)}")
    raise InputError("err_amount")


def group_thousands(number: int) -> str:
    """1234567 → "1.234.567", as Vietnamese writes numbers."""
    return f"{number:,}".replace(",", ".")


def format_amount(amount: int | None) -> str:
    return group_thousands(amount) + " ₫" if amount is not None else ""


# --- authors ---------------------------------------------------------------------------------------

# "Trần Văn Bình 30", "Trần Văn Bình - 30%", "Bình 30% MAU003", "Bình 30 (MAU003)": a name, a share, a branch.
_AUTHOR_LINE = re.compile(
    r"^(?P<name>.+?)[\s,:;\-–(]+(?P<share>\d{1,3}(?:[.,]\d+)?)\s*%?\s*\)?"
    r"(?:[\s,;\-–]*\(?\s*(?P<branch>[A-Za-z][A-Za-z0-9._-]{1,31})\s*\)?)?$"
)
# People write several on one line: "Mai 30%, Hùng 20%".
_AFTER_SHARE = re.compile(
    r"(?<=[\d%)])\s*[,;]\s*(?=[^\d\s])|(?<=[\w)])\s*[,;]\s*(?=[^\W\d_])|(?<=[\d%)])\s+(?:và|va|and)\s+(?=[^\W\d_])"
)
_SHORT_NAME = re.compile(r"^[^\W\d_]{2,}(?:[ '.\-][^\W\d_]+)*$")
# «chị Bình 30», «anh Hùng 20», «đ/c Mai 10»: how one speaks of a colleague, not part of the name. These never
# begin a name, in any case; «anh», «ông», «cô» may («Anh Thư», «Ông Văn Tùng», «Cô Thị Lan»): only in lower
# case before a capital.
_TITLE = re.compile(r"^(?:đồng chí|đ/c|chị|em|bà|chú|bác)\s+(?=[^\W\d_])", re.IGNORECASE)
_TITLE_OR_NAME = re.compile(r"^(?:anh|ông|cô)\s+(?=[^\W\d_])")


def _without_honorific(name: str) -> str:
    bare = _TITLE.sub("", name)
    if bare != name:
        return bare
    bare = _TITLE_OR_NAME.sub("", name)
    return bare if bare != name and bare[:1].isupper() else name


def parse_coauthors(text: str, *, total: int | None = None) -> list[AuthorShare]:
    """Authors as people type them: one a line, or several on a line separated by commas ("Mai 30%,
    Hùng 20%"), each "Name share[%] [branch code]". Without `total` they are co-authors and the submitter
    keeps the remainder (so they add up to under 100); with `total` (entering for others) they add up to it."""
    text = _AFTER_SHARE.sub("\n", text.replace(";", "\n"))
    lines = [line.strip(" •*-\t,") for line in text.splitlines() if line.strip(" •*-\t,")]
    if not lines:
        raise InputError("err_coauthors_format")
    if len(lines) > 20:
        raise InputError("err_coauthors_too_many", {"max": 20})
    authors: list[AuthorShare] = []
    for number, line in enumerate(lines, start=1):
        match = _AUTHOR_LINE.match(line)
        typed = unicodedata.normalize("NFC", match.group("name") if match else line)  # a name alone: the line
        name = _without_honorific(" ".join(typed.split()))
        if not match and _SHORT_NAME.match(name) and len(name) <= 80:
            if total is not None and len(lines) == 1:  # entering for others, one name alone: the only author
                return [AuthorShare(capitalised(name), total)]
            # a name alone («Trần Thị Bình»): its share is what is missing (letters only: said back as typed)
            raise InputError("err_coauthors_no_share", {"line": number, "name": capitalised(name)})
        if not match or not _SHORT_NAME.match(name) or len(name) > 80:
            raise InputError("err_coauthors_line", {"line": number})
        share = float(match.group("share").replace(",", "."))
        if share != int(share) or not 1 <= share <= (100 if total else 99):
            raise InputError("err_coauthors_share", {"line": number})
        authors.append(AuthorShare(capitalised(name), int(share), (match.group("branch") or "").upper()))
    shares = sum(a.share_percent for a in authors)
    if total is None and shares >= 100:
        raise InputError("err_coauthors_total", {"total": shares})
    if total is not None and shares != total:
        raise InputError("err_authors_total", {"total": shares, "expected": total})
    return authors


# --- recognition -----------------------------------------------------------------------------------

_TRAILING_DATE = re.compile(
    r"(?:\s*[,(]?\s*(?:ng[aà]y)?\s*)"
    r"(?P<date>\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*\d{4}|\d{1,2}\s+th[aá]ng\s+\d{1,2}\s+n[aă]m\s+\d{4})\)?\s*$",
    re.IGNORECASE,
)


# "Quyết định số 45/QĐ-CĐCS …", "QĐ số 45/…", "số 45/…": the number is what follows (the confirmation reads
# "QĐ 45/QĐ-CĐCS", and the forms write "Quyết định số …" themselves).
_DECISION_WORDS = re.compile(
    r"^\s*(?:(?:quy[eế]t\s+[dđ][iị]nh|q[dđ])(?:\s+|$))?(?:s[oố]\s*:\s*|s[oố](?:\s+|$))?", re.IGNORECASE
)


# A decision's number alone: digits, a slash and letters («45/QĐ-BV»), nothing to escape when said back; not a
# date without its year («15/03», «45/QĐ-BV 15/3»).
_NUMBER_ALONE = re.compile(r"(?=[^/]*\d)(?=.*/)(?=.*[^\W\d_])[\w/.\-– ]{3,60}")
_ENDS_WITH_DAY_AND_MONTH = re.compile(r"(?:^|\s)\d{1,2}\s*/\s*\d{1,2}$")
_NUMBER_WORDED = re.compile(r"\d{1,6}")


def _decision_number(typed: str) -> str:
    """The number among the words around it: from the first word with a digit, up to the first lower-case word
    ("công nhận số 5/QĐ-THPT do hiệu trưởng ký" → "5/QĐ-THPT"; "45/QĐ - CĐCS" whole). It is printed on the
    cards, the exports and the portal's sheet."""
    words = typed.split()
    start = next((i for i, word in enumerate(words) if any(c.isdigit() for c in word)), 0)
    end = next((i for i in range(start + 1, len(words)) if _spoken(words[i])), len(words))
    return " ".join(words[start:end]).strip(" ,;:-–")


def _spoken(word: str) -> bool:
    """A word of the sentence, not of the number: lower-case letters, no digit, no slash ("ký", "ban", "do")."""
    return any(c.islower() for c in word) and not any(c.isdigit() or c == "/" for c in word)


def parse_decision(text: str) -> tuple[str, dt.date]:
    """A recognition decision as people type it: its number, then its date ("45/QĐ-CĐCS 15/03/2022",
    "45/QĐ-CĐCS ngày 15/3/2022", "Quyết định số 45/QĐ-CĐCS ngày 15 tháng 3 năm 2022")."""
    value = " ".join(text.split())
    match = _TRAILING_DATE.search(value)
    if not match:
        unworded = _DECISION_WORDS.sub("", value)
        number = _decision_number(unworded)
        named = unworded != value and _NUMBER_WORDED.fullmatch(number)  # «quyết định số 12»: 12 is its number
        if (named or _NUMBER_ALONE.fullmatch(number)) and not _ENDS_WITH_DAY_AND_MONTH.search(number):  # «45/QĐ»
            raise InputError("recognition_date_missing", {"number": number})  # (said back: nothing to escape)
        raise InputError("recognition_format")
    number = _decision_number(_DECISION_WORDS.sub("", value[: match.start()]).strip(" ,;:-–"))
    if not number:
        raise InputError("recognition_format")
    return clean_text(number, min_len=1, max_len=100), parse_date(match.group("date"))


# --- eligibility -----------------------------------------------------------------------------------


def check_first_application(date: dt.date, eligible_from: dt.date, eligible_until: dt.date, today: dt.date) -> None:
    """Plan IV.2.1: put into application between the window's ends (both included), not in the future."""
    params = {
        "date": format_date(date),
        "start": format_date(eligible_from),
        "end": format_date(eligible_until),
    }
    if date > today:
        raise InputError("err_date_future", params)
    if date < eligible_from:
        raise InputError("err_applied_too_early", params)
    if date > eligible_until:
        raise InputError("err_applied_too_late", params)


def check_recognition_date(date: dt.date, eligible_from: dt.date, today: dt.date) -> None:
    """Plan IV.2 note: recognised in writing from the window's start on (proposed earlier is fine)."""
    params = {"date": format_date(date), "start": format_date(eligible_from)}
    if date > today:
        raise InputError("err_date_future", params)
    if date < eligible_from:
        raise InputError("err_recognised_too_early", params)


def check_not_future(date: dt.date, today: dt.date) -> None:
    if date > today:
        raise InputError("err_date_future", {"date": format_date(date)})


# A date of birth's own wording of the date errors: their examples are a birth date, not a date of application.
_BIRTH_DATE_ERRORS = {
    "err_date": "err_birth_date_unread",
    "err_date_year": "err_birth_date_year",
    "err_date_year_range": "err_birth_date_year_range",
    "err_date_need_year": "err_birth_date_need_year",
}


def parse_birth_date(text: str, today: dt.date) -> dt.date:
    """A date of birth as typed (`parse_date`), born as `check_birth_date` wants."""
    try:
        date = parse_date(text)
    except InputError as error:
        raise InputError(_BIRTH_DATE_ERRORS.get(error.key, error.key), error.params) from error
    check_birth_date(date, today)
    return date


def check_birth_date(date: dt.date, today: dt.date) -> None:
    """A working author: born at least 15 and at most 100 years ago."""
    if not today.year - 100 <= date.year <= today.year - 15:
        raise InputError("err_birth_date", {"date": format_date(date)})


# --- quiet hours -----------------------------------------------------------------------------------


def after_quiet_hours(now: dt.datetime, tz: dt.tzinfo, start: dt.time, end: dt.time) -> dt.datetime:
    """`now`, or the end of the quiet hours `start`–`end` (local times; may span midnight) if `now` is in them.

    Scheduled reminders and broadcasts are postponed to this time, never dropped."""
    local = now.astimezone(tz)
    clock = local.time()
    spans_midnight = start > end
    quiet = (start <= clock or clock < end) if spans_midnight else (start <= clock < end)
    if not quiet:
        return now
    end_day = local.date() + dt.timedelta(days=1) if spans_midnight and clock >= start else local.date()
    return dt.datetime.combine(end_day, end, tz).astimezone(dt.UTC)
