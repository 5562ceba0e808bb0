"""A fake Twilio REST API (Messages and Content resources) for the local sandbox. Loopback only.

Run it::

    python -m channels.sandbox.fake_twilio --port 5101 \\
        --account-sid AC00000000000000000000000000000000 \\
        --auth-token sandbox-auth-token-not-a-secret

Pointing the OFFICIAL twilio 8.2.2 client at it
-----------------------------------------------
twilio 8.2.2 builds every URL as ``<domain.base_url>/<version>/<uri>``: ``client.messages`` is
``client.api.v2010.account.messages``, the ``Api`` domain's ``base_url`` is
``"https://api.twilio.com"`` (set in ``ApiBase.__init__``), the ``V2010`` version adds
``2010-04-01`` and the list adds ``/Accounts/{sid}/Messages.json``. ``Domain.absolute_url`` reads
``self.base_url`` at request time, so setting it on the (lazily created, then cached) ``Api``
domain redirects every request, including the ``next_page_uri`` links of lists::

    client = twilio.rest.Client(account_sid, auth_token)
    client.api.base_url = "http://127.0.0.1:5101"     # what point_client_at() does
    client.edge = client.region = None                # else the host name is rewritten

Nothing is needed on ``client.api.v2010``. ``region``/``edge`` (or the ``TWILIO_REGION`` /
``TWILIO_EDGE`` environment variables) make ``ClientBase.get_hostname`` rewrite the host into
``api.<edge>.<region>.twilio.com``-style names, which would break the redirection, hence
``point_client_at`` clears them. The same works for ``AsyncTwilioHttpClient``
(``create_async``/``list_async``).

Endpoints
---------
- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form: To, From, Body, ContentSid,
  ContentVariables, StatusCallback, MediaUrl, MessagingServiceSid): HTTP Basic auth must be the
  account SID and auth token (else 401, code 20003). Missing To → 400/21604, missing From →
  21603, no Body, ContentSid nor MediaUrl → 21602, a body over 1600 characters → 21617, a badly
  formed number → 21211/21212, a WhatsApp sender with a non-WhatsApp recipient → 21910,
  ContentVariables that are not a JSON object → 21656. Success: 201 and a Twilio-shaped message
  (``sid`` ``SM`` + 32 hex, ``status`` ``queued``, dates in RFC 2822 like Twilio).
- ``GET .../Messages.json`` with To, From, DateSent (the day; twilio-python sends even a
  ``date`` as ``YYYY-MM-DDT00:00:00Z``), ``DateSent<`` and ``DateSent>`` (inclusive, date or ISO
  date-time), PageSize and Page: Twilio's list shape, newest first. A message not
  yet sent is matched by its creation date (Twilio would use date_sent, set within
  ``status_delay``).
- ``GET .../Messages/{Sid}.json``: one message.
- After acceptance each message moves ``queued`` → ``sent`` → ``delivered`` (``status_delay``
  seconds apart). With a ``StatusCallback`` and callbacks on (``--status-callbacks``, default),
  each step is POSTed there form-encoded (MessageSid, MessageStatus, SmsSid, SmsStatus, To,
  From, AccountSid, ApiVersion, ChannelPrefix for WhatsApp, ErrorCode on failure) with an
  ``X-Twilio-Signature`` computed by ``RequestValidator(auth_token).compute_signature`` over the
  exact callback URL. Failures to deliver callbacks are logged in ``/_sandbox/callbacks`` and
  otherwise ignored.

- ``POST /v1/Content`` (JSON, as twilio's Content API): a content with ``twilio/text``,
  ``twilio/quick-reply`` (1-10 actions: id, title <= 20) and/or ``twilio/list-picker`` (button,
  1-10 items: id, item <= 24) types and a ``language``; 201 and the resource (``sid`` HX...),
  400/20001 for a document Twilio would refuse. ``GET /v1/Content/{sid}``. A message created
  with a ContentSid of this fake is recorded with ``content`` (the types) and ``body`` set to
  the content's ``twilio/text`` variant (what a client without buttons shows); an unknown
  ContentSid (an approved template configured elsewhere) is recorded as before.

Sandbox control
---------------
- ``POST /_sandbox/refuse_content`` ``{"count": n}``: the next n calls that use content (a
  create, or a message with a ContentSid of this fake: 400/21655) are refused, to show the
  numbered-text fallback. ``GET /_sandbox/contents``: the contents created.
- ``POST /_sandbox/faults`` a JSON object (or a list of them; rules queue up and are used in
  order) ``{"status": 500|429|503|..., "count": N, "retry_after": s, "delay": s,
  "probability": p, "seed": n, "code": c, "message": m, "outcome": "undelivered"|"failed",
  "error_code": 63016}``. The next N message-create calls fail with ``status`` (a Twilio-style
  error body; for 429 a ``Retry-After`` header) and are NOT recorded. ``delay`` sleeps before
  answering; a rule with a ``delay`` and no ``status`` ACCEPTS and records the message first and
  answers late: a client that times out has still sent it (reconcile with the list endpoint).
  ``probability`` makes each create call fail with that chance (seeded RNG, ``seed`` default 0);
  without ``count`` such a rule lasts until cleared; when it does not fire, the next rule is
  tried, so several probabilistic rules mix faults. ``outcome`` accepts the message (201) but
  ends it ``undelivered``/``failed`` with ``error_code`` (63016: outside WhatsApp's 24-hour
  window). ``GET`` shows the queue, ``DELETE`` clears it.
- ``GET /_sandbox/messages?to=..&from=..`` accepted messages, oldest first, each the Twilio
  resource plus ``content_sid``, ``content_variables``, ``media_url`` and ``status_callback``;
  ``DELETE`` clears them. ``GET /_sandbox/wait?to=..&count=n&timeout=s`` answers once n messages
  to that address are recorded (a long-poll for load generators). ``GET /_sandbox/callbacks``,
  ``GET /_sandbox/stats``, ``GET /_sandbox/health``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import email.utils
import json
import logging
import math
import random
import re
from dataclasses import dataclass
from typing import Any

import uvloop
from aiohttp import BasicAuth, ClientSession, ClientTimeout, web

from . import defaults
from .faults import add_fault_routes
from .signing import TWILIO_API_VERSION, twilio_sid, twilio_signature

log = logging.getLogger(__name__)

STATE_KEY = web.AppKey("fake_twilio_state", object)

MAX_BODY = 1600
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€\f")
_FAULT_CODES = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


def point_client_at(client: Any, base_url: str) -> Any:
    """Send every request of a ``twilio.rest.Client`` (8.2.2) to ``base_url`` instead of
    ``https://api.twilio.com``; returns the client. See the module docstring for why."""
    client.edge = None
    client.region = None
    client.api.base_url = base_url.rstrip("/")
    return client


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _rfc2822(moment: dt.datetime | None) -> str | None:
    return None if moment is None else email.utils.format_datetime(moment)


