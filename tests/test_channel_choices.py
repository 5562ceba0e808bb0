"""Choices to tap: offers as WhatsApp quick replies / lists (Twilio's Content API) and WeChat
menu messages, taps choosing the option, the numbered text as the fallback; and the WeChat
account menu (data/wechat_menu.yml) installed and answered. Runtime and adapters against the
fake providers, with a stand-in for the model process."""

from __future__ import annotations

from typing import Any

import pytest
from test_channel_runtime import RecordingBus, get_json, messages, post, wait_until

from bot.intake import clickable, opening
from channels import wechat_menu
from channels.core.runtime import ChannelRuntime
from channels.core.text import offered, render, tapped_option
from channels.sandbox import defaults, fake_twilio, fake_wechat, signing
from channels.sandbox.play import WeChatPlayer, WhatsAppPlayer, format_twilio_message
from channels.sandbox.runner import BackgroundServer
from channels.settings import TwilioSettings, WeChatSettings
from channels.twilio_content import content_types
from channels.wechat import WeChatAdapter, describe, msgmenu, parse
from channels.whatsapp import TwilioAdapter, parse_inbound

THREE = [("Yes", "/affirm"), ("No", "/deny"), ("Talk to a nurse", "/request_human")]
FIVE = [*THREE, ("Eligible plans", "/ask_eligible_plans"), ("How to start", "/ask_how_to_start")]


def offer(options: list[tuple[str, str]], text: str = "Shall we start?",
          language: str = "en") -> str:
    message = {"text": text, "buttons": [{"title": t, "payload": p} for t, p in options]}
    return render([message], language)[0].text


class OfferingCore:
    """Answers with an offer (its buttons as Rasa gives them); records what it was given."""

    def __init__(self, options: list[tuple[str, str]] = THREE) -> None:
        self.options = options
        self.seen: list[tuple[str, dict]] = []

    async def handle(self, sender: str, text: str, channel: str, message_id: str,
                     metadata: Any = None, log_only: bool = False) -> tuple[list[dict], str]:
        self.seen.append((text, metadata or {}))
        buttons = [{"title": t, "payload": p} for t, p in self.options]
        return [{"text": "Shall we start?", "buttons": buttons}], "en"


# ---- pure helpers -----------------------------------------------------------------------------

def test_offer_is_read_back_from_the_numbered_text() -> None:
    read = offered(offer(THREE, "第一行\n\n第二行", "zh-Hant"))
    assert read is not None and read.body == "第一行\n\n第二行" and read.script == "zh-Hant"
    assert read.titles == ("Yes", "No", "Talk to a nurse")
    assert offered("just text") is None
    assert offered("1. a\n3. c\n(Reply with the number)") is None  # not ours: not consecutive


def test_tap_chooses_by_title_then_number_never_a_foreign_payload() -> None:
    remembered = [list(o) for o in THREE]
    assert tapped_option("2", "No", remembered) == ["No", "/deny"]
    assert tapped_option("1", "No", remembered) == ["No", "/deny"]  # an older message's tap
    assert tapped_option("3", "", remembered) == ["Talk to a nurse", "/request_human"]
    assert tapped_option("/restart", "/restart", remembered) is None
    assert tapped_option("9", "Something else", remembered) is None
    assert tapped_option("1", "Yes", None) is None


def test_content_is_quick_reply_up_to_three_then_a_list_then_text() -> None:
    three = content_types(offered(offer(THREE)), offer(THREE))
    assert [a["title"] for a in three["twilio/quick-reply"]["actions"]] == [t for t, _ in THREE]
    assert [a["id"] for a in three["twilio/quick-reply"]["actions"]] == ["1", "2", "3"]
    assert three["twilio/text"]["body"] == offer(THREE)
    five = content_types(offered(offer(FIVE, language="zh-Hans")), offer(FIVE))
    assert len(five["twilio/list-picker"]["items"]) == 5
    assert five["twilio/list-picker"]["button"] == "请选择"
    eleven = [(f"Option {n}", f"/o{n}") for n in range(11)]
    assert content_types(offered(offer(eleven)), offer(eleven)) is None


