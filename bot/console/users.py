"""Console accounts: roles, argon2id password hashes, sessions with a CSRF token, login throttle.

Roles: ``nurse`` (nurse queue), ``case_doctor`` (case-doctor queue), ``admin`` (all queues and
users). Passwords are hashed with argon2id (argon2-cffi's recommended parameters); sessions are
random tokens stored only as SHA-256 hashes, expire after ``SMO_CONSOLE_SESSION_MINUTES`` (default
480) and carry their own CSRF token. Five failed logins per account in 15 minutes block further
attempts for that account (a uniform "invalid username or password" either way).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, DateTime, Integer, String, select

from bot.db import Base, engine, session

ROLES = ("nurse", "case_doctor", "admin")
QUEUES_BY_ROLE = {"nurse": ("nurse",), "case_doctor": ("case_doctor",),
                  "admin": ("nurse", "case_doctor")}
MAX_FAILED_LOGINS = 5
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_hasher = PasswordHasher()


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
    success = Column(Boolean, nullable=False)
    at = Column(DateTime, nullable=False)


@dataclass(frozen=True)
class Account:
    """A signed-in user as the console sees them."""

    username: str
    role: str
    csrf_token: str

    @property
    def queues(self) -> tuple[str, ...]:
        return QUEUES_BY_ROLE[self.role]


def _tables() -> None:
    Base.metadata.create_all(engine())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(username: str, role: str, password: str) -> None:
    """Create an account; names are lower-case, passwords at least 12 characters."""
    _tables()
    if not _NAME.match(username):
        raise ConsoleError("username: 2-63 lower-case letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        raise ConsoleError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 12:
        raise ConsoleError("password must be at least 12 characters")
    with session() as db:
        if db.execute(select(User).where(User.username == username)).scalar_one_or_none():
            raise ConsoleError(f"user {username} already exists")
        db.add(User(username=username, role=role, password_hash=_hasher.hash(password),
                    disabled=False, created_at=datetime.utcnow()))


def ensure_demo_user(username: str, role: str) -> str:
    """Create or reset a demo account with a fresh random password; returns the password."""
    _tables()
    password = secrets.token_urlsafe(12)
    with session() as db:
        user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            db.add(User(username=username, role=role, password_hash=_hasher.hash(password),
                        disabled=False, created_at=datetime.utcnow()))
        else:
            user.role, user.disabled = role, False
            user.password_hash = _hasher.hash(password)
    return password


def list_users() -> list[tuple[str, str, bool]]:
    """(username, role, disabled) of every account."""
    _tables()
    with session() as db:
        return [(u.username, u.role, u.disabled)
                for u in db.execute(select(User).order_by(User.username)).scalars()]


def set_disabled(username: str, disabled: bool) -> None:
    """Disable (or re-enable) an account; its sessions end at once."""
    _tables()
    with session() as db:
        user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise ConsoleError(f"no user {username}")
        user.disabled = disabled
        if disabled:
            for row in db.execute(select(ConsoleSession).where(
                    ConsoleSession.username == username)).scalars():
                db.delete(row)


def _throttled(db, username: str, now: datetime) -> bool:  # noqa: ANN001
    recent = db.execute(select(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.at >= now - FAILED_LOGIN_WINDOW,
    ).order_by(LoginAttempt.at)).scalars().all()
    failures = 0
    for attempt in recent:
        failures = 0 if attempt.success else failures + 1
    return failures >= MAX_FAILED_LOGINS


def login(username: str, password: str, now: datetime | None = None) -> str | None:
    """A new session token for valid credentials, else ``None`` (uniformly)."""
    _tables()
    now = now or datetime.utcnow()
    username = (username or "").strip().lower()
    with session() as db:
        if _throttled(db, username, now):
            return None
        user = db.execute(select(User).where(User.username == username)).scalar_one_or_none()
        valid = False
        if user is not None and not user.disabled:
            try:
                valid = _hasher.verify(user.password_hash, password or "")
            except (VerificationError, InvalidHashError):
                valid = False
        else:
            _hasher.hash(password or "")  # same cost whether or not the user exists
        db.add(LoginAttempt(username=username, success=valid, at=now))
        if not valid:
            return None
        token = secrets.token_urlsafe(32)
        minutes = int(os.environ.get("SMO_CONSOLE_SESSION_MINUTES", 480))
        db.add(ConsoleSession(token_hash=_digest(token), username=username,
                              csrf_token=secrets.token_urlsafe(24),
                              expires_at=now + timedelta(minutes=minutes)))
        return token


def account(token: str | None, now: datetime | None = None) -> Account | None:
    """The account of a valid, unexpired session token."""
    if not token:
        return None
    _tables()
    now = now or datetime.utcnow()
    with session() as db:
        row = db.execute(select(ConsoleSession).where(
            ConsoleSession.token_hash == _digest(token))).scalar_one_or_none()
        if row is None or row.expires_at <= now:
            return None
        user = db.execute(select(User).where(User.username == row.username)).scalar_one_or_none()
        if user is None or user.disabled:
            return None
        return Account(user.username, user.role, row.csrf_token)


def logout(token: str) -> None:
    """End a session."""
    _tables()
    with session() as db:
        row = db.execute(select(ConsoleSession).where(
            ConsoleSession.token_hash == _digest(token))).scalar_one_or_none()
        if row is not None:
            db.delete(row)


def csrf_ok(acct: Account, given: str | None) -> bool:
    """Constant-time check of a form's CSRF token against the session's."""
    return bool(given) and secrets.compare_digest(acct.csrf_token, given or "")
