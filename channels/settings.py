"""Provider settings for the WhatsApp (Twilio) and WeChat channels, from the environment.

Checked at start-up: a channel with some but not all of its credentials is a configuration error
with a message naming what is missing; a channel with none is off (or served by the sandbox's fake
provider, which ``make run`` starts with obviously fake credentials of its own). Secrets are never
part of ``repr`` and never logged.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field

from bot.settings import SettingsError


@dataclass(frozen=True)
class TwilioSettings:
    """``TWILIO_*`` and ``PUBLIC_BASE_URL``."""

    account_sid: str
    auth_token: str = field(repr=False)
    whatsapp_from: str
    api_url: str | None
    public_base_url: str
    template_content_sid: str | None = None
    trust_forwarded: bool = False


@dataclass(frozen=True)
class WeChatSettings:
    """``WECHAT_*`` and ``PUBLIC_BASE_URL``."""

    app_id: str
    app_secret: str = field(repr=False)
    token: str = field(repr=False)
    encoding_aes_key: str | None = field(default=None, repr=False)
    api_url: str | None = None
    reply_wait_seconds: float = 4.5


def _get(name: str) -> str:
    return (os.environ.get(name) or "").strip()


def _require_all(prefix: str, names: list[str]) -> bool:
    present = [n for n in names if _get(n)]
    if present and len(present) != len(names):
        missing = [n for n in names if not _get(n)]
        raise SettingsError(f"{prefix} channel half-configured: set {', '.join(missing)} "
                            f"(or unset {', '.join(present)} to turn the channel off)")
    return bool(present)


def _url(name: str, value: str) -> str:
    if value and not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def load_twilio() -> TwilioSettings | None:
    """The WhatsApp channel's settings, or ``None`` when it is not configured."""
    if not _require_all("WhatsApp", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
                                     "TWILIO_WHATSAPP_FROM", "PUBLIC_BASE_URL"]):
        return None
    sid = _get("TWILIO_ACCOUNT_SID")
    if not (sid.startswith("AC") and len(sid) == 34):
        raise SettingsError("TWILIO_ACCOUNT_SID must look like AC followed by 32 characters")
    sender = _get("TWILIO_WHATSAPP_FROM")
    if not sender.startswith("whatsapp:+"):
        raise SettingsError("TWILIO_WHATSAPP_FROM must look like whatsapp:+14155238886")
    return TwilioSettings(
        account_sid=sid, auth_token=_get("TWILIO_AUTH_TOKEN"), whatsapp_from=sender,
        api_url=_url("TWILIO_API_URL", _get("TWILIO_API_URL")) or None,
        public_base_url=_url("PUBLIC_BASE_URL", _get("PUBLIC_BASE_URL")),
        template_content_sid=_get("TWILIO_TEMPLATE_CONTENT_SID") or None,
        trust_forwarded=_get("TRUST_FORWARDED_HEADERS").lower() in {"1", "true", "yes"},
    )


def load_wechat() -> WeChatSettings | None:
    """The WeChat channel's settings, or ``None`` when it is not configured."""
    if not _require_all("WeChat", ["WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_TOKEN"]):
        return None
    key = _get("WECHAT_ENCODING_AES_KEY") or None
    if key is not None:
        try:
            if len(key) != 43 or len(base64.b64decode(key + "=")) != 32:
                raise ValueError
        except (ValueError, binascii.Error) as exc:
            raise SettingsError("WECHAT_ENCODING_AES_KEY must be the 43-character key from "
                                "the WeChat admin console") from exc
    return WeChatSettings(
        app_id=_get("WECHAT_APP_ID"), app_secret=_get("WECHAT_APP_SECRET"),
        token=_get("WECHAT_TOKEN"), encoding_aes_key=key,
        api_url=_url("WECHAT_API_URL", _get("WECHAT_API_URL")) or None,
        reply_wait_seconds=float(_get("WECHAT_REPLY_WAIT_SECONDS") or 4.5),
    )
