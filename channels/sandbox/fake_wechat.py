"""A fake WeChat official-account API (access token, customer-service and template messages).

Run it::

    python -m channels.sandbox.fake_wechat --port 5102 \\
        --app-id wxsandbox00000000 --app-secret sandbox-app-secret-not-a-secret

Pointing wechatpy 1.8.18's ``WeChatClient`` at it
-------------------------------------------------
wechatpy sends API calls to ``API_BASE_URL + endpoint``: ``WeChatClient.API_BASE_URL`` is the class
attribute ``"https://api.weixin.qq.com/cgi-bin/"`` and ``client.message.send_text`` posts to the
endpoint ``"message/custom/send"`` (``send_template`` to ``"message/template/send"``), with
``?access_token=`` added by ``BaseWeChatClient._request``. But ``WeChatClient.fetch_access_token``
passes the official URL written in full, ``"https://api.weixin.qq.com/cgi-bin/token"``, to
``_fetch_access_token``, so changing ``API_BASE_URL`` alone still fetches tokens from Tencent.
Both must be redirected::

    client = sandbox_wechat_client(app_id, app_secret, "http://127.0.0.1:5102", timeout=5)
    # or, on an existing client:
    point_client_at(client, "http://127.0.0.1:5102")

``point_client_at`` sets the instance attribute ``API_BASE_URL`` to ``<base>/cgi-bin/`` (it
shadows the class attribute that ``_request`` reads as ``self.API_BASE_URL``) and replaces the
instance's ``fetch_access_token`` with one that GETs ``<base>/cgi-bin/token`` through the same
``_fetch_access_token``. ``SandboxWeChatClient`` / ``sandbox_wechat_client`` do the same with a
subclass. API groups with their own ``API_BASE_URL`` (card, datacube, device, invoice, marketing,
cloud) still point at Tencent: this fake serves none of them. Note that ``_fetch_access_token``
passes no timeout to ``requests`` even when the client has one.

Endpoints (same paths and query parameters as the real API)
-----------------------------------------------------------
- ``GET /cgi-bin/token?grant_type=client_credential&appid=..&secret=..`` →
  ``{"access_token": ..., "expires_in": 7200}``; a wrong appid → ``errcode`` 40013, a wrong
  secret → 40125, another grant_type → 40002. Each fetch is counted. As on WeChat, issuing a
  token leaves the previous ones valid for 5 more minutes only.
- ``POST /cgi-bin/message/custom/send?access_token=..`` with the JSON body (wechatpy sends it
  with no Content-Type) → ``{"errcode": 0, "errmsg": "ok"}``; no token → 41001, an unknown token
  → 40001, an expired one → 42001, an empty body → 44002, bad JSON → 47001, no ``touser`` →
  40003, an unknown ``msgtype`` → 40008, an empty text → 44003.
- ``POST /cgi-bin/message/template/send?access_token=..`` → ``{"errcode": 0, "errmsg": "ok",
  "msgid": n}`` (``touser`` and ``template_id`` required).
- A ``msgmenu`` custom message (``head_content``, ``list`` of 1-10 ``{id, content}``,
  ``tail_content``) is checked as documented (47001 otherwise) and recorded; the player's
  ``/pick N`` taps option N: a text push with ``bizmsgmenuid``, as WeChat sends it.
- ``POST /cgi-bin/menu/create`` (1-3 buttons, sub_button up to 5, click items with a key: else
  40017/40018/40019/40023/40016), ``POST /cgi-bin/menu/addconditional`` (with a ``matchrule``;
  → ``{"menuid"}``), ``GET /cgi-bin/menu/get`` (``menu``, ``conditionalmenu``; 46003 without).

Sandbox control
---------------
- ``POST /_sandbox/faults`` a JSON object (or list; rules queue) ``{"errcode": 40001|42001|45015|
  45047|45009|-1, "count": N, "http_status": 500, "delay": s, "errmsg": "...", "probability": p,
  "seed": n, "endpoint": "send"|"token"|"msgmenu"|"any"}``: the next N matching calls (default:
  message sends; ``msgmenu``: menu messages only) answer that error (HTTP 200 with the errcode,
  as WeChat does, or ``http_status``) and record nothing. A ``delay`` without
  ``errcode``/``http_status`` accepts late. ``DELETE`` clears.
- ``POST /_sandbox/expire_tokens`` (optional JSON ``{"mode": "expired"|"invalid"}``): every issued
  token now gets 42001 (expired, default) or 40001 (invalid). wechatpy's ``auto_retry`` then
  fetches a new token and repeats the call once per error.
- ``GET /_sandbox/messages?touser=..`` accepted messages in order, each the JSON body sent plus
  ``id`` (increasing), ``kind`` (``custom``/``template``) and ``received_at``; ``DELETE``
  clears them; ``GET /_sandbox/stats`` ``{"token_fetches": n, ...}``; ``GET /_sandbox/health``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import secrets
import time
import types
from dataclasses import dataclass
from typing import Any

import uvloop
from aiohttp import web
from wechatpy import WeChatClient

from . import defaults
from .faults import add_fault_routes

log = logging.getLogger(__name__)

STATE_KEY = web.AppKey("fake_wechat_state", object)

TOKEN_TTL = 7200
OLD_TOKEN_GRACE = 300
MSG_TYPES = {
    "text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle", "msgmenu",
    "wxcard", "miniprogrampage",
}
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40037: "invalid template_id",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40125: "invalid appsecret",
    40200: "invalid account type",
    41001: "access_token missing",
    42001: "access_token expired",
    44002: "empty post data",
    44003: "empty news data",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}


# ------------------------------------------------------------------------- client configuration


def _sandbox_fetch_access_token(self: WeChatClient) -> dict[str, Any]:
    return self._fetch_access_token(
        url=self._sandbox_token_url,
        params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
    )


def point_client_at(client: WeChatClient, base_url: str) -> WeChatClient:
    """Redirect a wechatpy ``WeChatClient`` (API calls AND token fetches) to ``base_url``."""
    base = base_url.rstrip("/")
    client.API_BASE_URL = base + "/cgi-bin/"
    client._sandbox_token_url = base + "/cgi-bin/token"
    client.fetch_access_token = types.MethodType(_sandbox_fetch_access_token, client)
    return client


class SandboxWeChatClient(WeChatClient):
    """A ``WeChatClient`` whose base URL (class attribute ``SANDBOX_BASE``) is the fake."""

    SANDBOX_BASE = f"http://127.0.0.1:{defaults.FAKE_WECHAT_PORT}"
    API_BASE_URL = SANDBOX_BASE + "/cgi-bin/"

    def fetch_access_token(self) -> dict[str, Any]:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def sandbox_wechat_client(
    app_id: str, app_secret: str, base_url: str, **kwargs: Any
) -> WeChatClient:
    """A ``WeChatClient`` subclass instance talking to the fake at ``base_url``."""
    base = base_url.rstrip("/")
    cls = type(
        "SandboxWeChatClient",
        (SandboxWeChatClient,),
        {"SANDBOX_BASE": base, "API_BASE_URL": base + "/cgi-bin/"},
    )
    return cls(app_id, app_secret, **kwargs)


# ---------------------------------------------------------------------------------- the fake


@dataclass
class WeChatFault:
    errcode: int | None = None
    count: int | None = 1
    http_status: int | None = None
    delay: float = 0.0
    errmsg: str | None = None
    probability: float = 1.0
    endpoint: str = "send"

    @classmethod
    def from_json(cls, data: Any) -> WeChatFault:
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(data) - set(cls.__dataclass_fields__) - {"seed"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        errcode = data.get("errcode")
        if errcode is not None and (not isinstance(errcode, int) or errcode == 0):
            raise ValueError("errcode must be a non-zero integer")
        http_status = data.get("http_status")
        if http_status is not None and (
            not isinstance(http_status, int) or not 400 <= http_status <= 599
        ):
            raise ValueError("http_status must be within 400..599")
        probability = float(data.get("probability", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        count = data.get("count", None if "probability" in data else 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer")
        endpoint = data.get("endpoint", "send")
        if endpoint not in ("send", "token", "any", "msgmenu"):
            raise ValueError("endpoint must be 'send', 'token', 'msgmenu' or 'any'")
        delay = float(data.get("delay", 0.0))
        if delay < 0:
            raise ValueError("delay must not be negative")
        if errcode is None and http_status is None and delay == 0:
            raise ValueError("a fault needs an errcode, an http_status or a delay")
        return cls(errcode, count, http_status, delay, data.get("errmsg"), probability, endpoint)

    @property
    def rejects(self) -> bool:
        return self.errcode is not None or self.http_status is not None


class WeChatState:
    def __init__(self, app_id: str, app_secret: str, seed: int = 0):
        self.app_id = app_id
        self.app_secret = app_secret
        self.rng = random.Random(seed)
        self.tokens: dict[str, dict[str, Any]] = {}  # token -> {"expires_at", "revoked"}
        self.messages: list[dict[str, Any]] = []
        self.menu: dict[str, Any] | None = None  # the account menu (menu/create)
        self.conditional_menus: list[dict[str, Any]] = []
        self.faults: list[WeChatFault] = []
        self.next_msgid = 1_000_000_001
        self.next_record_id = 0
        self.stats = {
            "token_fetches": 0,
            "token_failures": 0,
            "send_calls": 0,
            "messages_accepted": 0,
            "token_errors": 0,
            "faults_injected": 0,
        }

    def next_fault(self, endpoint: str) -> WeChatFault | None:
        for index, rule in enumerate(self.faults):
            if rule.endpoint not in (endpoint, "any"):
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                return None
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.faults.pop(index)
            self.stats["faults_injected"] += 1
            return rule
        return None

    def token_error(self, token: str | None) -> int | None:
        if not token:
            return 41001
        info = self.tokens.get(token)
        if info is None:
            return 40001
        if info["revoked"] == "invalid":
            return 40001
        if info["revoked"] == "expired" or info["expires_at"] <= time.time():
            return 42001
        return None


def _rid() -> str:
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(5)}"


def _err(errcode: int, errmsg: str | None = None) -> web.Response:
    """WeChat answers errors with HTTP 200 and an errcode; errmsg ends with a request id."""
    message = errmsg or ERRMSG.get(errcode, "error")
    return web.json_response({"errcode": errcode, "errmsg": f"{message} rid: {_rid()}"})


def _state(request: web.Request) -> WeChatState:
    return request.app[STATE_KEY]  # type: ignore[return-value]


async def _apply_fault(fault: WeChatFault) -> web.Response | None:
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.http_status is not None:
        return web.Response(
            status=fault.http_status, text="<html><body>sandbox fault</body></html>",
            content_type="text/html",
        )
    if fault.errcode is not None:
        return _err(fault.errcode, fault.errmsg)
    return None


async def get_token(request: web.Request) -> web.Response:
    state = _state(request)
    state.stats["token_fetches"] += 1
    fault = state.next_fault("token")
    if fault is not None and fault.rejects:
        state.stats["token_failures"] += 1
        return await _apply_fault(fault)  # type: ignore[return-value]
    query = request.query
    error = None
    if query.get("grant_type") != "client_credential":
        error = 40002
    elif query.get("appid") != state.app_id:
        error = 40013
    elif query.get("secret") != state.app_secret:
        error = 40125
    if error is not None:
        state.stats["token_failures"] += 1
        return _err(error)
    now = time.time()
    for info in state.tokens.values():
        info["expires_at"] = min(info["expires_at"], now + OLD_TOKEN_GRACE)
    token = "SANDBOX_" + secrets.token_urlsafe(96)[:120]
    state.tokens[token] = {"expires_at": now + TOKEN_TTL, "revoked": None}
    if fault is not None:
        await _apply_fault(fault)
    return web.json_response({"access_token": token, "expires_in": TOKEN_TTL})


async def _read_json(request: web.Request) -> tuple[dict[str, Any] | None, int | None]:
    raw = await request.read()
    if not raw.strip():
        return None, 44002
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, 47001
    if not isinstance(data, dict):
        return None, 47001
    return data, None


async def _send(request: web.Request, kind: str) -> web.Response:
    state = _state(request)
    state.stats["send_calls"] += 1
    token_error = state.token_error(request.query.get("access_token"))
    if token_error is not None:
        state.stats["token_errors"] += 1
        return _err(token_error)
    data, error = await _read_json(request)
    if error is not None:
        return _err(error)
    assert data is not None
    if not data.get("touser"):
        return _err(40003)
    result: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
    if kind == "custom":
        msgtype = data.get("msgtype")
        if msgtype not in MSG_TYPES:
            return _err(40008)
        if msgtype == "text" and not (data.get("text") or {}).get("content"):
            return _err(44003, "empty content")
        if msgtype == "msgmenu" and not _menu_message_ok(data.get("msgmenu")):
            return _err(47001)
    else:
        if not data.get("template_id"):
            return _err(40037)
    fault = state.next_fault("msgmenu") if data.get("msgtype") == "msgmenu" else None
    fault = fault or state.next_fault("send")
    if fault is not None and fault.rejects:
        return await _apply_fault(fault)  # type: ignore[return-value]
    if kind == "template":
        result["msgid"] = state.next_msgid
        state.next_msgid += 1
    state.next_record_id += 1
    record = {"id": state.next_record_id, "kind": kind, "received_at": time.time(), **data}
    if "msgid" in result:
        record["msgid"] = result["msgid"]
    state.messages.append(record)
    state.stats["messages_accepted"] += 1
    if fault is not None:
        await _apply_fault(fault)
    return web.json_response(result)


def _menu_message_ok(menu: Any) -> bool:
    """A customer-service menu message as documented: head_content and tail_content up to
    1024 bytes, 1-10 options each an id (1-64 bytes) and a content (1-128 bytes)."""
    if not isinstance(menu, dict):
        return False
    options = menu.get("list")
    if not isinstance(options, list) or not 1 <= len(options) <= 10:
        return False
    for text_ in (menu.get("head_content") or "", menu.get("tail_content") or ""):
        if len(str(text_).encode()) > 1024:
            return False
    return all(isinstance(o, dict) and 0 < len(str(o.get("id") or "").encode()) <= 64
               and 0 < len(str(o.get("content") or "").encode()) <= 128 for o in options)


def _menu_problem(menu: Any) -> int | None:
    """The errcode WeChat gives for a menu it refuses (None: valid): 1-3 buttons, each a
    ``click`` (with a key), a ``view`` (with a url) or up to 5 ``sub_button``s."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return 40017
    for button in buttons:
        if not isinstance(button, dict) or not 0 < len(str(button.get("name", "")).encode()) <= 60:
            return 40018
        subs = button.get("sub_button")
        for item in subs if isinstance(subs, list) else [button]:
            if subs is not None and (not isinstance(item, dict) or len(subs) > 5):
                return 40023
            if not 0 < len(str(item.get("name", "")).encode()) <= 60:
                return 40018
            if item.get("type") == "click" and not 0 < len(str(item.get("key", "")).encode()
                                                            ) <= 128:
                return 40019
            if item.get("type") not in ("click", "view", "miniprogram", "scancode_push",
                                        "location_select", "media_id", "view_limited"):
                return 40016
    return None


