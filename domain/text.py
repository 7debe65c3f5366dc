"""What people send, cleaned at the door: one function for every text that enters the bot (messages,
button payloads, names, file names, spreadsheet cells).

It removes what no one types on purpose and what breaks things later: control characters (an Excel export
refuses them: "All strings must be XML compatible"), Unicode non-characters (U+FFFE, U+FFFF…) and lone
surrogates, zero-width characters and bidirectional overrides (they count toward minimum lengths while
showing nothing, and can make a text read backwards). The zero-width joiner is kept inside emoji
sequences (👨‍👩‍👧), where it is part of the picture. Line breaks and tabs stay; the result is NFC.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 and C1 controls (not \t \n \r)
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e"  # soft hyphen, invisible fillers
    "\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"  # zero-width, bidi controls
    "\ufeff\ufff9-\ufffb\ufdd0-\ufdef"  # byte-order mark, annotations, non-characters
    "\ud800-\udfff"  # lone surrogates
    + "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(17))  # U+FFFE … U+10FFFF
    + "]"
)
_ZWJ = "\u200d"


def _keeps_zwj(before: str, after: str) -> bool:
    """The zero-width joiner between two parts of an emoji (or after a variation selector)."""
    emoji = ("So", "Sk", "Mn")
    return bool(before and after) and unicodedata.category(before) in emoji and unicodedata.category(after) == "So"


def clean_input(text: str) -> str:
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if _ZWJ in text:
        parts = text.split(_ZWJ)
        text = parts[0]
        for part in parts[1:]:
            text += (_ZWJ if _keeps_zwj(text[-1:], part[:1]) else "") + part
    return unicodedata.normalize("NFC", text)  # last: a letter and its mark, parted by what was removed, are one


def fold(text: str) -> str:
    """Lower-case, accent-free form for searching and comparing: "Bệnh viện Đa khoa" -> "benh vien da khoa"."""
    return _fold_remembered(text) if len(text) <= _REMEMBERED_LENGTH else _fold(text)


_REMEMBERED_LENGTH = 256  # names, unit names and titles: folded again and again (a branch's members, each card)


@functools.lru_cache(maxsize=8192)
def _fold_remembered(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


# Vietnamese alphabetical order: ă and â follow a, đ follows d, ê follows e, ô and ơ follow o, ư follows u;
# the tones (huyền, sắc, hỏi, ngã, nặng) only break ties. Codepoint order (a database's default collation)
# puts «Đa khoa» and «Ủy ban» after «Y dược».
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_LETTER_MARKS = {"\u0306": "breve", "\u0302": "circumflex", "\u031b": "horn"}
_WITH_MARK = {("a", "breve"): "ă", ("a", "circumflex"): "â", ("e", "circumflex"): "ê", ("o", "circumflex"): "ô",
              ("o", "horn"): "ơ", ("u", "horn"): "ư"}  # fmt: skip
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền, hỏi, ngã, sắc, nặng


def vietnamese_order(text: str) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...], str]:
    """A sort key putting names in Vietnamese dictionary order (letters first, then tones, then as written)."""
    letters: list[tuple[int, int]] = []
    tones: list[int] = []
    for char in unicodedata.normalize("NFD", text.casefold()):
        if char in _LETTER_MARKS and letters:
            previous = _ALPHABET[letters[-1][1]] if letters[-1][0] == 2 else ""
            marked = _WITH_MARK.get((previous, _LETTER_MARKS[char]))
            if marked:
                letters[-1] = (2, _ALPHABET.index(marked))
        elif char in _TONES:
            tones[-1:] = [_TONES[char]]
        elif not unicodedata.combining(char):
            rank = _ALPHABET.find(char)
            letters.append((2, rank) if rank >= 0 else (1, ord(char)) if char.isdigit() else
                           (3, ord(char)) if char.isalpha() else (0, ord(char)))  # fmt: skip
            tones.append(0)
    return tuple(letters), tuple(tones), text


# --- reading what people type against a label ------------------------------------------------------
# People type Vietnamese with all its accents, with some ("tiêp tuc"), with the tone on another letter
# ("xóa" for "xoá", "hủy" for "huỷ") or with none ("xac nhan"). A word typed reads as a label's word when
# they are the same letters once folded and every mark typed is one of the label word's: a mark typed is
# never contradicted ("đúng" is not "dừng"), a mark left out is not held against the person.


def typed_words(text: str) -> list[str]:
    """Lower-case words with their accents, punctuation and emoji left out: "✖️ Dừng!" → ["dừng"]."""
    return re.sub(r"[^\w\s]", " ", unicodedata.normalize("NFC", text)).lower().split()


def _marks(word: str) -> set[str]:
    marks = {char for char in unicodedata.normalize("NFD", word) if unicodedata.combining(char)}
    return marks | ({"đ"} if "đ" in word else set())


def word_reads_as(typed: str, label: str) -> bool:
    return fold(typed) == fold(label) and _marks(typed) <= _marks(label)


def reads_as(typed: str, label: str) -> bool:
    """The whole text typed reads as the whole label, word by word."""
    mine, theirs = typed_words(typed), typed_words(label)
    return bool(mine) and len(mine) == len(theirs) and all(map(word_reads_as, mine, theirs))


def begins(typed: str, label: str) -> bool:
    """The label's first words, not all of them, read as the text typed ("gửi" for "📨 Gửi sáng kiến")."""
    mine, theirs = typed_words(typed), typed_words(label)
    return bool(mine) and len(mine) < len(theirs) and all(map(word_reads_as, mine, theirs))


