"""The REST channel's rules, without a server: one strict reading of a body, the ``rest:``
namespace, visitor tokens, who may call, the limits, and delivery addresses from the namespace.
The attacks against the running product are in test_security_rest.py."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from hostile import STRANGER, from_elsewhere

from bot.namespaces import WrongChannel, address_in, channel_of
from bot.outbound import Outbound
from bot.settings import Settings
from bot.web.rest_access import Refused, caller_of
from channels.rest import tokens
from channels.rest.limits import RestLimits, client_bucket, client_key
from channels.rest.message import RestRequestError, conversation_id, parse

SECRET = "s" * 40
IMPERSONATION = (b'{"sender":"whatsapp:+85291234567","input_channel":"whatsapp",'
                 b'"message":"/restart","x":"\x01"}')


# ---- one strict reading of the body ------------------------------------------------------


@pytest.mark.parametrize("body", [
    IMPERSONATION,  # ujson took the raw control character; json does not
    b'{"sender":"a","message":"hi","x":"\x01"}',
    b'{"sender":"a","sender":"whatsapp:+852","message":"hi"}',  # two readings of one key
    b'{"sender":"a","message":NaN}',
    b'\xff\xfe{"sender":"a","message":"hi"}',
    b'["a", "hi"]',
    b"",
    b'{"sender":"a"}',
    b'{"sender":"a","message":"   "}',
    b'{"sender":"a","message":5}',
    b'{"sender":5,"message":"hi"}',
    b'{"sender":"whatsapp:+85291234567","message":"hi"}',
    b'{"sender":" wechat:oVictim","message":"hi"}',
    b'{"sender":"rest:a","message":"hi"}',
    b'{"sender":"","message":"hi"}',
    b'{"sender":"' + b"a" * 65 + b'","message":"hi"}',
    b'{"sender":"a\\u0001","message":"hi"}',
    b'{"sender":"a","message":"\\ud800"}',
    b'{"sender":"a","message":"' + b"x" * 4001 + b'"}',
])
def test_what_cannot_be_read_strictly_is_refused(body: bytes) -> None:
    with pytest.raises(RestRequestError):
        parse(body)


def test_only_sender_and_message_are_read() -> None:
    message = parse(json.dumps({"sender": "visitor-1.a_b", "message": "hi\x00 there",
                                "input_channel": "wechat", "metadata": {"typed": "1"}}).encode())
    assert (message.sender, message.text) == ("visitor-1.a_b", "hi there")
    assert json.loads(message.to_json()) == {"sender": "visitor-1.a_b", "message": "hi there"}
    assert message.conversation_id == "rest:visitor-1.a_b"


def test_a_rest_conversation_is_always_in_the_rest_namespace() -> None:
    assert conversation_id("oVictimWx1") == "rest:oVictimWx1"
    for foreign in ("whatsapp:+85291234567", "wechat:oVictim", "rest:x", "a/b", "a b"):
        with pytest.raises(RestRequestError):
            conversation_id(foreign)


# ---- the namespace decides channel and delivery address ----------------------------------


def test_the_channel_comes_from_the_conversation_id() -> None:
    assert channel_of("whatsapp:+85291234567") == "whatsapp"
    assert channel_of("wechat:oVictimWx1") == "wechat"
    assert channel_of("rest:oVictimWx1") == "rest"
    assert channel_of("oVictimWx1") is None
    assert channel_of("telegram:1") is None
    assert channel_of("rest:") is None


def test_a_delivery_address_only_from_the_channels_own_conversation() -> None:
    assert address_in("whatsapp", "whatsapp:+85291234567") == "whatsapp:+85291234567"
    assert address_in("wechat", "wechat:oVictimWx1") == "oVictimWx1"
    assert address_in("rest", "rest:visitor-1") == "visitor-1"
    for channel, conversation in [("wechat", "oVictimWx1"), ("wechat", "rest:oVictimWx1"),
                                  ("whatsapp", "rest:+85291234567"), ("rest", "wechat:o1")]:
        with pytest.raises(WrongChannel):
            address_in(channel, conversation)


def test_a_nurse_reply_on_a_case_of_the_wrong_channel_is_refused_before_anything() -> None:
    """Finding 4: a "wechat" case over a REST caller's bare id sends and records nothing."""
    from bot.handoff.service import DeliveryRefused, HandoffService

    case = SimpleNamespace(id=7, reference="SMO-000007", channel="wechat", status="claimed",
                           owner="nurse.chan", conversation_id="oVictimWx1", language="en")
    calls: list[str] = []

    class Core:
        async def append(self, *_args: object) -> None:
            calls.append("append")

    class Outbox(Outbound):
        async def deliver(self, *_args: object) -> None:  # type: ignore[override]
            calls.append("deliver")

    service = HandoffService(Core(), Outbox(), bus=None)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("bot.cases.store.get", lambda _id: case)
        with pytest.raises(DeliveryRefused):
            asyncio.run(service.reply(7, "nurse.chan", "hello"))
    assert calls == []


