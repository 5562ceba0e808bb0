"""Staff members' own API tokens: made for a user, stored hashed, revocable, expiring, and
the staff API's idea of who is calling (operator read-only, X-Staff-User names nobody)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.console import tokens, users
from bot.console.users import ConsoleError
from bot.web.staff_api import OPERATOR, Caller, identify

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def test_a_token_acts_as_its_user_with_the_role_now(database: str) -> None:
    users.add_user("nurse.kwok", "nurse", PASSWORD)
    token_id, token = tokens.create("nurse.kwok", "ward tablet")
    member = tokens.resolve(token)
    assert (member.username, member.role, member.token_id) == ("nurse.kwok", "nurse", token_id)
    assert tokens.resolve(token + "x") is None and tokens.resolve("") is None
    assert tokens.resolve("not-even-the-prefix") is None
    with pytest.raises(ConsoleError, match="no user"):
        tokens.create("nobody.here")


def test_tokens_are_stored_hashed_and_listed_without_their_value(database: str) -> None:
    from sqlalchemy import select

    from bot.db import session

    users.add_user("dr.mak", "case_doctor", PASSWORD)
    _, token = tokens.create("dr.mak", "outcomes export", created_by="ops.admin")
    with session() as db:
        stored = db.execute(select(users.ApiToken.token_hash)).scalar_one()
    assert stored == users.digest(token) and token not in stored
    [info] = tokens.list_tokens("dr.mak")
    assert (info.label, info.created_by, info.state()) == ("outcomes export", "ops.admin",
                                                           "active")
    assert token not in repr(info)


def test_revoked_expired_and_disabled_tokens_stop_working(database: str) -> None:
    users.add_user("nurse.lau", "nurse", PASSWORD)
    now = datetime(2026, 12, 1, 9, 0)
    first_id, first = tokens.create("nurse.lau", days=1, now=now)
    _, second = tokens.create("nurse.lau", now=now)
    assert tokens.resolve(first, now) and tokens.resolve(second, now)
    assert tokens.revoke(first_id) == "nurse.lau"
    assert tokens.resolve(first, now) is None and tokens.resolve(second, now)
    assert tokens.resolve(second, now + timedelta(days=tokens.DEFAULT_DAYS)) is None  # expired
    users.set_disabled("nurse.lau", True)
    assert tokens.resolve(second, now) is None
    users.set_disabled("nurse.lau", False)
    assert tokens.resolve(second, now) is not None
    with pytest.raises(ConsoleError, match="no token"):
        tokens.revoke(9999)
    with pytest.raises(ConsoleError, match="days"):
        tokens.create("nurse.lau", days=0)


@dataclass
class FakeRequest:
    headers: dict[str, str] = field(default_factory=dict)


def bearer(token: str, user: str | None = None) -> FakeRequest:
    headers = {"authorization": f"Bearer {token}"}
    if user is not None:
        headers["x-staff-user"] = user
    return FakeRequest(headers)


def test_who_the_staff_api_acts_as(database: str) -> None:
    users.add_user("nurse.sin", "nurse", PASSWORD)
    _, token = tokens.create("nurse.sin")
    assert identify(bearer(token), "op-secret") == Caller("nurse.sin", ("nurse",), True)
    assert identify(bearer(token, "NURSE.SIN"), "op-secret").username == "nurse.sin"
    refused = identify(bearer(token, "dr.someone.else"), "op-secret")
    assert refused.status == 403  # the header cannot name someone else
    operator = identify(bearer("op-secret", "dr.someone.else"), "op-secret")
    assert operator == Caller(OPERATOR, ("nurse", "case_doctor"), False)  # reads only
    assert identify(bearer("wrong"), "op-secret").status == 401
    assert identify(FakeRequest(), "").status == 401  # no operator token: "" matches nothing
    assert identify(bearer(""), "").status == 401


def test_command_line_tokens(database: str) -> None:
    users.add_user("nurse.cli", "nurse", PASSWORD)
    run = [sys.executable, "-m", "bot.console", "token"]
    env = {**os.environ}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*run, *args], text=True, capture_output=True, cwd=ROOT, env=env)

    made = cli("create", "nurse.cli", "--label", "night shift", "--days", "7")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith(tokens.PREFIX) and "shown once" in made.stderr
    assert tokens.resolve(token).username == "nurse.cli"
    listed = cli("list")
    assert "nurse.cli\tactive\tnight shift" in listed.stdout and token not in listed.stdout
    token_id = listed.stdout.split("\t")[0]
    revoked = cli("revoke", token_id)
    assert revoked.returncode == 0 and tokens.resolve(token) is None
    assert "revoked" in cli("list", "nurse.cli").stdout
    missing = cli("create", "nobody.at.all")
    assert missing.returncode == 1 and "no user" in missing.stderr
