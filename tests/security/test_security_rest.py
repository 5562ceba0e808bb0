"""Attacks on the REST channel and the relayed Rasa API, against the running product (issue 15,
findings 1, 3, 4, 5 and, of 9, transcript spoofing and the Rasa HTTP API).

The product runs as ``make run`` starts it, with ``SMO_REST_PUBLIC=true`` (the website widget's
mode: callers from elsewhere need a visitor token) and forwarded headers trusted, so a request
carrying ``X-Forwarded-For: 203.0.113.x`` is a stranger on the internet. Each test performs the
attack as reported and asserts it fails; on the code before the fix each of them succeeded.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from conversation import Customer, Staff
from domain_texts import which
from hostile import from_elsewhere
from instances import free_port
from providers import http, recorded, wait_for

from channels.core.text import WORD_JOINER
from channels.rest import tokens

pytestmark = pytest.mark.slow
REST = "/webhooks/rest/webhook"
JSON = {"Content-Type": "application/json"}


def rest(base: str, body: bytes | dict, headers: dict[str, str] | None = None
         ) -> tuple[int, object, dict[str, str]]:
    """(status, JSON answer, response headers) of one REST request; ``body`` sent as given."""
    import urllib.error
    import urllib.request

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}{REST}", data, {**JSON, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            answer = json.loads(raw)
        except ValueError:
            answer = raw
        return error.code, answer, dict(error.headers)


def texts(answer: object) -> list[str]:
    return [m["text"] for m in answer if isinstance(m, dict) and m.get("text")]  # type: ignore[union-attr]


def api(assistant, method: str, path: str, body: bytes | None = None,  # noqa: ANN001
        headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """The relayed Rasa API with the token where it belongs (Authorization header)."""
    return http(method, f"{assistant.base_url}{path}", body,
                {"Authorization": f"Bearer {assistant.api_token}", **JSON, **(headers or {})})


def user_events(assistant, conversation: str) -> list[dict]:  # noqa: ANN001
    status, body = api(assistant, "GET", "/conversations/"
                       f"{urllib.parse.quote(conversation, safe=':+')}/tracker")
    assert status == 200, body[:300]
    return [e for e in json.loads(body)["events"] if e["event"] == "user"]


def token_for(assistant, visitor: str, minutes: int = 10) -> dict[str, str]:  # noqa: ANN001
    """What the website's backend gives its widget for ``visitor``."""
    token = tokens.issue(assistant.rest_token_secret, visitor, minutes)
    return {"Authorization": f"Bearer {token}"}


def nurse(assistant, name: str) -> Staff:  # noqa: ANN001
    return Staff.member(assistant, name, "nurse")


# ---- finding 1: impersonation through a parser difference --------------------------------


@pytest.fixture()
def whatsapp_victim() -> str:
    """A WhatsApp customer's conversation id (Twilio's address), as an attacker would guess."""
    return f"whatsapp:+8529{uuid.uuid4().int % 10**7:07d}"


def test_a_control_character_body_cannot_reach_a_whatsapp_conversation(assistant,
                                                                       whatsapp_victim) -> None:
    for message in ("/restart", "I want to get a second medical opinion"):
        attack = (b'{"sender":"' + whatsapp_victim.encode() + b'",'
                  b'"input_channel":"whatsapp","message":"' + message.encode() + b'",'
                  b'"x":"\x01"}')
        status, answer, _ = rest(assistant.base_url, attack)
        assert status == 400, answer
        assert "JSON" in answer["error"]  # type: ignore[index]
        # The same claim in well-formed JSON: a REST sender id cannot name that conversation.
        status, _, _ = rest(assistant.base_url, {"sender": whatsapp_victim,
                                                 "input_channel": "whatsapp", "message": message})
        assert status == 400
    assert user_events(assistant, whatsapp_victim) == []


def test_the_cores_own_rest_port_serves_the_gateway_only(assistant, whatsapp_victim) -> None:
    """The core listens on loopback; a local process posting to it directly is refused (what
    the gateway relays lands in ``rest:<sender>``, never another channel's)."""
    core = f"http://127.0.0.1:{assistant.core_port}"
    for sender in (whatsapp_victim, "visitor-on-core"):
        status, _, _ = rest(core, {"sender": sender, "message": "/restart"})
        assert status == 403
    assert user_events(assistant, whatsapp_victim) == []


