"""Choices to tap, end to end: the product as ``make run`` starts it, the fake providers
recording. A WhatsApp offer arrives as quick replies and a tap chooses its option; a refused
content falls back to the numbered text. A WeChat "Health Office" menu click opens the chat
with a menu message and a tap chooses; a refused menu falls back to the numbered text."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from domain_texts import as_messenger, variant_of
from providers import WeChatUser, WhatsAppUser, http, menu_text, recorded, wait_for

from channels.sandbox import defaults, signing

pytestmark = pytest.mark.slow

REPORT = "how long until I get the report"


def user_events(assistant, conversation: str) -> list[dict]:  # noqa: ANN001
    status, body = http("GET", f"{assistant.base_url}/conversations/"
                        f"{urllib.parse.quote(conversation, safe=':+')}/tracker",
                        headers={"Authorization": f"Bearer {assistant.api_token}"})
    assert status == 200, body[:300]
    return [e for e in json.loads(body)["events"] if e["event"] == "user"]


def test_whatsapp_offer_is_tapped(assistant) -> None:
    user = WhatsAppUser(assistant.base_url, assistant.fake_twilio)
    assert user.send(REPORT) == 200
    user.wait(2)
    offer = recorded(assistant.fake_twilio, to=user.address)[0]
    assert offer["content_sid"].startswith("HX")
    actions = offer["content"]["twilio/quick-reply"]["actions"]
    button = variant_of("utter_report_time", "en")["buttons"][0]
    assert [a["title"] for a in actions] == [button["title"]]
    assert offer["body"] == as_messenger("utter_report_time", "en")  # the text fallback
    form = signing.twilio_inbound_form(user.address, defaults.TWILIO_WHATSAPP_FROM,
                                       actions[0]["title"], ButtonText=actions[0]["title"],
                                       ButtonPayload=actions[0]["id"], MessageType="button")
    assert user.post(form) == 200
    assert len(user.wait(3)) >= 3
    tapped = wait_for(lambda: user_events(assistant, user.address)[1:], 1)[0]
    assert tapped["parse_data"]["intent"]["name"] == button["payload"].strip("/")
    assert tapped["metadata"].get("option") == button["title"]


def test_whatsapp_refused_content_sends_numbered_text(assistant) -> None:
    status, _ = http("POST", f"{assistant.fake_twilio}/_sandbox/refuse_content",
                     b'{"count": 1}', {"Content-Type": "application/json"})
    assert status == 200
    user = WhatsAppUser(assistant.base_url, assistant.fake_twilio)
    assert user.send(REPORT) == 200
    assert user.wait(2)[0] == as_messenger("utter_report_time", "en")
    assert recorded(assistant.fake_twilio, to=user.address)[0]["content_sid"] is None
    assert user.send("1") == 200  # the number chooses, as before
    tapped = wait_for(lambda: user_events(assistant, user.address)[1:], 1)[0]
    assert tapped["parse_data"]["intent"]["name"] == "ask_how_to_start"


def click(user: WeChatUser, moment: int) -> tuple[int, str]:
    xml = signing.wechat_event_xml(defaults.WECHAT_ORIGINAL_ID, user.openid, "CLICK",
                                   event_key="SMO_HEALTH_OFFICE", create_time=moment)
    return user.post_xml(xml)


def test_wechat_health_office_opens_the_chat_and_a_tap_chooses(assistant) -> None:
    user = WeChatUser(assistant.base_url, assistant.fake_wechat)
    assert click(user, int(time.time())) == (200, "success")
    menu = wait_for(user.menus, 1)[0]
    welcome = as_messenger("utter_welcome_subscribe", None)
    assert menu_text(menu) == welcome  # the three-script welcome: the language is not known
    first = menu["list"][0]
    xml = signing.wechat_text_xml(defaults.WECHAT_ORIGINAL_ID, user.openid, first["content"],
                                  signing.wechat_msg_id(), bizmsgmenuid=first["id"])
    status, _ = user.post_xml(xml)
    assert status == 200
    tapped = wait_for(lambda: user_events(assistant, f"wechat:{user.openid}"), 1)[0]
    payload = variant_of("utter_welcome_subscribe", None)["buttons"][0]["payload"]
    assert tapped["parse_data"]["intent"]["name"] == payload.strip("/")


def test_wechat_refused_menu_sends_numbered_text(assistant) -> None:
    status, _ = http("POST", f"{assistant.fake_wechat}/_sandbox/faults",
                     b'{"errcode": 40200, "endpoint": "msgmenu"}',
                     {"Content-Type": "application/json"})
    assert status == 200
    user = WeChatUser(assistant.base_url, assistant.fake_wechat)
    assert click(user, int(time.time())) == (200, "success")
    sent = wait_for(lambda: recorded(assistant.fake_wechat, touser=user.openid), 1)
    assert sent[0]["msgtype"] == "text"
    assert sent[0]["text"]["content"] == as_messenger("utter_welcome_subscribe", None)
