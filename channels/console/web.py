"""``/console``: the queue, the case page and the actions nurses and case doctors take.

Server-rendered (Jinja2 with autoescaping: customer text is always text), a strict
Content-Security-Policy (no inline script), sessions in HttpOnly SameSite=Strict cookies, a CSRF
token on every form, per-role queues (nurse → nurse queue, case doctor → case-doctor queue, admin →
both), and every view, claim, reply, transfer and close in the audit log. Live updates arrive by
server-sent events (:mod:`channels.console.live`); the pages also work without JavaScript.

Sign-in checks the password on the hashing threads (:mod:`bot.console.hashing`), never on this
event loop, with delays after failures per account and client address
(:mod:`bot.console.throttle`). The session cookie is ``Secure`` and responses carry HSTS when the
client reached us over https (through the operator's TLS proxy when forwarded headers are
trusted). A page's address carries only notice *codes* (``data/console/notices.yml``): text from
the address is never shown. Admins make and revoke staff members' API tokens on the users page.
"""

from __future__ import annotations

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
from bot.console import tokens, users
from bot.console.hashing import GATE, Busy
from bot.language import reply_script
from bot.office_hours import OfficeHours
from bot.paths import DATA_DIR
from bot.privacy import mask_identifier
from bot.web.client import client_address, scheme
from bot.yamlfile import load_yaml
from channels.console import live

HERE = Path(__file__).resolve().parent
COOKIE = "smo_console"
HSTS = "max-age=31536000; includeSubDomains"
LOGIN_FAILED = "Invalid username or password (or too many attempts: wait a moment)."
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


@lru_cache(maxsize=1)
def notices() -> dict[str, str]:
    """``data/console/notices.yml``: notice code → wording."""
    return {str(k): str(v) for k, v in load_yaml(DATA_DIR / "console" / "notices.yml").items()}


def notice_text(code: str | None) -> str:
    """The wording of a known notice code; anything else shows nothing (never the code)."""
    return notices().get(code or "", "")


def _trust_forwarded(request: Request) -> bool:
    settings = getattr(request.app.ctx, "settings", None)
    return bool(getattr(settings, "trust_forwarded_headers", False))


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


def _case_context(account: users.Account, case: Any, transcript: list) -> dict[str, Any]:
    script = reply_script(case.language)
    return dict(
        account=account, case=case, transcript=transcript, notes=store.notes(case.id),
        canned=[{"key": c["key"], "text": c[script]} for c in canned_replies()],
        outcomes=OUTCOMES, masked_conversation=mask_identifier(case.conversation_id),
        masked_policy=mask_identifier(case.policy_number or "") if case.policy_number else "",
        channel_note=f"sent through {case.channel}",
    )


def _login_page(status: int, retry_after: int = 0) -> HTTPResponse:
    """The same words whatever failed (unknown name, wrong password, too many attempts)."""
    response = _page("login.html", status=status, account=None, error=LOGIN_FAILED)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _set_session_cookie(request: Request, response: HTTPResponse, token: str) -> None:
    response.cookies[COOKIE] = token
    cookie = response.cookies[COOKIE]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/console"
    cookie["secure"] = scheme(request, _trust_forwarded(request)) == "https"


def _clear_session_cookie(request: Request, response: HTTPResponse) -> None:
    """Expire the cookie where it was set (a deletion on another path would not)."""
    _set_session_cookie(request, response, "")
    response.cookies[COOKIE]["max-age"] = 0


DELIVERY_NOTICES = {"template": "sent_template", "held": "held", "queued": "sent",
                    "sent": "sent"}


