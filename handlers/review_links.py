"""Signed review links: a chair opens one initiative's review page from any phone, without logging in.

A link is bound to one chair (member) and one initiative, expires after 7 days, and is signed with
HMAC-SHA256 under the server's secret (SANGKIEN_LINK_SECRET), so it cannot be forged or altered. It
carries a random nonce: a decision through the link claims the nonce, so the link decides once. Whoever
opens it is still re-authorised against the stored roles and the initiative's state, exactly as for a
button press. Pure functions: no I/O.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

LIFETIME = dt.timedelta(days=7)


@dataclass(frozen=True)
class LinkClaims:
    initiative_id: int
    member_id: int
    expires_at: dt.datetime
    nonce: str


class BadLink(Exception):
    """Tampered, malformed or expired (the message says which, for the log; people see one polite page)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def sign(secret: str, initiative_id: int, member_id: int, now: dt.datetime) -> str:
    expires = int((now + LIFETIME).timestamp())
    body = _b64(f"{initiative_id}.{member_id}.{expires}.{secrets.token_urlsafe(9)}".encode())
    return f"{body}.{_signature(secret, body)}"


def verify(secret: str, token: str, now: dt.datetime) -> LinkClaims:
    body, _, signature = token.partition(".")
    if not body or not signature or not hmac.compare_digest(signature, _signature(secret, body)):
        raise BadLink("bad signature")
    try:
        initiative_id, member_id, expires, nonce = _unb64(body).decode().split(".", 3)
        claims = LinkClaims(int(initiative_id), int(member_id), dt.datetime.fromtimestamp(int(expires), dt.UTC), nonce)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadLink("malformed") from error
    if claims.expires_at <= now:
        raise BadLink("expired")
    return claims


def link(public_url: str, secret: str, initiative_id: int, member_id: int, now: dt.datetime) -> str:
    return f"{public_url}/r/{sign(secret, initiative_id, member_id, now)}"