def holds(typed: str, label: str) -> bool:
    """Some run of the label's words reads as the text typed ("quản lý" in "1.2 Giải pháp quản lý")."""
    mine, theirs = typed_words(typed), typed_words(label)
    return bool(mine) and any(
        all(map(word_reads_as, mine, theirs[start : start + len(mine)])) for start in range(len(theirs) - len(mine) + 1)
    )


def accented(text: str) -> bool:
    """Typed with at least one Vietnamese mark: precise enough to prefer an exact reading."""
    return any(_marks(word) for word in typed_words(text))


def name_as_printed(registered: str, typed: str) -> str:
    """A registered co-author's name on his author row: his own, unless he registered it without accents and
    it was typed for him with them («Tăng Thị Dậu» for «Tang Thi Dau»): the council's forms print it."""
    if registered.isascii() and not typed.isascii() and fold(typed) == fold(registered):
        return typed
    return registered


def own_lines(value: str) -> str:
    """A value of several lines (two authors, a list of appliers) begins on a line of its own after its label
    («Tác giả:», «Đang lưu:»), so that its lines start one under another."""
    return "\n" + value if "\n" in value else value


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut between words and ended with "…" ("điều dưỡn…" reads as a typo);
    a text without a space in its second half is cut inside its last word."""
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    kept = text[: limit - 1]  # and the "…"
    if text[limit - 1] != " " and " " in kept[limit // 2 :]:  # else the cut falls between two words already
        kept = kept[: kept.rfind(" ")]
    return kept.rstrip(" ,;:.-–—") + "…"


def shorten_start(text: str, limit: int) -> str:
    """At most `limit` characters, its beginning cut as `shorten` cuts an end: "…Chuyên Hùng Vương"."""
    if len(text) <= limit:
        return text
    if limit < 1:
        return ""
    kept = text[len(text) - limit + 1 :]  # after the "…"
    if text[len(text) - limit] != " " and " " in kept[: len(kept) - limit // 2]:  # a word cut: it goes
        kept = kept[kept.find(" ") + 1 :]
    return "…" + kept.lstrip(" ,;:.-–—")


_NAME_PARTS = re.compile(r" [–—-] |, ")  # "Bệnh viện Đa khoa tỉnh – cơ sở 2", "Khoa Nội, Bệnh viện A"


def shorten_middle(text: str, limit: int, *, keep_start: bool = True) -> str:
    """At most `limit` characters, keeping the name's last part (after " – " or ", ") when it is short: "[MẪU]
    Bệnh viện Đa… – cơ sở 2". Units of one organisation differ there, and a phone cuts a long button at its end.
    What comes before it is cut at its end, or (not `keep_start`) at its beginning: "…Chuyên Hùng Vương – cơ sở 2".
    """
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = shorten if keep_start else shorten_start
    parts = list(_NAME_PARTS.finditer(text))
    if not parts or len(text) - parts[-1].start() > limit // 2:
        return cut(text, limit)
    start = parts[-1].start()
    return cut(text[:start], limit - (len(text) - start)) + text[start:]


def shortened_apart(texts: Sequence[str], limits: Sequence[int]) -> list[str]:
    """Each text within its limit by `shorten_middle`, told apart: texts whose cuts come out alike («[MẪU] Trường
    THPT… – cơ sở 2» for three schools) keep the end of their first part instead («…Chuyên Hùng Vương – cơ sở 2»),
    and any still alike are left whole. A text cut only at its end is left whole too: the phone cuts it there
    itself, at its own width, which may show more."""
    labels = [shorten_middle(text, limit) for text, limit in zip(texts, limits, strict=True)]
    for again in (functools.partial(shorten_middle, keep_start=False), lambda text, limit: text):
        texts_of: dict[str, set[str]] = {}
        for label, text in zip(labels, texts, strict=True):
            texts_of.setdefault(label, set()).add(text)
        alike = [i for i, label in enumerate(labels) if len(texts_of[label]) > 1]
        for i in alike:
            labels[i] = again(texts[i], limits[i])
    return [text if label == shorten(text.strip(), limit) else label
            for text, label, limit in zip(texts, labels, limits, strict=True)]  # fmt: skip
