"""Options without buttons (Zalo): shown as a numbered list, answered with "2", "2 123" or the option's words.

Pure functions; the Zalo channel keeps the menus it showed in the database (storage/option_menus.py).
"""

from __future__ import annotations

import re
import unicodedata

from bot.channels.text import html_to_plain
from domain.text import accented, begins, reads_as, typed_words
from handlers.events import Option, Reply
from handlers.i18n import Catalog

# "2", "2 123", "2 #123", "2#123", «số 2», «chọn 2» — but not "1.2" (a type code typed as text).
TYPED_CHOICE = re.compile(
    r"\s*(?:(?:số|so|chọn|chon|mục|muc)\s*)?(\d{1,2})(?:(?:\s+#?|\s*#)\s*(\d{1,9}))?\s*", re.IGNORECASE
)
# Words for Back / Skip / Cancel when no option of the latest menu says them.
NAV_WORDS = {
    "quay lại": "back", "trở lại": "back", "back": "back",
    "bỏ qua": "skip", "skip": "skip",
    "dừng": "cancel", "huỷ": "cancel", "hủy": "cancel", "thoát": "cancel", "cancel": "cancel",
}  # fmt: skip


def choices(reply: Reply) -> list[Option]:
    """The options a person answers by number, in the order shown (links are not numbered)."""
    return [option for row in reply.options for option in row if not option.url]


def typed_label(label: str) -> str:
    """An option's label without emoji or "(…)" remark, as a hint of what to type: "Quay lại"."""
    return " ".join(re.sub(r"[^\w\s]", " ", re.sub(r"\(.*?\)", " ", label)).split())


def words(label: str) -> str:
    """An option's label as a person would type it: no "(…)" remark (emoji and marks are read by
    domain.text's `reads_as`)."""
    return re.sub(r"\(.*?\)", " ", label)


def render(reply: Reply, t: Catalog) -> str:
    """The reply as plain text: the numbered options and a hint, links written out, the menu as words."""
    parts = [html_to_plain(reply.text).strip()]
    numbered = choices(reply)
    if numbered and reply.numbers_answer:  # "15" is the answer (a day, an amount): options go by their words
        lines = [f"• {option.label}" for option in numbered]
        lines.append(t("zalo_hint_words", example=typed_label(numbered[0].label)))
        parts.append("\n".join(lines))
    elif numbered:
        lines = [f"{number}. {option.label}" for number, option in enumerate(numbered, start=1)]
        lines.append(t("zalo_hint_ref", ref=reply.ref) if reply.ref else t("zalo_hint"))
        parts.append("\n".join(lines))
    links = [option for row in reply.options for option in row if option.url]
    if links:
        parts.append("\n".join(f"{option.label}: {option.url}" for option in links))
    if reply.menu and not numbered:
        parts.append(t("zalo_menu", items=" · ".join(" ".join(re.sub(r"[^\w\s()]", " ", label).split())
                                                        for label in reply.menu)))  # fmt: skip
    return "\n\n".join(part for part in parts if part)


def typed_number(text: str) -> tuple[int, str] | None:
    """(2, "") for "2" or «số 2»; (2, "123") for "2 123"; None for anything else."""
    match = TYPED_CHOICE.fullmatch(unicodedata.normalize("NFC", text))
    return (int(match.group(1)), match.group(2) or "") if match else None


WORDS_AND_REF = re.compile(r"\s*([^\d#]*[^\W\d][^\d#]*?)\s*#?\s*(\d{1,9})\s*")  # letters, no digit; the ref


def words_and_ref(text: str) -> tuple[str, str] | None:
    """("xác nhận", "17") for "xác nhận 17" or "xác nhận #17"; None for anything else."""
    match = WORDS_AND_REF.fullmatch(text)
    return (match.group(1), match.group(2)) if match else None


WORDS_ONLY = "words"


def stored(reply: Reply) -> list[list[str]]:
    """The menu as kept for the chat: [label, payload], marked when numbers are answers, not choices."""
    mark = [WORDS_ONLY] if reply.numbers_answer else []
    return [[option.label, option.payload, *mark] for option in choices(reply)]


def numbers_answer(options: list[list[str]] | None) -> bool:
    """The menu's question takes a number as its answer (a day, an amount)."""
    return bool(options) and WORDS_ONLY in options[0][2:]


def pick(options: list[list[str]] | None, number: int) -> str | None:
    """The payload of option `number` (from 1) of a stored menu (None where numbers are answers)."""
    if options and 1 <= number <= len(options) and WORDS_ONLY not in options[number - 1][2:]:
        return options[number - 1][1]
    return None


def by_words(options: list[list[str]] | None, text: str) -> str | None:
    """The payload of the option whose label the person typed (accents optional: domain.text.reads_as), or
    whose label begins with what they typed when only one does: "gửi" for "📨 Gửi sáng kiến", "xác nhận" for
    "✅ Xác nhận hồ sơ". None when it could be several (`ambiguous`)."""
    exact, starting = _readings(options, text)
    if len(exact) == 1 and (not starting or accented(text)):
        return exact[0]
    if not exact and len(starting) == 1 and len(text.strip()) >= 2:
        return starting[0]
    return None


def exactly(options: list[list[str]] | None, text: str) -> int | None:
    """The number (from 1) of the one option whose whole label the text reads as; None otherwise."""
    exact, _ = _readings(options, text)
    if len(exact) != 1 or options is None:
        return None
    return next(n for n, option in enumerate(options, start=1) if option[1] == exact[0])


def ambiguous(options: list[list[str]] | None, text: str) -> bool:
    """What was typed reads as more than one option ("dung": "Đúng, đủ…" or "Dừng"): not a choice, and not
    a navigation word either; the question's own step reads it."""
    exact, starting = _readings(options, text)
    return len(exact) + len(starting) > 1 and by_words(options, text) is None


def _readings(options: list[list[str]] | None, text: str) -> tuple[list[str], list[str]]:
    if not options or not typed_words(text):
        return [], []
    exact = [option[1] for option in options if reads_as(text, words(option[0]))]
    starting = [option[1] for option in options if begins(text, words(option[0]))]
    return exact, starting


def nav_command(text: str) -> str | None:
    """ "quay lại" → "back", "bỏ qua" → "skip", "dừng" / "huỷ" → "cancel" (accents optional; "đúng" is
    not "dừng")."""
    return next((command for said, command in NAV_WORDS.items() if reads_as(text, said)), None)
