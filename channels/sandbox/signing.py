"""Sign and build webhook requests exactly as Twilio and WeChat do, for players and tests.

Every signature here is computed by the providers' own libraries (twilio's ``RequestValidator``,
wechatpy's ``WeChatSigner`` and ``WeChatCrypto``), so a request built here passes the same checks
a real one does, and fails them for the same reasons.

Twilio: ``X-Twilio-Signature`` is base64(HMAC-SHA1(auth_token, url + name1 + value1 + ...)), the
parameters sorted by name. The URL is the one Twilio was told to call (scheme, host, port, path
and query as configured), not the one the server sees behind a proxy.

WeChat: the plain ``signature`` query parameter is sha1 of the sorted concatenation of token,
timestamp and nonce. In safe mode (``encrypt_type=aes``) the body carries ``<Encrypt>``, an
AES-256-CBC ciphertext of (16 random bytes, length, xml, app id), and ``msg_signature`` is sha1
of the sorted token, timestamp, nonce and that ciphertext. A product with an AES key accepts
only safe-mode pushes (``channels/wechat_auth.py``): ``wechat_push`` builds either kind.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

import xmltodict
from twilio.request_validator import RequestValidator
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from . import defaults

TWILIO_API_VERSION = "2010-04-01"


# --------------------------------------------------------------------------------------- Twilio


def twilio_signature(auth_token: str, url: str, params: Mapping[str, Any] | None) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a POST of ``params`` to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, params or {})


def twilio_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two capital letters and 32 lowercase hex digits."""
    return prefix + secrets.token_hex(16)


def whatsapp_address(number: str) -> str:
    """``+852...`` or ``whatsapp:+852...`` as Twilio writes a WhatsApp address."""
    number = number.strip()
    return number if number.startswith("whatsapp:") else "whatsapp:" + number


def twilio_inbound_form(
    from_: str,
    to: str | None = None,
    body: str = "",
    message_sid: str | None = None,
    num_media: int = 0,
    media: Iterable[tuple[str, str]] = (),
    *,
    account_sid: str | None = None,
    profile_name: str = "Sandbox User",
    **extra: str,
) -> dict[str, str]:
    """The form parameters Twilio POSTs to the incoming-message webhook for a WhatsApp message.

    ``from_`` is the user (``+85291234567`` or ``whatsapp:+85291234567``), ``to`` the business
    sender (default ``TWILIO_WHATSAPP_FROM``). A message with media gets an ``MM`` SID, one
    without an ``SM`` SID, as Twilio does. ``media`` is a list of ``(url, content_type)``;
    ``num_media`` defaults to its length. ``extra`` adds or overrides parameters (``ButtonText``,
    ``ButtonPayload``, ``OriginalRepliedMessageSid``, ``Latitude``...).
    """
    media = list(media)
    num_media = max(num_media, len(media))
    sender = whatsapp_address(from_)
    recipient = whatsapp_address(to or defaults.setting("TWILIO_WHATSAPP_FROM"))
    sid = message_sid or twilio_sid("MM" if num_media else "SM")
    account = account_sid or defaults.setting("TWILIO_ACCOUNT_SID")
    form: dict[str, str] = {
        "SmsMessageSid": sid,
        "NumMedia": str(num_media),
        "ProfileName": profile_name,
        "MessageType": (media[0][1].split("/")[0] if media else "text"),
        "SmsSid": sid,
        "WaId": sender.removeprefix("whatsapp:").lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": recipient,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": account,
        "From": sender,
        "ApiVersion": TWILIO_API_VERSION,
    }
    for index, (url, content_type) in enumerate(media):
        form[f"MediaContentType{index}"] = content_type
        form[f"MediaUrl{index}"] = url
    form.update({key: str(value) for key, value in extra.items()})
    return form


# --------------------------------------------------------------------------------------- WeChat


def wechat_signature(token: str, timestamp: str | int, nonce: str) -> str:
    """The ``signature`` query parameter WeChat sends (checked by ``utils.check_signature``)."""
    signer = WeChatSigner()
    signer.add_data(token, str(timestamp), nonce)
    return signer.signature


