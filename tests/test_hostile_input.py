"""Hostile input on WhatsApp and WeChat (issue 7, point 3): replays, malformed bodies and XML, an
XML bomb and XXE, and odd or oversized text. Each gets a clear status or one polite answer, the
process stays up, and nothing is lost.

Signatures are always valid here (forged and missing ones are in test_channels_e2e.py), so each
request reaches the parser or the conversation it is aimed at. The conversations run in parallel,
one customer per input, to keep the wall time of this module to a few seconds per channel.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from conversation import Staff
from domain_texts import as_messenger, pattern_of, responses
from providers import (
    WECHAT_PATH,
    WHATSAPP_PATH,
    WeChatUser,
    WhatsAppUser,
    http,
    passive_text,
    recorded,
    wait_for,
)

from channels.core.text import WORD_JOINER, as_text, chars, utf8_bytes
from channels.sandbox import defaults, signing
from channels.wechat import TEXT_LIMIT
from channels.whatsapp import BODY_LIMIT

pytestmark = pytest.mark.slow

SETUP = "用简体字"  # a conversation in progress (reply language: Simplified) before the input
FOLLOW_UP = "报告要多久才能出来"  # afterwards the same customer asks a normal question
FOLLOW_UP_ANSWER = ("utter_report_time", "utter_terms")
LONG = ("我想問下第二醫學意見服務點樣申請，要準備啲乜嘢文件，幾時會有結果？" * 400)[:10_000]

HOSTILE = {
    "empty": "",
    "whitespace": "   \n\t  \n ",
    "10k_characters": LONG,
    "emoji_only": "🙏🏥💊❤️‍🩹👨‍👩‍👧",
    "zero_width": "how\u200b long\u200c until\u200d I get\ufeff the report",
    "arabic": "مرحبا، متى يصل التقرير الطبي؟",
    "hebrew": "שלום, מתי יגיע הדוח הרפואי?",
    "rtl_override": "\u202ehow long until I get the report\u202c",
    "sql": "'; DROP TABLE cases; --",
    "html": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    "restart": "/restart",
    "intent_json": '/intent{"x":1}',
}
SLASH = {"restart", "intent_json"}
PASSWD_MARKERS = ("root:x:0:0", "root:*:0:0", "/bin/bash", "/usr/sbin/nologin")


# ------------------------------------------------------------------------------------ helpers


def settle(fetch: Callable[[], list], at_least: int, quiet: float = 1.5,
           timeout: float = 30.0) -> list:
    """``fetch()`` once it holds ``at_least`` items and nothing new came for ``quiet`` s."""
    deadline = time.monotonic() + timeout
    items = wait_for(fetch, at_least, timeout)
    last_change = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_change < quiet:
        time.sleep(0.1)
        now = fetch()
        if len(now) != len(items):
            items, last_change = now, time.monotonic()
    return items


def tracker(assistant, conversation: str) -> dict:  # noqa: ANN001
    status, body = http("GET", f"{assistant.base_url}/conversations/"
                        f"{urllib.parse.quote(conversation, safe=':+')}/tracker",
                        headers={"Authorization": f"Bearer {assistant.api_token}"})
    assert status == 200, body[:300]
    return json.loads(body)


def turns(events: list[dict]) -> list[tuple[dict, list[str]]]:
    """(user event, texts of the bot messages answering it), one per customer message."""
    out: list[tuple[dict, list[str]]] = []
    for event in events:
        if event["event"] == "user":
            out.append((event, []))
        elif event["event"] == "bot" and (event.get("text") or "").strip() and out:
            out[-1][1].append(event["text"])
    return out


def is_domain_response(text: str) -> bool:
    """One of the domain's written responses (in any script): a polite, reviewed answer."""
    for name in responses():
        for language in ("en", "zh-Hant", "zh-Hans"):
            try:
                if pattern_of(name, language).match(text):
                    return True
            except KeyError:
                continue
    return False


