"""WeChat XML parsing: every kind we handle; hostile XML refused (xmltodict forbids entities)."""

from __future__ import annotations

import pytest

from channels.sandbox import signing
from channels.wechat import describe, parse

OA, USER = "gh_sandbox000000", "oUser1"


def test_text_voice_image_location_event() -> None:
    text = describe(parse(signing.wechat_text_xml(OA, USER, "你好", 123)))
    assert (text["id"], text["kind"], text["text"]) == ("123", "text", "你好")
    voice = describe(parse(signing.wechat_voice_xml(OA, USER, recognition="報告幾耐有", msg_id=5)))
    assert voice["kind"] == "text" and voice["text"] == "報告幾耐有"
    silent = describe(parse(signing.wechat_voice_xml(OA, USER, recognition=None, msg_id=6)))
    assert silent["kind"] == "media"
    image = describe(parse(signing.wechat_image_xml(OA, USER, "https://img/1.jpg", msg_id=7)))
    assert image["kind"] == "media" and image["payload"]["media"][0]["url"] == "https://img/1.jpg"
    where = describe(parse(signing.wechat_location_xml(OA, USER, 22.3, 114.2, "HK", msg_id=8)))
    assert where["kind"] == "location"
    event = describe(parse(signing.wechat_event_xml(OA, USER, "subscribe", create_time=1700000000)))
    assert event["kind"] == "event" and event["id"] == f"{USER}:1700000000:subscribe"


@pytest.mark.parametrize(
    "body",
    [b"", b"<xml><broken", b"<xml/>", b"<notxml>hi</notxml>", b"\xff\xfe\x00",
     b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
     b"<xml><Content>&lol2;</Content></xml>",
     b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
     b"<xml><FromUserName>&e;</FromUserName></xml>"],
)
def test_hostile_or_broken_xml_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse(body)
