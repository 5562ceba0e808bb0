"""``/console``: the queue, the case page and the actions nurses and case doctors take.

Server-rendered (Jinja2 with autoescaping: customer text is always text), a strict
Content-Security-Policy (no inline script), sessions in HttpOnly SameSite=Strict cookies, a CSRF
token on every form, per-role queues (nurse → nurse queue, case doctor → case-doctor queue, admin →
both), and every view, claim, reply, transfer and close in the audit log. Live updates arrive by
server-sent events; the pages also work without JavaScript.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream, html, redirect, text

from bot.cases import store
from bot.cases.models import OUTCOMES
from bot.console import users
from bot.language import reply_script
from bot.office_hours import OfficeHours
from bot.paths import DATA_DIR
from bot.privacy import mask_identifier
from bot.yamlfile import load_yaml

HERE = Path(__file__).resolve().parent
COOKIE = "smo_console"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_env = Environment(loader=FileSystemLoader(HERE / "templates"),
                   autoescape=select_autoescape(["html"]))


def _as_utc(moment: datetime) -> datetime:
    """Stored times are UTC; the database hands them back naive."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def local_time(moment: datetime | None, pattern: str = "%H:%M") -> str:
    """A stored time (UTC, naive or aware) in the office's time zone, as staff live by it
    (``SMO_TIMEZONE``, default Hong Kong), with the zone's abbreviation ("14:05 HKT")."""
    if moment is None:
        return "—"
    return _as_utc(moment).astimezone(OfficeHours.from_env().zone).strftime(f"{pattern} %Z")


