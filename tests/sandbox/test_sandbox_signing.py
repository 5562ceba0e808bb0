"""Signing helpers against the providers' published test vectors, and the message builders.

Sources of the vectors:
- twilio-python's own suite, tests/unit/test_request_validator.py (token "12345", URL
  https://mycompany.com/myapp.php?foo=1&bar=2, Caller/From +14158675309):
  RSOYDt4T1cUTdK1PDd93/VVr8B8=, and its port and duplicate-parameter variants. The same
  example (same signature) is in the twilio-php "Validate Incoming Requests" documentation.
- Twilio's webhook-security documentation example (same URL and token, Caller/From
  +14158675310): GvWf1cFY/Q7PnoempGyD5oXAezc=, and the later variant on the host example.com:
  L/OH5YylLD5NRKLltdqwSvS0BnU=. Both are quoted as "from Twilio's docs" by many independent
  public projects; here they are also reproduced by twilio's own RequestValidator.
- wechatpy's suite: tests/test_utils.py (check_signature: token "test", timestamp 1410685589,
  nonce "test" → f21891de...; WeChatSigner 789/456/123 → f7c3bc1d...) and tests/test_crypto.py
  (token "123456", EncodingAESKey kWxPEV2U..., id wx49f0ab532d5d035a; decrypt, encrypt with the
  random prefix fixed to "1234567890123456", and the echostr signature).
"""

from __future__ import annotations

import base64
import re

import pytest
import xmltodict
from multidict import MultiDict
from twilio.request_validator import RequestValidator
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from channels.sandbox import defaults, signing

TW_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


def _twilio_params(caller: str) -> dict[str, str]:
    return {
        "CallSid": "CA1234567890ABCDE",
        "Caller": caller,
        "Digits": "1234",
        "From": caller,
        "To": "+18005551212",
    }


# ------------------------------------------------------------------------------------ Twilio