def follow_up_bubbles() -> list[str]:
    return [as_messenger(r, "zh-Hans") for r in FOLLOW_UP_ANSWER]


def conversation_problems(name: str, text: str, events: list[dict]) -> list[str]:
    """What the transcript says: the input kept whole, read as text, answered, no reset.

    The tracker API lists the events since the last restart: a restart shows as fewer than the
    three customer messages (setup, input, follow-up)."""
    problems = []
    seen = turns(events)
    if len(seen) != 3:
        return [f"{name}: {len(seen)} customer messages in the transcript, expected 3: "
                f"{[e.get('text', '')[:30] for e, _ in seen]}"]
    user, answers = seen[1]
    if (user.get("text") or "") != as_text(text).strip():
        problems.append(f"{name}: transcript text differs from what was sent "
                        f"({len(user.get('text') or '')} vs {len(text)} characters)")
    if not answers:
        problems.append(f"{name}: no answer in the transcript")
    problems += [f"{name}: not a domain response: {a[:80]!r}"
                 for a in answers if not is_domain_response(a)]
    if name in SLASH:
        intent = (user.get("parse_data") or {}).get("intent") or {}
        command = text.strip("/").split("{")[0]
        if not user["text"].startswith(WORD_JOINER) or (
                intent.get("name") == command and intent.get("confidence", 0) >= 1.0):
            problems.append(f"{name}: executed as a Rasa command: {intent}")
    kinds = [e["event"] for e in events]
    if "restart" in kinds or kinds.count("session_started") > 1:
        problems.append(f"{name}: the conversation was reset")
    return problems


def delivery_problems(name: str, sent: list[str], answers: list[str]) -> list[str]:
    """Each answer of the transcript delivered once and in order, as a message starting with it
    (numbered options may follow it)."""
    if len(sent) != len(answers) or not all(
            s.startswith(a.strip()) for s, a in zip(sent, answers, strict=True)):
        return [f"{name}: delivered {[s[:30] for s in sent]} for {[a[:30] for a in answers]}"]
    return []


def size_problems(name: str, sent: list[str], measure: Callable[[str], int],
                  limit: int) -> list[str]:
    return [f"{name}: an empty or oversized message ({measure(m)} of {limit})"
            for m in sent if not m.strip() or measure(m) > limit]


# --------------------------------------------------------------------------------- WhatsApp


def whatsapp_conversation(assistant, text: str) -> tuple[WhatsAppUser, list[int]]:  # noqa: ANN001
    """Setup, the hostile text, the follow-up; each answered before the next is sent."""
    user, statuses = WhatsAppUser(assistant.base_url, assistant.fake_twilio), []
    for message in (SETUP, text, FOLLOW_UP):
        before = len(user.received())
        statuses.append(user.send(message))
        settle(user.received, before + 1)
    return user, statuses


def test_whatsapp_hostile_text_gets_one_polite_answer(assistant) -> None:
    with ThreadPoolExecutor(len(HOSTILE)) as pool:
        runs = dict(zip(HOSTILE, pool.map(lambda t: whatsapp_conversation(assistant, t),
                                          HOSTILE.values()), strict=True))
    problems = []
    for name, (user, statuses) in runs.items():
        events = tracker(assistant, user.address)["events"]
        problems += conversation_problems(name, HOSTILE[name], events)
        if statuses != [200, 200, 200]:
            problems.append(f"{name}: webhook answered {statuses}")
        answers = [answer for _, texts in turns(events) for answer in texts]
        sent = wait_for(user.received, len(answers))
        problems += delivery_problems(name, sent, answers)
        problems += size_problems(name, sent, chars, BODY_LIMIT)
        if sent[-2:] != follow_up_bubbles():
            problems.append(f"{name}: the follow-up question got {sent[-2:]}")
    assert not problems, "\n".join(problems)


