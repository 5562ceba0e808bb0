"""Who may do what to a case, checked by the console's and the staff API's own handlers, fast.

The handlers are called in-process with the real account, case and handoff code on a fresh
database (the model process and the providers stood in for): a form whose CSRF token is not its
session's is refused and changes nothing; a nurse can neither open nor act on a case in the case
doctors' queue, through the console or with her own API token; in each case the same request by
someone allowed goes through, so the refusals are the rules', not the harness's. (The same
attacks on the running product: tests/test_console_e2e.py, tests/security/test_security_console.py
and tests/security/test_security_staff_api.py.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from sanic import Blueprint

from bot.cases import store
from bot.console import tokens, users
from bot.events import EventBus
from bot.handoff.service import HandoffService
from bot.outbound import Delivery
from bot.web.staff_api import staff_api_blueprint
from channels.console.web import COOKIE, console_blueprint

PASSWORD = "correct horse battery"


class Core:
    """Stands in for the core's API: events appended to a conversation, an empty transcript."""

    def __init__(self) -> None:
        self.appended: list[tuple[str, list[dict]]] = []

    async def append(self, conversation_id: str, events: list[dict]) -> None:
        self.appended.append((conversation_id, events))

    async def tracker(self, conversation_id: str, events: bool = True) -> dict[str, Any]:
        return {"events": [], "slots": {}}


class Outbound:
    """Stands in for the providers: records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def deliver(self, channel: str, recipient: str, text: str) -> Delivery:
        self.sent.append((channel, recipient, text))
        return Delivery("queued", "recorded")


@dataclass
class FakeRequest:
    """What the console and the staff API read of Sanic's request."""

    app: Any
    cookies: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    scheme: str = "http"
    ip: str = "127.0.0.1"

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def route(blueprint: Blueprint, uri: str, method: str) -> Any:
    return next(r.handler for r in blueprint._future_routes
                if r.uri == uri and method in r.methods)


@dataclass
class Console:
    """The console's handlers and everything behind them."""

    app: Any
    core: Core
    outbound: Outbound
    blueprint: Blueprint = field(default_factory=console_blueprint)

    def session(self, username: str, role: str) -> tuple[str, str]:
        """A signed-in staff member: (session cookie, the session's CSRF token)."""
        users.add_user(username, role, PASSWORD)
        token = users.login(username, PASSWORD)
        return token, users.account(token).csrf_token

    def act(self, cookie: str, case_id: int, action: str, **form: str) -> tuple[int, str]:
        handler = route(self.blueprint, "/cases/<case_id:int>/<action:str>", "POST")
        request = FakeRequest(self.app, {COOKIE: cookie}, form)
        response = asyncio.run(handler(request, case_id=case_id, action=action))
        return response.status, response.body.decode()

    def open(self, cookie: str, case_id: int) -> tuple[int, str]:
        handler = route(self.blueprint, "/cases/<case_id:int>", "GET")
        response = asyncio.run(handler(FakeRequest(self.app, {COOKIE: cookie}), case_id=case_id))
        return response.status, response.body.decode()

    def post(self, uri: str, cookie: str, form: dict[str, str], **params: Any) -> int:
        handler = route(self.blueprint, uri, "POST")
        return asyncio.run(handler(FakeRequest(self.app, {COOKIE: cookie}, form), **params)).status


