"""Is this request from WeChat? The webhook's checks, in the order they run, before any parsing.

1. ``signature`` = sha1 of the sorted token, timestamp and nonce (WeChat sends it in both modes).
2. ``timestamp`` within ``REPLAY_WINDOW_S`` of our clock.
3. Safe mode (``WECHAT_ENCODING_AES_KEY`` set): only encrypted messages. ``encrypt_type=aes``,
   an ``<Encrypt>`` element and a ``msg_signature`` (sha1 of the sorted token, timestamp, nonce
   and that ciphertext) are required; a plain POST is refused, since its signature covers no
   body and one captured signature would carry any body.
4. The ciphertext is decrypted (AES-256-CBC, the app id inside must be ours).

Signatures are compared with ``hmac.compare_digest``: wechatpy's ``check_signature`` and
``WeChatCrypto`` compare with ``!=``, so the expected value is computed here as wechatpy does
(``WeChatSigner``: the UTF-8 values sorted as bytes, joined, SHA-1 in hex) and only wechatpy's
AES part is used. The replay cache (``channels/core/replay.py``) comes after these checks, in
the webhook: only an authenticated request may claim a (timestamp, nonce).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto

REPLAY_WINDOW_S = 300


class Refused(Exception):
    """The request is not accepted: ``status`` (400/403) and a short reason for the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Verified:
    """An authenticated push: the message XML and how to answer it."""

    xml: bytes | str
    timestamp: str
    nonce: str
    encrypted: bool


def sha1_signature(*values: str) -> str:
    """WeChat's signature of ``values`` (wechatpy's ``WeChatSigner``: sorted bytes, SHA-1)."""
    return hashlib.sha1(b"".join(sorted(v.encode("utf-8") for v in values))).hexdigest()


def signature_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison (bytes, so a non-ASCII forgery is simply unequal)."""
    return hmac.compare_digest(expected.encode("utf-8"), (given or "").encode("utf-8"))


def fresh(timestamp: str, now: float | None = None, window: int = REPLAY_WINDOW_S) -> bool:
    """Whether ``timestamp`` (epoch seconds) is within ``window`` of ``now``."""
    try:
        return abs((time.time() if now is None else now) - int(timestamp)) <= window
    except (TypeError, ValueError):
        return False


def encrypted_part(body: bytes | str) -> str | None:
    """The ``<Encrypt>`` text of a safe-mode envelope; ``None`` when there is none (a plain
    body). ``Refused(400)`` when the body is not WeChat XML at all (xmltodict refuses entities:
    an XML bomb or XXE fails here, before anything is expanded)."""
    try:
        root = xmltodict.parse(body)
    except Exception as exc:  # noqa: BLE001 - ExpatError, ValueError (entities), TypeError...
        raise Refused(400, f"malformed WeChat XML ({type(exc).__name__})") from exc
    if not isinstance(root, dict) or "xml" not in root:
        raise Refused(400, "malformed WeChat XML (no <xml> root)")
    envelope = root["xml"]
    value = envelope.get("Encrypt") if isinstance(envelope, dict) else None
    return value if isinstance(value, str) and value else None


class WeChatVerifier:
    """The checks above for one official account (token, optional AES key, app id)."""

    def __init__(self, token: str, encoding_aes_key: str | None, app_id: str) -> None:
        self.token = token
        self.app_id = app_id
        # wechatpy's key handling (base64 of the 43 characters plus "="); used for AES only.
        self.crypto = WeChatCrypto(token, encoding_aes_key, app_id) if encoding_aes_key else None

    @property
    def safe_mode(self) -> bool:
        return self.crypto is not None

    def url_check(self, args: Mapping[str, Any]) -> bool:
        """The admin console's URL verification (GET): ``signature`` over token/timestamp/nonce."""
        return self._plain_signature_ok(args)

    def _plain_signature_ok(self, args: Mapping[str, Any]) -> bool:
        expected = sha1_signature(self.token, args.get("timestamp") or "",
                                  args.get("nonce") or "")
        return signature_matches(expected, args.get("signature"))

    def verify(self, args: Mapping[str, Any], body: bytes, now: float | None = None) -> Verified:
        """The message of an authenticated POST, or ``Refused``."""
        timestamp, nonce = args.get("timestamp") or "", args.get("nonce") or ""
        if not self._plain_signature_ok(args):
            raise Refused(403, "invalid signature")
        if not fresh(timestamp, now):
            raise Refused(403, "stale timestamp (possible replay)")
        if not body:
            raise Refused(400, "empty body")
        aes = args.get("encrypt_type") == "aes"
        if self.crypto is None:
            if aes:
                raise Refused(400, "safe mode message but WECHAT_ENCODING_AES_KEY is not set")
            return Verified(body, timestamp, nonce, encrypted=False)
        if not aes:
            raise Refused(403, "plain message refused: this account is in safe mode and "
                               "accepts only encrypted messages (encrypt_type=aes)")
        encrypt = encrypted_part(body)
        if encrypt is None:
            raise Refused(403, "plain message refused: safe mode needs an <Encrypt> element")
        expected = sha1_signature(self.token, timestamp, nonce, encrypt)
        if not signature_matches(expected, args.get("msg_signature")):
            raise Refused(403, "invalid msg_signature")
        try:
            xml = PrpCrypto(self.crypto.key).decrypt(encrypt, self.app_id)
        except Exception as exc:  # noqa: BLE001 - bad base64/padding, wrong app id
            raise Refused(400, "malformed encrypted message") from exc
        return Verified(xml, timestamp, nonce, encrypted=True)

    def encrypt_reply(self, xml: str, nonce: str, timestamp: str) -> str:
        """A passive reply as safe mode requires (wechatpy's envelope and msg_signature)."""
        assert self.crypto is not None
        return self.crypto.encrypt_message(xml, nonce, timestamp)
