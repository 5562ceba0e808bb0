"""Console accounts: roles, argon2 hashes, sessions and expiry, CSRF, login throttle."""

from __future__ import annotations

import subprocess
import sys
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


def test_login_throttle(database: str) -> None:
    users.add_user("nurse.to", "nurse", PASSWORD)
    now = datetime(2026, 11, 27, 9, 0)
    for minute in range(5):
        assert users.login("nurse.to", "not the password", now + timedelta(minutes=minute)) is None
    assert users.login("nurse.to", PASSWORD, now + timedelta(minutes=6)) is None  # blocked
    assert users.login("nurse.to", PASSWORD, now + timedelta(minutes=21)) is not None


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