def console_blueprint() -> Blueprint:
    """All console routes under ``/console``."""
    bp = Blueprint("console", url_prefix="/console")
    bp.static("/static", str(HERE / "static"), name="console_static")

    @bp.middleware("response")
    async def strict_transport(request: Request, response: HTTPResponse) -> None:
        if scheme(request, _trust_forwarded(request)) == "https":
            response.headers["Strict-Transport-Security"] = HSTS

    @bp.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        return _page("login.html", account=None)

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        form = request.form
        username = users.clean_username(form.get("username"))
        address = client_address(request, _trust_forwarded(request))
        # Told to wait: refused before the line for the hashing threads (two short reads), so
        # a guesser who earned a delay takes no hashing turn from anyone.
        wait = users.login_wait(username, users.client_key(address), datetime.utcnow())
        if wait:
            return _login_page(429, wait)
        try:
            outcome = await GATE.run((username, address), users.attempt_login, username,
                                     form.get("password") or "", address)
        except Busy as busy:
            return _login_page(busy.status, busy.retry_after)
        if outcome.token is None:
            return _login_page(429 if outcome.retry_after else 401, outcome.retry_after)
        response = redirect("/console")
        _set_session_cookie(request, response, outcome.token)
        return _secure(response)

    @bp.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        account = _account(request)
        if account and users.csrf_ok(account, request.form.get("csrf_token")):
            users.logout(request.cookies.get(COOKIE, ""))
        response = redirect("/console/login")
        _clear_session_cookie(request, response)
        return _secure(response)

    @bp.get("/")
    async def queue(request: Request) -> HTTPResponse:
        account = _account(request)
        if account is None:
            return redirect("/console/login")
        cases = store.open_cases(account.queues)
        return _page("queue.html", account=account, cases=cases, queues=account.queues,
                     office_hours=OfficeHours.from_env().describe("en"),
                     notice=notice_text(request.args.get("notice")))

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
        return _page("case.html", notice=notice_text(request.args.get("notice")),
                     **_case_context(account, case, transcript))

    async def _case_error(request: Request, account: users.Account, case_id: int,
                          message: str, status: int) -> HTTPResponse:
        """The case page with what went wrong (our own words, escaped), not a redirect that
        would carry them in the address."""
        case, refusal = _case_for(account, case_id)
        if refusal is not None:
            return refusal
        transcript = await request.app.ctx.handoff.transcript(case)
        return _page("case.html", status=status, error=message,
                     **_case_context(account, case, transcript))

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
        try:
            if action == "claim":
                await handoff.claim(case_id, account.username)
                notice = "claimed"
            elif action == "reply":
                body = (form.get("text") or "").strip()
                if not body and form.get("canned"):
                    script = reply_script(case.language)
                    body = next((c[script] for c in canned_replies()
                                 if c["key"] == form.get("canned")), "")
                delivery = await handoff.reply(case_id, account.username, body)
                if delivery.status not in DELIVERY_NOTICES:
                    return await _case_error(request, account, case_id,
                                             f"Not sent: {delivery.detail}", 502)
                notice = DELIVERY_NOTICES[delivery.status]
            elif action == "note":
                await handoff.note(case_id, account.username, form.get("text") or "")
                notice = "noted"
            elif action == "transfer":
                await handoff.transfer(case_id, account.username, form.get("queue") or "")
                return redirect("/console?notice=transferred")
            elif action == "close":
                await handoff.close(case_id, account.username, form.get("outcome") or "")
                return redirect("/console?notice=closed")
            else:
                return _secure(text("unknown action", status=404))
        except store.CaseError as exc:
            return await _case_error(request, account, case_id, str(exc), 409)
        return redirect(f"/console/cases/{case_id}?notice={notice}")

    def _admin(request: Request, form: bool) -> tuple[users.Account | None, HTTPResponse | None]:
        """The signed-in admin, or the refusal (401, 403; a form also needs its CSRF token)."""
        account = _account(request)
        if account is None:
            return None, (_secure(text("sign in first", status=401)) if form
                          else redirect("/console/login"))
        if account.role != "admin":
            return None, _secure(text("admins only", status=403))
        if form and not users.csrf_ok(account, request.form.get("csrf_token")):
            return None, _secure(text("invalid or missing CSRF token", status=403))
        return account, None

    def _users_page(account: users.Account, status: int = 200, **context: Any) -> HTTPResponse:
        return _page("users.html", status=status, account=account, people=users.list_users(),
                     roles=users.ROLES, api_tokens=tokens.list_tokens(),
                     token_days=tokens.DEFAULT_DAYS, **context)

    @bp.get("/users")
    async def user_list(request: Request) -> HTTPResponse:
        account, refusal = _admin(request, form=False)
        if refusal is not None:
            return refusal
        return _users_page(account, notice=notice_text(request.args.get("notice")))

    @bp.post("/users")
    async def user_add(request: Request) -> HTTPResponse:
        return await _user_change(request, "add", "")

    @bp.post("/users/<username:str>/<change:str>")
    async def user_toggle(request: Request, username: str, change: str) -> HTTPResponse:
        return await _user_change(request, change, username)

    async def _user_change(request: Request, change: str, username: str) -> HTTPResponse:
        account, refusal = _admin(request, form=True)
        if refusal is not None:
            return refusal
        form = request.form
        try:
            if change == "add":
                name = (form.get("username") or "").strip().lower()
                # argon2 on the hashing threads, as for sign-in: never on this loop
                await GATE.run(None, users.add_user, name, form.get("role") or "",
                               form.get("password") or "")
                notice = "user_added"
            elif change in ("disable", "enable") and username != account.username:
                users.set_disabled(username, change == "disable")
                notice = f"user_{change}d"
            else:
                return _secure(text("unknown change", status=404))
        except Busy as busy:
            response = _users_page(account, status=503, error="Busy: try again in a moment.")
            response.headers["Retry-After"] = str(busy.retry_after)
            return response
        except users.ConsoleError as exc:
            return _users_page(account, status=400, error=str(exc))
        store.audit(account.username, f"user_{change}", None, user=username or form.get("username"))
        return redirect(f"/console/users?notice={notice}")

    @bp.post("/tokens")
    async def token_create(request: Request) -> HTTPResponse:
        account, refusal = _admin(request, form=True)
        if refusal is not None:
            return refusal
        form = request.form
        username = (form.get("username") or "").strip().lower()
        try:
            days = int(form.get("days") or tokens.DEFAULT_DAYS)
            token_id, token = tokens.create(username, form.get("label") or "",
                                            created_by=account.username, days=days)
        except ValueError as exc:  # ConsoleError, or days not a number
            message = str(exc) if isinstance(exc, users.ConsoleError) else "days: a number"
            return _users_page(account, status=400, error=message)
        store.audit(account.username, "token_create", None, user=username, token=token_id)
        # Shown this once, in this response only (no-store): never in an address or a log.
        return _users_page(account, new_token={"id": token_id, "user": username,
                                               "value": token})

    @bp.post("/tokens/<token_id:int>/revoke")
    async def token_revoke(request: Request, token_id: int) -> HTTPResponse:
        account, refusal = _admin(request, form=True)
        if refusal is not None:
            return refusal
        try:
            owner = tokens.revoke(token_id)
        except users.ConsoleError as exc:
            return _users_page(account, status=404, error=str(exc))
        store.audit(account.username, "token_revoke", None, user=owner, token=token_id)
        return redirect("/console/users?notice=token_revoked")

    @bp.get("/events")
    async def events(request: Request) -> HTTPResponse:
        token = request.cookies.get(COOKIE)
        if users.account(token) is None:
            return _secure(text("sign in first", status=401))
        bus = request.app.ctx.bus

        async def stream(response: ResponseStream) -> None:
            await live.stream(response.write, token, bus, _snapshot)

        return ResponseStream(stream, content_type="text/event-stream",
                              headers={"Cache-Control": "no-store"})

    return bp