def test_whatsapp_replayed_webhook_gets_one_reply(assistant) -> None:
    """The same signed request (same MessageSid) at once five times, and again once answered."""
    user = WhatsAppUser(assistant.base_url, assistant.fake_twilio)
    url = f"{assistant.base_url}{WHATSAPP_PATH}"
    form = signing.twilio_inbound_form(user.address, None, FOLLOW_UP)
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": signing.twilio_signature(defaults.TWILIO_AUTH_TOKEN, url,
                                                              form)}
    body = urllib.parse.urlencode(form).encode()
    with ThreadPoolExecutor(5) as pool:
        statuses = list(pool.map(lambda _: http("POST", url, body, headers)[0], range(5)))
    assert statuses == [200] * 5
    assert settle(user.received, 2) == follow_up_bubbles()
    assert http("POST", url, body, headers)[0] == 200  # replayed after the answer went out
    time.sleep(1.5)
    assert user.received() == follow_up_bubbles()
    events = tracker(assistant, user.address)["events"]
    assert len([e for e in events if e["event"] == "user"]) == 1


def signed_form_post(assistant, body: bytes, content_type: str,  # noqa: ANN001
                     signed_params: dict[str, str]) -> tuple[int, bytes]:
    """POST ``body`` to the WhatsApp webhook, validly signed over the parameters the server
    will read from it, so the request gets past the signature check to the parser."""
    url = f"{assistant.base_url}{WHATSAPP_PATH}"
    headers = {"Content-Type": content_type,  # urllib would add the form type if absent
               "X-Twilio-Signature": signing.twilio_signature(defaults.TWILIO_AUTH_TOKEN, url,
                                                              signed_params)}
    return http("POST", url, body, headers)


def _whatsapp_form(**changes: str | None) -> dict[str, str]:
    form = signing.twilio_inbound_form(f"+8529{time.time_ns() % 10**7:07d}", None, "hello")
    for key, value in changes.items():
        if value is None:
            form.pop(key)
        else:
            form[key] = value
    return form


FORM = "application/x-www-form-urlencoded"
MALFORMED_FORMS = {
    # name: (body, content type, parameters the server parses from the body, expected status)
    "binary_junk": (b"\xff\xfe\x00\x81junk\xc3(", FORM, {}, 400),
    "not_urlencoded": (b"this is not a form at all", FORM, {"this is not a form at all": ""}, 400),
    "missing_from": (None, FORM, _whatsapp_form(From=None), 400),
    "missing_message_sid": (None, FORM, _whatsapp_form(MessageSid=None, SmsMessageSid=None), 400),
    "sms_not_whatsapp": (None, FORM, _whatsapp_form(From="+85291234567"), 400),
    "json_body": (b'{"From": "whatsapp:+85291234567", "Body": "hi", "MessageSid": "SM1"}',
                  "application/json", None, 415),
    "form_as_text_plain": (None, "text/plain", _whatsapp_form(), 415),
    "empty_content_type": (None, "", _whatsapp_form(), 415),
}


@pytest.mark.parametrize("name", MALFORMED_FORMS)
def test_whatsapp_malformed_form_is_a_clear_4xx(assistant, name: str) -> None:
    body, content_type, params, expected_status = MALFORMED_FORMS[name]
    if body is None:
        body = urllib.parse.urlencode(params).encode()
    if params is None:
        params = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    sender = (params or {}).get("From", "")
    before = recorded(assistant.fake_twilio, to=sender) if sender else []
    status, answer = signed_form_post(assistant, body, content_type, params)
    assert status == expected_status, answer[:300]
    assert answer.strip() and b"Traceback" not in answer
    if sender:
        time.sleep(1)
        assert recorded(assistant.fake_twilio, to=sender) == before  # nothing was processed