@pytest.fixture()
def console(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    from argon2 import PasswordHasher

    from bot.console import hashing

    # argon2id at its lowest cost: these tests are about who may act, not about the hash.
    monkeypatch.setattr(hashing, "_hasher", PasswordHasher(time_cost=1, memory_cost=8,
                                                           parallelism=1))
    hashing._dummy_hash.cache_clear()
    core, outbound = Core(), Outbound()
    handoff = HandoffService(core, outbound, EventBus())  # type: ignore[arg-type]
    app = SimpleNamespace(ctx=SimpleNamespace(handoff=handoff, settings=None, bus=EventBus()))
    yield Console(app, core, outbound)
    hashing._dummy_hash.cache_clear()  # not the cheap one for the next test


def open_case(queue: str, who: str = "rest:visitor-1") -> store.Case:
    return store.open_case(conversation_id=who, channel="rest", language="en", queue=queue,
                           reason="request_human")


def actions_on(case_id: int) -> list[tuple[str, str]]:
    return [(entry.actor, entry.action) for entry in store.audit_log(case_id)]


# ---------------------------------------------------------------------------------------- CSRF


def test_a_forged_csrf_token_changes_nothing(console: Console) -> None:
    nurse, csrf = console.session("nurse.chan", "nurse")
    _other, others_csrf = console.session("nurse.wong", "nurse")
    case = open_case("nurse")
    for forged in ({"csrf_token": "forged"}, {"csrf_token": ""}, {},
                   {"csrf_token": others_csrf},  # valid, but another session's
                   {"csrf_token": csrf.upper() if csrf != csrf.upper() else csrf.lower()}):
        for action, form in (("claim", {}), ("note", {"text": "n"}),
                             ("transfer", {"queue": "case_doctor"}),
                             ("close", {"outcome": "advised"})):
            status, body = console.act(nurse, case.id, action, **form, **forged)
            assert (status, body) == (403, "invalid or missing CSRF token"), (action, forged)
    after = store.get(case.id)
    assert (after.status, after.owner, after.queue) == ("queued", None, "nurse")
    assert store.notes(case.id) == [] and console.core.appended == []
    assert actions_on(case.id) == [("bot", "open")]
    # The session's own token goes through (what was refused above was the token).
    assert console.act(nurse, case.id, "claim", csrf_token=csrf)[0] in (302, 303)
    assert store.get(case.id).owner == "nurse.chan"


def test_a_forged_csrf_token_cannot_sign_out_or_manage_users(console: Console) -> None:
    admin, csrf = console.session("ops.admin", "admin")
    assert console.post("/users", admin, {"csrf_token": "forged", "username": "mallory.x",
                                          "role": "admin", "password": PASSWORD}) == 403
    assert console.post("/users/<username:str>/<change:str>", admin, {"csrf_token": "forged"},
                        username="ops.admin2", change="disable") == 403
    assert console.post("/tokens", admin, {"csrf_token": "forged",
                                           "username": "ops.admin"}) == 403
    assert "mallory.x" not in [name for name, _role, _disabled in users.list_users()]
    assert tokens.list_tokens() == []
    console.post("/logout", admin, {"csrf_token": "forged"})  # a forged sign-out: redirected...
    assert users.account(admin) is not None  # ...but the session lives on
    assert console.post("/users", admin, {"csrf_token": csrf, "username": "nurse.new",
                                          "role": "nurse", "password": PASSWORD}) in (302, 303)
    assert "nurse.new" in [name for name, _role, _disabled in users.list_users()]


# ---------------------------------------------------------------------- another team's queue


def test_a_nurse_cannot_open_or_act_on_a_case_doctors_case(console: Console) -> None:
    nurse, csrf = console.session("nurse.chan", "nurse")
    doctor, doctor_csrf = console.session("dr.lee", "case_doctor")
    case = open_case("case_doctor")
    status, body = console.open(nurse, case.id)
    assert (status, body) == (403, "this case is in another team's queue")
    for action, form in (("claim", {}), ("reply", {"text": "hello"}), ("note", {"text": "n"}),
                         ("transfer", {"queue": "nurse"}), ("close", {"outcome": "advised"})):
        status, body = console.act(nurse, case.id, action, csrf_token=csrf, **form)
        assert (status, body) == (403, "this case is in another team's queue"), action
    after = store.get(case.id)
    assert (after.status, after.owner, after.queue) == ("queued", None, "case_doctor")
    assert actions_on(case.id) == [("bot", "open")]  # not even a "view"
    assert console.outbound.sent == [] and console.core.appended == []
    # The case doctors' own member opens and claims it.
    assert console.open(doctor, case.id)[0] == 200
    assert console.act(doctor, case.id, "claim", csrf_token=doctor_csrf)[0] in (302, 303)
    assert store.get(case.id).owner == "dr.lee"


def test_a_nurses_api_token_cannot_read_or_act_on_a_case_doctors_case(
        console: Console) -> None:
    console.session("nurse.chan", "nurse")
    console.session("dr.lee", "case_doctor")
    _, nurse_token = tokens.create("nurse.chan")
    _, doctor_token = tokens.create("dr.lee")
    api = staff_api_blueprint("")
    case = open_case("case_doctor")

    def call(token: str, method: str, uri: str, payload: dict | None = None,
             **params: Any) -> tuple[int, Any]:
        request = FakeRequest(console.app, headers={"authorization": f"Bearer {token}"},
                              body=json.dumps(payload).encode() if payload else b"")
        response = asyncio.run(route(api, uri, method)(request, **params))
        return response.status, json.loads(response.body)

    assert call(nurse_token, "GET", "/cases/<case_id:int>", case_id=case.id) == (
        403, {"error": "this case is in another team's queue"})
    for action, payload in (("claim", None), ("reply", {"text": "x"}), ("note", {"text": "x"}),
                            ("transfer", {"queue": "nurse"}), ("close", {"outcome": "advised"})):
        status, _ = call(nurse_token, "POST", f"/cases/<case_id:int>/{action}", payload,
                         case_id=case.id)
        assert status == 403, action
    assert case.id not in [c["id"] for c in call(nurse_token, "GET", "/cases")[1]]
    after = store.get(case.id)
    assert (after.status, after.owner, after.queue) == ("queued", None, "case_doctor")
    assert actions_on(case.id) == [("bot", "open")]
    assert call(doctor_token, "GET", "/cases/<case_id:int>", case_id=case.id)[0] == 200
    assert call(doctor_token, "POST", "/cases/<case_id:int>/claim", case_id=case.id)[0] == 200
    assert store.get(case.id).owner == "dr.lee"