def num_segments(body: str, to: str) -> int:
    """Segments as Twilio bills them: 1 for WhatsApp; GSM-7 160/153, else UCS-2 70/67."""
    if to.startswith("whatsapp:") or not body:
        return 1
    if all(ch in _GSM7 or ch in _GSM7_EXT for ch in body):
        units = sum(2 if ch in _GSM7_EXT else 1 for ch in body)
        return 1 if units <= 160 else math.ceil(units / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


@dataclass
class FaultRule:
    status: int | None = None
    count: int | None = 1
    retry_after: float | None = None
    delay: float = 0.0
    probability: float = 1.0
    code: int | None = None
    message: str | None = None
    outcome: str | None = None
    error_code: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(data) - {f for f in cls.__dataclass_fields__} - {"seed"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        status = data.get("status")
        if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status (400-599)")
        probability = float(data.get("probability", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be within 0..1")
        default_count = None if "probability" in data else 1
        count = data.get("count", default_count)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer")
        outcome = data.get("outcome")
        if outcome not in (None, "undelivered", "failed"):
            raise ValueError("outcome must be 'undelivered' or 'failed'")
        if status is not None and outcome is not None:
            raise ValueError("a fault has either a status (rejected) or an outcome (accepted)")
        delay = float(data.get("delay", 0.0))
        if delay < 0:
            raise ValueError("delay must not be negative")
        if status is None and outcome is None and delay == 0:
            raise ValueError("a fault needs a status, an outcome or a delay")
        retry_after = data.get("retry_after")
        return cls(
            status=status,
            count=count,
            retry_after=None if retry_after is None else float(retry_after),
            delay=delay,
            probability=probability,
            code=data.get("code"),
            message=data.get("message"),
            outcome=outcome,
            error_code=data.get("error_code", 63016 if outcome else None),
        )


class Arrivals:
    """Wakes ``/_sandbox/wait`` long-polls when a message is recorded, so a load generator need
    not poll and steal the CPU it measures. Only the polls waiting on that recipient (or on any
    message) are looked at: with twenty conversations waiting, a recorded message costs one
    check instead of waking all twenty (no CPU difference resolvable on the bench's noisy VM;
    kept because the work no longer grows with the number of waiting polls).
    """

    def __init__(self) -> None:
        # recipient (None: any) -> (count to reach, future resolved when it is reached)
        self._waiting: dict[str | None, list[tuple[int, asyncio.Future[None]]]] = {}

    async def wait(self, to: str | None, count: int, recorded: Any, timeout: float) -> None:
        """Until ``recorded()`` reaches ``count`` (``asyncio.TimeoutError`` after ``timeout``)."""
        if recorded() >= count:
            return
        entry = (count, asyncio.get_running_loop().create_future())
        self._waiting.setdefault(to, []).append(entry)
        try:
            await asyncio.wait_for(entry[1], timeout)
        finally:
            waiting = self._waiting.get(to, [])
            if entry in waiting:
                waiting.remove(entry)
            if not waiting:
                self._waiting.pop(to, None)

    def recorded(self, to: str, for_recipient: int, in_all: int) -> None:
        """A message to ``to`` was recorded: ``for_recipient`` to it now, ``in_all`` in all."""
        for key, have in ((to, for_recipient), (None, in_all)):
            for count, future in self._waiting.get(key, ()):
                if have >= count and not future.done():
                    future.set_result(None)


class TwilioState:
    """Everything the fake remembers; one per application."""

    def __init__(
        self,
        auth_token: str,
        account_sid: str,
        status_callbacks: bool = True,
        status_delay: float = 0.05,
        seed: int = 0,
    ):
        self.auth_token = auth_token
        self.account_sid = account_sid
        self.arrivals = Arrivals()
        self.per_recipient: dict[str, int] = {}  # recorded messages per "to" (for waits)
        self.status_callbacks = status_callbacks
        self.status_delay = status_delay
        self.rng = random.Random(seed)
        self.messages: list[dict[str, Any]] = []
        self.contents: dict[str, dict[str, Any]] = {}  # Content API resources by sid
        self.refuse_content = 0
        self.faults: list[FaultRule] = []
        self.callbacks: list[dict[str, Any]] = []
        self.stats = {
            "create_calls": 0,
            "created": 0,
            "rejected": 0,
            "faults_injected": 0,
            "auth_failures": 0,
            "list_calls": 0,
            "callbacks_sent": 0,
            "callbacks_failed": 0,
            "content_creates": 0,
        }
        self.session: ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def next_fault(self) -> FaultRule | None:
        """The rule that applies to this create call, if any (consuming one of its count)."""
        self.faults[:] = [rule for rule in self.faults if rule.count is None or rule.count > 0]
        for rule in list(self.faults):
            # A probabilistic rule that does not fire passes the call on to the next rule, so
            # "30 % 500s, then 10 % 429s, then 5 % timeouts" is three rules in a row.
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.faults.remove(rule)
            self.stats["faults_injected"] += 1
            return rule
        return None

    def find(self, sid: str) -> dict[str, Any] | None:
        for record in self.messages:
            if record["resource"]["sid"] == sid:
                return record
        return None


# ------------------------------------------------------------------------------------ helpers


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None):
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)


def _state(request: web.Request) -> TwilioState:
    return request.app[STATE_KEY]  # type: ignore[return-value]


def _check_auth(request: web.Request, state: TwilioState) -> web.Response | None:
    denied = _check_basic(request, state)
    if denied is not None:
        return denied
    if request.match_info["account_sid"] != state.account_sid:
        return _error(404, 20404, f"The requested resource {request.path} was not found")
    return None


def _check_basic(request: web.Request, state: TwilioState) -> web.Response | None:
    """HTTP Basic auth with the account SID and auth token (401, code 20003, otherwise)."""
    header = request.headers.get("Authorization", "")
    try:
        auth = BasicAuth.decode(header) if header else None
    except ValueError:
        auth = None
    if auth is None or auth.login != state.account_sid or auth.password != state.auth_token:
        state.stats["auth_failures"] += 1
        body = {
            "code": 20003,
            "detail": "Your AccountSid or AuthToken was incorrect.",
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
        return web.json_response(
            body, status=401, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'}
        )
    return None


def _address_ok(value: str) -> bool:
    return bool(E164.match(value.removeprefix("whatsapp:")))


def _public(record: dict[str, Any]) -> dict[str, Any]:
    resource = dict(record["resource"])
    resource.update(
        content=record.get("content"),
        content_sid=record["content_sid"],
        content_variables=record["content_variables"],
        media_url=record["media_url"],
        status_callback=record["status_callback"],
    )
    return resource


def _parse_filter_date(value: str) -> tuple[str, dt.datetime | dt.date]:
    value = value.strip()
    if "T" in value or " " in value:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return "datetime", moment
    return "date", dt.date.fromisoformat(value)


def _date_matches(moment: dt.datetime, value: str, op: str) -> bool:
    kind, bound = _parse_filter_date(value)
    if op == "=":
        # twilio-python serializes even a date as "YYYY-MM-DDT00:00:00Z" (serialize.
        # iso8601_datetime), and DateSent= means "sent on that day": compare the days.
        day = bound.date() if isinstance(bound, dt.datetime) else bound
        return moment.date() == day
    subject: dt.datetime | dt.date = moment if kind == "datetime" else moment.date()
    if op == "<":
        return subject <= bound  # type: ignore[operator]
    return subject >= bound  # type: ignore[operator]


# ----------------------------------------------------------------------------------- handlers


async def create_message(request: web.Request) -> web.Response:
    state = _state(request)
    state.stats["create_calls"] += 1
    denied = _check_auth(request, state)
    if denied is not None:
        return denied
    form = await request.post()
    to = (form.get("To") or "").strip()
    sender = (form.get("From") or "").strip()
    service = (form.get("MessagingServiceSid") or "").strip()
    body = form.get("Body") or ""
    content_sid = form.get("ContentSid") or None
    content_variables = form.get("ContentVariables") or None
    media_url = [str(url) for url in form.getall("MediaUrl", [])]
    status_callback = form.get("StatusCallback") or None

    rejection = None
    if not to:
        rejection = (21604, "A 'To' phone number is required.")
    elif not sender and not service:
        rejection = (21603, "A 'From' phone number is required.")
    elif not body and not content_sid and not media_url:
        rejection = (21602, "Message body is required.")
    elif len(body) > MAX_BODY:
        rejection = (21617, "The concatenated message body exceeds the 1600 character limit.")
    elif not _address_ok(to):
        rejection = (21211, f"The 'To' number {to} is not a valid phone number.")
    elif sender and not _address_ok(sender):
        rejection = (21212, f"The 'From' number {sender} is not a valid phone number.")
    elif sender and sender.startswith("whatsapp:") != to.startswith("whatsapp:"):
        rejection = (
            21910,
            "Invalid From and To pair. From and To should be of the same channel",
        )
    elif content_variables is not None:
        try:
            if not isinstance(json.loads(content_variables), dict):
                raise ValueError
        except ValueError:
            rejection = (21656, "The ContentVariables Parameter is invalid.")
    content = state.contents.get(content_sid or "")
    if rejection is None and content is not None and state.refuse_content > 0:
        state.refuse_content -= 1
        rejection = (21655, "The ContentSid is Invalid.")
    if content is not None and not body:  # what the message shows: the text variant
        body = _content_body(content["types"])
    callback_ok = not status_callback or re.match(r"^https?://[^\s/]+", status_callback)
    if rejection is None and not callback_ok:
        rejection = (21609, "Invalid StatusCallback url")
    if rejection is not None:
        state.stats["rejected"] += 1
        return _error(400, *rejection)

    fault = state.next_fault()
    if fault is not None and fault.status is not None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        default_code, default_message = _FAULT_CODES.get(fault.status, (fault.status, "Error"))
        headers = {}
        if fault.status == 429:
            headers["Retry-After"] = _format_seconds(
                fault.retry_after if fault.retry_after is not None else 1
            )
        elif fault.retry_after is not None:
            headers["Retry-After"] = _format_seconds(fault.retry_after)
        return _error(
            fault.status,
            fault.code or default_code,
            fault.message or default_message,
            headers=headers,
        )

    now = _now()
    sid = twilio_sid("SM")
    uri = f"/{TWILIO_API_VERSION}/Accounts/{state.account_sid}/Messages/{sid}"
    resource = {
        "account_sid": state.account_sid,
        "api_version": TWILIO_API_VERSION,
        "body": body,
        "date_created": _rfc2822(now),
        "date_sent": None,
        "date_updated": _rfc2822(now),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender or None,
        "messaging_service_sid": service or None,
        "num_media": str(len(media_url)),
        "num_segments": str(num_segments(body, to)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "accepted" if service and not sender else "queued",
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": to,
        "uri": f"{uri}.json",
    }
    record = {
        "resource": resource,
        "content": content["types"] if content is not None else None,
        "created": now,
        "sent": None,
        "content_sid": content_sid,
        "content_variables": content_variables,
        "media_url": media_url,
        "status_callback": status_callback,
    }
    state.messages.append(record)
    state.per_recipient[to] = state.per_recipient.get(to, 0) + 1
    state.stats["created"] += 1
    state.arrivals.recorded(to, state.per_recipient[to], len(state.messages))
    _spawn(state, _progress(state, record, fault))
    if fault is not None and fault.delay:
        await asyncio.sleep(fault.delay)
    return web.json_response(resource, status=201)


# ------------------------------------------------------------------------------- Content API

CONTENT_TYPES = {"twilio/text", "twilio/quick-reply", "twilio/list-picker", "twilio/media",
                 "twilio/call-to-action", "twilio/card"}


def _content_body(types: dict[str, Any]) -> str:
    """The body a message sent with this content carries: its ``twilio/text`` variant (what a
    client without buttons shows), else the interactive variant's body."""
    for kind in ("twilio/text", "twilio/quick-reply", "twilio/list-picker"):
        if kind in types:
            return str(types[kind].get("body") or "")
    return ""


def _content_problem(document: Any) -> str | None:
    """What Twilio would refuse in a content document (None: valid), as documented for
    twilio/quick-reply (1-10 actions, title <= 20) and twilio/list-picker (1-10 items,
    item <= 24, button required), bodies <= 1024 (1600 for twilio/text)."""
    if not isinstance(document, dict) or not isinstance(document.get("types"), dict):
        return "types is required"
    if not document.get("language"):
        return "language is required"
    types = document["types"]
    if not types or set(types) - CONTENT_TYPES:
        return "unknown content type"
    for kind, spec in types.items():
        body = (spec or {}).get("body")
        if not isinstance(body, str) or not body:
            return f"{kind}: body is required"
        if len(body) > (1600 if kind == "twilio/text" else 1024):
            return f"{kind}: body too long"
    quick = types.get("twilio/quick-reply")
    if quick is not None:
        actions = quick.get("actions") or []
        if not 1 <= len(actions) <= 10 or any(
                not a.get("id") or not 0 < len(a.get("title") or "") <= 20 for a in actions):
            return "twilio/quick-reply: 1 to 10 actions, each an id and a title of <= 20"
    picker = types.get("twilio/list-picker")
    if picker is not None:
        items = picker.get("items") or []
        if not picker.get("button") or len(picker["button"]) > 20:
            return "twilio/list-picker: button is required (<= 20 characters)"
        if not 1 <= len(items) <= 10 or any(
                not i.get("id") or not 0 < len(i.get("item") or "") <= 24 for i in items):
            return "twilio/list-picker: 1 to 10 items, each an id and an item of <= 24"
    return None


async def create_content(request: web.Request) -> web.Response:
    """``POST /v1/Content`` (JSON: friendly_name, language, variables, types): 201 and the
    Content resource (``sid`` HX + 32 hex)."""
    state = _state(request)
    state.stats["content_creates"] += 1
    denied = _check_basic(request, state)
    if denied is not None:
        return denied
    try:
        document = json.loads(await request.read())
    except ValueError:
        return _error(400, 20001, "Invalid JSON")
    problem = _content_problem(document)
    if problem is None and state.refuse_content > 0:
        state.refuse_content -= 1
        problem = "refused by /_sandbox/refuse_content"
    if problem is not None:
        return _error(400, 20001, problem)
    sid = twilio_sid("HX")
    now = _rfc2822(_now())
    resource = {"sid": sid, "account_sid": state.account_sid,
                "friendly_name": document.get("friendly_name"),
                "language": document["language"], "variables": document.get("variables") or {},
                "types": document["types"], "date_created": now, "date_updated": now,
                "url": f"https://content.twilio.com/v1/Content/{sid}", "links": {}}
    state.contents[sid] = resource
    return web.json_response(resource, status=201)


async def fetch_content(request: web.Request) -> web.Response:
    state = _state(request)
    denied = _check_basic(request, state)
    if denied is not None:
        return denied
    content = state.contents.get(request.match_info["sid"])
    if content is None:
        return _error(404, 20404, f"The requested resource {request.path} was not found")
    return web.json_response(content)


async def sandbox_refuse_content(request: web.Request) -> web.Response:
    """``POST /_sandbox/refuse_content`` ``{"count": n}``: the next n calls using content (a
    Content create, or a message with a known ContentSid) are refused with a 400."""
    state = _state(request)
    try:
        state.refuse_content += int((await request.json()).get("count", 1))
    except (ValueError, TypeError, AttributeError):
        return web.json_response({"error": "expected {\"count\": n}"}, status=400)
    return web.json_response({"refuse_content": state.refuse_content})


async def sandbox_contents(request: web.Request) -> web.Response:
    return web.json_response(list(_state(request).contents.values()))


def _format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _spawn(state: TwilioState, coro: Any) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    state.tasks.add(task)
    task.add_done_callback(state.tasks.discard)


async def _progress(state: TwilioState, record: dict[str, Any], fault: FaultRule | None) -> None:
    """queued → sent → delivered (or the fault's outcome), with a status callback per step."""
    outcome = fault.outcome if fault is not None else None
    steps = ["failed"] if outcome == "failed" else ["sent", outcome or "delivered"]
    resource = record["resource"]
    for status in steps:
        await asyncio.sleep(state.status_delay)
        now = _now()
        resource["status"] = status
        resource["date_updated"] = _rfc2822(now)
        if status == "sent":
            record["sent"] = now
            resource["date_sent"] = _rfc2822(now)
        if status in ("failed", "undelivered") and fault is not None:
            resource["error_code"] = fault.error_code
            resource["error_message"] = fault.message
        if resource["from"] is None:
            resource["from"] = defaults.setting("TWILIO_WHATSAPP_FROM")
        if state.status_callbacks and record["status_callback"]:
            await _post_callback(state, record, status)


async def _post_callback(state: TwilioState, record: dict[str, Any], status: str) -> None:
    resource = record["resource"]
    url = record["status_callback"]
    params = {
        "SmsSid": resource["sid"],
        "SmsStatus": status,
        "MessageStatus": status,
        "To": resource["to"],
        "MessageSid": resource["sid"],
        "AccountSid": state.account_sid,
        "From": resource["from"] or "",
        "ApiVersion": TWILIO_API_VERSION,
    }
    if resource["to"].startswith("whatsapp:"):
        params["ChannelPrefix"] = "whatsapp"
        params["ChannelToAddress"] = resource["to"].removeprefix("whatsapp:")
    if resource["error_code"] is not None:
        params["ErrorCode"] = str(resource["error_code"])
    headers = {
        "X-Twilio-Signature": twilio_signature(state.auth_token, url, params),
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": f"{resource['sid']}-{status}",
    }
    entry: dict[str, Any] = {"url": url, "params": params, "result": None}
    state.callbacks.append(entry)
    try:
        assert state.session is not None
        async with state.session.post(url, data=params, headers=headers) as response:
            await response.read()
            entry["result"] = response.status
        state.stats["callbacks_sent"] += 1
    except Exception as exc:  # noqa: BLE001 - a callback failure must never hurt the fake
        entry["result"] = f"{type(exc).__name__}: {exc}"
        state.stats["callbacks_failed"] += 1
        log.info("status callback to %s failed: %s", url, exc)


async def list_messages(request: web.Request) -> web.Response:
    state = _state(request)
    state.stats["list_calls"] += 1
    denied = _check_auth(request, state)
    if denied is not None:
        return denied
    query = request.query
    try:
        page_size = min(max(int(query.get("PageSize", "50")), 1), 1000)
        page = max(int(query.get("Page", "0")), 0)
        filters = [(op, query[key]) for key, op in (("DateSent", "="), ("DateSent<", "<"),
                                                     ("DateSent>", ">")) if key in query]
        for _op, value in filters:
            _parse_filter_date(value)
    except ValueError:
        return _error(400, 20001, "Invalid filter or paging parameter")
    selected = []
    for record in reversed(state.messages):
        resource = record["resource"]
        if "To" in query and resource["to"] != query["To"]:
            continue
        if "From" in query and resource["from"] != query["From"]:
            continue
        moment = record["sent"] or record["created"]
        if not all(_date_matches(moment, value, op) for op, value in filters):
            continue
        selected.append(resource)
    chunk = selected[page * page_size : (page + 1) * page_size]
    base = f"/{TWILIO_API_VERSION}/Accounts/{state.account_sid}/Messages.json"
    kept = [(k, v) for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")]

    def page_uri(number: int) -> str:
        from urllib.parse import urlencode

        return base + "?" + urlencode(kept + [("PageSize", page_size), ("Page", number)])

    has_next = (page + 1) * page_size < len(selected)
    payload = {
        "messages": chunk,
        "end": page * page_size + max(len(chunk) - 1, 0),
        "first_page_uri": page_uri(0),
        "next_page_uri": page_uri(page + 1) + f"&PageToken=PA{page + 1}" if has_next else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": page_uri(page - 1) if page > 0 else None,
        "start": page * page_size,
        "uri": page_uri(page),
    }
    return web.json_response(payload)


async def fetch_message(request: web.Request) -> web.Response:
    state = _state(request)
    denied = _check_auth(request, state)
    if denied is not None:
        return denied
    record = state.find(request.match_info["sid"])
    if record is None:
        return _error(404, 20404, f"The requested resource {request.path} was not found")
    return web.json_response(record["resource"])


async def sandbox_messages(request: web.Request) -> web.Response:
    state = _state(request)
    to = request.query.get("to")
    sender = request.query.get("from")
    items = [
        _public(record)
        for record in state.messages
        if (to is None or record["resource"]["to"] == to)
        and (sender is None or record["resource"]["from"] == sender)
    ]
    return web.json_response(items)


async def sandbox_wait(request: web.Request) -> web.Response:
    """Long-poll: answer once ``count`` messages to ``to`` are recorded, or after ``timeout`` s
    (``{"count": n, "reached": bool}``)."""
    state = _state(request)
    to = request.query.get("to")
    try:
        count = int(request.query.get("count", "1"))
        timeout = min(float(request.query.get("timeout", "30")), 120.0)
    except ValueError:
        return web.json_response({"error": "count and timeout must be numbers"}, status=400)

    def recorded() -> int:
        return len(state.messages) if to is None else state.per_recipient.get(to, 0)

    with contextlib.suppress(asyncio.TimeoutError):
        await state.arrivals.wait(to, count, recorded, timeout)
    have = recorded()
    return web.json_response({"count": have, "reached": have >= count})


async def sandbox_clear_messages(request: web.Request) -> web.Response:
    _state(request).messages.clear()
    _state(request).per_recipient.clear()
    return web.json_response([])


async def sandbox_callbacks(request: web.Request) -> web.Response:
    return web.json_response(_state(request).callbacks)


async def sandbox_stats(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(
        {**state.stats, "messages": len(state.messages), "faults_pending": len(state.faults)}
    )


async def sandbox_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "service": "fake-twilio"})


# -------------------------------------------------------------------------------- application


def create_app(
    auth_token: str,
    account_sid: str,
    *,
    status_callbacks: bool = True,
    status_delay: float = 0.05,
    seed: int = 0,
) -> web.Application:
    """The fake Twilio API for one account."""
    app = web.Application()
    state = TwilioState(auth_token, account_sid, status_callbacks, status_delay, seed)
    app[STATE_KEY] = state

    async def on_startup(_app: web.Application) -> None:
        state.session = ClientSession(timeout=ClientTimeout(total=10))

    async def on_cleanup(_app: web.Application) -> None:
        for task in list(state.tasks):
            task.cancel()
        for task in list(state.tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if state.session is not None:
            await state.session.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    prefix = f"/{TWILIO_API_VERSION}/Accounts/{{account_sid}}"
    app.router.add_post(prefix + "/Messages.json", create_message)
    app.router.add_get(prefix + "/Messages.json", list_messages)
    app.router.add_get(prefix + "/Messages/{sid}.json", fetch_message)
    app.router.add_post("/v1/Content", create_content)
    app.router.add_get("/v1/Content/{sid}", fetch_content)
    app.router.add_post("/_sandbox/refuse_content", sandbox_refuse_content)
    app.router.add_get("/_sandbox/contents", sandbox_contents)
    add_fault_routes(app, STATE_KEY, FaultRule)
    app.router.add_get("/_sandbox/messages", sandbox_messages)
    app.router.add_get("/_sandbox/wait", sandbox_wait)
    app.router.add_delete("/_sandbox/messages", sandbox_clear_messages)
    app.router.add_get("/_sandbox/callbacks", sandbox_callbacks)
    app.router.add_get("/_sandbox/stats", sandbox_stats)
    app.router.add_get("/_sandbox/health", sandbox_health)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=defaults.FAKE_TWILIO_PORT)
    parser.add_argument("--account-sid", default=defaults.setting("TWILIO_ACCOUNT_SID"))
    parser.add_argument("--auth-token", default=defaults.setting("TWILIO_AUTH_TOKEN"))
    parser.add_argument(
        "--status-callbacks", action=argparse.BooleanOptionalAction, default=True,
        help="POST signed sent/delivered callbacks to each message's StatusCallback",
    )
    parser.add_argument("--status-delay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app(
        args.auth_token,
        args.account_sid,
        status_callbacks=args.status_callbacks,
        status_delay=args.status_delay,
        seed=args.seed,
    )
    # uvloop (installed with Sanic), as our servers run: on the bench the fake shares the
    # machine's two cores with the product it measures, so it should cost little.
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None,
                loop=uvloop.new_event_loop())


if __name__ == "__main__":
    main()
