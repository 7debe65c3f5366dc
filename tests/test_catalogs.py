"""Message catalogs: Vietnamese and English hold the same keys with the same placeholders."""

import string
import tomllib

import pytest

from handlers import menus
from handlers.events import ROW_CHARS
from handlers.i18n import CATALOG_DIR, as_recorded, catalog
from handlers.wizard_steps import STEPS, STEPS_BY_KEY


def load(language: str) -> dict[str, str]:
    return tomllib.loads((CATALOG_DIR / f"{language}.toml").read_text(encoding="utf-8"))


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogs_have_the_same_keys_and_placeholders() -> None:
    vi, en = load("vi"), load("en")
    assert set(vi) == set(en)
    for key in vi:
        assert placeholders(vi[key]) == placeholders(en[key]), key


def test_every_wizard_step_has_a_prompt_and_a_summary_label() -> None:
    vi = load("vi")
    for step in STEPS:
        assert step.prompt_key in vi and step.label_key in vi, step.key
        for _, label_key in step.choices:
            assert label_key in vi
        for key in step.suggestions:
            assert key in vi
        if step.refused_value:
            assert f"err_refused_{step.key}" in vi


def test_vietnamese_text_carries_its_diacritics() -> None:
    vi = load("vi")
    assert "Chọn <b>công đoàn cơ sở (CĐCS)</b>" in vi["reg_choose_branch"]
    assert "Sáng kiến mới" in vi["menu_new"]


def test_every_fixed_button_label_fits_a_phones_row_in_both_languages() -> None:
    """A longer label is cut by the phone («🐢 Chủ tịch các CĐCS chưa đ…»); those with a name or a title in them
    are cut by the channel where it matters (handlers.events.Option.keep_end)."""
    for language in ("vi", "en"):
        fixed = {key: label for key, label in load(language).items()
                 if key.startswith(("btn_", "menu_", "reason_button_")) and not placeholders(label)}  # fmt: skip
        long = {key: label for key, label in fixed.items() if len(label) > ROW_CHARS}
        assert not long, (language, long)


def test_the_main_menus_labels_fit_half_a_phones_row_in_both_languages() -> None:
    """The menu's keyboard is two a row (bot/channels/telegram.py); a 360-pixel screen showed 17 characters of
    «📊 Tiến độ toàn đơ…» and the whole of «📥 Chờ xác nhận (1)»."""
    for language in ("vi", "en"):
        t = catalog(language)
        labels = [t(key) for key in {*menus.MEMBER, *menus.ADMIN}] + [t("menu_pending", count=9)]
        assert all(len(label) <= 18 for label in labels), (language, labels)


def test_the_review_cards_paired_buttons_fit_half_a_phones_width_in_both_languages() -> None:
    """Two a row on the chair's card (handlers/review.py): a longer label is cut («✏️ Yêu cầu bổ s…»)."""
    for language in ("vi", "en"):
        labels = [load(language)[key] for key in ("btn_changes", "btn_reject", "btn_details", "btn_forms")]
        assert all(len(label) <= ROW_CHARS // 2 for label in labels), (language, labels)


def test_every_text_is_html_telegram_accepts() -> None:
    """A stray "<code>" or "<mã>" in a text would make Telegram refuse the whole message."""
    from bot.sandbox.telegram_emulator import BotApiError, parse_html

    plain = ("btn_", "menu_", "command_", "chart_", "page_")  # labels and page texts are not Telegram HTML
    for language in ("vi", "en"):
        for key, template in load(language).items():
            if key.startswith(plain):
                continue
            sample = template.format(**{name: "x" for name in placeholders(template)})
            try:
                parse_html(sample)
            except BotApiError as error:
                raise AssertionError(f"{language}.{key}: {error}") from None


@pytest.mark.parametrize(
    ("text", "command"),
    [("📥 Chờ xác nhận (4)", "pending"), ("📥 Chờ xác nhận (0)", "pending"), ("Chờ xác nhận 12", "pending"),
     ("cho xac nhan", "pending"), ("📊 Tiến độ", "progress"), ("tien do", "progress"), ("4", None),
     ("Chờ xác nhận hồ sơ", None), ("Tiến độ 2024", None), ("Bản nháp 2", None)],
)  # fmt: skip
def test_a_menu_item_is_understood_tapped_with_its_count_or_typed(text: str, command: str | None) -> None:
    """The chair's "📥 Chờ xác nhận (4)" sends its label with the count; on Zalo people type it, count or not."""
    assert menus.command_for(catalog("vi"), text) == command


def test_a_suggestion_is_read_from_its_words_or_its_head_accents_aside() -> None:
    fields = STEPS_BY_KEY["field"].suggestions
    for typed in ("hanh chinh", "Hành chính – quản lý", "hanh chinh quan ly"):
        assert as_recorded(catalog("vi"), fields, typed) == "Hành chính – quản lý", typed
    assert as_recorded(catalog("en"), fields, "administration") == "Hành chính – quản lý", "stored as records word it"
    assert as_recorded(catalog("vi"), fields, "hanh chinh cong") == "hanh chinh cong", "other words: as typed"
