import html
import re

from bot.channels.text import split_text
from bot.sandbox.telegram_emulator import parse_html


def test_short_text_is_one_chunk() -> None:
    assert split_text("a\nb", 10) == ["a\nb"]


def test_long_text_splits_at_line_boundaries_within_the_limit() -> None:
    text = "\n".join(f"dòng {i:03d} " + "x" * 30 for i in range(200))
    chunks = split_text(text, 4096)
    assert all(len(c) <= 4096 for c in chunks) and len(chunks) > 1
    assert "\n".join(chunks) == text


def test_a_line_longer_than_the_limit_is_cut() -> None:
    chunks = split_text("y" * 4500 + "\nend", 2000)
    assert [len(c) for c in chunks] == [2000, 2000, 504]
    assert chunks[-1].endswith("y\nend")


def test_markup_is_never_cut_inside_an_entity_or_a_tag_and_each_chunk_parses_alone() -> None:
    """Found: a cut inside "&amp;" made Telegram refuse the chunk. Every cut position is tried."""
    for shift in range(12):
        text = "x" * (4096 - 200 - shift) + " <b>Đỗ &amp; Lê " + "chữ đậm " * 700 + "</b> &lt;hết&gt;"
        chunks = split_text(text, 4096, markup=True)
        assert len(chunks) > 1 and all(len(chunk) <= 4096 for chunk in chunks)
        for chunk in chunks:
            parse_html(chunk)  # the emulator's strict parser: raises on a broken entity or an unclosed tag
        plain = "".join(html.unescape(re.sub(r"<[^>]+>", "", chunk)) for chunk in chunks)
        assert plain.replace(" ", "") == html.unescape(re.sub(r"<[^>]+>", "", text)).replace(" ", "")


def test_a_long_paragraph_is_cut_after_a_sentence_not_mid_phrase() -> None:
    """Zalo's 2,000 characters: a member's solution typed as one paragraph reads in whole sentences."""
    sentences = [f"Câu số {i} kể về cách tổ chức lại quy trình tiếp nhận hồ sơ ở khoa khám bệnh." for i in range(60)]
    text = " ".join(sentences)
    chunks = split_text(text, 2000)
    assert len(chunks) > 1 and all(len(chunk) <= 2000 for chunk in chunks)
    assert all(chunk.endswith(".") and chunk[0] == "C" for chunk in chunks)
    assert " ".join(chunks) == text
    without_sentences = text.replace(".", ",")  # no sentence's end within reach: cut after the last word that fits
    chunks = split_text(without_sentences, 2000)
    assert len(chunks[0]) > 1990 and "".join(chunks) == without_sentences


def test_what_follows_a_sentence_cut_is_cut_again_when_a_long_word_would_overflow() -> None:
    """Found by a review: after the cut at a sentence's end, a link longer than half a part made the next one
    2,060 characters."""
    text = "Câu đầu. " * 112 + "chữ " * 240 + "x" * 1100 + " hết."
    chunks = split_text(text, 2000)
    assert all(len(chunk) <= 2000 for chunk in chunks) and chunks[0].endswith("Câu đầu.")
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    assert not any("\n" in chunk for chunk in chunks), "a line's parts are not joined again by a line break"
