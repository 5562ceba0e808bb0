"""Staff members' own API tokens: who a staff-API call acts as.

One shared token that took the acting user's name from a header let any holder act (and be
audited) as anyone. Here each token belongs to one console account: the API acts as that user
with that user's role and queues, as the console does. Tokens are random (256 bits), shown once
when made, stored only as SHA-256 hashes, expire (90 days unless told otherwise), and stop
working when revoked or while their user is disabled. Made and revoked by admins in the console
(``/console/users``) or on the command line (``python -m bot.console token …``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from bot.console.users import ApiToken, ConsoleError, User, digest
from bot.db import read_session, session

PREFIX = "smo_st_"  # recognisable by secret scanners
DEFAULT_DAYS = 90
MAX_DAYS = 366
TOUCH_EVERY = timedelta(minutes=5)  # how stale "last used" may be (a write per call otherwise)


@dataclass(frozen=True)
class TokenInfo:
    """A token as an admin sees it (never the token itself)."""

    id: int
    username: str
    label: str
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.utcnow()):
            return "expired"
        return "active"


@dataclass(frozen=True)
class TokenUser:
    """Whom a presented token acts as."""

    username: str
    role: str
    token_id: int


def create(username: str, label: str = "", created_by: str = "cli",
           days: int = DEFAULT_DAYS, now: datetime | None = None) -> tuple[int, str]:
    """A new token for an existing, enabled user: (its id, the token, shown this once)."""
    now = now or datetime.utcnow()
    label = (label or "").strip()[:100]
    if not 1 <= days <= MAX_DAYS:
        raise ConsoleError(f"days must be between 1 and {MAX_DAYS}")
    token = PREFIX + secrets.token_urlsafe(32)
    with session() as db:
        user = db.execute(select(User.disabled).where(User.username == username)).first()
        if user is None:
            raise ConsoleError(f"no user {username}")
        if user.disabled:
            raise ConsoleError(f"user {username} is disabled")
        row = ApiToken(token_hash=digest(token), username=username, label=label,
                       created_by=created_by, created_at=now,
                       expires_at=now + timedelta(days=days))
        db.add(row)
        db.flush()
        return row.id, token


def revoke(token_id: int, now: datetime | None = None) -> str:
    """Revoke a token at once; returns its user's name."""
    with session() as db:
        row = db.get(ApiToken, token_id)
        if row is None:
            raise ConsoleError(f"no token {token_id}")
        if row.revoked_at is None:
            row.revoked_at = now or datetime.utcnow()
        return row.username


def list_tokens(username: str | None = None) -> list[TokenInfo]:
    """Every token (or one user's), newest first."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if username:
        query = query.where(ApiToken.username == username)
    with read_session() as db:
        return [TokenInfo(t.id, t.username, t.label, t.created_by, t.created_at, t.expires_at,
                          t.last_used_at, t.revoked_at) for t in db.execute(query).scalars()]


def resolve(token: str | None, now: datetime | None = None) -> TokenUser | None:
    """The user a token acts as (its role now), or ``None``: unknown, revoked, expired, or its
    user disabled or gone."""
    if not token or not token.startswith(PREFIX):
        return None
    now = now or datetime.utcnow()
    with read_session() as db:
        row = db.execute(
            select(ApiToken.id, ApiToken.expires_at, ApiToken.revoked_at, ApiToken.last_used_at,
                   User.username, User.role, User.disabled)
            .join(User, User.username == ApiToken.username)
            .where(ApiToken.token_hash == digest(token))).first()
    if row is None or row.revoked_at is not None or row.disabled:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        with session() as db:
            db.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return TokenUser(row.username, row.role, row.id)