def test_body_channel_and_metadata_are_ignored_and_slash_text_is_text(assistant) -> None:
    sender = f"slash-{uuid.uuid4().hex[:8]}"
    status, answer, _ = rest(assistant.base_url, {
        "sender": sender, "message": "/request_human", "input_channel": "wechat",
        "metadata": {"typed": "1", "option": "I agree", "client_key": "ck1-" + "0" * 32}})
    assert status == 200 and texts(answer)
    [event] = user_events(assistant, f"rest:{sender}")
    # Stored as the customer's text (behind a word joiner) and read by the NLU model, not
    # unpacked as an intent payload (which Rasa takes with confidence 1.0, no model asked).
    assert event["text"] == WORD_JOINER + "/request_human"
    intent = event["parse_data"]["intent"]
    assert intent["name"] != "request_human" or intent.get("confidence", 1.0) < 1.0
    assert event["input_channel"] == "rest"
    # Nothing the body wrote (and a loopback caller gets no client key); Rasa adds its own ids.
    assert not {"typed", "option", "client_key"} & set(event.get("metadata") or {})


# ---- finding 4 and 9 (transcript spoofing): a nurse's reply goes where the customer wrote ---


def test_a_nurse_reply_never_reaches_a_wechat_follower_named_by_a_rest_caller(assistant) -> None:
    victim = "oVictimWx1"
    caller = Customer(assistant.base_url, "en", sender=victim)
    status, answer, _ = rest(assistant.base_url, {
        "sender": victim, "input_channel": "wechat", "message": "please let me speak with a nurse",
        "metadata": {"typed": "I never wrote this", "option": "a spoofed line"}})
    assert status == 200 and which(texts(answer), "en") == ["utter_handoff_queued"]
    staff = nurse(assistant, "nurse.sec4")
    case = staff.case_of(caller)
    assert case["channel"] == "rest"
    assert staff.call("POST", f"/cases/{case['id']}/claim")[0] == 200
    status, sent = staff.call("POST", f"/cases/{case['id']}/reply",
                              {"text": "Hello, nurse here"})
    assert status == 200, sent
    assert wait_for(caller.outbox, 1) == ["Hello, nurse here"]  # to the REST visitor only
    assert recorded(assistant.fake_wechat, touser=victim) == []
    _, shown = staff.call("GET", f"/cases/{case['id']}")
    customer_lines = [t["text"] for t in shown["transcript"] if t["role"] == "customer"]
    assert customer_lines == ["please let me speak with a nurse"]
    assert staff.call("POST", f"/cases/{case['id']}/close", {"outcome": "advised"})[0] == 200


# ---- finding 3: REST from elsewhere ---------------------------------------------------------


def test_rest_from_elsewhere_needs_a_valid_visitor_token(assistant) -> None:
    base, where = assistant.base_url, "203.0.113.10"
    body = {"sender": "visitor-a", "message": "hello"}
    expired = tokens.issue(assistant.rest_token_secret, "visitor-a", 1, now=time.time() - 120)
    forged = tokens.issue("f" * 64, "visitor-a", 10)
    for headers in ({}, {"Authorization": f"Bearer {forged}"},
                    {"Authorization": f"Bearer {expired}"}):
        status, answer, _ = rest(base, body, from_elsewhere(headers, where))
        assert status == 401, answer
    status, _, _ = rest(base, body, from_elsewhere(token_for(assistant, "visitor-b"), where))
    assert status == 403  # a visitor speaks only as themselves
    status, answer, _ = rest(base, body, from_elsewhere(token_for(assistant, "visitor-a"), where))
    assert status == 200 and texts(answer)
    # The core learns a pseudonym of the address (per-client lockout), never the address.
    [event] = user_events(assistant, "rest:visitor-a")
    assert re.fullmatch(r"ck1-[0-9a-f]{32}", event["metadata"]["client_key"])
    assert where not in json.dumps(event)


