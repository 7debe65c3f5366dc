"""Signed links to the review page, its attachments and its form: each opens what it was made for, for
the member it was made for, until it expires, and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest

from handlers import review_links
from handlers.review_links import BadLink

SECRET = "a-link-secret-of-enough-length-0123456789"
NOW = dt.datetime(2022, 4, 20, 3, 0, tzinfo=dt.UTC)


def test_a_link_carries_its_initiative_and_member_until_it_expires() -> None:
    token = review_links.sign(SECRET, 41, 7, NOW)
    claims = review_links.verify(SECRET, token, NOW + review_links.LIFETIME - dt.timedelta(seconds=1))
    assert (claims.initiative_id, claims.member_id, claims.extra) == (41, 7, 0)
    assert claims.expires_at == NOW + review_links.LIFETIME and len(claims.nonce) == 12
    with pytest.raises(BadLink, match="expired"):
        review_links.verify(SECRET, token, NOW + review_links.LIFETIME)
    assert review_links.sign(SECRET, 41, 7, NOW) != token, "each link has its own nonce (used once)"
    assert review_links.link("https://x.example", SECRET, 41, 7, NOW).startswith("https://x.example/r/")


@pytest.mark.parametrize("change", ["tampered", "other secret", "truncated", "not ascii", "too long", "padding"])
def test_a_changed_or_foreign_token_is_refused(change: str) -> None:
    token = review_links.sign(SECRET, 41, 7, NOW)
    forged = {
        "tampered": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "other secret": review_links.sign("another-secret-entirely-0123456789", 41, 7, NOW),
        "truncated": token[:20],
        "not ascii": token[:-1] + "ẞ",
        "too long": token + "A" * 200,
        "padding": "!!!!",
    }[change]
    with pytest.raises(BadLink):
        review_links.verify(SECRET, forged, NOW)


def test_each_token_opens_only_what_it_was_made_for() -> None:
    claims = review_links.verify(SECRET, review_links.sign(SECRET, 41, 7, NOW), NOW)
    attachment = review_links.attachment_token(SECRET, claims, 99, NOW)
    with pytest.raises(BadLink, match="another purpose"):
        review_links.verify(SECRET, attachment, NOW)  # an attachment's token is not a review link
    opened = review_links.verify(SECRET, attachment, NOW, purpose=review_links.ATTACHMENT)
    assert (opened.initiative_id, opened.member_id, opened.extra) == (41, 7, 99)
    assert opened.expires_at == claims.expires_at, "an attachment's link lives as long as its page's"
    late = review_links.attachment_token(SECRET, claims, 99, claims.expires_at + dt.timedelta(hours=1))
    assert review_links.verify(SECRET, late, claims.expires_at + dt.timedelta(seconds=30),
                               purpose=review_links.ATTACHMENT).extra == 99  # fmt: skip

    form = review_links.form_token(SECRET, claims, NOW)
    assert review_links.form_matches(SECRET, form, claims, NOW + dt.timedelta(hours=23))
    assert not review_links.form_matches(SECRET, form, claims, NOW + dt.timedelta(days=1))
    other_chair = review_links.verify(SECRET, review_links.sign(SECRET, 41, 8, NOW), NOW)
    other_initiative = review_links.verify(SECRET, review_links.sign(SECRET, 42, 7, NOW), NOW)
    assert not review_links.form_matches(SECRET, form, other_chair, NOW)
    assert not review_links.form_matches(SECRET, form, other_initiative, NOW)
    assert not review_links.form_matches(SECRET, review_links.sign(SECRET, 41, 7, NOW), claims, NOW)


@pytest.mark.parametrize(("initiative", "member", "extra"), [(-1, 1, 0), (1, 2**32, 0), (1, 1, 2**32)])
def test_ids_out_of_range_are_not_signed(initiative: int, member: int, extra: int) -> None:
    with pytest.raises(ValueError):
        review_links.sign(SECRET, initiative, member, NOW, extra=extra)
    assert review_links.sign(SECRET, 2**32 - 1, 2**32 - 1, NOW, extra=2**32 - 1)


def test_tokens_are_url_safe_of_one_length_and_say_why_they_are_refused() -> None:
    """The refusal's reason is what the log says; the token's shape is what a URL carries."""
    tokens = [review_links.sign(SECRET, n, n, NOW) for n in (0, 1, 2**32 - 1)]
    assert {len(token) for token in tokens} == {58}, "27 bytes and a 16-byte MAC, unpadded base64"
    assert all("=" not in token and token.isascii() for token in tokens)
    assert review_links.verify(SECRET, tokens[0], NOW).initiative_id == 0, "zero is a valid id"
    token = tokens[1]
    reasons = {
        "malformed": [token[:-1] + "ẞ", "A" * 201, "A"],
        "bad signature": [token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token[:20], "A" * 200],
        "another purpose": [review_links.sign(SECRET, 1, 1, NOW, purpose=review_links.FORM)],
        "expired": [review_links.sign(SECRET, 1, 1, NOW - review_links.LIFETIME)],
    }
    for reason, forged in reasons.items():
        for candidate in forged:
            with pytest.raises(BadLink) as refused:
                review_links.verify(SECRET, candidate, NOW)
            assert str(refused.value) == reason, candidate
    with pytest.raises(ValueError, match=r"^ids out of range$"):
        review_links.sign(SECRET, -1, 0, NOW)


def test_an_attachment_of_an_expiring_page_still_lives_a_minute() -> None:
    claims = review_links.verify(SECRET, review_links.sign(SECRET, 5, 6, NOW), NOW)
    at_the_end = claims.expires_at - dt.timedelta(seconds=1)
    token = review_links.attachment_token(SECRET, claims, 3, at_the_end)
    opened = review_links.verify(SECRET, token, at_the_end, purpose=review_links.ATTACHMENT)
    assert opened.expires_at == at_the_end.replace(microsecond=0) + dt.timedelta(minutes=1)
