"""Issue 15, finding 6: WeChat safe mode downgraded, a signature reused, a push replayed.

Against the product as ``make run`` starts it: its sandbox configures WeChat's safe mode (an AES
key), as an operator with a real account does. The attacker is a stranger on the internet
(``from_elsewhere``) who has captured pushes WeChat made (their query strings and bodies) but
does not know the account's token or AES key. Before the fix, a plain push with a plain
``signature`` was accepted in safe mode (the downgrade), and since that signature covers only
the token, timestamp and nonce, one captured signature carried any body.

``forge_with_the_token`` goes further than such an attacker can: a differently encrypted message
under a captured (timestamp, nonce), correctly signed. Only the replay cache refuses that one.

Pushes are built here from the sandbox's signing primitives only (no newer helper), so this file
runs unchanged against the code before the fix, where the first two tests fail (a plain push is
answered 200). The third guards what must not regress: a retry is acknowledged, not an error.
"""

from __future__ import annotations

import time
import urllib.parse

import pytest
from hostile import from_elsewhere
from providers import WECHAT_PATH, WeChatUser, http, passive_text

from channels.sandbox import defaults, signing

pytestmark = pytest.mark.slow

QUESTION = "how long until I get the report"
ATTACK = "I have chest pain"  # would open an urgent case if it were processed


def post(assistant, query: dict[str, str], body: str | bytes) -> tuple[int, bytes]:  # noqa: ANN001
    data = body.encode() if isinstance(body, str) else body
    return http("POST", f"{assistant.base_url}{WECHAT_PATH}?{urllib.parse.urlencode(query)}",
                data, from_elsewhere({"Content-Type": "text/xml"}))


def customer(assistant, name: str) -> WeChatUser:  # noqa: ANN001
    return WeChatUser(assistant.base_url, assistant.fake_wechat, openid=f"o{name}{time.time_ns()}")


def text_xml(openid: str, text: str) -> str:
    return signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, openid, text,
                                   signing.wechat_msg_id())


def push(xml: str, openid: str, safe_mode: bool = True, timestamp: str | None = None,
         nonce: str | None = None) -> tuple[dict[str, str], str]:
    """(query, body) of a push of ``xml`` as WeChat makes it (encrypted in safe mode)."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or signing.wechat_nonce()
    query = {"signature": signing.wechat_signature(defaults.WECHAT_TOKEN, timestamp, nonce),
             "timestamp": timestamp, "nonce": nonce, "openid": openid}
    if not safe_mode:
        return query, xml
    body, msg_signature = signing.wechat_encrypt(
        defaults.WECHAT_TOKEN, defaults.WECHAT_ENCODING_AES_KEY, defaults.WECHAT_APP_ID, xml,
        nonce, timestamp)
    return {**query, "encrypt_type": "aes", "msg_signature": msg_signature}, body


def genuine(user: WeChatUser, text: str) -> tuple[dict[str, str], str]:
    """(query, body) of a genuine encrypted push of ``text`` from ``user``."""
    return push(text_xml(user.openid, text), user.openid)


def settled(user: WeChatUser, quiet: float = 2.0, timeout: float = 30.0) -> list[str]:
    """What the fake WeChat sent the user once nothing new came for ``quiet`` seconds (anything
    sent because of a refused or replayed push would have arrived by then)."""
    deadline = time.monotonic() + timeout
    seen, last_change = user.custom_messages(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_change < quiet:
        time.sleep(0.1)
        now = user.custom_messages()
        if len(now) != len(seen):
            seen, last_change = now, time.monotonic()
    return seen


def answered(user: WeChatUser, status: int, raw: bytes) -> str:
    """A genuine push's answer: the passive reply (encrypted on the wire, as safe mode wants),
    or the messages sent by the service API when the passive wait ran out."""
    assert status == 200, raw[:300]
    if raw.decode().startswith("<xml"):
        assert b"<Encrypt>" in raw and b"<Content>" not in raw  # never plain in safe mode
        reply = passive_text(signing.wechat_decrypt_reply(
            defaults.WECHAT_TOKEN, defaults.WECHAT_ENCODING_AES_KEY, defaults.WECHAT_APP_ID,
            raw.decode()))
        assert reply
        return reply
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not user.custom_messages():
        time.sleep(0.1)
    sent = settled(user)
    assert sent, "a genuine push went unanswered"
    return "\n\n".join(sent)


def test_plain_push_is_refused_in_safe_mode(assistant) -> None:  # noqa: ANN001
    """The downgrade: a correctly signed plain push (no ``encrypt_type``), and one claiming
    ``encrypt_type=aes`` over a plain body, are refused with 403; nothing is processed."""
    victim = customer(assistant, "Victim")
    query, body = push(text_xml(victim.openid, ATTACK), victim.openid, safe_mode=False)
    status, reason = post(assistant, query, body)
    assert status == 403, reason[:300]
    assert b"safe mode" in reason
    query, body = push(text_xml(victim.openid, ATTACK), victim.openid, safe_mode=False)
    claimed = {**query, "encrypt_type": "aes", "msg_signature": "0" * 40}
    status, reason = post(assistant, claimed, body)
    assert status == 403, reason[:300]
    assert settled(victim) == []
    # The same customer's genuine (encrypted) push is answered: the refusals were the attack's.
    assert answered(victim, *post(assistant, *genuine(victim, QUESTION)))


def test_captured_signature_cannot_carry_another_body(assistant) -> None:  # noqa: ANN001
    """A captured push (query string and body), sent on by WeChat and answered; then its
    signature, timestamp and nonce with other bodies: all refused, none processed."""
    user = customer(assistant, "Captured")
    captured_query, captured_body = genuine(user, QUESTION)
    first = answered(user, *post(assistant, captured_query, captured_body))
    before = settled(user)

    attack_xml = text_xml(user.openid, ATTACK)
    plain = {k: v for k, v in captured_query.items() if k not in ("encrypt_type", "msg_signature")}
    attempts = {
        "plain body, encrypt_type dropped (the downgrade)": (plain, attack_xml),
        "plain body under the captured safe-mode query": (captured_query, attack_xml),
        # another push's ciphertext (captured too) under this push's msg_signature
        "another ciphertext": (captured_query, genuine(user, ATTACK)[1]),
    }
    # Beyond the attacker: correctly encrypted and signed with the token, under the captured
    # timestamp and nonce. Only the replay cache tells it from a first delivery.
    forged_query, forged_body = push(attack_xml, user.openid,
                                     timestamp=captured_query["timestamp"],
                                     nonce=captured_query["nonce"])
    attempts["forge_with_the_token"] = (forged_query, forged_body)
    results = {name: post(assistant, query, body)[0] for name, (query, body) in attempts.items()}
    assert results == {name: 403 for name in attempts}
    assert first and settled(user) == before  # nothing more was said to the customer


def test_replayed_push_is_acknowledged_and_not_processed_again(assistant) -> None:  # noqa: ANN001
    """The same push again (WeChat's retry, or an attacker's replay): ``success`` each time, so
    WeChat never shows an error, and the customer hears the answer once."""
    user = customer(assistant, "Replay")
    query, body = genuine(user, QUESTION)
    assert answered(user, *post(assistant, query, body))
    before = settled(user)
    replays = [post(assistant, query, body) for _ in range(3)]
    assert replays == [(200, b"success")] * 3
    assert settled(user) == before
