"""Console accounts: roles, argon2id password hashes, sessions with a CSRF token, sign-in delays.

Roles: ``nurse`` (nurse queue), ``case_doctor`` (case-doctor queue), ``admin`` (all queues and
users). Passwords are hashed with argon2id (:mod:`bot.console.hashing`); sessions are random
tokens stored only as SHA-256 hashes, expire after ``SMO_CONSOLE_SESSION_MINUTES`` (default 480)
and carry their own CSRF token. Failed sign-ins earn growing delays per account and client
address, per address, and (a high ceiling) per account (:mod:`bot.console.throttle`), never a
hard lock that a stranger could put on a real nurse; the answer is the same whatever failed.

A sign-in reads the account in one short read, checks the password with no database
transaction open (argon2 is slow on purpose: it must never hold the writers' lock), then records
the attempt in one short write. Staff members' own API tokens live in :mod:`bot.console.tokens`
(their table is declared here, with the other console tables).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, Column, DateTime, Integer, String, delete, select

from bot.console import throttle
from bot.console.hashing import hash_password, verify_password
from bot.db import Base, engine, read_session, session

ROLES = ("nurse", "case_doctor", "admin")
QUEUES_BY_ROLE = {"nurse": ("nurse",), "case_doctor": ("case_doctor",),
                  "admin": ("nurse", "case_doctor")}
KEEP_ATTEMPTS = timedelta(days=1)  # sign-in attempts older than this are deleted
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_PRUNE_EVERY_S = 600.0
_last_prune = 0.0


class ConsoleError(ValueError):
    """A console account operation that cannot be done; the message is fit to show."""


class User(Base):
    __tablename__ = "console_users"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), unique=True, nullable=False)
    role = Column(String(16), nullable=False)
    password_hash = Column(String(200), nullable=False)
    disabled = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime, nullable=False)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"
    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), unique=True, nullable=False)
    username = Column(String(64), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    expires_at = Column(DateTime, nullable=False)


class LoginAttempt(Base):
    __tablename__ = "console_login_attempts"
    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, index=True)
    # A digest of the client's address, not the address (enough to count, not to trace).
    client = Column(String(64), nullable=True, index=True)
    success = Column(Boolean, nullable=False)
    at = Column(DateTime, nullable=False)


class ApiToken(Base):
    """A staff member's (or an integration's) own staff-API token, stored as a SHA-256 hash."""

    __tablename__ = "console_api_tokens"
    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), unique=True, nullable=False)
    username = Column(String(64), nullable=False, index=True)
    label = Column(String(100), nullable=False, default="")
    created_by = Column(String(64), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=True)
    last_used_at = Column(DateTime, nullable=True)
    revoked_at = Column(DateTime, nullable=True)


@dataclass(frozen=True)
class Account:
    """A signed-in user (or a staff API token's user) as the console sees them."""

    username: str
    role: str
    csrf_token: str

    @property
    def queues(self) -> tuple[str, ...]:
        return QUEUES_BY_ROLE[self.role]


@dataclass(frozen=True)
class LoginOutcome:
    """A session token for valid credentials; else ``None`` and, when the attempt was refused
    without checking the password, the seconds to wait (``retry_after``)."""

    token: str | None
    retry_after: int = 0


def _tables() -> None:
    """The engine, made once per database, has created (SQLite) or checked (migrations) the
    schema: nothing to ask the database on every request."""
    engine()


def digest(token: str) -> str:
    """SHA-256 hex of a random token (sessions, API tokens): what is stored instead of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def client_key(address: str) -> str:
    """What the attempts table keeps of a client address."""
    return digest(f"console-client:{address}")[:32] if address else ""


def clean_username(username: str | None) -> str:
    """A submitted name as accounts are keyed (lower case, at most the column's width)."""
    return (username or "").strip().lower()[:64]


def add_user(username: str, role: str, password: str) -> None:
    """Create an account; names are lower-case, passwords at least 12 characters."""
    _tables()
    if not _NAME.match(username):
        raise ConsoleError("username: 2-63 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ConsoleError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise ConsoleError("password must be at least 12 characters")
    password_hash = hash_password(password)  # before the transaction: no lock while hashing
    with session() as db:
        if db.execute(select(User).where(User.username == username)).scalar_one_or_none():
            raise ConsoleError(f"user {username} already exists")
        db.add(User(username=username, role=role, password_hash=password_hash,
                    disabled=False, created_at=datetime.utcnow()))


def ensure_demo_user(username: str, role: str) -> str:
    """Create or reset a demo account with a fresh random password; returns the password."""
    _tables()
    password = secrets.token_urlsafe(12)
    password_hash = hash_password(password)
    with session() as db:
        user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            db.add(User(username=username, role=role, password_hash=password_hash,
                        disabled=False, created_at=datetime.utcnow()))
        else:
            user.role, user.disabled = role, False
            user.password_hash = password_hash
    return password


def list_users() -> list[tuple[str, str, bool]]:
    """(username, role, disabled) of every account."""
    _tables()
    with read_session() as db:
        return [(u.username, u.role, u.disabled)
                for u in db.execute(select(User).order_by(User.username)).scalars()]


def set_disabled(username: str, disabled: bool) -> None:
    """Disable (or re-enable) an account; its sessions end at once (its API tokens stop working
    while it is disabled)."""
    _tables()
    with session() as db:
        user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise ConsoleError(f"no user {username}")
        user.disabled = disabled
        if disabled:
            db.execute(delete(ConsoleSession).where(ConsoleSession.username == username))


def _history(db, column, value: str, since: datetime) -> list[tuple]:  # noqa: ANN001
    rows = db.execute(select(LoginAttempt.username, LoginAttempt.client, LoginAttempt.success,
                             LoginAttempt.at)
                      .where(column == value, LoginAttempt.at >= since)
                      .order_by(LoginAttempt.at, LoginAttempt.id)).all()
    return [tuple(row) for row in rows]


def login_wait(username: str, client: str, now: datetime) -> int:
    """Seconds before ``username`` may be tried from ``client`` (a :func:`client_key`)."""
    since = now - throttle.WINDOW
    with read_session() as db:
        by_account = _history(db, LoginAttempt.username, username, since)
        by_client = _history(db, LoginAttempt.client, client, since) if client else []
    pair = [(ok, at) for _, who, ok, at in by_account if who == client]
    return throttle.wait_for_attempt(pair, [(ok, at) for _, _, ok, at in by_client],
                                     [(ok, at) for _, _, ok, at in by_account], now)


def _credentials(username: str) -> str | None:
    """The password hash of an enabled account (``None``: no such account, or disabled)."""
    with read_session() as db:
        row = db.execute(select(User.password_hash, User.disabled)
                         .where(User.username == username)).first()
    return None if row is None or row.disabled else row.password_hash


def attempt_login(username: str, password: str, client_address: str = "",
                  now: datetime | None = None) -> LoginOutcome:
    """Check a sign-in from ``client_address``; blocking (argon2): call it off the event loop.

    No database transaction is open while the password is checked."""
    _tables()
    now = now or datetime.utcnow()
    username, client = clean_username(username), client_key(client_address)
    wait = login_wait(username, client, now)
    if wait:
        return LoginOutcome(None, wait)
    valid = verify_password(_credentials(username), password or "")
    token = secrets.token_urlsafe(32) if valid else None
    with session() as db:
        db.add(LoginAttempt(username=username, client=client or None, success=valid, at=now))
        if token:
            minutes = int(os.environ.get("SMO_CONSOLE_SESSION_MINUTES", 480))
            db.add(ConsoleSession(token_hash=digest(token), username=username,
                                  csrf_token=secrets.token_urlsafe(24),
                                  expires_at=now + timedelta(minutes=minutes)))
        _prune(db, now)
    return LoginOutcome(token)


def login(username: str, password: str, now: datetime | None = None,
          client_address: str = "") -> str | None:
    """A new session token for valid credentials, else ``None`` (uniformly)."""
    return attempt_login(username, password, client_address, now).token


def _prune(db, now: datetime) -> None:  # noqa: ANN001
    """Now and then, forget old attempts and expired sessions (a storm must not grow tables)."""
    global _last_prune
    if time.monotonic() - _last_prune < _PRUNE_EVERY_S:
        return
    _last_prune = time.monotonic()
    db.execute(delete(LoginAttempt).where(LoginAttempt.at < now - KEEP_ATTEMPTS))
    db.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))


def account(token: str | None, now: datetime | None = None) -> Account | None:
    """The account of a valid, unexpired session token (a read: no writers' turn)."""
    if not token:
        return None
    _tables()
    now = now or datetime.utcnow()
    with read_session() as db:
        row = db.execute(select(ConsoleSession.username, ConsoleSession.csrf_token,
                                ConsoleSession.expires_at)
                         .where(ConsoleSession.token_hash == digest(token))).first()
        if row is None or row.expires_at <= now:
            return None
        user = db.execute(select(User.username, User.role, User.disabled)
                          .where(User.username == row.username)).first()
    if user is None or user.disabled:
        return None
    return Account(user.username, user.role, row.csrf_token)


def logout(token: str) -> None:
    """End a session."""
    _tables()
    with session() as db:
        db.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == digest(token)))


def csrf_ok(acct: Account, given: str | None) -> bool:
    """Constant-time check of a form's CSRF token against the session's."""
    return bool(given) and secrets.compare_digest(acct.csrf_token, given or "")
