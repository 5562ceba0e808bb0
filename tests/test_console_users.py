"""Console accounts: roles, argon2 hashes, sessions and expiry, CSRF, login throttle."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.console import users
from bot.console.users import ConsoleError

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def test_roles_and_queues(database: str) -> None:
    users.add_user("nurse.chan", "nurse", PASSWORD)
    users.add_user("dr.lee", "case_doctor", PASSWORD)
    users.add_user("ops.admin", "admin", PASSWORD)
    assert users.account(users.login("nurse.chan", PASSWORD)).queues == ("nurse",)
    assert users.account(users.login("dr.lee", PASSWORD)).queues == ("case_doctor",)
    assert users.account(users.login("ops.admin", PASSWORD)).queues == ("nurse", "case_doctor")


def test_validation(database: str) -> None:
    with pytest.raises(ConsoleError, match="role"):
        users.add_user("x.y", "janitor", PASSWORD)
    with pytest.raises(ConsoleError, match="12 characters"):
        users.add_user("x.y", "nurse", "short")
    with pytest.raises(ConsoleError, match="username"):
        users.add_user("Bad Name!", "nurse", PASSWORD)
    users.add_user("x.y", "nurse", PASSWORD)
    with pytest.raises(ConsoleError, match="exists"):
        users.add_user("x.y", "nurse", PASSWORD)


def test_password_is_hashed_with_argon2(database: str) -> None:
    from sqlalchemy import select

    from bot.db import session

    users.add_user("nurse.ho", "nurse", PASSWORD)
    with session() as db:
        stored = db.execute(select(users.User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_wrong_password_unknown_user_and_disabled(database: str) -> None:
    users.add_user("nurse.wu", "nurse", PASSWORD)
    assert users.login("nurse.wu", "wrong password!!") is None
    assert users.login("nobody", PASSWORD) is None
    token = users.login("nurse.wu", PASSWORD)
    users.set_disabled("nurse.wu", True)
    assert users.account(token) is None
    assert users.login("nurse.wu", PASSWORD) is None


def test_session_expiry_and_logout(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMO_CONSOLE_SESSION_MINUTES", "30")
    users.add_user("nurse.ng", "nurse", PASSWORD)
    now = datetime(2026, 11, 27, 9, 0)
    token = users.login("nurse.ng", PASSWORD, now)
    assert users.account(token, now + timedelta(minutes=29)) is not None
    assert users.account(token, now + timedelta(minutes=31)) is None
    fresh = users.login("nurse.ng", PASSWORD, now)
    users.logout(fresh)
    assert users.account(fresh, now) is None
    assert users.account("forged-token", now) is None


def test_csrf_token_is_per_session(database: str) -> None:
    users.add_user("nurse.lam", "nurse", PASSWORD)
    first = users.account(users.login("nurse.lam", PASSWORD))
    second = users.account(users.login("nurse.lam", PASSWORD))
    assert first.csrf_token != second.csrf_token
    assert users.csrf_ok(first, first.csrf_token)
    assert not users.csrf_ok(first, second.csrf_token)
    assert not users.csrf_ok(first, None) and not users.csrf_ok(first, "")


STRANGER, NURSE_DESK = "203.0.113.7", "198.51.100.20"


@pytest.fixture()
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2id at its lowest cost: for tests that count many attempts, not test the hash."""
    from argon2 import PasswordHasher

    from bot.console import hashing

    monkeypatch.setattr(hashing, "_hasher", PasswordHasher(time_cost=1, memory_cost=8,
                                                           parallelism=1))
    hashing._dummy_hash.cache_clear()
    yield
    hashing._dummy_hash.cache_clear()