def test_whatsapp_tap_is_parsed_as_a_choice() -> None:
    form = signing.twilio_inbound_form("whatsapp:+85290000009", None, "No",
                                       ButtonText="No", ButtonPayload="2")
    message = parse_inbound(form)
    assert message["text"] == "No" and message["payload"]["choice"] == "2"
    listed = parse_inbound(signing.twilio_inbound_form(
        "whatsapp:+85290000009", None, "Eligible plans", ListTitle="Eligible plans", ListId="4"))
    assert listed["payload"]["choice"] == "4"


def test_wechat_menu_tap_and_click_are_parsed() -> None:
    tap = describe(parse(signing.wechat_text_xml("gh_x", "oT", "No", bizmsgmenuid="2")))
    assert tap["payload"] == {"choice": "2"} and tap["text"] == "No"
    click = describe(parse(signing.wechat_event_xml("gh_x", "oT", "CLICK", "SMO_HEALTH_OFFICE")))
    assert click["payload"] == {"event": "click", "key": "SMO_HEALTH_OFFICE"}
    assert clickable("SMO_HEALTH_OFFICE") and not clickable("SOMETHING_ELSE")


def test_menu_click_opens_with_the_greeting_in_the_known_language() -> None:
    click = {"event": "click", "key": "SMO_HEALTH_OFFICE"}
    assert opening(click, "en") == "utter_greet"
    assert opening(click, None) == "utter_welcome_subscribe"  # three scripts
    assert opening({"event": "subscribe"}, None) == "utter_welcome_subscribe"


def test_msgmenu_shape() -> None:
    menu = msgmenu(offer(THREE))
    assert menu == {"head_content": "Shall we start?", "tail_content": "(Reply with the number)",
                    "list": [{"id": "1", "content": "1. Yes"}, {"id": "2", "content": "2. No"},
                             {"id": "3", "content": "3. Talk to a nurse"}]}
    assert msgmenu("plain text") is None
    # It reads as the numbered text: what a customer who types the number sees too.
    lines = [menu["head_content"], "", *[o["content"] for o in menu["list"]], menu["tail_content"]]
    assert "\n".join(lines) == offer(THREE)
    assert tapped_option("2", "2. No", [list(o) for o in THREE]) == ["No", "/deny"]


def test_every_menu_click_is_answered_and_names_fit() -> None:
    assert wechat_menu.unanswered() == set()
    default, conditional = wechat_menu.menus()
    assert default["button"][0]["name"] == "客戶服務"  # the leaflet's words
    assert default["button"][0]["sub_button"][0]["name"] == "健康辦公室"
    for menu in [default, *conditional]:
        assert fake_wechat._menu_problem(menu) is None


# ---- against the fakes --------------------------------------------------------------------

def _whatsapp(fake_url: str, core: Any) -> tuple[ChannelRuntime, TwilioAdapter]:
    runtime = ChannelRuntime(core, RecordingBus())  # type: ignore[arg-type]
    settings = TwilioSettings(
        account_sid=defaults.TWILIO_ACCOUNT_SID, auth_token=defaults.TWILIO_AUTH_TOKEN,
        whatsapp_from=defaults.TWILIO_WHATSAPP_FROM, api_url=fake_url,
        public_base_url="http://127.0.0.1:9")
    adapter = TwilioAdapter(settings, runtime)
    runtime.register(adapter)
    runtime.start()
    return runtime, adapter


@pytest.fixture()
def twilio(database: str):  # noqa: ANN201
    with BackgroundServer(fake_twilio.create_app(defaults.TWILIO_AUTH_TOKEN,
                                                 defaults.TWILIO_ACCOUNT_SID)) as fake:
        yield fake.url


