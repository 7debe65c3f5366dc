from bot.channels.text import split_text


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
