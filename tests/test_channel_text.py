"""Splitting, numbered options, slash-text, rate limit, provider settings and payload parsing."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError
from channels.core.ratelimit import RateLimiter
from channels.core.text import WORD_JOINER, as_text, chosen_option, render, split, utf8_bytes
from channels.settings import load_twilio, load_wechat
from channels.whatsapp import parse_inbound


class TestSplit:
    def test_short_text_is_one_piece(self) -> None:
        assert split("hello", 1600) == ["hello"]

    def test_paragraphs_first(self) -> None:
        text = "a" * 900 + "\n\n" + "b" * 900
        assert split(text, 1600) == ["a" * 900, "b" * 900]

    def test_sentences_then_hard_cut(self) -> None:
        text = "。".join(["長句子" * 100] * 5)
        pieces = split(text, 2048, utf8_bytes)
        assert all(utf8_bytes(p) <= 2048 for p in pieces)
        assert "".join(pieces).replace("。", "") == text.replace("。", "")
        assert split("x" * 5000, 1600) == ["x" * 1600] * 3 + ["x" * 200]

    def test_empty(self) -> None:
        assert split("   ", 10) == []


def test_slash_text_cannot_trigger_an_intent() -> None:
    assert as_text("/restart") == WORD_JOINER + "/restart"
    assert as_text("  /greet").startswith(WORD_JOINER)
    assert as_text("hello /x") == "hello /x"


def test_buttons_become_numbered_options() -> None:
    bubbles = render(
        [
            {
                "text": "Hi",
                "buttons": [{"title": "A", "payload": "/a"}, {"title": "B", "payload": "/b"}],
            }
        ],
        "en",
    )
    assert bubbles[0].text.startswith("Hi\n\n1. A\n2. B\n")
    assert bubbles[0].options == (("A", "/a"), ("B", "/b"))
    options = [list(o) for o in bubbles[0].options]
    assert chosen_option("2", options) == ["B", "/b"]
    assert chosen_option(" １ ", options) == ["A", "/a"]
    assert chosen_option("3", options) is None
    assert chosen_option("12 tablets", options) is None
    assert chosen_option("1", []) is None


def test_typing_a_button_title_chooses_it() -> None:
    options = [["That's all", "/deny"], ["就係咁多", "/deny_yue"],
               ["Talk to a nurse", "/request_human"]]
    # case and a curly apostrophe
    assert chosen_option("that’s all", options) == ["That's all", "/deny"]
    assert chosen_option("  That's all!  ", options) == ["That's all", "/deny"]
    assert chosen_option("就係咁多。", options) == ["就係咁多", "/deny_yue"]
    assert chosen_option("「就係咁多」", options) == ["就係咁多", "/deny_yue"]
    assert chosen_option("that's all I know about his cancer", options) is None  # more text
    assert chosen_option("", options) is None
    assert chosen_option("That's all", None) is None


def test_rate_limit_refills_and_warns_once() -> None:
    limiter = RateLimiter(per_minute=60, burst=2)
    assert limiter.allow("u", 0) and limiter.allow("u", 0)
    assert not limiter.allow("u", 0)
    assert limiter.first_refusal("u") and not limiter.first_refusal("u")
    assert limiter.allow("u", 1.5)  # one token back after a second
    assert limiter.allow("other", 0)


class TestSettings:
    def test_off_when_unset(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in (
            "TWILIO_ACCOUNT_SID",
            "TWILIO_AUTH_TOKEN",
            "TWILIO_WHATSAPP_FROM",
            "PUBLIC_BASE_URL",
            "WECHAT_APP_ID",
            "WECHAT_APP_SECRET",
            "WECHAT_TOKEN",
        ):
            monkeypatch.delenv(name, raising=False)
        assert load_twilio() is None and load_wechat() is None

    def test_half_configured_is_an_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
        monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
        with pytest.raises(SettingsError, match="TWILIO_AUTH_TOKEN"):
            load_twilio()

    def test_bad_values_named(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", "nope")
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "t")
        monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "whatsapp:+1415")
        monkeypatch.setenv("PUBLIC_BASE_URL", "https://x.example")
        with pytest.raises(SettingsError, match="TWILIO_ACCOUNT_SID"):
            load_twilio()
        monkeypatch.setenv("WECHAT_APP_ID", "wx1")
        monkeypatch.setenv("WECHAT_APP_SECRET", "s")
        monkeypatch.setenv("WECHAT_TOKEN", "t")
        monkeypatch.setenv("WECHAT_ENCODING_AES_KEY", "short")
        with pytest.raises(SettingsError, match="WECHAT_ENCODING_AES_KEY"):
            load_wechat()

    def test_secrets_not_in_repr(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "very-secret-token")
        monkeypatch.setenv("TWILIO_WHATSAPP_FROM", "whatsapp:+14155238886")
        monkeypatch.setenv("PUBLIC_BASE_URL", "https://x.example")
        assert "very-secret-token" not in repr(load_twilio())


def test_whatsapp_form_parsing() -> None:
    parsed = parse_inbound(
        {
            "MessageSid": "SM1",
            "From": "whatsapp:+85291234567",
            "Body": "hi",
            "NumMedia": "1",
            "MediaUrl0": "https://m/1",
            "MediaContentType0": "application/pdf",
        }
    )
    assert parsed["kind"] == "media" and parsed["payload"]["media"][0]["type"] == "application/pdf"
    with pytest.raises(ValueError):
        parse_inbound({"From": "+85291234567", "Body": "hi"})
    odd = parse_inbound({"MessageSid": "SM2", "From": "whatsapp:+1", "NumMedia": "x"})
    assert odd["kind"] == "text"


def test_signature_url_uses_forwarded_headers_only_when_trusted() -> None:
    from types import SimpleNamespace

    from channels.settings import TwilioSettings
    from channels.whatsapp import public_url

    request = SimpleNamespace(
        headers={"x-forwarded-proto": "https", "x-forwarded-host": "evil.example"},
        path="/webhooks/whatsapp/webhook", query_string="",
    )
    base = dict(account_sid="AC" + "1" * 32, auth_token="t", whatsapp_from="whatsapp:+1",
                api_url=None, public_base_url="https://bot.insurer.example")
    assert public_url(request, TwilioSettings(**base)) == (
        "https://bot.insurer.example/webhooks/whatsapp/webhook")
    trusted = TwilioSettings(**base, trust_forwarded=True)
    assert public_url(request, trusted) == "https://evil.example/webhooks/whatsapp/webhook"