def test_failures_earn_growing_delays_not_a_lock(database: str) -> None:
    """A stranger's failures slow the stranger; the real nurse at her own desk signs in."""
    users.add_user("nurse.to", "nurse", PASSWORD)
    now = datetime(2026, 11, 27, 9, 0)
    for second in range(4):  # three free failures, the fourth earns a 2 s wait
        outcome = users.attempt_login("nurse.to", "not the password", STRANGER,
                                      now + timedelta(seconds=second))
        assert outcome.token is None and outcome.retry_after == 0
    refused = users.attempt_login("nurse.to", PASSWORD, STRANGER, now + timedelta(seconds=4))
    assert refused.token is None and refused.retry_after == 1  # even the right password waits
    assert users.login("nurse.to", PASSWORD, now + timedelta(seconds=4), NURSE_DESK)
    # the wait passed: the next guess is checked (and fails), and the wait doubles
    later = now + timedelta(seconds=6)
    assert users.attempt_login("nurse.to", "guess", STRANGER, later).retry_after == 0
    assert users.attempt_login("nurse.to", PASSWORD, STRANGER, later).retry_after == 4


def test_refused_attempts_are_not_counted(database: str) -> None:
    """Hammering while refused neither checks a password nor makes the wait longer."""
    users.add_user("nurse.tam", "nurse", PASSWORD)
    now = datetime(2026, 11, 27, 9, 0)
    for _ in range(4):
        users.attempt_login("nurse.tam", "wrong password!", STRANGER, now)
    for _ in range(20):
        assert users.attempt_login("nurse.tam", "wrong", STRANGER, now).retry_after == 2
    assert users.login("nurse.tam", PASSWORD, now + timedelta(seconds=2), STRANGER)


def test_one_address_spraying_many_accounts_is_slowed(database: str, cheap_argon2: None) -> None:
    now = datetime(2026, 11, 27, 9, 0)
    for n in range(21):
        assert users.attempt_login(f"name{n}", "guess", STRANGER, now).retry_after == 0
    assert users.attempt_login("name99", "guess", STRANGER, now).retry_after > 0
    assert users.attempt_login("name99", "guess", NURSE_DESK, now).retry_after == 0


def test_guesses_from_many_addresses_meet_a_slow_ceiling(database: str,
                                                        cheap_argon2: None) -> None:
    users.add_user("nurse.yip", "nurse", PASSWORD)
    now = datetime(2026, 11, 27, 9, 0)
    for n in range(51):
        users.attempt_login("nurse.yip", "guess", f"192.0.2.{n}", now)
    wait = users.attempt_login("nurse.yip", PASSWORD, NURSE_DESK, now).retry_after
    assert 0 < wait <= 60  # the ceiling delays, by a minute at most; it never locks
    assert users.login("nurse.yip", PASSWORD, now + timedelta(seconds=wait), NURSE_DESK)


def test_password_is_checked_with_no_database_lock_held(database: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 (~100 ms) once ran inside the writers' lock, stalling every webhook's write."""
    from bot import db

    users.add_user("nurse.fok", "nurse", PASSWORD)
    held = []
    real = users.verify_password

    def spy(stored: str | None, password: str) -> bool:
        held.append(db._SQLITE_TURN._is_owned())
        return real(stored, password)

    monkeypatch.setattr(users, "verify_password", spy)
    assert users.login("nurse.fok", PASSWORD) and users.login("nobody", PASSWORD) is None
    assert held == [False, False]


def test_attempts_keep_a_digest_of_the_address_not_the_address(database: str) -> None:
    from sqlalchemy import select

    from bot.db import session

    users.login("nobody", "guess", client_address=STRANGER)
    with session() as db:
        stored = db.execute(select(users.LoginAttempt.client)).scalar_one()
    assert stored and STRANGER not in stored and len(stored) == 32


def test_command_line(database: str, tmp_path: Path) -> None:
    import os

    env = {**os.environ}
    run = [sys.executable, "-m", "bot.console", "users"]
    added = subprocess.run([*run, "add", "nurse.cli", "--role", "nurse"], input=PASSWORD + "\n",
                           text=True, capture_output=True, cwd=ROOT, env=env)
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([*run, "list"], text=True, capture_output=True, cwd=ROOT, env=env)
    assert "nurse.cli\tnurse" in listed.stdout
    bad = subprocess.run([*run, "add", "nurse.cli2", "--role", "nurse"], input="short\n",
                         text=True, capture_output=True, cwd=ROOT, env=env)
    assert bad.returncode == 1 and "12 characters" in bad.stderr