async def _menu_call(request: web.Request, kind: str) -> web.Response:
    """``menu/create`` and ``menu/addconditional`` (JSON body): the menu kept and shown by
    ``menu/get`` (``menu`` and ``conditionalmenu``, as WeChat's get answers)."""
    state = _state(request)
    token_error = state.token_error(request.query.get("access_token"))
    if token_error is not None:
        return _err(token_error)
    data, error = await _read_json(request)
    if error is not None:
        return _err(error)
    problem = _menu_problem(data)
    if problem is not None:
        return _err(problem, "invalid menu")
    if kind == "create":
        state.menu, state.conditional_menus = {"button": data["button"]}, []
        return web.json_response({"errcode": 0, "errmsg": "ok"})
    if not isinstance(data.get("matchrule"), dict) or not data["matchrule"]:
        return _err(65303, "no matchrule")
    if state.menu is None:
        return _err(65304, "no default menu")
    menuid = str(len(state.conditional_menus) + 400_000_000)
    state.conditional_menus.append({**data, "menuid": menuid})
    return web.json_response({"menuid": menuid})


async def create_menu(request: web.Request) -> web.Response:
    return await _menu_call(request, "create")


async def add_conditional_menu(request: web.Request) -> web.Response:
    return await _menu_call(request, "conditional")


