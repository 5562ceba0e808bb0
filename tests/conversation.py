"""A customer talking to the running assistant over REST, for end-to-end tests."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain_texts import which


@dataclass
class Customer:
    """One conversation: sends text, returns the bot's bubbles (and their response names)."""

    base_url: str
    language: str
    sender: str = field(default_factory=lambda: f"e2e-{uuid.uuid4().hex[:10]}")

    def say(self, text: str) -> list[str]:
        """Send ``text``; the bot's reply texts."""
        body = json.dumps({"sender": self.sender, "message": text}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return [m["text"] for m in json.loads(response.read()) if m.get("text")]

    def ask(self, text: str) -> list[str]:
        """Send ``text``; the names of the responses the bot sent."""
        return which(self.say(text), self.language)

    def outbox(self) -> list[str]:
        """Staff replies waiting for this REST customer."""
        url = f"{self.base_url}/webhooks/rest/outbox/{self.sender}"
        with urllib.request.urlopen(url, timeout=10) as response:
            return [m["text"] for m in json.loads(response.read())]


_TOKENS: dict[tuple[str, str], str] = {}


@contextmanager
def product_database(var_dir: Path) -> Iterator[None]:
    """Point this test process at the running product's database (the gateway and the tests
    share the SQLite file) while the block runs."""
    previous = os.environ.get("SMO_DATABASE_URL")
    os.environ["SMO_DATABASE_URL"] = f"sqlite:///{var_dir / 'smo.db'}"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["SMO_DATABASE_URL"]
        else:
            os.environ["SMO_DATABASE_URL"] = previous


def personal_token(var_dir: Path, user: str, role: str) -> str:
    """A staff API token of its own for console user ``user`` (made, with the user, in the
    running product's database the first time)."""
    key = (str(var_dir), user)
    if key not in _TOKENS:
        from bot.console import tokens, users

        with product_database(var_dir):
            if user not in {name for name, _, _ in users.list_users()}:
                users.add_user(user, role, secrets.token_urlsafe(18))
            _TOKENS[key] = tokens.create(user, "end-to-end tests", created_by="tests")[1]
    return _TOKENS[key]


@dataclass
class Staff:
    """A nurse or case doctor using the staff API with their own token (:meth:`member`), or an
    integration reading cases with the operator's read-only token (``Staff(url, token)``)."""

    base_url: str
    token: str
    user: str = ""  # sent as X-Staff-User when set: it must agree with a personal token

    @classmethod
    def member(cls, assistant: Any, user: str = "nurse.chan", role: str = "nurse") -> Staff:
        """``user`` (a console account with ``role``) acting through their own token."""
        return cls(assistant.base_url, personal_token(assistant.var_dir, user, role), user)

    def call(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict | list]:
        """One API call; (status, JSON body)."""
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/api{path}",
            data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                **({"X-Staff-User": self.user} if self.user else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def case_of(self, customer: Customer) -> dict:
        """The open case of ``customer``'s conversation (the staff view masks the sender)."""
        status, cases = self.call("GET", "/cases")
        assert status == 200
        mine = [c for c in cases if c["conversation"].endswith(customer.sender[-4:])]
        assert mine, f"no case for {customer.sender}"
        return mine[-1]
