"""The fake Twilio's Messages API: create (validated as Twilio validates, faults applied), list
with Twilio's date filters and paging, fetch one. See ``fake_twilio`` for the endpoints.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re

from aiohttp import web

from .fake_twilio_content import content_body
from .fake_twilio_delivery import progress
from .fake_twilio_state import (
    check_auth,
    rfc2822,
    spawn,
    state_of,
    twilio_error,
    utc_now,
)
from .signing import TWILIO_API_VERSION, twilio_sid

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


def num_segments(body: str, to: str) -> int:
    """Segments as Twilio bills them: 1 for WhatsApp; GSM-7 160/153, else UCS-2 70/67."""
    if to.startswith("whatsapp:") or not body:
        return 1
    if all(ch in _GSM7 or ch in _GSM7_EXT for ch in body):
        units = sum(2 if ch in _GSM7_EXT else 1 for ch in body)
        return 1 if units <= 160 else math.ceil(units / 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def _address_ok(value: str) -> bool:
    return bool(E164.match(value.removeprefix("whatsapp:")))


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


async def create_message(request: web.Request) -> web.Response:
    state = state_of(request)
    state.stats["create_calls"] += 1
    denied = check_auth(request, state)
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
        body = content_body(content["types"])
    callback_ok = not status_callback or re.match(r"^https?://[^\s/]+", status_callback)
    if rejection is None and not callback_ok:
        rejection = (21609, "Invalid StatusCallback url")
    if rejection is not None:
        state.stats["rejected"] += 1
        return twilio_error(400, *rejection)

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
        return twilio_error(
            fault.status,
            fault.code or default_code,
            fault.message or default_message,
            headers=headers,
        )

    now = utc_now()
    sid = twilio_sid("SM")
    uri = f"/{TWILIO_API_VERSION}/Accounts/{state.account_sid}/Messages/{sid}"
    resource = {
        "account_sid": state.account_sid,
        "api_version": TWILIO_API_VERSION,
        "body": body,
        "date_created": rfc2822(now),
        "date_sent": None,
        "date_updated": rfc2822(now),
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
    spawn(state, progress(state, record, fault))
    if fault is not None and fault.delay:
        await asyncio.sleep(fault.delay)
    return web.json_response(resource, status=201)


def _format_seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


async def list_messages(request: web.Request) -> web.Response:
    state = state_of(request)
    state.stats["list_calls"] += 1
    denied = check_auth(request, state)
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
        return twilio_error(400, 20001, "Invalid filter or paging parameter")
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
    state = state_of(request)
    denied = check_auth(request, state)
    if denied is not None:
        return denied
    record = state.find(request.match_info["sid"])
    if record is None:
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
    return web.json_response(record["resource"])
