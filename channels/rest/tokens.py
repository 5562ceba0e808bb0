"""Visitor tokens: how a REST caller from elsewhere proves which visitor it speaks for.

The website's backend (or an operator, ``python -m channels.rest token``) issues a token per
visitor with :func:`issue`; the widget sends it as ``Authorization: Bearer <token>``. A token is
``v1.<visitor>.<expiry>.<signature>``: the visitor id (it *is* the REST sender, so a visitor can
only ever be in their own conversation), the expiry in Unix seconds, and an HMAC-SHA256 over
both with ``SMO_REST_TOKEN_SECRET``. Nothing is stored: any instance with the secret verifies it;
rotating the secret revokes every token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from channels.rest.message import RestRequestError, check_sender

VERSION = "v1"
MAX_MINUTES = 24 * 60  # a widget asks its backend for a fresh token at least daily
MIN_SECRET_CHARS = 32


class TokenError(ValueError):
    """The token is missing, malformed, forged or expired (answered with 401)."""


def issue(secret: str, visitor: str, minutes: int = 60, now: float | None = None) -> str:
    """A token for ``visitor`` valid for ``minutes`` (1 to :data:`MAX_MINUTES`)."""
    check_sender(visitor)
    if not 1 <= minutes <= MAX_MINUTES:
        raise ValueError(f"a token lasts 1 to {MAX_MINUTES} minutes")
    expiry = int(now if now is not None else time.time()) + minutes * 60
    return f"{VERSION}.{visitor}.{expiry}.{_signature(secret, visitor, expiry)}"


def verify(secret: str, token: str, now: float | None = None) -> str:
    """The visitor a valid, unexpired token was issued for; :class:`TokenError` otherwise."""
    parts = (token or "").split(".")
    if (len(token or "") > 256 or len(parts) < 4 or parts[0] != VERSION
            or not (parts[-2].isascii() and parts[-2].isdigit())):
        raise TokenError("malformed token")
    visitor, expiry_text, signature = ".".join(parts[1:-2]), parts[-2], parts[-1]
    try:
        check_sender(visitor)  # the visitor id may itself hold dots
    except RestRequestError:
        raise TokenError("malformed token") from None
    expiry = int(expiry_text)
    expected = _signature(secret, visitor, expiry)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise TokenError("invalid token")
    current = now if now is not None else time.time()
    if expiry <= current:
        raise TokenError("expired token")
    if expiry - current > MAX_MINUTES * 60 + 60:  # signed by a bad issuer: refuse it
        raise TokenError("invalid token")
    return visitor


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header ("" when there is none)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _signature(secret: str, visitor: str, expiry: int) -> str:
    if not secret:
        raise TokenError("no token secret configured")
    mac = hmac.new(secret.encode(), f"smo-rest-{VERSION}\0{visitor}\0{expiry}".encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
