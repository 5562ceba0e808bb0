"""The fake Twilio API driven by the OFFICIAL twilio 8.2.2 client."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
import requests
import twilio.rest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator

from channels.sandbox import defaults, fake_twilio
from channels.sandbox.runner import BackgroundServer

SID = defaults.TWILIO_ACCOUNT_SID
TOKEN = defaults.TWILIO_AUTH_TOKEN
BOT = defaults.TWILIO_WHATSAPP_FROM
USER = "whatsapp:+85291234567"
OTHER = "whatsapp:+85298765432"


def _faults(server: BackgroundServer, *rules: dict) -> None:
    response = requests.post(server.url + "/_sandbox/faults", json=list(rules), timeout=5)
    assert response.status_code == 200, response.text


def test_point_client_at_changes_only_the_api_domain_base(twilio_client) -> None:
    assert twilio_client.api.base_url.startswith("http://127.0.0.1:")
    # the Messages list builds its URL from the Api domain at request time
    messages = twilio_client.messages
    assert messages._version.domain is twilio_client.api
    assert messages._version.absolute_url(messages._uri).startswith(
        twilio_client.api.base_url + "/2010-04-01/Accounts/" + SID + "/Messages.json"
    )


def test_official_client_creates_a_message(twilio_client, twilio_fake, sandbox_get) -> None:
    message = twilio_client.messages.create(to=USER, from_=BOT, body="您好，請問有什麼可以幫您？")
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert message.status == "queued"
    assert message.to == USER
    assert message.from_ == BOT
    assert message.body == "您好，請問有什麼可以幫您？"
    assert message.account_sid == SID
    assert message.num_segments == "1"
    assert message.direction == "outbound-api"
    assert message.api_version == "2010-04-01"
    assert isinstance(message.date_created, dt.datetime)
    assert message.date_created.tzinfo is not None
    recorded = sandbox_get(twilio_fake, "/_sandbox/messages", to=USER)
    assert [m["sid"] for m in recorded] == [message.sid]
    assert recorded[0]["body"] == "您好，請問有什麼可以幫您？"


def test_content_template_and_media_are_recorded(twilio_client, twilio_fake, sandbox_get) -> None:
    message = twilio_client.messages.create(
        to=USER, from_=BOT, content_sid="HX" + "1" * 32,
        content_variables='{"1": "Dr Chan", "2": "3 May"}',
        media_url=["https://example.org/a.png", "https://example.org/b.png"],
    )
    assert message.num_media == "2"
    [recorded] = sandbox_get(twilio_fake, "/_sandbox/messages")
    assert recorded["content_sid"] == "HX" + "1" * 32
    assert recorded["content_variables"] == '{"1": "Dr Chan", "2": "3 May"}'
    assert recorded["media_url"] == ["https://example.org/a.png", "https://example.org/b.png"]


def test_wrong_credentials_get_twilios_401(twilio_fake, sandbox_get) -> None:
    client = fake_twilio.point_client_at(twilio.rest.Client(SID, "wrong-token"), twilio_fake.url)
    with pytest.raises(TwilioRestException) as info:
        client.messages.create(to=USER, from_=BOT, body="hi")
    assert info.value.status == 401
    assert info.value.code == 20003
    raw = requests.post(
        twilio_fake.url + f"/2010-04-01/Accounts/{SID}/Messages.json",
        data={"To": USER, "From": BOT, "Body": "x"}, timeout=5,
    )
    assert raw.status_code == 401
    assert raw.json()["more_info"] == "https://www.twilio.com/docs/errors/20003"
    assert raw.headers["WWW-Authenticate"].startswith("Basic")
    assert sandbox_get(twilio_fake, "/_sandbox/messages") == []


def test_another_account_in_the_path_is_not_found(twilio_fake) -> None:
    client = fake_twilio.point_client_at(twilio.rest.Client(SID, TOKEN), twilio_fake.url)
    with pytest.raises(TwilioRestException) as info:
        client.api.accounts("AC" + "1" * 32).messages.create(to=USER, from_=BOT, body="hi")
    assert info.value.status == 404
    assert info.value.code == 20404


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": USER, "from_": BOT}, 21602),
        ({"to": "", "from_": BOT, "body": "hi"}, 21604),
        ({"to": USER, "body": "hi"}, 21603),
        ({"to": USER, "from_": BOT, "body": "x" * 1601}, 21617),
        ({"to": "whatsapp:85291234567", "from_": BOT, "body": "hi"}, 21211),
        ({"to": "+85291234567", "from_": BOT, "body": "hi"}, 21910),
        ({"to": USER, "from_": BOT, "content_sid": "HX1", "content_variables": "[1]"}, 21656),
        ({"to": USER, "from_": BOT, "body": "hi", "status_callback": "not a url"}, 21609),
    ],
)
def test_invalid_requests_get_twilio_400s(twilio_client, twilio_fake, sandbox_get, kwargs, code):
    with pytest.raises(TwilioRestException) as info:
        twilio_client.messages.create(**kwargs)
    assert info.value.status == 400
    assert info.value.code == code
    assert sandbox_get(twilio_fake, "/_sandbox/messages") == []


def test_injected_500s_fail_then_recover(twilio_client, twilio_fake, sandbox_get) -> None:
    _faults(twilio_fake, {"status": 500, "count": 2})
    for _ in range(2):
        with pytest.raises(TwilioRestException) as info:
            twilio_client.messages.create(to=USER, from_=BOT, body="hi")
        assert info.value.status == 500
        assert info.value.code == 20500
    assert sandbox_get(twilio_fake, "/_sandbox/messages") == []
    twilio_client.messages.create(to=USER, from_=BOT, body="third time lucky")
    assert [m["body"] for m in sandbox_get(twilio_fake, "/_sandbox/messages")] == [
        "third time lucky"
    ]
    assert sandbox_get(twilio_fake, "/_sandbox/faults") == {"faults": []}


def test_429_carries_retry_after(twilio_client, twilio_fake) -> None:
    _faults(twilio_fake, {"status": 429, "count": 1, "retry_after": 7})
    with pytest.raises(TwilioRestException) as info:
        twilio_client.messages.create(to=USER, from_=BOT, body="hi")
    assert info.value.status == 429
    assert info.value.code == 20429
    # TwilioRestException drops the headers: the last response of the HTTP client keeps them
    last = twilio_client.http_client._test_only_last_response
    assert last.headers["Retry-After"] == "7"


def test_faults_queue_in_order_and_503(twilio_client, twilio_fake) -> None:
    _faults(twilio_fake, {"status": 503}, {"status": 429})
    statuses = []
    for _ in range(3):
        try:
            twilio_client.messages.create(to=USER, from_=BOT, body="hi")
            statuses.append(201)
        except TwilioRestException as exc:
            statuses.append(exc.status)
    assert statuses == [503, 429, 201]


def test_delay_fault_times_out_yet_the_message_was_sent(twilio_fake, sandbox_get) -> None:
    client = twilio.rest.Client(SID, TOKEN, http_client=TwilioHttpClient(timeout=0.3))
    fake_twilio.point_client_at(client, twilio_fake.url)
    _faults(twilio_fake, {"delay": 1.0})
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.messages.create(to=USER, from_=BOT, body="did it go?")
    # reconciliation: the list shows what was really sent
    sent = client.messages.list(to=USER, date_sent=dt.date.today())
    assert [m.body for m in sent] == ["did it go?"]


def test_delay_with_status_fails_late(twilio_client, twilio_fake) -> None:
    _faults(twilio_fake, {"status": 500, "delay": 0.3})
    started = dt.datetime.now()
    with pytest.raises(TwilioRestException):
        twilio_client.messages.create(to=USER, from_=BOT, body="hi")
    assert (dt.datetime.now() - started).total_seconds() >= 0.3


def _pattern(seed: int) -> list[int]:
    app = fake_twilio.create_app(TOKEN, SID, status_delay=0.01)
    with BackgroundServer(app) as server:
        client = fake_twilio.point_client_at(twilio.rest.Client(SID, TOKEN), server.url)
        _faults(server, {"status": 500, "probability": 0.5, "seed": seed})
        out = []
        for _ in range(12):
            try:
                client.messages.create(to=USER, from_=BOT, body="hi")
                out.append(201)
            except TwilioRestException as exc:
                out.append(exc.status)
        return out


def test_random_faults_are_reproducible_with_a_seed() -> None:
    first = _pattern(42)
    assert first == _pattern(42)
    assert 201 in first and 500 in first


def test_bad_fault_specs_are_rejected(twilio_fake) -> None:
    for spec in ({"status": 200}, {"count": 0, "status": 500}, {"probability": 2, "status": 500},
                 {}, {"status": 500, "bogus": 1}, {"status": 500, "outcome": "failed"}):
        response = requests.post(twilio_fake.url + "/_sandbox/faults", json=spec, timeout=5)
        assert response.status_code == 400, spec
    assert requests.delete(twilio_fake.url + "/_sandbox/faults", timeout=5).ok


def test_list_reconciliation_filters_and_pages(twilio_client, twilio_fake, wait_for) -> None:
    sids = [
        twilio_client.messages.create(to=to, from_=BOT, body=f"m{i}").sid
        for i, to in enumerate([USER, OTHER, USER, USER])
    ]
    mine = twilio_client.messages.list(to=USER)
    assert [m.sid for m in mine] == [sids[3], sids[2], sids[0]]  # newest first, like Twilio
    assert [m.to for m in twilio_client.messages.list(to=OTHER)] == [OTHER]
    assert len(twilio_client.messages.list(from_=BOT)) == 4
    # paging through next_page_uri, which the client resolves against the Api domain's base
    assert [m.sid for m in twilio_client.messages.list(page_size=2)] == list(reversed(sids))
    page = twilio_client.messages.page(page_size=3)
    assert page.next_page_url.startswith(twilio_fake.url)
    today = dt.date.today()
    assert len(twilio_client.messages.list(date_sent=today)) == 4
    assert twilio_client.messages.list(date_sent_before=today - dt.timedelta(days=1)) == []
    assert len(twilio_client.messages.list(date_sent_after=today)) == 4
    wait_for(lambda: all(m.status == "delivered" for m in twilio_client.messages.list()))
    fetched = twilio_client.messages(sids[0]).fetch()
    assert fetched.status == "delivered"
    assert fetched.date_sent is not None


def test_status_callbacks_are_signed_like_twilios(twilio_client, receiver, wait_for) -> None:
    url = receiver.url + "/webhooks/whatsapp/status?tenant=hk"
    message = twilio_client.messages.create(to=USER, from_=BOT, body="hi", status_callback=url)
    wait_for(lambda: len(receiver.requests) >= 2)
    assert [r["form"]["MessageStatus"] for r in receiver.requests] == ["sent", "delivered"]
    validator = RequestValidator(TOKEN)
    for request in receiver.requests:
        form = request["form"]
        assert request["url"] == url
        assert validator.validate(url, form, request["headers"]["X-Twilio-Signature"])
        assert not validator.validate(url, {**form, "MessageStatus": "read"},
                                      request["headers"]["X-Twilio-Signature"])
        assert form["MessageSid"] == form["SmsSid"] == message.sid
        assert form["AccountSid"] == SID
        assert form["To"] == USER
        assert form["From"] == BOT
        assert form["ChannelPrefix"] == "whatsapp"
        assert form["ApiVersion"] == "2010-04-01"


def test_undelivered_outcome_reports_the_error(twilio_client, receiver, wait_for) -> None:
    import requests as rq

    rq.post(twilio_client.api.base_url + "/_sandbox/faults",
            json={"outcome": "undelivered", "error_code": 63016}, timeout=5)
    message = twilio_client.messages.create(
        to=USER, from_=BOT, body="late reply", status_callback=receiver.url + "/cb"
    )
    assert message.status == "queued"
    wait_for(lambda: len(receiver.requests) >= 2)
    assert [r["form"]["MessageStatus"] for r in receiver.requests] == ["sent", "undelivered"]
    assert receiver.requests[1]["form"]["ErrorCode"] == "63016"
    assert twilio_client.messages(message.sid).fetch().error_code == 63016


def test_callbacks_can_be_switched_off(receiver, wait_for) -> None:
    app = fake_twilio.create_app(TOKEN, SID, status_callbacks=False, status_delay=0.01)
    with BackgroundServer(app) as server:
        client = fake_twilio.point_client_at(twilio.rest.Client(SID, TOKEN), server.url)
        message = client.messages.create(to=USER, from_=BOT, body="hi",
                                          status_callback=receiver.url + "/cb")
        wait_for(lambda: client.messages(message.sid).fetch().status == "delivered")
    assert receiver.requests == []


def test_unreachable_callback_is_ignored(twilio_client, twilio_fake, sandbox_get, wait_for):
    twilio_client.messages.create(to=USER, from_=BOT, body="hi",
                                  status_callback="http://127.0.0.1:9/nothing-listens")
    wait_for(lambda: len(sandbox_get(twilio_fake, "/_sandbox/callbacks")) == 2)
    results = [c["result"] for c in sandbox_get(twilio_fake, "/_sandbox/callbacks")]
    assert all(isinstance(r, str) for r in results)  # the connection errors, recorded
    assert sandbox_get(twilio_fake, "/_sandbox/health")["status"] == "ok"


def test_async_client_works_against_the_fake(twilio_fake) -> None:
    async def scenario() -> list[str]:
        http = AsyncTwilioHttpClient()
        try:
            client = twilio.rest.Client(SID, TOKEN, http_client=http)
            fake_twilio.point_client_at(client, twilio_fake.url)
            created = await client.messages.create_async(to=USER, from_=BOT, body="async hi")
            listed = await client.messages.list_async(to=USER)
            return [created.sid] + [m.sid for m in listed]
        finally:
            await http.close()

    first, *listed = asyncio.run(scenario())
    assert listed == [first]


def test_sandbox_messages_filter_and_clear(twilio_client, twilio_fake, sandbox_get) -> None:
    twilio_client.messages.create(to=USER, from_=BOT, body="a")
    twilio_client.messages.create(to=OTHER, from_=BOT, body="b")
    assert [m["body"] for m in sandbox_get(twilio_fake, "/_sandbox/messages")] == ["a", "b"]
    assert [m["body"] for m in sandbox_get(twilio_fake, "/_sandbox/messages", to=OTHER)] == ["b"]
    assert requests.delete(twilio_fake.url + "/_sandbox/messages", timeout=5).ok
    assert sandbox_get(twilio_fake, "/_sandbox/messages") == []
    stats = sandbox_get(twilio_fake, "/_sandbox/stats")
    assert stats["created"] == 2


def test_segments_follow_twilios_rules() -> None:
    assert fake_twilio.num_segments("x" * 160, "+85291234567") == 1
    assert fake_twilio.num_segments("x" * 161, "+85291234567") == 2
    assert fake_twilio.num_segments("你" * 70, "+85291234567") == 1
    assert fake_twilio.num_segments("你" * 71, "+85291234567") == 2
    assert fake_twilio.num_segments("你" * 500, USER) == 1


def test_long_poll_wakes_only_when_its_recipient_reaches_the_count(twilio_client,
                                                                   twilio_fake) -> None:
    """``/_sandbox/wait`` (the bench's way of seeing replies arrive) answers as soon as the
    recipient has ``count`` messages, not for other recipients' messages, and times out."""
    import concurrent.futures
    import time

    def wait(to: str, count: int, timeout: float = 5) -> tuple[dict, float]:
        started = time.monotonic()
        reply = requests.get(f"{twilio_fake.url}/_sandbox/wait",
                             params={"to": to, "count": count, "timeout": timeout}, timeout=10)
        return reply.json(), time.monotonic() - started

    def send(to: str) -> None:
        twilio_client.messages.create(to=to, from_=defaults.TWILIO_WHATSAPP_FROM, body="hi")

    a, b = "whatsapp:+85291110001", "whatsapp:+85291110002"
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        waiting_a = pool.submit(wait, a, 2)
        waiting_a1 = pool.submit(wait, a, 1)
        time.sleep(0.3)
        send(b)  # someone else's message wakes neither
        time.sleep(0.3)
        assert not waiting_a.done() and not waiting_a1.done()
        send(a)
        assert waiting_a1.result(timeout=5)[0] == {"count": 1, "reached": True}
        time.sleep(0.2)
        assert not waiting_a.done()  # one of two
        send(a)
        (answer, took) = waiting_a.result(timeout=5)
        assert answer == {"count": 2, "reached": True} and took < 4
    assert wait(a, 2)[0] == {"count": 2, "reached": True}  # already there: at once
    answer, took = wait(b, 5, timeout=0.3)
    assert answer == {"count": 1, "reached": False} and 0.25 < took < 3
