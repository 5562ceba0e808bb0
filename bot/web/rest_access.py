"""Who may use the REST channel on the public port (the webhook and the staff-reply outbox).

- A caller on this machine (loopback, forwarded headers believed only when trusted): a
  developer, ``make chat``, the sandbox, the tests. No token, no limit.
- Anyone else: refused (403) unless ``SMO_REST_PUBLIC=true`` (the website widget); then a signed,
  expiring visitor token is required (401 without a valid one), and the token's visitor is the
  only sender the caller may use (403 for any other).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.settings import Settings
from bot.web.client import client_address, is_local
from channels.rest import tokens


@dataclass(frozen=True)
class Refused(Exception):
    """A request the REST channel will not serve: the status and a clear reason."""

    status: int
    error: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Caller:
    """Who is calling: this machine, or a visitor from elsewhere with their token's id."""

    local: bool
    address: str
    visitor: str | None = None

    def may_speak_as(self, sender: str) -> None:
        """A visitor may use only their own sender id (and read only their own messages)."""
        if not self.local and sender != self.visitor:
            raise Refused(403, "the token is for another visitor")


def caller_of(request: Any, settings: Settings) -> Caller:
    """The caller of a REST route, or :class:`Refused`."""
    trust = settings.trust_forwarded_headers
    address = client_address(request, trust)
    if is_local(request, trust):
        return Caller(True, address)
    if not settings.rest_public:
        raise Refused(403, "the REST channel is open to this machine only")
    token = tokens.bearer(request.headers.get("authorization"))
    if not token:
        raise Refused(401, "a visitor token is required (Authorization: Bearer <token>)",
                      {"WWW-Authenticate": 'Bearer realm="rest"'})
    try:
        visitor = tokens.verify(settings.rest_token_secret, token)
    except tokens.TokenError as exc:
        raise Refused(401, str(exc), {"WWW-Authenticate": 'Bearer error="invalid_token"'}) \
            from None
    return Caller(False, address, visitor)
