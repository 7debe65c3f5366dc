"""Signed links to the bot's web pages: a chair opens one initiative's review page from any phone, without
logging in; the page's attachments and its decision form carry tokens of their own.

A token is bound to a purpose (review page, one attachment, the decision form), one initiative and one
member, expires, and is signed with HMAC-SHA256 (truncated to 128 bits) under the server's secret
(SANGKIEN_LINK_SECRET), so it cannot be forged, altered or used for another purpose: an attachment's URL
cannot open the review page or decide. A review link carries a random nonce that a decision claims, so
the link decides once. Whoever opens it is still re-authorised against the stored roles and the
initiative's state, exactly as for a button press. Pure functions: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass

LIFETIME = dt.timedelta(days=7)
REVIEW, ATTACHMENT, FORM = b"r", b"a", b"f"
DOSSIER, DOSSIER_FORM = b"d", b"g"  # the author's dossier page and its form
# purpose, initiative, member, extra (an attachment's id), expiry (unix time), nonce
_LAYOUT = struct.Struct(">cIIIQ6s")
_MAC_BYTES = 16
_MAX_ID = 2**32 - 1


@dataclass(frozen=True)
class LinkClaims:
    initiative_id: int
    member_id: int
    expires_at: dt.datetime
    nonce: str
    extra: int = 0


class BadLink(Exception):
    """Tampered, malformed, expired or for another purpose (the message says which, for the log; people
    see one polite page)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()[:_MAC_BYTES]


def sign(
    secret: str,
    initiative_id: int,
    member_id: int,
    now: dt.datetime,
    *,
    purpose: bytes = REVIEW,
    extra: int = 0,
    lifetime: dt.timedelta = LIFETIME,
) -> str:
    if not (0 <= initiative_id <= _MAX_ID and 0 <= member_id <= _MAX_ID and 0 <= extra <= _MAX_ID):
        raise ValueError("ids out of range")
    expires = int((now + lifetime).timestamp())
    body = _LAYOUT.pack(purpose, initiative_id, member_id, extra, expires, secrets.token_bytes(6))
    return _b64(body + _mac(secret, body))


def verify(secret: str, token: str, now: dt.datetime, *, purpose: bytes = REVIEW) -> LinkClaims:
    if not token.isascii() or len(token) > 200:
        raise BadLink("malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error) as error:
        raise BadLink("malformed") from error
    body, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if len(body) != _LAYOUT.size or not hmac.compare_digest(mac, _mac(secret, body)):
        raise BadLink("bad signature")
    kind, initiative_id, member_id, extra, expires, nonce = _LAYOUT.unpack(body)
    if kind != purpose:
        raise BadLink("another purpose")
    claims = LinkClaims(initiative_id, member_id, dt.datetime.fromtimestamp(expires, dt.UTC), nonce.hex(), extra)
    if claims.expires_at <= now:
        raise BadLink("expired")
    return claims


def link(public_url: str, secret: str, initiative_id: int, member_id: int, now: dt.datetime) -> str:
    """The chair's review page for one initiative."""
    return f"{public_url}/r/{sign(secret, initiative_id, member_id, now)}"


def attachment_token(secret: str, claims: LinkClaims, attachment_id: int, now: dt.datetime) -> str:
    """The URL token of one attachment, as shown on a review page (it opens that file, nothing else),
    valid as long as the page's link."""
    lifetime = max(claims.expires_at - now, dt.timedelta(minutes=1))
    return sign(secret, claims.initiative_id, claims.member_id, now, purpose=ATTACHMENT, extra=attachment_id,
                lifetime=lifetime)  # fmt: skip


def form_token(secret: str, claims: LinkClaims, now: dt.datetime, *, purpose: bytes = FORM) -> str:
    """The token the page's form posts back: acting needs the page, not only its address."""
    return sign(secret, claims.initiative_id, claims.member_id, now, purpose=purpose, lifetime=dt.timedelta(days=1))


def form_matches(secret: str, token: str, claims: LinkClaims, now: dt.datetime, *, purpose: bytes = FORM) -> bool:
    try:
        form = verify(secret, token, now, purpose=purpose)
    except BadLink:
        return False
    return (form.initiative_id, form.member_id) == (claims.initiative_id, claims.member_id)
