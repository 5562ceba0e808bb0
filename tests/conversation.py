"""A customer talking to the running assistant over REST, for end-to-end tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

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


@dataclass
class Staff:
    """A nurse or case doctor using the staff API."""

    base_url: str
    token: str
    user: str = "nurse.chan"

    def call(self, method: str, path: str, payload: dict | None = None) -> tuple[int, dict | list]:
        """One API call; (status, JSON body)."""
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            f"{self.base_url}/api{path}",
            data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "X-Staff-User": self.user,
                "Content-Type": "application/json",
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