async def get_menu(request: web.Request) -> web.Response:
    state = _state(request)
    token_error = state.token_error(request.query.get("access_token"))
    if token_error is not None:
        return _err(token_error)
    if state.menu is None:
        return _err(46003, "menu no exist")
    answer: dict[str, Any] = {"menu": state.menu}
    if state.conditional_menus:
        answer["conditionalmenu"] = state.conditional_menus
    return web.json_response(answer)


async def send_custom(request: web.Request) -> web.Response:
    return await _send(request, "custom")


async def send_template(request: web.Request) -> web.Response:
    return await _send(request, "template")


async def sandbox_expire_tokens(request: web.Request) -> web.Response:
    state = _state(request)
    mode = "expired"
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            body = {}
        mode = (body or {}).get("mode", "expired")
    if mode not in ("expired", "invalid"):
        return web.json_response({"error": "mode must be 'expired' or 'invalid'"}, status=400)
    for info in state.tokens.values():
        info["revoked"] = mode
    return web.json_response({"expired": len(state.tokens), "mode": mode})


async def sandbox_messages(request: web.Request) -> web.Response:
    touser = request.query.get("touser")
    items = [m for m in _state(request).messages if touser is None or m.get("touser") == touser]
    return web.json_response(items)


async def sandbox_clear_messages(request: web.Request) -> web.Response:
    _state(request).messages.clear()
    return web.json_response([])