def test_whatsapp_form_without_body_field_is_answered(assistant) -> None:
    """Twilio always sends ``Body`` (empty for media); a signed form without it is still an
    authentic message: answered politely rather than refused (and so lost)."""
    user = WhatsAppUser(assistant.base_url, assistant.fake_twilio)
    form = signing.twilio_inbound_form(user.address, None, "")
    del form["Body"]
    assert user.post(form) == 200
    bubbles = settle(user.received, 1)
    assert bubbles and all(b.strip() and chars(b) <= BODY_LIMIT for b in bubbles)


# ----------------------------------------------------------------------------------- WeChat


def wechat_conversation(assistant, text: str  # noqa: ANN001
                        ) -> tuple[WeChatUser, list[int], list[str | None]]:
    """Setup, the hostile text, the follow-up; each answered (passively, or by the service API
    when the passive reply is given up: ``None``) before the next is sent."""
    user, statuses, passive = WeChatUser(assistant.base_url, assistant.fake_wechat), [], []
    for message in (SETUP, text, FOLLOW_UP):
        before = len(user.custom_messages())
        status, reply = user.send(message)
        statuses.append(status)
        passive.append(passive_text(reply) if status == 200 else None)
        if passive[-1] is None:
            settle(user.custom_messages, before + 1, quiet=0.5)
    return user, statuses, passive


def in_order(reply: str, answers: list[str]) -> bool:
    """A passive reply is the turn's bubbles joined: it starts with the first answer and holds
    every answer, in order."""
    position = 0
    for answer in answers:
        position = reply.find(answer.strip(), position)
        if position < 0:
            return False
    return bool(answers) and reply.startswith(answers[0].strip())


def test_wechat_hostile_text_gets_one_polite_answer(assistant) -> None:
    with ThreadPoolExecutor(len(HOSTILE)) as pool:
        runs = dict(zip(HOSTILE, pool.map(lambda t: wechat_conversation(assistant, t),
                                          HOSTILE.values()), strict=True))
    time.sleep(1.5)  # anything sent twice would have arrived by now
    problems = []
    for name, (user, statuses, passive) in runs.items():
        events = tracker(assistant, f"wechat:{user.openid}")["events"]
        problems += conversation_problems(name, HOSTILE[name], events)
        if statuses != [200, 200, 200]:
            problems.append(f"{name}: webhook answered {statuses}")
        by_api: list[str] = []  # the answers of turns not answered passively
        for (_, answers), reply in zip(turns(events), passive, strict=False):
            if reply is None:
                by_api += answers
            elif not in_order(reply, answers):
                problems.append(f"{name}: passive reply {reply[:60]!r} for {answers}")
        sent = wait_for(user.custom_messages, len(by_api))
        problems += delivery_problems(name, sent, by_api)  # never both passive and by the API
        problems += size_problems(name, [r for r in passive if r is not None] + sent,
                                  utf8_bytes, TEXT_LIMIT)
        if (passive[2] or "\n\n".join(sent[-2:])) != "\n\n".join(follow_up_bubbles()):
            problems.append(f"{name}: the follow-up question got {passive[2] or sent[-2:]}")
    assert not problems, "\n".join(problems)


def wechat_request(openid: str, xml: str) -> tuple[str, bytes]:
    """(url, body) of one correctly signed and encrypted WeChat push of ``xml`` (the sandbox
    product is in safe mode and refuses plain pushes); a hostile payload is encrypted as is."""
    query, body = signing.wechat_push(xml, safe_mode=True, openid=openid)
    return f"{WECHAT_PATH}?{urllib.parse.urlencode(query)}", body.encode()