@pytest.mark.parametrize(
    ("url", "caller", "expected"),
    [
        # twilio-python tests/unit/test_request_validator.py (and twilio-php's docs)
        (TW_URL, "+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        # same suite: the URL with the https default port, and http with port 80 / port 1234
        (TW_URL.replace(".com", ".com:443"), "+14158675309", "kvajT1Ptam85bY51eRf/AJRuM3w="),
        (
            TW_URL.replace("https", "http").replace(".com", ".com:80"),
            "+14158675309",
            "0ZXoZLH/DfblKGATFgpif+LLRf4=",
        ),
        (
            TW_URL.replace("https", "http").replace(".com", ".com:1234"),
            "+14158675309",
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
        ),
        # Twilio's security documentation example (the vector the brief names)
        (TW_URL, "+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc="),
        # the current documentation, host example.com
        ("https://example.com/myapp.php?foo=1&bar=2", "+14158675310",
         "L/OH5YylLD5NRKLltdqwSvS0BnU="),
    ],
)
def test_twilio_signature_matches_published_vectors(url: str, caller: str, expected: str) -> None:
    assert signing.twilio_signature("12345", url, _twilio_params(caller)) == expected


def test_twilio_signature_vector_is_what_the_validator_accepts() -> None:
    params = _twilio_params("+14158675310")
    validator = RequestValidator("12345")
    assert validator.validate(TW_URL, params, "GvWf1cFY/Q7PnoempGyD5oXAezc=")
    tampered = {**params, "Digits": "9999"}
    assert not validator.validate(TW_URL, tampered, "GvWf1cFY/Q7PnoempGyD5oXAezc=")
    http_url = TW_URL.replace("https", "http")
    assert not validator.validate(http_url, params, "GvWf1cFY/Q7PnoempGyD5oXAezc=")


def test_twilio_signature_with_repeated_parameters() -> None:
    # twilio-python tests/unit/test_request_validator.py, duplicate MultiDict case
    params = MultiDict(
        [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    )
    assert signing.twilio_signature("12345", TW_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_twilio_inbound_text_form() -> None:
    form = signing.twilio_inbound_form("+85291234567", body="你好 hello")
    assert form["From"] == "whatsapp:+85291234567"
    assert form["To"] == defaults.TWILIO_WHATSAPP_FROM
    assert form["WaId"] == "85291234567"
    assert form["Body"] == "你好 hello"
    assert re.fullmatch(r"SM[0-9a-f]{32}", form["MessageSid"])
    assert form["SmsSid"] == form["SmsMessageSid"] == form["MessageSid"]
    assert form["AccountSid"] == defaults.TWILIO_ACCOUNT_SID
    assert form["NumMedia"] == "0"
    assert form["SmsStatus"] == "received"
    assert form["ApiVersion"] == "2010-04-01"
    assert form["ProfileName"]
    assert "MediaUrl0" not in form


def test_twilio_inbound_media_form_and_extras() -> None:
    form = signing.twilio_inbound_form(
        "whatsapp:+85291234567",
        "whatsapp:+14155238886",
        "",
        media=[("https://api.twilio.com/media/ME1", "image/jpeg")],
        ButtonPayload="yes",
    )
    assert form["From"] == "whatsapp:+85291234567"
    assert re.fullmatch(r"MM[0-9a-f]{32}", form["MessageSid"])
    assert form["NumMedia"] == "1"
    assert form["MediaUrl0"] == "https://api.twilio.com/media/ME1"
    assert form["MediaContentType0"] == "image/jpeg"
    assert form["MessageType"] == "image"
    assert form["ButtonPayload"] == "yes"


def test_signed_inbound_form_validates_with_twilio() -> None:
    url = "https://bot.example.org/webhooks/whatsapp/webhook"
    form = signing.twilio_inbound_form("+85291234567", body="hi")
    signature = signing.twilio_signature(defaults.TWILIO_AUTH_TOKEN, url, form)
    validator = RequestValidator(defaults.TWILIO_AUTH_TOKEN)
    assert validator.validate(url, form, signature)
    assert not validator.validate(url, {**form, "Body": "hi!"}, signature)
    assert not validator.validate(url.replace("https", "http"), form, signature)


# ------------------------------------------------------------------------------------ WeChat


def test_wechat_signature_vector_from_wechatpy() -> None:
    # wechatpy tests/test_utils.py::test_check_signature_should_ok
    assert signing.wechat_signature("test", 1410685589, "test") == (
        "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"
    )
    check_signature("test", signing.wechat_signature("test", "1410685589", "test"),
                    "1410685589", "test")
    with pytest.raises(InvalidSignatureException):
        check_signature("test", "f21891de399b4e33a1a93c9a7b8a8fffb5a443fe", "1410685589", "test")


def test_wechat_signer_vector_from_wechatpy() -> None:
    # wechatpy tests/test_utils.py::test_wechat_card_signer: sha1 of the sorted values
    assert signing.wechat_signature("789", "456", "123") == (
        "f7c3bc1d808e04732adf679965ccc34ca7ae3441"
    )


CRYPTO_TOKEN = "123456"
CRYPTO_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
CRYPTO_ID = "wx49f0ab532d5d035a"
ENCRYPTED = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHC"
    "rsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpX"
    "aG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQi"
    "MS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQi"
    "pvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)


def test_wechat_msg_signature_vector_from_wechatpy() -> None:
    # wechatpy tests/test_crypto.py::test_check_signature_should_ok (the echostr check)
    echo_str = (
        "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="
    )
    assert signing.wechat_msg_signature(CRYPTO_TOKEN, "1411443780", "437374425", echo_str) == (
        "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96"
    )
    # and the signature of the decrypt vector below
    assert signing.wechat_msg_signature(CRYPTO_TOKEN, "1411525903", "461056294", ENCRYPTED) == (
        "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
    )


def test_wechat_decrypt_vector_from_wechatpy() -> None:
    # wechatpy tests/test_crypto.py::test_decrypt_message, through the official-account class
    xml = (
        "<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>\n"
        f"<Encrypt><![CDATA[{ENCRYPTED}]]></Encrypt>\n"
        "<AgentID><![CDATA[1]]></AgentID>\n</xml>"
    )
    plain = signing.wechat_decrypt(
        CRYPTO_TOKEN, CRYPTO_KEY, CRYPTO_ID, xml,
        "74d92dfeb87ba7c714f89d98870ae5eb62dff26d", "1411525903", "461056294",
    )
    message = xmltodict.parse(plain)["xml"]
    assert message["Content"] == "test"
    assert message["FromUserName"] == "messense"
    with pytest.raises(InvalidSignatureException):
        signing.wechat_decrypt(
            CRYPTO_TOKEN, CRYPTO_KEY, CRYPTO_ID, xml,
            "74d92dfeb87ba7c714f89d98870ae5eb62dff26e", "1411525903", "461056294",
        )


def test_wechat_encrypt_vector_from_wechatpy(monkeypatch: pytest.MonkeyPatch) -> None:
    # wechatpy tests/test_crypto.py::test_encrypt_message: fixed 16-byte random prefix
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: "1234567890123456")
    reply = (
        "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
        "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"
        "<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"
        "<CreateTime>1411525903</CreateTime>\n</xml>"
    )
    body, msg_signature = signing.wechat_encrypt(
        CRYPTO_TOKEN, CRYPTO_KEY, CRYPTO_ID, reply, "461056294", "1411525903"
    )
    envelope = xmltodict.parse(body)["xml"]
    assert envelope["Encrypt"] == (
        "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNc"
        "BqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY"
        "0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsV"
        "bwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAG"
        "VRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
    )
    assert msg_signature == "407518b7649e86ef23978113f92d27afa9296533"
    assert envelope["ToUserName"] == "messense"


def test_wechat_safe_mode_round_trip_with_sandbox_key() -> None:
    xml = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, "oUser", "我想預約 ]]> <b>")
    body, msg_signature = signing.wechat_encrypt(
        defaults.WECHAT_TOKEN, defaults.WECHAT_ENCODING_AES_KEY, defaults.WECHAT_APP_ID,
        xml, "12345", 1700000000,
    )
    crypto = WeChatCrypto(
        defaults.WECHAT_TOKEN, defaults.WECHAT_ENCODING_AES_KEY, defaults.WECHAT_APP_ID
    )
    assert crypto.decrypt_message(body, msg_signature, "1700000000", "12345") == xml
    assert parse_message(xml).content == "我想預約 ]]> <b>"


# ------------------------------------------------------------------------------ XML builders


def test_text_xml_parses_with_wechatpy() -> None:
    xml = signing.wechat_text_xml("gh_abc", "oUser", "你好 <&> ]]>x", 1234567890123456, 1700000000)
    message = parse_message(xml)
    assert message.type == "text"
    assert message.content == "你好 <&> ]]>x"
    assert message.source == "oUser"
    assert message.target == "gh_abc"
    assert message.id == 1234567890123456
    assert message.time == 1700000000


def test_menu_tap_text_xml_keeps_the_option_id() -> None:
    xml = signing.wechat_text_xml("gh_abc", "oUser", "Yes", bizmsgmenuid="101")
    assert xmltodict.parse(xml)["xml"]["bizmsgmenuid"] == "101"
    assert parse_message(xml).content == "Yes"


@pytest.mark.parametrize(
    ("event", "key", "expected_type"),
    [("subscribe", None, "subscribe"), ("unsubscribe", None, "unsubscribe"),
     ("CLICK", "MENU_BOOK", "click")],
)
def test_event_xml_parses_with_wechatpy(event: str, key: str | None, expected_type: str) -> None:
    message = parse_message(signing.wechat_event_xml("gh_abc", "oUser", event=event, event_key=key))
    assert message.type == "event"
    assert message.event == expected_type
    assert message.source == "oUser"
    if key:
        assert message.key == key


def test_image_voice_location_xml_parse_with_wechatpy() -> None:
    image = parse_message(signing.wechat_image_xml("gh_abc", "oUser", "http://127.0.0.1/p.jpg"))
    assert image.type == "image"
    assert image.image == "http://127.0.0.1/p.jpg"
    assert image.media_id
    voice = parse_message(signing.wechat_voice_xml("gh_abc", "oUser", recognition="我頭痛"))
    assert voice.type == "voice"
    assert voice.recognition == "我頭痛"
    assert voice.format == "amr"
    silent = parse_message(signing.wechat_voice_xml("gh_abc", "oUser"))
    assert silent.recognition is None
    location = parse_message(
        signing.wechat_location_xml("gh_abc", "oUser", 22.2819, 114.1582, "中環")
    )
    assert location.type == "location"
    assert location.location == ("22.2819", "114.1582")
    assert location.label == "中環"
    assert location.scale == "15"


# ---------------------------------------------------------------------------------- defaults


def test_sandbox_credentials_are_well_formed_and_obviously_fake() -> None:
    assert re.fullmatch(r"AC[0-9a-f]{32}", defaults.TWILIO_ACCOUNT_SID)
    assert set(defaults.TWILIO_ACCOUNT_SID[2:]) == {"0"}
    assert "not-a-secret" in defaults.TWILIO_AUTH_TOKEN
    assert "not-a-secret" in defaults.WECHAT_APP_SECRET
    assert len(defaults.WECHAT_ENCODING_AES_KEY) == 43
    key = base64.b64decode(defaults.WECHAT_ENCODING_AES_KEY + "=")
    assert key == b"sandbox-aes-key-not-a-secret-000"
    WeChatCrypto(defaults.WECHAT_TOKEN, defaults.WECHAT_ENCODING_AES_KEY, defaults.WECHAT_APP_ID)


def test_setting_prefers_a_non_empty_environment_value() -> None:
    assert defaults.setting("WECHAT_TOKEN", {}) == defaults.WECHAT_TOKEN
    assert defaults.setting("WECHAT_TOKEN", {"WECHAT_TOKEN": ""}) == defaults.WECHAT_TOKEN
    assert defaults.setting("WECHAT_TOKEN", {"WECHAT_TOKEN": "real"}) == "real"