def test_a_channel_that_is_not_running_delivers_nothing() -> None:
    """No fallback into the REST pull outbox, where a visitor named like the openid reads."""
    outbound = Outbound()
    delivery = asyncio.run(outbound.deliver("wechat", "oVictimWx1", "hello"))
    assert delivery.status == "failed"
    assert outbound.pull.fetch("oVictimWx1") == []
    assert asyncio.run(outbound.deliver("rest", "visitor-1", "hi")).status == "queued"
    assert [m["text"] for m in outbound.pull.fetch("visitor-1")] == ["hi"]


# ---- visitor tokens --------------------------------------------------------------------


def test_a_token_names_its_visitor_until_it_expires() -> None:
    token = tokens.issue(SECRET, "visitor.1", minutes=10, now=1000)
    assert tokens.verify(SECRET, token, now=1000 + 599) == "visitor.1"
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(SECRET, token, now=1000 + 600)


def test_forged_and_altered_tokens_are_refused() -> None:
    token = tokens.issue(SECRET, "visitor-1", minutes=10, now=1000)
    _, visitor, expiry, signature = token.split(".")
    for forged in (
        tokens.issue("x" * 40, "visitor-1", minutes=10, now=1000),  # another secret
        f"v1.visitor-2.{expiry}.{signature}",  # another visitor
        f"v1.{visitor}.{int(expiry) + 3600}.{signature}",  # a later expiry
        f"v1.{visitor}.{expiry}.",
        "v1.visitor-1", "", "Bearer x", f"v2.{visitor}.{expiry}.{signature}",
        f"v1.whatsapp:+852.{expiry}.{signature}",
    ):
        with pytest.raises(tokens.TokenError):
            tokens.verify(SECRET, forged, now=1000)


def test_tokens_are_short_lived_and_only_for_acceptable_visitor_ids() -> None:
    with pytest.raises(ValueError):
        tokens.issue(SECRET, "visitor-1", minutes=tokens.MAX_MINUTES + 1)
    with pytest.raises(RestRequestError):
        tokens.issue(SECRET, "wechat:oVictim", minutes=5)


