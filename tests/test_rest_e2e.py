"""End to end over Rasa's REST channel: the product as `make run` starts it, in three languages."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest
from conversation import Customer
from domain_texts import text_of

pytestmark = pytest.mark.slow


def say(base_url: str, sender: str, text: str) -> list[str]:
    """Send one message; return the texts of the bot's bubbles."""
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"{base_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return [m["text"] for m in json.loads(response.read()) if m.get("text")]


def test_health_and_ready_once_loaded(assistant) -> None:
    with urllib.request.urlopen(f"{assistant.base_url}/health") as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"status": "alive", "model": "loaded"}
    with urllib.request.urlopen(f"{assistant.base_url}/ready") as response:
        assert response.status == 200
        body = json.loads(response.read())
    assert body["status"] == "ready"
    assert body["database"] == body["tracker store"] == "reachable"


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        ("how long does it take to get the report", "en", ["utter_report_time", "utter_terms"]),
        ("報告要幾耐先有呀", "yue", ["utter_report_time", "utter_terms"]),
        ("报告要多久才能出来", "zh-Hans", ["utter_report_time", "utter_terms"]),
        (
            "which plans can use the second opinion service",
            "en",
            ["utter_eligible_plans", "utter_eligible_plans_2"],
        ),
        ("我嘅癌症全護計劃有冇得用", "yue", ["utter_eligible_plans", "utter_eligible_plans_2"]),
        ("哪些计划可以使用这个服务", "zh-Hans", ["utter_eligible_plans", "utter_eligible_plans_2"]),
    ],
)
def test_answers_in_the_customers_language(assistant, message, language, expected) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    assert say(assistant.base_url, sender, message) == [text_of(r, language) for r in expected]


def test_language_is_sticky_and_follows_requests(assistant) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    base = assistant.base_url
    assert say(base, sender, "第二醫療意見係咩嚟") == [
        text_of("utter_service_overview", "yue"),
        text_of("utter_service_overview_2", "yue"),
    ]
    # A bare "ok" keeps the conversation in Chinese.
    assert say(base, sender, "ok") == [text_of("utter_anything_else", "yue")]
    # An explicit request switches, and the confirmation is already in the new language.
    assert say(base, sender, "please reply in English") == [
        text_of("utter_language_switched", "en")
    ]
    assert say(base, sender, "報告幾耐有") == [
        text_of("utter_report_time", "yue"),
        text_of("utter_terms", "yue"),
    ]
    assert say(base, sender, "用简体字") == [text_of("utter_language_switched", "zh-Hans")]


def test_fallback_twice_offers_a_nurse(assistant) -> None:
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    first = say(assistant.base_url, sender, "qwxz zzkv plorf")
    second = say(assistant.base_url, sender, "blorp snerk vvv")
    assert first == [text_of("utter_ask_rephrase", "en")]
    assert second == [text_of("utter_offer_nurse", "en")]


@pytest.mark.parametrize("sender", ["whatsapp:+85291234567", " WeChat:oUser123"])
def test_rest_clients_cannot_speak_as_another_channels_customer(assistant, sender) -> None:
    """A REST client chooses its sender id: one naming a WhatsApp or WeChat conversation would
    let it read, restart or act in that customer's chat. A sender id holds no ":" (REST
    conversations are "rest:<sender>"), so such an id is refused before the core sees it."""
    import urllib.error

    request = urllib.request.Request(
        f"{assistant.base_url}/webhooks/rest/webhook",
        json.dumps({"sender": sender, "message": "/restart"}).encode(),
        {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert "sender must be" in json.loads(refused.value.read())["error"]
    assert say(assistant.base_url, f"rest-{uuid.uuid4().hex[:8]}", "hello")  # others still fine


def test_a_button_is_chosen_by_its_number(assistant) -> None:
    """On REST, as on WhatsApp, a button is chosen by its number (``make chat`` sends it as
    typed): the server maps it to the option it offered last, and the transcript says so."""
    customer = Customer(assistant.base_url, "en")
    assert customer.ask("qwxz zzkv plorf") == ["utter_ask_rephrase"]
    assert customer.ask("blorp snerk vvv") == ["utter_offer_nurse"]
    assert customer.ask("1") == ["utter_handoff_queued"]  # 1. Talk to a nurse
    request = urllib.request.Request(
        f"{assistant.base_url}/conversations/rest:{customer.sender}/tracker",
        headers={"Authorization": f"Bearer {assistant.api_token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        events = json.loads(response.read())["events"]
    chosen = [e for e in events if e["event"] == "user"][-1]
    assert chosen["text"] == "/request_human"
    assert chosen["input_channel"] == "rest"
    assert {k: chosen["metadata"].get(k) for k in ("typed", "option")} == {
        "typed": "1", "option": "Talk to a nurse"}