def wechat_msg_signature(token: str, timestamp: str | int, nonce: str, encrypt: str) -> str:
    """The ``msg_signature`` of a safe-mode message whose ``<Encrypt>`` is ``encrypt``."""
    signer = WeChatSigner()
    signer.add_data(token, str(timestamp), nonce, encrypt)
    return signer.signature


def wechat_encrypt(
    token: str,
    encoding_aes_key: str,
    app_id: str,
    xml: str,
    nonce: str,
    timestamp: str | int,
) -> tuple[str, str]:
    """Encrypt an inbound message as WeChat does in safe mode.

    Returns ``(body, msg_signature)``: the body WeChat POSTs
    (``<xml><ToUserName/><Encrypt/></xml>``) and the ``msg_signature`` query parameter.
    ``WeChatCrypto.decrypt_message`` with the same token, key and app id recovers ``xml``.
    """
    crypto = WeChatCrypto(token, encoding_aes_key, app_id)
    reply = xmltodict.parse(crypto.encrypt_message(xml, nonce, str(timestamp)))["xml"]
    encrypt = reply["Encrypt"]
    msg_signature = reply["MsgSignature"]
    try:  # a hostile or broken message (tests) is encrypted all the same, without a ToUserName
        to_user = xmltodict.parse(xml)["xml"].get("ToUserName") or ""
    except Exception:  # noqa: BLE001 - ExpatError, ValueError (entities), TypeError, KeyError
        to_user = ""
    body = (
        "<xml>\n"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>\n"
        f"<Encrypt>{_cdata(encrypt)}</Encrypt>\n"
        "</xml>"
    )
    return body, msg_signature


def wechat_push(
    xml: str,
    *,
    safe_mode: bool,
    token: str | None = None,
    encoding_aes_key: str | None = None,
    app_id: str | None = None,
    timestamp: str | int | None = None,
    nonce: str | None = None,
    openid: str | None = None,
) -> tuple[dict[str, str], str]:
    """``(query parameters, body)`` of the POST WeChat makes to push ``xml``: ``signature``,
    ``timestamp`` and ``nonce`` always (and ``openid`` when given); in safe mode the body is the
    encrypted envelope and ``encrypt_type=aes`` and ``msg_signature`` are added. Credentials
    default to the environment's, else the sandbox's."""
    token = token or defaults.setting("WECHAT_TOKEN")
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or wechat_nonce()
    query = {"signature": wechat_signature(token, timestamp, nonce), "timestamp": timestamp,
             "nonce": nonce}
    if openid is not None:
        query["openid"] = openid
    if not safe_mode:
        return query, xml
    body, msg_signature = wechat_encrypt(
        token, encoding_aes_key or defaults.setting("WECHAT_ENCODING_AES_KEY"),
        app_id or defaults.setting("WECHAT_APP_ID"), xml, nonce, timestamp)
    query.update(encrypt_type="aes", msg_signature=msg_signature)
    return query, body


def wechat_decrypt(
    token: str, encoding_aes_key: str, app_id: str, xml: str, msg_signature: str,
    timestamp: str | int, nonce: str,
) -> str:
    """Check ``msg_signature`` and decrypt a safe-mode message (raises on a bad signature)."""
    crypto = WeChatCrypto(token, encoding_aes_key, app_id)
    return crypto.decrypt_message(xml, msg_signature, str(timestamp), nonce)


def wechat_decrypt_reply(token: str, encoding_aes_key: str, app_id: str, xml: str) -> str:
    """Decrypt a passive reply in safe mode: its own ``<MsgSignature>``, ``<TimeStamp>`` and
    ``<Nonce>`` carry what is needed to check it."""
    envelope = xmltodict.parse(xml)["xml"]
    return wechat_decrypt(
        token, encoding_aes_key, app_id, xml, envelope["MsgSignature"],
        envelope["TimeStamp"], envelope["Nonce"],
    )


def wechat_nonce() -> str:
    return str(secrets.randbelow(10**9))