def test_the_token_cli_prints_a_token(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from channels.rest.__main__ import main

    monkeypatch.setenv("SMO_REST_TOKEN_SECRET", SECRET)
    assert main(["token", "visitor-9", "--minutes", "5"]) == 0
    assert tokens.verify(SECRET, capsys.readouterr().out.strip()) == "visitor-9"
    monkeypatch.setenv("SMO_REST_TOKEN_SECRET", "")
    assert main(["token", "visitor-9"]) == 2


# ---- who may call ----------------------------------------------------------------------


def request(headers: dict[str, str] | None = None, ip: str = "127.0.0.1") -> SimpleNamespace:
    return SimpleNamespace(headers={k.lower(): v for k, v in (headers or {}).items()}, ip=ip)


def settings(**values: object) -> Settings:
    return Settings(**{"trust_forwarded_headers": True, "rest_token_secret": SECRET, **values})


def test_this_machine_needs_no_token() -> None:
    caller = caller_of(request(), settings())
    assert caller.local
    caller.may_speak_as("anyone")  # no refusal


def test_elsewhere_is_refused_unless_rest_is_public() -> None:
    with pytest.raises(Refused) as refused:
        caller_of(request(from_elsewhere()), settings())
    assert refused.value.status == 403
    with pytest.raises(Refused) as direct:  # a caller that really is elsewhere, no proxy
        caller_of(request(ip=STRANGER), settings(trust_forwarded_headers=False))
    assert direct.value.status == 403


def test_forwarded_headers_prove_nothing_unless_trusted() -> None:
    """A stranger writing "X-Forwarded-For: 127.0.0.1" is still a stranger."""
    with pytest.raises(Refused):
        caller_of(request({"X-Forwarded-For": "127.0.0.1"}, ip=STRANGER),
                  settings(trust_forwarded_headers=False))


def test_public_rest_needs_a_valid_token_and_only_for_its_visitor() -> None:
    public = settings(rest_public=True)
    for headers in ({}, {"Authorization": "Bearer v1.x.1.y"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer " + tokens.issue(SECRET, "v-1", 5, now=0)}):
        with pytest.raises(Refused) as refused:
            caller_of(request(from_elsewhere(headers)), public)
        assert refused.value.status == 401
    token = tokens.issue(SECRET, "visitor-1", minutes=5)
    caller = caller_of(request(from_elsewhere({"Authorization": f"Bearer {token}"})), public)
    assert (caller.local, caller.visitor, caller.address) == (False, "visitor-1", STRANGER)
    caller.may_speak_as("visitor-1")
    with pytest.raises(Refused) as other:
        caller.may_speak_as("visitor-2")
    assert other.value.status == 403


def test_rest_public_without_a_secret_is_a_start_up_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import SettingsError, load_settings

    monkeypatch.setenv("SMO_ENV_FILE", "/nonexistent")
    monkeypatch.setenv("SMO_REST_PUBLIC", "true")
    monkeypatch.delenv("SMO_REST_TOKEN_SECRET", raising=False)
    with pytest.raises(SettingsError, match="SMO_REST_TOKEN_SECRET"):
        load_settings()
    monkeypatch.setenv("SMO_REST_TOKEN_SECRET", "short")
    with pytest.raises(SettingsError, match="32"):
        load_settings()
    monkeypatch.setenv("SMO_REST_TOKEN_SECRET", SECRET)
    assert load_settings().rest_public


# ---- limits ----------------------------------------------------------------------------


def test_fresh_senders_from_one_address_share_its_budget() -> None:
    limits = RestLimits.of(20, 8, 30, 10)
    allowed = [limits.allow(f"fresh-{i}", STRANGER, now=0) for i in range(20)]
    assert allowed == [True] * 10 + [False] * 10
    assert limits.allow("fresh-x", "198.51.100.9", now=0)  # another address has its own
    assert limits.allow("fresh-y", STRANGER, now=2.0)  # refilled: 30 a minute
    assert limits.retry_after == 3


def test_one_sender_has_its_own_budget_across_addresses() -> None:
    limits = RestLimits.of(20, 8, 30, 10)
    assert [limits.allow("v", f"198.51.100.{i}", now=0) for i in range(10)] == [True] * 8 + [
        False] * 2


def test_an_ipv6_client_counts_per_64_and_is_never_named_to_the_core() -> None:
    assert client_bucket("2001:db8:1:2:a::1") == client_bucket("2001:db8:1:2:b::2")
    assert client_bucket("2001:db8:1:3::1") != client_bucket("2001:db8:1:2::1")
    assert client_bucket("::ffff:203.0.113.7") == STRANGER
    key = client_key(SECRET, STRANGER)
    assert key == client_key(SECRET, STRANGER) != client_key("y" * 40, STRANGER)
    assert STRANGER not in key and key.startswith("ck1-")


def test_buckets_stay_bounded_under_a_flood_of_addresses() -> None:
    limits = RestLimits.of(20, 8, 30, 10)
    limits.per_client.max_keys = 100
    for i in range(1000):
        limits.allow("v", f"10.0.{i // 256}.{i % 256}", now=i * 60.0)
    assert len(limits.per_client._buckets) <= 101


# ---- the Rasa API relay's token rule -------------------------------------------------------


def test_the_api_token_is_taken_from_the_header_only() -> None:
    from bot.web.rasa_api import _authorise, _Refusal

    _authorise(SimpleNamespace(args={}, headers={"authorization": "Bearer t0k"}), "t0k")
    for args, headers, status in [({"token": ["t0k"]}, {"authorization": "Bearer t0k"}, 400),
                                  ({"token": ["t0k"]}, {}, 400), ({}, {}, 401),
                                  ({}, {"authorization": "Bearer wrong"}, 401)]:
        with pytest.raises(_Refusal) as refused:
            _authorise(SimpleNamespace(args=args, headers=headers), "t0k")
        assert refused.value.status == status


# ---- buttons on REST -------------------------------------------------------------------------


def test_a_typed_payload_is_text_unless_it_is_a_button_just_offered() -> None:
    from channels.rest.input import choice, offered_options

    def bot(*buttons: tuple[str, str]) -> SimpleNamespace:
        return SimpleNamespace(type_name="bot", data={"buttons": [
            {"title": title, "payload": payload} for title, payload in buttons]})

    user = SimpleNamespace(type_name="user")
    offered = offered_options([user, bot(("Yes", "/affirm"), ("Talk to a nurse", "/request_human")),
                               bot(), SimpleNamespace(type_name="slot")])
    assert offered == [["Yes", "/affirm"], ["Talk to a nurse", "/request_human"]]
    assert offered_options([bot(("Yes", "/affirm")), user]) == []  # answered already
    assert offered_options([]) == []
    assert choice("2", offered) == ["Talk to a nurse", "/request_human"]
    assert choice("talk to a nurse!", offered) == ["Talk to a nurse", "/request_human"]
    assert choice("/affirm", offered) == ["Yes", "/affirm"]  # what a web widget sends
    assert choice("/restart", offered) is None
    assert choice("/request_human", []) is None  # nothing offered: it is text
    assert choice("3", offered) is None


def test_over_the_limit_an_emergency_still_gets_the_numbers_in_its_language() -> None:
    from bot import responses
    from bot.web.core_proxy import emergency_reply
    from channels.rest.message import RestMessage

    english = emergency_reply(RestMessage("v-1", "my father has crushing chest pain"))
    assert english == [{"recipient_id": "v-1", "text": responses.text("utter_emergency", "en")}]
    chinese = emergency_reply(RestMessage("v-2", "我阿爸心口好痛透唔到氣"))
    assert chinese and chinese[0]["text"] == responses.text("utter_emergency", "zh-Hant")
    assert emergency_reply(RestMessage("v-3", "how long does the report take")) is None
