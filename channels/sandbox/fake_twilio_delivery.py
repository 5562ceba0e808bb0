"""The fake Twilio's delivery: each accepted message moves queued → sent → delivered (or a fault's
outcome), and each step is POSTed, signed as Twilio signs, to the message's StatusCallback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from . import defaults
from .fake_twilio_state import FaultRule, TwilioState, rfc2822, utc_now
from .signing import TWILIO_API_VERSION, twilio_signature

log = logging.getLogger(__name__)


async def progress(state: TwilioState, record: dict[str, Any], fault: FaultRule | None) -> None:
    """queued → sent → delivered (or the fault's outcome), with a status callback per step."""
    outcome = fault.outcome if fault is not None else None
    steps = ["failed"] if outcome == "failed" else ["sent", outcome or "delivered"]
    resource = record["resource"]
    for status in steps:
        await asyncio.sleep(state.status_delay)
        now = utc_now()
        resource["status"] = status
        resource["date_updated"] = rfc2822(now)
        if status == "sent":
            record["sent"] = now
            resource["date_sent"] = rfc2822(now)
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