def test_wechat_replayed_message_gets_one_reply(assistant) -> None:
    """The same signed push (same MsgId, nonce and timestamp) four times at once, then again
    once answered, within the five minutes the timestamp check allows: WeChat's retries, or a
    replay of a captured push, answered ``success`` and processed once."""
    user = WeChatUser(assistant.base_url, assistant.fake_wechat)
    xml = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, user.openid, FOLLOW_UP,
                                  signing.wechat_msg_id())
    path, body = wechat_request(user.openid, xml)
    headers = {"Content-Type": "text/xml"}
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: http("POST", assistant.base_url + path, body, headers),
                                range(4)))
    assert [status for status, _ in answers] == [200] * 4
    passive = [raw.decode() for _, raw in answers if raw.decode() != "success"]
    assert len(passive) <= 1  # the retries answer "success"
    if passive:
        reply = user.reply_text(200, passive[0].encode())
        assert passive_text(reply) == "\n\n".join(follow_up_bubbles())
    else:  # slower than the passive wait: sent by the service API instead
        assert settle(user.custom_messages, 2) == follow_up_bubbles()
    assert http("POST", assistant.base_url + path, body, headers) == (200, b"success")
    time.sleep(1.5)
    assert user.custom_messages() == ([] if passive else follow_up_bubbles())
    events = tracker(assistant, f"wechat:{user.openid}")["events"]
    assert len([e for e in events if e["event"] == "user"]) == 1


def _bomb(levels: int = 10) -> str:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels)]
    return f'<?xml version="1.0"?><!DOCTYPE xml [{"".join(entities)}]>'


HOSTILE_XML = {
    "billion_laughs": (_bomb(), "&lol9;"),
    "xxe_file": ('<?xml version="1.0"?><!DOCTYPE xml '
                 '[<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
    "xxe_parameter_entity": ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY % dtd SYSTEM '
                             '"file:///etc/passwd"> %dtd;]>', "hello"),
}


@pytest.mark.parametrize("name", HOSTILE_XML)
def test_wechat_xml_bomb_and_xxe_are_400(assistant, name: str) -> None:
    """Correctly signed and encrypted, otherwise a valid text message whose content is the
    entity: refused before any entity is expanded or file read. (The plain-mode parser is the
    same ``parse``: tests/test_wechat_parsing.py.)"""
    user = WeChatUser(assistant.base_url, assistant.fake_wechat)
    prolog, content = HOSTILE_XML[name]
    message = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, user.openid, "PLACEHOLDER",
                                      signing.wechat_msg_id())
    xml = prolog + message.replace("<![CDATA[PLACEHOLDER]]>", content)
    path, body = wechat_request(user.openid, xml)
    started = time.monotonic()
    status, answer = http("POST", assistant.base_url + path, body, {"Content-Type": "text/xml"})
    assert status == 400, answer[:300]
    assert time.monotonic() - started < 5  # refused, not expanded
    assert not any(marker.encode() in answer for marker in PASSWD_MARKERS)
    time.sleep(0.5)
    assert user.custom_messages() == []
    everything = json.dumps(recorded(assistant.fake_wechat))
    assert not any(marker in everything for marker in PASSWD_MARKERS)
    assert http("GET", f"{assistant.base_url}/health")[0] == 200


# ------------------------------------------------------------------------------ afterwards


def test_zz_still_up_and_whole_after_hostile_input(assistant) -> None:
    """After everything above: healthy, ready, the tables still there, both channels answer."""
    status, body = http("GET", f"{assistant.base_url}/health")
    assert status == 200
    status, body = http("GET", f"{assistant.base_url}/ready")
    assert status == 200 and json.loads(body)["database"] == "reachable"
    status, cases = Staff(assistant.base_url, assistant.staff_token).call("GET", "/cases")
    assert status == 200 and isinstance(cases, list)  # "'; DROP TABLE cases; --" was just text
    whatsapp = WhatsAppUser(assistant.base_url, assistant.fake_twilio)
    assert whatsapp.send(FOLLOW_UP) == 200
    assert settle(whatsapp.received, 2) == follow_up_bubbles()
    wechat = WeChatUser(assistant.base_url, assistant.fake_wechat)
    status, reply = wechat.send(FOLLOW_UP)
    answer = passive_text(reply)
    assert status == 200
    if answer is None:
        assert settle(wechat.custom_messages, 2) == follow_up_bubbles()
    else:
        assert answer == "\n\n".join(follow_up_bubbles())