def waited(moment: datetime | None, now: datetime | None = None) -> str:
    """How long a case has waited ("12 min", "3 h 05 min"): what a queue is sorted by."""
    if moment is None:
        return "—"
    since = (now or datetime.now(timezone.utc)) - _as_utc(moment)
    minutes = max(0, int(since.total_seconds() // 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


_env.filters["local"] = local_time
_env.filters["waited"] = waited


@lru_cache(maxsize=1)
def canned_replies() -> list[dict[str, str]]:
    """``data/console/canned_replies.yml``."""
    return load_yaml(DATA_DIR / "console" / "canned_replies.yml")


def _secure(response: HTTPResponse) -> HTTPResponse:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(template: str, status: int = 200, **context: Any) -> HTTPResponse:
    return _secure(html(_env.get_template(template).render(lang="en", **context), status=status))


def _account(request: Request) -> users.Account | None:
    return users.account(request.cookies.get(COOKIE))


def _allowed(account: users.Account, case: Any) -> bool:
    return case.queue in account.queues


def _snapshot(account: users.Account) -> tuple:
    """What the queue looks like now (ids, statuses, priorities, owners)."""
    return tuple((c.id, c.status, c.priority, c.owner, c.updated_at)
                 for c in store.open_cases(account.queues))


def _case_for(account: users.Account, case_id: int) -> tuple[Any, HTTPResponse | None]:
    """The case a staff member may open, or the refusal: 404 unknown, 403 another team's."""
    try:
        case = store.get(case_id)
    except store.CaseError:
        return None, _secure(text("no such case", status=404))
    if not _allowed(account, case):
        return None, _secure(text("this case is in another team's queue", status=403))
    return case, None


def console_blueprint() -> Blueprint:
    """All console routes under ``/console``."""
    bp = Blueprint("console", url_prefix="/console")
    bp.static("/static", str(HERE / "static"), name="console_static")

    @bp.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        return _page("login.html", account=None)

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        form = request.form
        token = users.login(form.get("username", ""), form.get("password", ""))
        if token is None:
            return _page("login.html", status=401, account=None,
                         error="Invalid username or password (or too many attempts).")
        response = redirect("/console")
        response.cookies[COOKIE] = token
        cookie = response.cookies[COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/console"
        cookie["secure"] = request.scheme == "https"
        return _secure(response)

    @bp.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        account = _account(request)
        if account and users.csrf_ok(account, request.form.get("csrf_token")):
            users.logout(request.cookies.get(COOKIE, ""))
        response = redirect("/console/login")
        del response.cookies[COOKIE]
        return _secure(response)

    @bp.get("/")
    async def queue(request: Request) -> HTTPResponse:
        account = _account(request)
        if account is None:
            return redirect("/console/login")
        cases = store.open_cases(account.queues)
        return _page("queue.html", account=account, cases=cases, queues=account.queues,
                     notice=request.args.get("notice"))

    @bp.get("/cases/<case_id:int>")
    async def case_page(request: Request, case_id: int) -> HTTPResponse:
        account = _account(request)
        if account is None:
            return redirect("/console/login")
        case, refusal = _case_for(account, case_id)
        if refusal is not None:
            return refusal
        store.audit(account.username, "view", case_id)
        transcript = await request.app.ctx.handoff.transcript(case)
        script = reply_script(case.language)
        canned = [{"key": c["key"], "text": c[script]} for c in canned_replies()]
        return _page(
            "case.html", account=account, case=case, transcript=transcript,
            notes=store.notes(case_id), canned=canned, outcomes=OUTCOMES,
            masked_conversation=mask_identifier(case.conversation_id),
            masked_policy=mask_identifier(case.policy_number or "") if case.policy_number else "",
            channel_note=f"sent through {case.channel}", notice=request.args.get("notice"),
        )

    @bp.post("/cases/<case_id:int>/<action:str>")
    async def act(request: Request, case_id: int, action: str) -> HTTPResponse:
        account = _account(request)
        if account is None:
            return _secure(text("sign in first", status=401))
        if not users.csrf_ok(account, request.form.get("csrf_token")):
            return _secure(text("invalid or missing CSRF token", status=403))
        case, refusal = _case_for(account, case_id)
        if refusal is not None:
            return refusal
        handoff = request.app.ctx.handoff
        form = request.form
        notice = ""
        try:
            if action == "claim":
                await handoff.claim(case_id, account.username)
                notice = "Claimed: the bot is paused for this conversation."
            elif action == "reply":
                body = (form.get("text") or "").strip()
                if not body and form.get("canned"):
                    script = reply_script(case.language)
                    body = next((c[script] for c in canned_replies()
                                 if c["key"] == form.get("canned")), "")
                delivery = await handoff.reply(case_id, account.username, body)
                notice = {"template": "Sent as the approved WhatsApp template (24-hour window "
                                      "closed).",
                          "held": "WeChat window closed: held until the customer writes again.",
                          "failed": f"Not sent: {delivery.detail}"}.get(delivery.status, "Sent.")
            elif action == "note":
                await handoff.note(case_id, account.username, form.get("text") or "")
                notice = "Note added."
            elif action == "transfer":
                await handoff.transfer(case_id, account.username, form.get("queue") or "")
                return redirect("/console?notice=Transferred.")
            elif action == "close":
                await handoff.close(case_id, account.username, form.get("outcome") or "")
                return redirect("/console?notice=Closed: the bot has resumed.")
            else:
                return _secure(text("unknown action", status=404))
        except store.CaseError as exc:
            notice = str(exc)
        return redirect(f"/console/cases/{case_id}?notice={notice}")

    @bp.get("/users")
    async def user_list(request: Request) -> HTTPResponse:
        account = _account(request)
        if account is None:
            return redirect("/console/login")
        if account.role != "admin":
            return _secure(text("admins only", status=403))
        return _page("users.html", account=account, people=users.list_users(), roles=users.ROLES,
                     notice=request.args.get("notice"))

    @bp.post("/users")
    async def user_add(request: Request) -> HTTPResponse:
        return await _user_change(request, "add", "")

    @bp.post("/users/<username:str>/<change:str>")
    async def user_toggle(request: Request, username: str, change: str) -> HTTPResponse:
        return await _user_change(request, change, username)

    async def _user_change(request: Request, change: str, username: str) -> HTTPResponse:
        account = _account(request)
        if account is None:
            return _secure(text("sign in first", status=401))
        if account.role != "admin":
            return _secure(text("admins only", status=403))
        if not users.csrf_ok(account, request.form.get("csrf_token")):
            return _secure(text("invalid or missing CSRF token", status=403))
        form = request.form
        try:
            if change == "add":
                users.add_user((form.get("username") or "").strip().lower(),
                               form.get("role") or "", form.get("password") or "")
                notice = "User added."
            elif change in ("disable", "enable") and username != account.username:
                users.set_disabled(username, change == "disable")
                notice = f"{username}: {change}d."
            else:
                return _secure(text("unknown change", status=404))
        except users.ConsoleError as exc:
            notice = str(exc)
        store.audit(account.username, f"user_{change}", None, user=username or form.get("username"))
        return redirect(f"/console/users?notice={notice}")

    @bp.get("/events")
    async def events(request: Request) -> HTTPResponse:
        account = _account(request)
        if account is None:
            return _secure(text("sign in first", status=401))
        bus = request.app.ctx.bus

        async def stream(response: ResponseStream) -> None:
            queue = bus.subscribe()
            seen = _snapshot(account)
            try:
                await response.write(": connected\n\n")
                while True:
                    try:
                        topic, payload = await asyncio.wait_for(queue.get(), timeout=2)
                    except asyncio.TimeoutError:
                        # Cases are opened by the action server (another process): compare the
                        # queue with what this page showed.
                        now = _snapshot(account)
                        if now != seen:
                            seen = now
                            await response.write('event: update\ndata: {"topic": "queue"}\n\n')
                        else:
                            await response.write(": keep-alive\n\n")
                        continue
                    data = json.dumps({"topic": topic, "case": payload.get("case") or
                                       payload.get("id")})
                    await response.write(f"event: update\ndata: {data}\n\n")
            finally:
                with contextlib.suppress(Exception):
                    bus.unsubscribe(queue)

        return ResponseStream(stream, content_type="text/event-stream",
                              headers={"Cache-Control": "no-store"})

    return bp