def test_whatsapp_offer_goes_as_quick_replies_created_once_and_a_tap_chooses(twilio) -> None:
    core = OfferingCore()
    runtime, adapter = _whatsapp(twilio, core)
    who = "whatsapp:+85290000011"
    try:
        runtime.accept("whatsapp", "SM1", who, "text", "hi")
        sent = wait_until(lambda: messages(twilio, to=who))
        assert sent[0]["content_sid"].startswith("HX")
        actions = sent[0]["content"]["twilio/quick-reply"]["actions"]
        assert [(a["title"], a["id"]) for a in actions] == [("Yes", "1"), ("No", "2"),
                                                            ("Talk to a nurse", "3")]
        assert sent[0]["body"] == offer(THREE)  # reconciliation still matches the text
        runtime.accept("whatsapp", "SM2", who, "text", "No", {"choice": "2"})
        assert wait_until(lambda: len(messages(twilio, to=who)) == 2)
        assert core.seen[1] == ("/deny", {"kind": "text", "typed": "No", "option": "No"})
        contents = get_json(f"{twilio}/_sandbox/contents")
        assert len(contents) == 1  # the same offer reused its content
        assert messages(twilio, to=who)[1]["content_sid"] == sent[0]["content_sid"]
    finally:
        runtime.stop()
    # A restarted process finds the ContentSid in shared storage: nothing created again.
    runtime, _ = _whatsapp(twilio, OfferingCore())
    try:
        runtime.accept("whatsapp", "SM3", who, "text", "again")
        assert wait_until(lambda: len(messages(twilio, to=who)) == 3)
        assert get_json(f"{twilio}/_sandbox/stats")["content_creates"] == 1
    finally:
        runtime.stop()


def test_whatsapp_more_than_three_options_go_as_a_list(twilio) -> None:
    runtime, _ = _whatsapp(twilio, OfferingCore(FIVE))
    who = "whatsapp:+85290000012"
    try:
        runtime.accept("whatsapp", "SM1", who, "text", "hi")
        sent = wait_until(lambda: messages(twilio, to=who))
        picker = sent[0]["content"]["twilio/list-picker"]
        assert picker["button"] == "Choose" and len(picker["items"]) == 5
    finally:
        runtime.stop()


def test_whatsapp_refused_content_falls_back_to_numbered_text(twilio) -> None:
    core = OfferingCore()
    runtime, _ = _whatsapp(twilio, core)
    who = "whatsapp:+85290000013"
    try:
        post(f"{twilio}/_sandbox/refuse_content", {"count": 1})  # the create is refused
        runtime.accept("whatsapp", "SM1", who, "text", "hi")
        sent = wait_until(lambda: messages(twilio, to=who))
        assert sent[0]["content_sid"] is None and sent[0]["body"] == offer(THREE)
        runtime.accept("whatsapp", "SM2", who, "text", "2")  # the number still answers
        assert wait_until(lambda: len(core.seen) == 2)
        assert core.seen[1][0] == "/deny"
        # Created next time; then a send with it refused (content deleted): text again.
        assert wait_until(lambda: len(messages(twilio, to=who)) == 2)
        assert messages(twilio, to=who)[1]["content_sid"]
        post(f"{twilio}/_sandbox/refuse_content", {"count": 1})
        runtime.accept("whatsapp", "SM3", who, "text", "again")
        assert wait_until(lambda: len(messages(twilio, to=who)) == 3)
        third = messages(twilio, to=who)[2]
        assert third["content_sid"] is None and third["body"] == offer(THREE)
    finally:
        runtime.stop()


def test_player_shows_whatsapp_buttons_and_taps_them() -> None:
    types = content_types(offered(offer(THREE)), offer(THREE))
    shown = format_twilio_message({"body": offer(THREE), "content": types, "content_sid": "HX1"})
    assert "[Talk to a nurse]   (/tap 3)" in shown
    player = WhatsAppPlayer()
    player.last_choices = [{"title": "No", "id": "2", "kind": "button"}]
    _, form, _ = player.build("/tap 1")
    assert (form["Body"], form["ButtonText"], form["ButtonPayload"]) == ("No", "No", "2")


@pytest.fixture()
def wechat_fake(database: str):  # noqa: ANN201
    with BackgroundServer(fake_wechat.create_app(defaults.WECHAT_APP_ID,
                                                 defaults.WECHAT_APP_SECRET)) as fake:
        yield fake.url


def _wechat(fake_url: str, core: Any) -> tuple[ChannelRuntime, WeChatAdapter]:
    runtime = ChannelRuntime(core, RecordingBus())  # type: ignore[arg-type]
    settings = WeChatSettings(app_id=defaults.WECHAT_APP_ID,
                              app_secret=defaults.WECHAT_APP_SECRET,
                              token=defaults.WECHAT_TOKEN, api_url=fake_url)
    adapter = WeChatAdapter(settings, runtime)
    runtime.register(adapter)
    runtime.start()
    return runtime, adapter