def wechat_msg_id() -> int:
    """A 64-bit message id as WeChat assigns (they are around 2.4e16 in 2024)."""
    return 24_000_000_000_000_000 + secrets.randbelow(10**15)


def _cdata(value: Any) -> str:
    # "]]>" cannot appear inside a CDATA section: close it, emit ]]>, reopen.
    text = "" if value is None else str(value)
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml(fields: list[tuple[str, Any, bool]]) -> str:
    """``fields`` is (name, value, as_cdata); WeChat writes strings as CDATA, numbers bare."""
    lines = ["<xml>"]
    for name, value, as_cdata in fields:
        lines.append(f"<{name}>{_cdata(value) if as_cdata else value}</{name}>")
    lines.append("</xml>")
    return "\n".join(lines)


def _head(to_user: str, from_user: str, create_time: int | None, msg_type: str):
    return [
        ("ToUserName", to_user, True),
        ("FromUserName", from_user, True),
        ("CreateTime", int(create_time if create_time is not None else time.time()), False),
        ("MsgType", msg_type, True),
    ]


def wechat_text_xml(
    to_user: str, from_user: str, content: str, msg_id: int | None = None,
    create_time: int | None = None, bizmsgmenuid: str | None = None,
) -> str:
    """A text message as WeChat pushes it (``to_user`` is the account's gh_ id, ``from_user``
    the user's openid). ``bizmsgmenuid`` is set when the user tapped an option of a ``msgmenu``
    customer-service message: WeChat then sends the option's text with the option's id."""
    fields = _head(to_user, from_user, create_time, "text") + [
        ("Content", content, True),
        ("MsgId", msg_id or wechat_msg_id(), False),
    ]
    if bizmsgmenuid is not None:
        fields.append(("bizmsgmenuid", bizmsgmenuid, False))
    return _xml(fields)


def wechat_event_xml(
    to_user: str, from_user: str, event: str = "subscribe", event_key: str | None = None,
    create_time: int | None = None,
) -> str:
    """An event push (``subscribe``, ``unsubscribe``, ``CLICK``...); events have no MsgId."""
    fields = _head(to_user, from_user, create_time, "event") + [("Event", event, True)]
    if event_key is not None:
        fields.append(("EventKey", event_key, True))
    return _xml(fields)


def wechat_image_xml(
    to_user: str, from_user: str, pic_url: str, media_id: str | None = None,
    msg_id: int | None = None, create_time: int | None = None,
) -> str:
    return _xml(
        _head(to_user, from_user, create_time, "image")
        + [
            ("PicUrl", pic_url, True),
            ("MsgId", msg_id or wechat_msg_id(), False),
            ("MediaId", media_id or "sandbox-media-" + secrets.token_hex(8), True),
        ]
    )


def wechat_voice_xml(
    to_user: str, from_user: str, recognition: str | None = None, media_id: str | None = None,
    fmt: str = "amr", msg_id: int | None = None, create_time: int | None = None,
) -> str:
    """A voice message; ``recognition`` is WeChat's speech-to-text (present only when the
    account has recognition switched on)."""
    fields = _head(to_user, from_user, create_time, "voice") + [
        ("MediaId", media_id or "sandbox-media-" + secrets.token_hex(8), True),
        ("Format", fmt, True),
        ("MsgId", msg_id or wechat_msg_id(), False),
    ]
    if recognition is not None:
        fields.append(("Recognition", recognition, True))
    return _xml(fields)


def wechat_location_xml(
    to_user: str, from_user: str, latitude: float, longitude: float, label: str = "",
    scale: int = 15, msg_id: int | None = None, create_time: int | None = None,
) -> str:
    """A location message: ``Location_X`` is the latitude, ``Location_Y`` the longitude."""
    return _xml(
        _head(to_user, from_user, create_time, "location")
        + [
            ("Location_X", latitude, False),
            ("Location_Y", longitude, False),
            ("Scale", scale, False),
            ("Label", label, True),
            ("MsgId", msg_id or wechat_msg_id(), False),
        ]
    )