async def sandbox_stats(request: web.Request) -> web.Response:
    state = _state(request)
    now = time.time()
    active = sum(
        1 for info in state.tokens.values() if not info["revoked"] and info["expires_at"] > now
    )
    return web.json_response(
        {
            **state.stats,
            "tokens_issued": len(state.tokens),
            "active_tokens": active,
            "messages": len(state.messages),
            "faults_pending": len(state.faults),
        }
    )


async def sandbox_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "service": "fake-wechat"})


def create_app(app_id: str, app_secret: str, *, seed: int = 0) -> web.Application:
    """The fake WeChat API for one official account."""
    app = web.Application()
    app[STATE_KEY] = WeChatState(app_id, app_secret, seed)
    app.router.add_get("/cgi-bin/token", get_token)
    app.router.add_post("/cgi-bin/message/custom/send", send_custom)
    app.router.add_post("/cgi-bin/message/template/send", send_template)
    app.router.add_post("/cgi-bin/menu/create", create_menu)
    app.router.add_post("/cgi-bin/menu/addconditional", add_conditional_menu)
    app.router.add_get("/cgi-bin/menu/get", get_menu)
    add_fault_routes(app, STATE_KEY, WeChatFault)
    app.router.add_post("/_sandbox/expire_tokens", sandbox_expire_tokens)
    app.router.add_get("/_sandbox/messages", sandbox_messages)
    app.router.add_delete("/_sandbox/messages", sandbox_clear_messages)
    app.router.add_get("/_sandbox/stats", sandbox_stats)
    app.router.add_get("/_sandbox/health", sandbox_health)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=defaults.FAKE_WECHAT_PORT)
    parser.add_argument("--app-id", default=defaults.setting("WECHAT_APP_ID"))
    parser.add_argument("--app-secret", default=defaults.setting("WECHAT_APP_SECRET"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(args.app_id, args.app_secret, seed=args.seed)
    # uvloop (installed with Sanic), as our servers run: on the bench the fake shares the
    # machine's two cores with the product it measures, so it should cost little.
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