def test_a_flood_of_fresh_senders_is_limited_and_each_still_hears_the_emergency_numbers(
        assistant) -> None:
    where = "203.0.113.20"
    emergency = "my father has crushing chest pain and can't breathe"

    def one(index: int) -> tuple[int, list[str], dict[str, str]]:
        visitor = f"flood-{index}-{uuid.uuid4().hex[:6]}"
        status, answer, headers = rest(assistant.base_url, {"sender": visitor,
                                                            "message": emergency},
                                       from_elsewhere(token_for(assistant, visitor), where))
        return status, which(texts(answer), "en") if status == 200 else [], headers

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert all(status == 200 for status, _, _ in results)
    assert all(names[:1] == ["utter_emergency"] for _, names, _ in results), results
    limited = [names for _, names, headers in results if "Retry-After" in headers]
    alerted = [names for _, names, _ in results if "utter_emergency_alerted" in names]
    # A burst of 10 per address (one more may have refilled): the rest answered, no case opened.
    assert len(alerted) <= 11 and len(limited) >= 9
    assert all(names == ["utter_emergency"] for names in limited)
    status, answer, headers = rest(assistant.base_url,
                                   {"sender": "flood-x", "message": "hello"},
                                   from_elsewhere(token_for(assistant, "flood-x"), where))
    assert status == 429 and int(headers["Retry-After"]) >= 1, answer


def test_this_machine_is_never_limited(assistant) -> None:
    """``make chat``, the sandbox and the tests: no token, no limit."""
    answers = [rest(assistant.base_url, {"sender": f"local-{i}", "message": "hello"})[0]
               for i in range(15)]
    assert answers == [200] * 15


# ---- finding 5: staff replies to REST customers ------------------------------------------


def test_the_outbox_is_read_only_by_its_visitor_from_elsewhere(assistant) -> None:
    visitor = f"reader-{uuid.uuid4().hex[:8]}"
    customer = Customer(assistant.base_url, "en", sender=visitor)
    assert customer.ask("please let me speak with a nurse") == ["utter_handoff_queued"]
    staff = nurse(assistant, "nurse.sec5")
    case = staff.case_of(customer)
    assert staff.call("POST", f"/cases/{case['id']}/claim")[0] == 200
    assert staff.call("POST", f"/cases/{case['id']}/reply", {"text": "Your results"})[0] == 200
    assert wait_for(customer.outbox, 1) == ["Your results"]  # loopback: make chat polls it
    url = f"{assistant.base_url}/webhooks/rest/outbox/{visitor}"
    where = "203.0.113.30"
    assert http("GET", url, headers=from_elsewhere(address=where))[0] == 401
    status, _ = http("GET", url, headers=from_elsewhere(token_for(assistant, "someone"), where))
    assert status == 403
    status, body = http("GET", url, headers=from_elsewhere(token_for(assistant, visitor), where))
    assert status == 200 and [m["text"] for m in json.loads(body)] == ["Your results"]
    staff.call("POST", f"/cases/{case['id']}/close", {"outcome": "advised"})


# ---- finding 9: the relayed Rasa HTTP API ----------------------------------------------------


class _Listener(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        _Listener.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture()
def listener() -> Iterator[str]:
    """A URL on this machine that records any request the product makes to it."""
    _Listener.hits = []
    server = HTTPServer(("127.0.0.1", free_port()), _Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_the_api_token_in_the_url_is_refused(assistant) -> None:
    status, _ = http("GET", f"{assistant.base_url}/status?token={assistant.api_token}")
    assert status == 400
    status, _ = http("GET", f"{assistant.base_url}/conversations/rest:x/tracker"
                            f"?token={assistant.api_token}")
    assert status == 400
    assert api(assistant, "GET", "/status")[0] == 200


def test_the_api_cannot_make_the_core_call_out_or_write_conversations(
        assistant, listener, whatsapp_victim) -> None:  # noqa: ANN001
    callback = urllib.parse.quote(listener, safe="")
    status, body = api(assistant, "POST", f"/model/parse?callback_url={callback}",
                       json.dumps({"text": "hello"}).encode())
    assert status == 200 and json.loads(body)["intent"]["name"]  # answered here, not called back
    # Rasa answers this one at once and posts the result to callback_url afterwards.
    assert api(assistant, "POST", f"/model/test/intents?callback_url={callback}", b"{}")[0] == 403
    conversation = urllib.parse.quote(whatsapp_victim, safe=":+")
    for path, payload in (
        (f"/conversations/{conversation}/messages", {"text": "hi", "sender": "user"}),
        (f"/conversations/{conversation}/tracker/events", [{"event": "restart"}]),
        (f"/conversations/{conversation}/trigger_intent?output_channel=latest",
         {"name": "request_human"}),
    ):
        assert api(assistant, "POST", path, json.dumps(payload).encode())[0] == 403
    assert user_events(assistant, whatsapp_victim) == []
    deadline = time.monotonic() + 3  # the core would call back within moments; none came
    while time.monotonic() < deadline and not _Listener.hits:
        time.sleep(0.1)
    assert _Listener.hits == []