def test_wechat_offer_goes_as_msgmenu_and_a_tap_chooses(wechat_fake) -> None:
    core = OfferingCore()
    runtime, _ = _wechat(wechat_fake, core)
    try:
        runtime.accept("wechat", "m1", "oM", "text", "hi")
        sent = wait_until(lambda: messages(wechat_fake, touser="oM"))
        assert sent[0]["msgtype"] == "msgmenu"
        assert sent[0]["msgmenu"]["list"][2] == {"id": "3", "content": "3. Talk to a nurse"}
        runtime.accept("wechat", "m2", "oM", "text", "3. Talk to a nurse", {"choice": "3"})
        assert wait_until(lambda: len(messages(wechat_fake, touser="oM")) == 2)
        assert core.seen[1][0] == "/request_human"
        post(f"{wechat_fake}/_sandbox/faults", {"errcode": 40200, "endpoint": "msgmenu"})
        runtime.accept("wechat", "m3", "oM", "text", "again")
        assert wait_until(lambda: len(messages(wechat_fake, touser="oM")) == 3)
        fallback = messages(wechat_fake, touser="oM")[2]
        assert fallback["msgtype"] == "text" and fallback["text"]["content"] == offer(THREE)
    finally:
        runtime.stop()


def test_health_office_click_opens_the_chat_in_the_followers_language(wechat_fake) -> None:
    from sqlalchemy import update

    from bot.db import session
    from channels.core.models import Contact

    runtime, _ = _wechat(wechat_fake, OfferingCore())
    try:
        click = {"event": "click", "key": "SMO_HEALTH_OFFICE"}
        runtime.accept("wechat", "oH:1:click", "oH", "event", "", click)
        first = wait_until(lambda: messages(wechat_fake, touser="oH"))
        head = first[0]["msgmenu"]["head_content"]
        assert "歡迎" in head and "欢迎" in head and "Welcome" in head  # language not known
        with session() as db:
            db.execute(update(Contact).where(Contact.sender == "oH").values(language="en"))
        runtime.accept("wechat", "oH:2:click", "oH", "event", "", click)
        assert wait_until(lambda: len(messages(wechat_fake, touser="oH")) == 2)
        greeting = messages(wechat_fake, touser="oH")[1]["msgmenu"]
        assert greeting["head_content"].startswith("Hello!")
        assert len(greeting["list"]) == 4
        assert runtime.contact("wechat", "oH").language == "en"  # kept, not forgotten
    finally:
        runtime.stop()


def test_menu_install_through_the_api(wechat_fake, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture) -> None:
    for name in ("WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_TOKEN"):
        monkeypatch.setenv(name, getattr(defaults, name))
    monkeypatch.setenv("WECHAT_API_URL", wechat_fake)
    monkeypatch.delenv("WECHAT_ENCODING_AES_KEY", raising=False)
    assert wechat_menu.main(["install"]) == 0
    assert "default menu installed" in capsys.readouterr().out
    token = get_json(f"{wechat_fake}/cgi-bin/token?grant_type=client_credential"
                     f"&appid={defaults.WECHAT_APP_ID}&secret={defaults.WECHAT_APP_SECRET}")
    installed = get_json(f"{wechat_fake}/cgi-bin/menu/get?access_token={token['access_token']}")
    sub = installed["menu"]["button"][0]["sub_button"][0]
    assert (sub["name"], sub["key"]) == ("健康辦公室", "SMO_HEALTH_OFFICE")
    assert [m["matchrule"] for m in installed["conditionalmenu"]] == [
        {"language": "zh_CN"}, {"language": "en"}]


def test_player_picks_from_a_wechat_menu() -> None:
    player = WeChatPlayer()
    player.last_menu = [{"id": "1", "content": "Yes"}, {"id": "2", "content": "No"}]
    xml = player.message_xml("/pick 2")
    assert "<bizmsgmenuid>2</bizmsgmenuid>" in xml and "No" in xml
