"""The WeChat webhook's authentication (channels/wechat_auth.py), without a server: signatures
as wechatpy computes them and compared in constant time, safe mode accepting only encrypted
pushes, each with a known-good and a tampered case."""

from __future__ import annotations

import time

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from channels import wechat_auth
from channels.sandbox import defaults, signing
from channels.wechat_auth import Refused, WeChatVerifier, sha1_signature, signature_matches

TOKEN, KEY, APP = defaults.WECHAT_TOKEN, defaults.WECHAT_ENCODING_AES_KEY, defaults.WECHAT_APP_ID
XML = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, "oUser1", "你好", 123)


def push(safe_mode: bool, xml: str = XML, **overrides: str) -> tuple[dict[str, str], bytes]:
    query, body = signing.wechat_push(xml, safe_mode=safe_mode, token=TOKEN,
                                      encoding_aes_key=KEY, app_id=APP)
    query.update(overrides)
    return query, body.encode()


def refusal(verifier: WeChatVerifier, query: dict[str, str], body: bytes) -> tuple[int, str]:
    with pytest.raises(Refused) as caught:
        verifier.verify(query, body)
    return caught.value.status, caught.value.reason


@pytest.mark.parametrize("values", [("test", "1410685589", "test"),
                                    ("789", "456", "123", "密文"), ("", "", "")])
def test_signature_is_wechatpys(values: tuple[str, ...]) -> None:
    signer = WeChatSigner()
    signer.add_data(*values)
    assert sha1_signature(*values) == signer.signature


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every check goes through ``hmac.compare_digest`` (wechatpy's use ``!=``)."""
    calls: list[tuple[bytes, bytes]] = []
    real = wechat_auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(wechat_auth.hmac, "compare_digest", spy)
    verifier = WeChatVerifier(TOKEN, KEY, APP)
    query, body = push(True)
    assert verifier.url_check(query)
    verifier.verify(query, body)
    assert len(calls) == 3  # the URL check, then signature and msg_signature of the POST
    assert all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in calls)


def test_tampered_and_odd_signatures_are_unequal() -> None:
    good = sha1_signature(TOKEN, "1", "2")
    assert signature_matches(good, good)
    assert not signature_matches(good, good[:-1] + ("0" if good[-1] != "0" else "1"))
    assert not signature_matches(good, good.upper())
    assert not signature_matches(good, "")
    assert not signature_matches(good, None)
    assert not signature_matches(good, "签名" * 20)  # non-ASCII: unequal, not an exception


def test_get_url_check() -> None:
    verifier = WeChatVerifier(TOKEN, KEY, APP)
    query, _ = push(False)
    assert verifier.url_check(query)
    assert not verifier.url_check({**query, "signature": "0" * 40})
    assert not verifier.url_check({**query, "nonce": query["nonce"] + "1"})
    assert not verifier.url_check({})


def test_plain_mode_accepts_a_signed_plain_push() -> None:
    verifier = WeChatVerifier(TOKEN, None, APP)
    query, body = push(False)
    verified = verifier.verify(query, body)
    assert verified.xml == body and not verified.encrypted
    assert (verified.timestamp, verified.nonce) == (query["timestamp"], query["nonce"])
    assert refusal(verifier, {**query, "signature": "0" * 40}, body) == (403, "invalid signature")
    stale = push(False, timestamp=str(int(time.time()) - 301))[0]
    stale["signature"] = signing.wechat_signature(TOKEN, stale["timestamp"], stale["nonce"])
    assert refusal(verifier, stale, body)[0] == 403
    assert refusal(verifier, query, b"") == (400, "empty body")
    encrypted_query, encrypted_body = push(True)  # no key to decrypt with: a configuration error
    assert refusal(verifier, encrypted_query, encrypted_body)[0] == 400


def test_safe_mode_accepts_an_encrypted_push_only() -> None:
    verifier = WeChatVerifier(TOKEN, KEY, APP)
    query, body = push(True)
    verified = verifier.verify(query, body)
    assert verified.xml == XML and verified.encrypted
    assert "<Encrypt>" in body.decode() and "你好" not in body.decode()

    plain_query, plain_body = push(False)  # the downgrade: a plain push, validly signed
    status, reason = refusal(verifier, plain_query, plain_body)
    assert status == 403 and "safe mode" in reason
    # encrypt_type=aes claimed, but a plain body (and a msg_signature over nothing)
    claimed = {**plain_query, "encrypt_type": "aes",
               "msg_signature": signing.wechat_msg_signature(
                   TOKEN, plain_query["timestamp"], plain_query["nonce"], "")}
    status, reason = refusal(verifier, claimed, plain_body)
    assert status == 403 and "Encrypt" in reason
    # the encrypted body without encrypt_type: refused, not decrypted or read as plain
    assert refusal(verifier, {k: v for k, v in query.items() if k != "encrypt_type"},
                   body)[0] == 403


def test_safe_mode_tampering_is_refused() -> None:
    verifier = WeChatVerifier(TOKEN, KEY, APP)
    query, body = push(True)
    assert refusal(verifier, {**query, "msg_signature": "0" * 40}, body) == (
        403, "invalid msg_signature")
    assert refusal(verifier, {k: v for k, v in query.items() if k != "msg_signature"},
                   body) == (403, "invalid msg_signature")
    assert refusal(verifier, {**query, "signature": "0" * 40}, body) == (403, "invalid signature")
    # another (validly signed) message's ciphertext under this request's msg_signature
    other_query, other_body = push(True, xml=XML.replace("你好", "再見"))
    assert refusal(verifier, query, other_body)[0] == 403
    # a push encrypted for another official account: signed with our token, wrong app id inside
    crypto = WeChatCrypto(TOKEN, KEY, "wxanotheraccount0")
    envelope = crypto.encrypt_message(XML, query["nonce"], query["timestamp"])
    parts = xmltodict.parse(envelope)["xml"]
    foreign = f"<xml><Encrypt><![CDATA[{parts['Encrypt']}]]></Encrypt></xml>".encode()
    assert refusal(verifier, {**query, "msg_signature": parts["MsgSignature"]}, foreign) == (
        400, "malformed encrypted message")


@pytest.mark.parametrize("body", [b"<xml><broken", b"<notxml>hi</notxml>",
                                  b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                                  b"<xml><Encrypt>&a;</Encrypt></xml>"])
def test_safe_mode_malformed_envelope_is_400(body: bytes) -> None:
    verifier = WeChatVerifier(TOKEN, KEY, APP)
    query, _ = push(True)
    assert refusal(verifier, query, body)[0] == 400


def test_encrypted_reply_decrypts_with_the_requests_nonce() -> None:
    verifier = WeChatVerifier(TOKEN, KEY, APP)
    reply = verifier.encrypt_reply("<xml><Content>hi</Content></xml>", "n1", "1700000000")
    assert signing.wechat_decrypt_reply(TOKEN, KEY, APP, reply) == (
        "<xml><Content>hi</Content></xml>")
