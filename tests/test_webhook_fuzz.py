"""Property-based: the webhook parsers answer every input with a result or a ValueError (→ 400),
never another exception (→ 500 and a lost message). Bounded for CI."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.sandbox import signing
from channels.wechat import describe, parse
from channels.whatsapp import parse_inbound

FIELDS = st.sampled_from(["MessageSid", "From", "Body", "NumMedia", "MediaUrl0",
                          "MediaContentType0", "Latitude", "Longitude", "SmsMessageSid", "To"])
VALUES = st.one_of(st.text(max_size=200), st.sampled_from(["whatsapp:+85291234567", "-1", "99",
                                                             "1e9", "", "\u200b", "\u202e"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(FIELDS, VALUES, max_size=10))
def test_twilio_form_parser(form: dict[str, str]) -> None:
    try:
        parsed = parse_inbound(form)
    except ValueError:
        return
    assert parsed["sender"].startswith("whatsapp:") and parsed["sid"]
    assert len(parsed["payload"]["media"]) <= 10


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_wechat_parser_on_random_bytes(body: bytes) -> None:
    with contextlib.suppress(ValueError):
        describe(parse(body))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=500), st.text(min_size=1, max_size=40), st.integers(0, 2**63))
def test_wechat_parser_on_mutated_messages(content: str, sender: str, msg_id: int) -> None:
    xml = signing.wechat_text_xml("gh_x", sender.replace("]]>", ""), content.replace("]]>", ""),
                                  msg_id)
    for body in (xml, xml[: len(xml) // 2], xml.replace("<MsgType>", "<MsgType>x")):
        with contextlib.suppress(ValueError):
            describe(parse(body))
